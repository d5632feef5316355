"""``search_traces`` and ``count``: parse, bind, compile, filter, order, page, output.

This module strings the stages together and owns the parts of a search that are not
the filter: argument checks, ordering with MLflow's tie-breaks, offset paging with a
validated opaque token, and choosing the output builder. Output rows are built only
for the traces a page returns.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import polars as pl

from polartrace.bind import OrderKey, bind_order_by, parse_filter
from polartrace.compile import compile_filter
from polartrace.errors import PageTokenError, SearchArgumentError
from polartrace.fields import Source
from polartrace.frame import META_PREFIX, TAG_PREFIX, TraceFrame
from polartrace.model import Trace

__all__ = [
    "PagedList",
    "count",
    "decode_page_token",
    "encode_page_token",
    "page_fingerprint",
    "search_traces",
]

ReturnType = Literal["pandas", "list", "polars", "arrow"]
Engine = Literal["polars", "reference"]
_RETURN_TYPES = ("pandas", "list", "polars", "arrow")
_ENGINES = ("polars", "reference")


class PagedList(list[Trace]):
    """A list of traces with the token of the next page (``None`` on the last page)."""

    def __init__(self, items: Iterable[Trace], token: str | None) -> None:
        super().__init__(items)
        self.token = token


def _as_frame(traces: Any) -> TraceFrame:
    if isinstance(traces, TraceFrame):
        return traces
    if traces is None:
        from polartrace.tracing import get_store

        return get_store().to_frame()
    if isinstance(traces, str | os.PathLike):
        from polartrace.io import read_traces

        return read_traces(traces)
    if isinstance(traces, Trace):
        return TraceFrame.from_traces([traces])
    if isinstance(traces, Iterable):
        return TraceFrame.from_traces(traces)
    msg = (
        "traces must be a TraceFrame, an iterable of Trace, a path or None, not "
        f"{type(traces).__name__}"
    )
    raise SearchArgumentError(msg)


def _is_lazy(traces: Any, engine: str = "polars") -> bool:
    # A LazyTraceFrame (polartrace.io.scan_traces) runs its own streaming search.
    from polartrace.io.lazy import LazyTraceFrame

    if not isinstance(traces, LazyTraceFrame):
        return False
    if engine != "polars":
        msg = "a scanned dataset searches with the polars engine; .collect() it first"
        raise SearchArgumentError(msg)
    return True


def _check_engine(engine: str) -> None:
    if engine not in _ENGINES:
        msg = f"engine must be one of {_ENGINES}, not {engine!r}"
        raise SearchArgumentError(msg)


def _matching_keys(
    frame: TraceFrame, filter_string: str | None, engine: str
) -> pl.Series:
    bound = parse_filter(filter_string)
    if engine == "reference":
        from polartrace.reference import evaluate

        hits = evaluate(bound, frame.traces_at(range(len(frame))))
        return pl.Series(
            "_key", [k for k, hit in enumerate(hits) if hit], dtype=pl.UInt32
        )
    mask = compile_filter(bound, frame)
    return frame.traces.lazy().filter(mask).select("_key").collect()["_key"]


def count(
    traces: Any = None, filter_string: str | None = None, *, engine: Engine = "polars"
) -> int:
    """Count the traces a filter matches, without building any result rows.

    Args:
        traces: A ``TraceFrame``, an iterable of ``Trace``, a path, or ``None`` for the
            in-memory trace store.
        filter_string: The filter; ``None`` or ``""`` counts every trace.
        engine: ``"polars"`` (compiled) or ``"reference"`` (plain Python).

    Returns:
        The number of matching traces.

    Raises:
        FilterError: For a filter that is rejected.
        SearchArgumentError: For a bad ``traces`` or ``engine`` argument.
    """
    _check_engine(engine)
    if _is_lazy(traces, engine):
        return int(traces.count(filter_string))
    frame = _as_frame(traces)
    if engine == "polars":
        mask = compile_filter(parse_filter(filter_string), frame)
        return int(frame.traces.lazy().filter(mask).select(pl.len()).collect().item())
    return len(_matching_keys(frame, filter_string, engine))


def _sort_column(frame: TraceFrame, key: OrderKey) -> pl.Expr:
    spec = key.field
    if spec.source in (Source.TAG, Source.METADATA):
        name = (TAG_PREFIX if spec.source is Source.TAG else META_PREFIX) + str(key.key)
        if name in frame.traces.columns:
            return pl.col(name)
        return pl.lit(None, dtype=pl.String)
    column = pl.col(str(spec.column))
    # Status sorts by code point of its name whatever its storage type.
    return column.cast(pl.String) if spec.column == "state" else column


def _order(
    frame: TraceFrame, keys: pl.Series, order_by: Sequence[str] | str | None
) -> pl.Series:
    order_keys = list(bind_order_by(order_by))
    columns = {
        spec.field.column for spec in order_keys if spec.field.source is Source.INFO
    }
    exprs = [_sort_column(frame, k) for k in order_keys]
    descending = [k.descending for k in order_keys]
    if "request_time" not in columns:
        exprs.append(pl.col("request_time"))
        descending.append(True)
    if "trace_id" not in columns:
        exprs.append(pl.col("trace_id"))
        descending.append(False)
    selected = frame.traces.lazy().filter(pl.col("_key").is_in(keys.implode()))
    return (
        selected.sort(
            exprs, descending=descending, nulls_last=True, maintain_order=True
        )
        .select("_key")
        .collect()["_key"]
    )


def page_fingerprint(filter_string: str | None, order_by: Any) -> str:
    """Identify a search (filter and order) so a page token only serves that search."""
    text = json.dumps([filter_string or "", order_by], default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def encode_page_token(offset: int, fingerprint: str) -> str:
    """Return the opaque token of the page starting at ``offset`` of a search."""
    payload = json.dumps({"offset": offset, "search": fingerprint}).encode()
    return base64.urlsafe_b64encode(payload).decode()


def decode_page_token(token: str, fingerprint: str) -> int:
    """Return the offset a token points at, checking it belongs to this search.

    Raises:
        PageTokenError: If the token is malformed or from another search.
    """
    if not isinstance(token, str):
        msg = f"page_token must be a str, not {type(token).__name__}"
        raise PageTokenError(msg)
    try:
        payload = json.loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError) as exc:
        msg = f"invalid page token {token!r}: not a polartrace token"
        raise PageTokenError(msg) from exc
    offset = payload.get("offset") if isinstance(payload, dict) else None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 1:
        msg = f"invalid page token {token!r}: bad offset"
        raise PageTokenError(msg)
    if payload.get("search") != fingerprint:
        msg = "page token belongs to a different search (filter or order_by changed)"
        raise PageTokenError(msg)
    return offset


def search_traces(
    traces: Any = None,
    filter_string: str | None = None,
    order_by: Sequence[str] | str | None = None,
    max_results: int | None = None,
    page_token: str | None = None,
    return_type: ReturnType = "pandas",
    include_spans: bool = True,
    *,
    engine: Engine = "polars",
) -> Any:
    """Search traces with an MLflow filter string, as ``mlflow.search_traces`` does.

    Args:
        traces: A ``TraceFrame``, an iterable of ``Trace``, a path to trace files, or
            ``None`` for the in-memory trace store.
        filter_string: e.g. ``"status = 'OK' AND tags.environment = 'production'"``.
        order_by: Entries ``"key [ASC|DESC]"``; ties fall back to ``timestamp_ms
            DESC`` then ``request_id ASC``, which is also the default order.
        max_results: At most this many traces (``None``: all of them).
        page_token: The token of a previous page of the same search.
        return_type: ``"pandas"`` (MLflow's twelve columns), ``"list"`` of
            ``Trace``, ``"polars"`` or ``"arrow"``.
        include_spans: Whether output rows carry span data.
        engine: ``"polars"`` (compiled) or ``"reference"`` (plain Python), which
            must agree on every input.

    Returns:
        The matching traces in the requested shape. When more rows exist, the next
        page's token is ``result.token`` (list), ``df.attrs["next_page_token"]``
        (pandas) or the ``next_page_token`` schema metadata (arrow).

    Raises:
        FilterError: For a rejected filter (with position and hint).
        OrderByError: For a bad ``order_by`` entry.
        PageTokenError: For a token that this search did not produce.
        SearchArgumentError: For other bad arguments.

    Example:
        >>> from polartrace.testing import example_traces
        >>> traces = example_traces()
        >>> rows = search_traces(traces, "status = 'ERROR'", return_type="list")
        >>> [t.info.state.value for t in rows]
        ['ERROR']
    """
    if return_type not in _RETURN_TYPES:
        msg = f"return_type must be one of {_RETURN_TYPES}, not {return_type!r}"
        raise SearchArgumentError(msg)
    _check_engine(engine)
    if max_results is not None and (
        not isinstance(max_results, int)
        or isinstance(max_results, bool)
        or max_results < 0
    ):
        msg = f"max_results must be a non-negative int or None, not {max_results!r}"
        raise SearchArgumentError(msg)
    if _is_lazy(traces, engine):
        return traces.search(
            filter_string=filter_string,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
            return_type=return_type,
            include_spans=include_spans,
        )
    frame = _as_frame(traces)
    bind_order_by(order_by)  # reject a bad order_by before doing any work
    keys = _order(frame, _matching_keys(frame, filter_string, engine), order_by)
    fingerprint = page_fingerprint(filter_string, order_by)
    offset = 0 if page_token is None else decode_page_token(page_token, fingerprint)
    end = len(keys) if max_results is None else offset + max_results
    page = keys[offset:end]
    token = encode_page_token(end, fingerprint) if end < len(keys) else None

    from polartrace import output

    return output.build(frame, page.to_list(), return_type, include_spans, token)
