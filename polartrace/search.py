"""``search_traces`` and ``count``: parse, bind, compile, filter, order, page, output.

This module strings the stages together and owns the parts of a search that are not
the filter: argument checks, ordering with MLflow's tie-breaks, offset paging with a
validated opaque token, and choosing the output builder. Output rows are built only
for the traces a page returns.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import polars as pl

from polartrace import _default_source
from polartrace._mlflow_args import (
    check_extract_fields,
    refuse_sql_warehouse,
    two_positional,
    with_extracted,
)
from polartrace._page_token import (
    decode_page_token,
    encode_page_token,
    page_fingerprint,
)
from polartrace._restrict import Restriction, restrict, restriction
from polartrace._store import TraceStore
from polartrace.ast import Op
from polartrace.bind import (
    AllOf,
    BoundFilter,
    Cond,
    OrderKey,
    bind_order_by,
    parse_filter,
)
from polartrace.compile import compile_filter
from polartrace.errors import SearchArgumentError, TraceFormatError
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


def _default_frame() -> TraceFrame:
    """The traces ``traces=None`` means (see `polartrace._default_source`)."""
    from polartrace.tracing import get_store

    store = get_store()
    if len(store):
        return store.to_frame()
    uri = _default_source.tracking_uri()
    if uri is None:
        raise _default_source.no_traces_error()
    source = _default_source.tracking_source(uri)
    try:
        return _as_frame(source)
    except TraceFormatError as exc:
        env = _default_source.TRACKING_URI_ENV
        msg = f"traces=None reads {env}={uri!r}, which cannot be read: {exc}"
        raise SearchArgumentError(msg) from exc


def _as_frame(traces: Any) -> TraceFrame:
    if isinstance(traces, TraceFrame):
        return traces
    if traces is None:
        return _default_frame()
    if isinstance(traces, TraceStore):
        return traces.to_frame()
    if isinstance(traces, str | os.PathLike) or _is_path_list(traces):
        from polartrace.io._cache import read_cached

        return read_cached(traces)
    if isinstance(traces, Trace):
        return TraceFrame.from_traces([traces])
    if isinstance(traces, Iterable):
        return TraceFrame.from_traces(traces)
    msg = (
        "traces must be a TraceFrame, an iterable of Trace, a path or list of paths, a "
        "TraceStore or "
        "None, not "
        f"{type(traces).__name__}"
    )
    raise SearchArgumentError(msg)


def _is_path_list(traces: Any) -> bool:
    """Whether ``traces`` is a non-empty list or tuple of paths (files to read)."""
    return (
        isinstance(traces, list | tuple)
        and bool(traces)
        and all(isinstance(item, str | os.PathLike) for item in traces)
    )


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


def _bound(filter_string: str | None, limits: Restriction) -> BoundFilter:
    """The filter with the search's scope (experiments, run, model) ANDed on."""
    return restrict(parse_filter(filter_string), limits)


def _matching_keys(frame: TraceFrame, bound: BoundFilter, engine: str) -> pl.Series:
    if engine == "reference":
        from polartrace.reference import evaluate

        hits = evaluate(bound, frame.traces_at(range(len(frame))))
        return pl.Series(
            "_key", [k for k, hit in enumerate(hits) if hit], dtype=pl.UInt32
        )
    mask = compile_filter(bound, frame)
    return frame.traces.lazy().filter(mask).select("_key").collect()["_key"]


@two_positional
def count(
    traces: Any = None,
    filter_string: str | None = None,
    *,
    engine: Engine = "polars",
    locations: Sequence[str] | None = None,
    experiment_ids: Sequence[str] | None = None,
    run_id: str | None = None,
    model_id: str | None = None,
) -> int:
    """Count the traces a filter matches, without building any result rows.

    Args:
        traces: A ``TraceFrame``, an iterable of ``Trace``, a path, a
            ``TraceStore``, or ``None`` (the in-memory trace store when it holds
            traces, else the store ``MLFLOW_TRACKING_URI`` names).
        filter_string: The filter; ``None`` or ``""`` counts every trace.
        engine: ``"polars"`` (compiled) or ``"reference"`` (plain Python).
        locations: Count only traces of these experiment ids.
        experiment_ids: MLflow's older name for ``locations``.
        run_id: Count only traces whose metadata ``mlflow.sourceRun`` is this.
        model_id: Count only traces whose metadata ``mlflow.modelId`` is this.

    Returns:
        The number of matching traces.

    Raises:
        FilterError: For a filter that is rejected.
        SearchArgumentError: For a bad ``traces``, ``engine`` or scope argument,
            a third positional argument, or ``traces=None`` with nothing to search.

    Example:
        >>> from polartrace.testing import example_traces
        >>> traces = example_traces()
        >>> count(traces, "status = 'ERROR'"), count(traces, None, run_id="run-1")
        (1, 0)
    """
    _check_engine(engine)
    limits = restriction(
        experiment_ids=experiment_ids,
        locations=locations,
        run_id=run_id,
        model_id=model_id,
    )
    if _is_lazy(traces, engine):
        return int(
            traces.count(
                filter_string,
                locations=limits.experiment_ids,
                run_id=limits.run_id,
                model_id=limits.model_id,
            )
        )
    frame = _as_frame(traces)
    bound = _bound(filter_string, limits)
    if engine == "polars":
        window = _time_window(bound, frame)
        if window is not None:
            return window[1] - window[0]
        mask = compile_filter(bound, frame)
        # Summing the mask is cheaper than filtering. A mask that reads no column
        # (no filter, a filter on absent keys only) may be one scalar: ANDed with
        # a column it counts every row, not one. A mask that reads columns is one
        # value per row already, and the extra pass would cost a fifth of a count.
        if not mask.meta.root_names():
            mask = pl.col("_key").is_not_null() & mask
        return int(frame.traces.select(mask.sum()).item())
    return len(_matching_keys(frame, bound, engine))


_Side = Literal["left", "right"]
_LOWER: dict[Op, _Side] = {Op.GT: "right", Op.GE: "left"}
_UPPER: dict[Op, _Side] = {Op.LT: "left", Op.LE: "right"}


def _time_window(bound: BoundFilter, frame: TraceFrame) -> tuple[int, int] | None:
    """Row range of ``frame.time_order`` a pure request-time range filter selects.

    For a filter that is only ``timestamp_ms`` bounds (``>``, ``>=``, ``<``,
    ``<=`` against integers, ANDed), the matches are one run of the frame's
    time-sorted keys, found by binary search; ``None`` for any other filter.
    """
    root = bound.root
    conds = [root] if isinstance(root, Cond) else None
    if isinstance(root, AllOf) and all(isinstance(c, Cond) for c in root.items):
        conds = list(root.items)  # type: ignore[arg-type]
    if not conds:
        return None
    for cond in conds:
        if (
            cond.field.source is not Source.INFO
            or cond.field.column != "request_time"
            or cond.op not in _LOWER | _UPPER
            or type(cond.value) is not int
        ):
            return None
    if frame.traces["request_time"].null_count():
        return None
    times, _ = frame.time_order
    # Every bound in one query: a Polars call costs more than its binary search.
    found = times.to_frame("t").select(
        pl.col("t")
        .search_sorted(
            int(c.value),  # type: ignore[arg-type]  # an int, checked above
            side=_LOWER.get(c.op) or _UPPER[c.op],
        )
        .alias(str(i))
        for i, c in enumerate(conds)
    )
    lo, hi = 0, len(times)
    for cond, at in zip(conds, found.row(0), strict=True):
        if cond.op in _LOWER:
            lo = max(lo, at)
        else:
            hi = min(hi, at)
    return lo, max(lo, hi)


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


def _sort_spec(
    frame: TraceFrame, order_by: Sequence[str] | str | None
) -> tuple[list[pl.Expr], list[bool]]:
    """Sort expressions and directions: ``order_by``, then the tie-breaks."""
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
    return exprs, descending


def _ordered_keys(
    frame: TraceFrame,
    mask: pl.Expr | tuple[int, int],
    order_by: Sequence[str] | str | None,
    offset: int,
    limit: int | None,
) -> pl.Series:
    """Keys of the rows ``mask`` selects, ordered, from ``offset``, at most ``limit``.

    One query: filter, sort and slice, so a page sorts only what it returns (Polars
    turns a sort followed by a slice into a top-k). ``mask`` may be a row range of
    ``frame.time_order`` (see `_time_window`).
    """
    if not bind_order_by(order_by):
        return _newest_first(frame, mask, offset, limit)
    if isinstance(mask, tuple):
        lo, hi = mask
        mask = pl.col("_key").is_in(frame.time_order[1][lo:hi].implode())
    exprs, descending = _sort_spec(frame, order_by)
    return (
        frame.traces.lazy()
        .filter(mask)
        .sort(exprs, descending=descending, nulls_last=True, maintain_order=True)
        .slice(offset, limit)
        .select("_key")
        .collect()["_key"]
    )


def _newest_first(
    frame: TraceFrame,
    mask: pl.Expr | tuple[int, int],
    offset: int,
    limit: int | None,
) -> pl.Series:
    """The default order (``timestamp_ms DESC``, then ``request_id``), fast.

    Sorting on the integer time alone is much cheaper than on (time, id), and ties
    on the time are rare: sort by time, then re-sort only the rows that
    tie. A page needs only its first ``offset + limit`` rows: those are the rows at
    or above the time of the ``offset + limit``-th newest match (`_page_rows`).
    """
    traces = frame.traces
    wanted = None if limit is None else offset + limit
    if (
        wanted is not None
        and 0 < wanted <= _PAGE_ROWS
        and not traces["request_time"].null_count()
    ):
        page_keys, page_times = _page_rows(frame, mask, wanted)
        return _in_order(frame, page_keys, page_times)[offset:wanted]
    if isinstance(mask, tuple):  # a time window: its rows come in time order
        times, keys = frame.time_order
        lo, hi = mask
        rows = pl.DataFrame(
            {"_key": keys[lo:hi], "request_time": times[lo:hi]}
        ).reverse()
        mask = pl.col("_key").is_in(rows["_key"].implode())
    else:
        rows = traces.lazy().filter(mask).select("_key", "request_time").collect()
    if rows["request_time"].null_count():  # not from a trace; the general sort
        exprs, descending = _sort_spec(frame, None)
        return (
            traces.lazy()
            .filter(mask)
            .sort(exprs, descending=descending, nulls_last=True, maintain_order=True)
            .slice(offset, limit)
            .select("_key")
            .collect()["_key"]
        )
    if limit is not None:
        wanted = offset + limit
        if rows.height > wanted > 0:
            cutoff = rows["request_time"].top_k(wanted).min()
            rows = rows.filter(pl.col("request_time") >= cutoff)
    rows = rows.sort("request_time", descending=True, maintain_order=True)
    times = rows["request_time"]
    tied = (times == times.shift(1)) | (times == times.shift(-1))
    if tied.any():
        at = tied.arg_true()
        ties = rows[at].with_columns(traces["trace_id"].gather(rows["_key"][at]))
        # Then the key: a window's rows come reversed, others in key order.
        ties = ties.sort(
            ["request_time", "trace_id", "_key"], descending=[True, False, False]
        )
        rows = rows.with_columns(rows["_key"].scatter(at, ties["_key"]))
    return rows["_key"].slice(offset, limit)


#: Pages of at most this many rows (offset included) are ordered in Python.
_PAGE_ROWS = 10_000


def _page_rows(
    frame: TraceFrame, mask: pl.Expr | tuple[int, int], wanted: int
) -> tuple[list[int], list[int]]:
    """Keys and times of the matches at or above the ``wanted``-th newest time.

    A time window's rows are a run of the frame's time order: the newest are its
    last ``wanted`` rows, widened to every row that shares the oldest of their
    times, one binary search instead of a pass over the window. Other filters are
    evaluated to one boolean per trace (what ``count`` costs) and read in time
    order from the newest trace back (`_newest_hits`).
    """
    times, keys = frame.time_order
    if isinstance(mask, tuple):
        lo, hi = mask
        if hi - lo > wanted:
            cutoff = times[hi - wanted]
            lo = max(lo, times.search_sorted(cutoff, side="left"))
        return keys[lo:hi].to_list(), times[lo:hi].to_list()
    if not mask.meta.root_names():  # may be one scalar: make it one value per row
        mask = pl.col("_key").is_not_null() & mask
    hits = frame.traces.select(mask).to_series()
    at = _newest_hits(hits, keys, wanted)
    if at is None:  # sparse matches: filter them all, then the top times
        rows = frame.traces.filter(hits).select("_key", "request_time")
        if rows.height > wanted:
            cutoff = rows["request_time"].top_k(wanted).min()
            rows = rows.filter(pl.col("request_time") >= cutoff)
        return rows["_key"].to_list(), rows["request_time"].to_list()
    # Every trace sharing the time of the wanted-th newest match: the order breaks
    # ties by trace id, not by position.
    lo = at
    if at and times[at - 1] == times[at]:
        lo = times.search_sorted(times[at], side="left")
    tail = hits.gather(keys[lo:])
    return keys[lo:].filter(tail).to_list(), times[lo:].filter(tail).to_list()


#: `_newest_hits` reads at least this many traces a round (and, first, ``wanted``).
_FIRST_READ = 4096


def _newest_hits(hits: pl.Series, keys: pl.Series, wanted: int) -> int | None:
    """Position in time order of the ``wanted``-th newest match (0: fewer match).

    ``hits``: one boolean per trace, by key; ``keys``: the trace keys in time
    order. Reads the hits of the newest traces, then of older ones, each round as
    many as the matches seen so far say are needed (with a margin), until
    ``wanted`` are found. A page of a common filter reads a few thousand booleans
    instead of filtering every match and taking the top of their times. ``None``
    before reading more than half the traces: the matches are too sparse for this
    to pay.
    """
    n = len(keys)
    hi, found, size = n, 0, max(_FIRST_READ, wanted)
    while hi:
        lo = max(0, hi - size)
        part = hits.gather(keys[lo:hi])
        more = int(part.sum())
        if found + more >= wanted:
            # The wanted-th newest match, counted back from the end of this part.
            return lo + int(part.arg_true()[more - (wanted - found)])
        found, hi = found + more, lo
        read = n - hi
        size = max(_FIRST_READ, 3 * read * (wanted - found) // (2 * found or 1))
        if read + size > n // 2 and hi:
            return None
    return 0  # fewer matches than wanted: all of them


def _in_order(frame: TraceFrame, keys: list[int], times: list[int]) -> pl.Series:
    """``keys`` newest first, ties on the time by trace id, then in key order.

    A page is a hundred rows or so: a Python sort costs less than the Polars
    calls that sort and re-sort ties, and the ids are read only when times tie.
    Python's sort is stable, and it compares strings by code point, which is
    Polars' byte order for UTF-8.
    """
    rows = sorted(range(len(keys)), key=keys.__getitem__)  # key order first
    if len(set(times)) == len(times):
        rows.sort(key=times.__getitem__, reverse=True)
    else:
        at = pl.Series(keys, dtype=pl.UInt32)
        ids = frame.traces["trace_id"].gather(at).to_list()
        rows.sort(key=lambda i: (-times[i], ids[i]))
    return pl.Series("_key", [keys[i] for i in rows], dtype=pl.UInt32)


def _order(
    frame: TraceFrame, keys: pl.Series, order_by: Sequence[str] | str | None
) -> pl.Series:
    return _ordered_keys(frame, pl.col("_key").is_in(keys.implode()), order_by, 0, None)


@two_positional
def search_traces(
    traces: Any = None,
    filter_string: str | None = None,
    *,
    max_results: int | None = None,
    order_by: Sequence[str] | str | None = None,
    page_token: str | None = None,
    return_type: ReturnType | None = "pandas",
    include_spans: bool = True,
    locations: Sequence[str] | None = None,
    experiment_ids: Sequence[str] | None = None,
    run_id: str | None = None,
    model_id: str | None = None,
    extract_fields: Sequence[str] | None = None,
    sql_warehouse_id: str | None = None,
    flush: bool = False,
    engine: Engine = "polars",
) -> Any:
    """Search traces with an MLflow filter string, as ``mlflow.search_traces`` does.

    Everything after ``filter_string`` is keyword-only: MLflow's positional order
    differs (its third argument is ``max_results``), so a ported call names them.

    Args:
        traces: A ``TraceFrame``, an iterable of ``Trace``, a path to trace files or
            a database URL, a ``TraceStore``, or ``None``: the in-memory trace store
            when it holds traces, else the MLflow store ``MLFLOW_TRACKING_URI``
            names (see docs/compatibility.md).
        filter_string: e.g. ``"status = 'OK' AND tags.environment = 'production'"``.
        max_results: At most this many traces (``None``: all of them).
        order_by: Entries ``"key [ASC|DESC]"``; ties fall back to ``timestamp_ms
            DESC`` then ``request_id ASC``, which is also the default order.
        page_token: The token of a previous page of the same search.
        return_type: ``"pandas"`` (MLflow's twelve columns), ``"list"`` of
            ``Trace``, ``"polars"`` or ``"arrow"``; ``None`` is ``"pandas"``.
        include_spans: Whether output rows carry span data.
        locations: Only traces of these experiment ids (a list, as in MLflow).
        experiment_ids: MLflow's older name for ``locations``; give one of them.
        run_id: Only traces whose metadata ``mlflow.sourceRun`` is this run id.
        model_id: Only traces whose metadata ``mlflow.modelId`` is this model id.
        extract_fields: Extra pandas columns from span inputs and outputs, each
            ``"span_name.inputs"``, ``"span_name.outputs"`` or
            ``"span_name.inputs.field"`` (backticks around dotted names).
        sql_warehouse_id: Databricks only; any value is an error here.
        flush: Accepted for MLflow's signature; finished traces are always in the
            in-memory store already, so there is nothing to flush.
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
        SearchArgumentError: For other bad arguments, a third positional argument,
            or ``traces=None`` with nothing to search.

    Example:
        >>> from polartrace.testing import example_traces
        >>> traces = example_traces()
        >>> rows = search_traces(traces, "status = 'ERROR'", return_type="list")
        >>> [t.info.state.value for t in rows]
        ['ERROR']
    """
    if return_type is None:
        return_type = "pandas"
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
    refuse_sql_warehouse(sql_warehouse_id)
    limits = restriction(
        experiment_ids=experiment_ids,
        locations=locations,
        run_id=run_id,
        model_id=model_id,
    )
    fields = check_extract_fields(extract_fields, return_type)
    if _is_lazy(traces, engine):
        return traces.search(
            filter_string,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
            return_type=return_type,
            include_spans=include_spans,
            locations=limits.experiment_ids,
            run_id=limits.run_id,
            model_id=limits.model_id,
            extract_fields=extract_fields,
        )
    frame = _as_frame(traces)
    bind_order_by(order_by)  # reject a bad order_by before doing any work
    fingerprint = page_fingerprint(filter_string, order_by, limits)
    bound = _bound(filter_string, limits)
    if engine == "polars":
        window = _time_window(bound, frame)
        mask = compile_filter(bound, frame) if window is None else window
        offset = 0 if page_token is None else decode_page_token(page_token, fingerprint)
        # One row past the page tells whether there is a next page.
        limit = None if max_results is None else max_results + 1
        page = _ordered_keys(frame, mask, order_by, offset, limit)
        end = offset + len(page)
        if max_results is not None and len(page) > max_results:
            page, end = page[:max_results], offset + max_results
            # A page of no rows has no next page: its token would point back here.
            token = encode_page_token(end, fingerprint) if max_results else None
        else:
            token = None
    else:
        keys = _order(frame, _matching_keys(frame, bound, engine), order_by)
        offset = 0 if page_token is None else decode_page_token(page_token, fingerprint)
        end = len(keys) if max_results is None else offset + max_results
        page = keys[offset:end]
        more = max_results != 0 and end < len(keys)
        token = encode_page_token(end, fingerprint) if more else None

    from polartrace import output

    rows = page.to_list()
    result = output.build(frame, rows, return_type, include_spans, token)
    return with_extracted(result, frame, rows, fields, include_spans)
