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

from polartrace.api import default_source as _default_source
from polartrace.bind.filter import (
    BoundFilter,
    bind_order_by,
    parse_filter,
)
from polartrace.bind.restrict import Restriction, restrict, restriction
from polartrace.engines.polars.compile import compile_filter
from polartrace.engines.polars.ordering import _order, _ordered_keys, _time_window
from polartrace.frame.trace_frame import TraceFrame
from polartrace.model.trace import Trace
from polartrace.output.mlflow_args import (
    check_extract_fields,
    refuse_sql_warehouse,
    two_positional,
    with_extracted,
)
from polartrace.plan.paging import (
    decode_page_token,
    encode_page_token,
    page_fingerprint,
)
from polartrace.tracing.store import TraceStore
from polartrace.values.errors import SearchArgumentError, TraceFormatError

__all__ = [
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


def _default_frame() -> TraceFrame:
    """The traces ``traces=None`` means (see `polartrace.api.default_source`)."""
    from polartrace.tracing.sdk import get_store

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
    # A LazyTraceFrame (polartrace.engines.lazy.scan_traces) runs its own streaming
    # search.
    from polartrace.engines.lazy import LazyTraceFrame

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
        from polartrace.engines.reference import evaluate

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

    from polartrace.output import build as output

    rows = page.to_list()
    result = output.build(frame, rows, return_type, include_spans, token)
    return with_extracted(result, frame, rows, fields, include_spans)
