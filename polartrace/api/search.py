"""``search_traces`` and ``count``: bind, plan, run on an engine, build the output.

This module strings the stages together: it checks the arguments, turns the input
(a frame, traces, paths, a store, a scanned dataset) into an engine
(`polartrace.engines`), plans the search (`polartrace.plan.search`) with the page a
validated opaque token points at, and builds output rows for the keys the engine
returns, only for the traces a page returns.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Literal

import attrs

from polartrace.api import default_source as _default_source
from polartrace.api.arguments import (
    check_extract_fields,
    check_max_results,
    refuse_sql_warehouse,
    two_positional,
)
from polartrace.bind.filter import BoundFilter, bind_order_by, parse_filter
from polartrace.bind.restrict import Restriction, restrict, restriction
from polartrace.engines import base
from polartrace.engines.polars.engine import PolarsEngine
from polartrace.engines.reference import ReferenceEngine
from polartrace.frame.trace_frame import TraceFrame
from polartrace.model.trace import Trace
from polartrace.output import build as output
from polartrace.output.extract import with_extracted
from polartrace.output.tokens import remember
from polartrace.plan.paging import (
    decode_page_token,
    encode_page_token,
    page_fingerprint,
)
from polartrace.plan.search import plan_search
from polartrace.tracing.store import TraceStore
from polartrace.values.errors import SearchArgumentError, TraceFormatError

if TYPE_CHECKING:
    from polartrace.engines.lazy import ScannedTraces

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


@attrs.frozen
class _Source:
    """An engine over the searched traces, and the frame output reads a page from."""

    engine: base.Engine
    frame: TraceFrame | None  # None: a scanned dataset, whose page rows are read
    dataset: ScannedTraces | None = None

    def page(self, keys: list[int]) -> tuple[TraceFrame, list[int]]:
        """The frame and rows that hold the traces ``keys``, for the output."""
        if self.frame is not None:
            return self.frame, keys
        assert self.dataset is not None
        return output.page_frame(self.dataset.pages_at(keys)), list(range(len(keys)))


def _check_engine(engine: str) -> None:
    if engine not in _ENGINES:
        msg = f"engine must be one of {_ENGINES}, not {engine!r}"
        raise SearchArgumentError(msg)


def _source(traces: Any, engine: str) -> _Source:
    # Imported here: the lazy engine reads Parquet through pyarrow, which a search
    # of anything else does not load.
    from polartrace.engines.lazy import LazyEngine, ScannedTraces

    if isinstance(traces, ScannedTraces):
        if engine != "polars":
            msg = (
                "a scanned dataset searches with the polars engine; .collect() it first"
            )
            raise SearchArgumentError(msg)
        return _Source(LazyEngine(traces), None, traces)
    frame = _as_frame(traces)
    if engine == "reference":
        return _Source(ReferenceEngine(frame.traces_at(range(len(frame)))), frame)
    return _Source(PolarsEngine(frame), frame)


def _bound(filter_string: str | None, limits: Restriction) -> BoundFilter:
    """The filter with the search's scope (experiments, run, model) ANDed on."""
    return restrict(parse_filter(filter_string), limits)


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
    source = _source(traces, engine)
    return source.engine.count(plan_search(_bound(filter_string, limits)))


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
            ``Trace``, ``"polars"`` or ``"arrow"`` (the same columns typed:
            datetimes, durations, key/value maps, lists of span and assessment
            structs; docs/semantics.md#result-columns); ``None`` is ``"pandas"``.
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
        page's token is ``polartrace.next_page_token(result)`` for every type, also
        ``result.token`` (list), ``df.attrs["next_page_token"]`` (pandas) or the
        ``next_page_token`` schema metadata (arrow).

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
    check_max_results(max_results)
    refuse_sql_warehouse(sql_warehouse_id)
    limits = restriction(
        experiment_ids=experiment_ids,
        locations=locations,
        run_id=run_id,
        model_id=model_id,
    )
    fields = check_extract_fields(extract_fields, return_type)
    source = _source(traces, engine)
    order_keys = bind_order_by(order_by)  # a bad order_by fails before any work
    fingerprint = page_fingerprint(filter_string, order_by, limits)
    bound = _bound(filter_string, limits)
    offset = 0 if page_token is None else decode_page_token(page_token, fingerprint)
    # One row past the page tells whether there is a next page.
    limit = None if max_results is None else max_results + 1
    keys = source.engine.keys(plan_search(bound, order_keys, offset, limit))
    token = None
    if max_results is not None and len(keys) > max_results:
        keys = keys[:max_results]
        # A page of no rows has no next page: its token would point back here.
        token = (
            encode_page_token(offset + max_results, fingerprint)
            if max_results
            else None
        )
    frame, rows = source.page(keys)
    result = output.build(frame, rows, return_type, include_spans, token)
    if return_type == "polars":  # a Polars frame has no place for its token
        remember(result, token)
    return with_extracted(result, frame, rows, fields, include_spans)
