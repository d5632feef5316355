"""``search_sessions``: one row per session of the traces a filter selects.

A session is the set of traces that share the metadata ``mlflow.trace.session``.
The filter selects traces, as in ``search_traces``; a session's row aggregates its
selected traces only, and a session none of whose traces is selected has no row.
The row is a metrics query grouped by the session (`polartrace.api.metrics`), so
both engines compute it and the property tests cover it; its columns are:

``session_id``, ``user`` (the smallest ``mlflow.trace.user`` of its traces),
``first_request_time``, ``last_request_time``, ``trace_count``, ``error_count``,
``total_latency_ms``; then ``tokens.*`` and ``cost.*`` sums for each of those
fields the catalogue declares; then ``feedback.<name>``, the mean numeric value of
each feedback name that has a numeric value in the searched traces.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs
import polars as pl

from polartrace.api.arguments import check_max_results
from polartrace.api.metrics import metric_source, run_plan
from polartrace.api.search import Engine, _check_engine
from polartrace.bind.filter import parse_filter
from polartrace.bind.metrics import Level, Metric, bind_group_key, bind_metric
from polartrace.bind.nodes import AllOf, BoundFilter, Cond
from polartrace.catalogue.fields import ATTRIBUTE_FIELDS, METADATA
from polartrace.engines.polars.metrics import Collector
from polartrace.frame.trace_frame import TraceFrame
from polartrace.language.ast import Op
from polartrace.output.metrics import ReturnType, check_return_type, shaped
from polartrace.plan.metrics import plan_metrics
from polartrace.values.conventions import SESSION_KEY, USER_KEY
from polartrace.values.errors import OrderByError, closest_match

if TYPE_CHECKING:
    from polartrace.engines.lazy import ScannedTraces

__all__ = ["SESSION_ORDER", "search_sessions", "session_metrics"]

#: The default order: the most recently active session first, ties by id.
SESSION_ORDER: tuple[str, ...] = ("last_request_time DESC", "session_id ASC")
_SUMMED = ("tokens.input", "tokens.output", "tokens.total", "cost.total")
_ENTRY = re.compile(r"\s*(?P<column>\S+?)(?:\s+(?P<direction>\S+))?\s*\Z")


def _quoted(key: str) -> str:
    return "`" + key.replace("`", "") + "`"


def feedback_names(frame: TraceFrame | ScannedTraces) -> list[str]:
    """Names of the feedback with a numeric value in ``frame``, sorted."""
    collect: Collector = "auto"
    if isinstance(frame, TraceFrame):
        table = frame.assessments.lazy()
    else:  # a scanned dataset: its assessment parts, streamed
        table, collect = frame.scan("assessments"), "streaming"
    names = (
        table.filter(
            (pl.col("kind").cast(pl.String) == "feedback")
            & pl.col("number").is_not_null()
        )
        .select(pl.col("name").cast(pl.String).unique())
        .collect(engine=collect)["name"]
    )
    return sorted(names.to_list())


def session_metrics(frame: TraceFrame | ScannedTraces) -> list[Metric]:
    """The metrics of a session row, for the fields the catalogue declares."""
    trace = Level.TRACE
    metrics = [
        bind_metric(f"min(metadata.{_quoted(USER_KEY)})", trace, "user"),
        bind_metric("min(timestamp_ms)", trace, "first_request_time"),
        bind_metric("max(timestamp_ms)", trace, "last_request_time"),
        bind_metric("count", trace, "trace_count"),
        bind_metric("error_count", trace, "error_count"),
        bind_metric("sum(execution_time_ms)", trace, "total_latency_ms"),
    ]
    metrics += [
        bind_metric(f"sum({name})", trace, name)
        for name in _SUMMED
        if name in ATTRIBUTE_FIELDS
    ]
    metrics += [
        bind_metric(f"avg(feedback.{_quoted(name)})", trace, f"feedback.{name}")
        for name in feedback_names(frame)
    ]
    return metrics


def _with_session(bound: BoundFilter) -> BoundFilter:
    has_session = Cond(METADATA, SESSION_KEY, Op.IS_NOT_NULL, None)
    root = has_session if bound.root is None else AllOf((bound.root, has_session))
    return attrs.evolve(bound, text=f"({bound.text}) sessions", root=root)


def _order(
    order_by: Sequence[str] | str | None, columns: list[str]
) -> list[tuple[str, bool]]:
    entries = [order_by] if isinstance(order_by, str) else list(order_by or ())
    keys: list[tuple[str, bool]] = []
    for entry in entries:
        match = _ENTRY.match(entry) if isinstance(entry, str) else None
        if match is None or not entry.strip():
            msg = "cannot parse order_by entry"
            raise OrderByError(msg, str(entry), hint="e.g. 'trace_count DESC'")
        column, written = match["column"], match["direction"] or "ASC"
        if column not in columns:
            guess = closest_match(column, columns)
            raise OrderByError(
                f"unknown session column {column!r}; columns are " + ", ".join(columns),
                entry,
                position=match.start("column"),
                end=match.end("column"),
                hint=f"did you mean {guess!r}?" if guess else None,
            )
        if written.upper() not in ("ASC", "DESC"):
            msg = f"unknown direction {written!r}; use ASC or DESC"
            raise OrderByError(msg, entry, position=match.start("direction"))
        keys.append((column, written.upper() == "DESC"))
    named = {c for c, _ in keys}
    tie_breaks = [_ENTRY.match(e) for e in SESSION_ORDER]
    for tie in tie_breaks:
        assert tie is not None
        if tie["column"] not in named:
            keys.append((tie["column"], tie["direction"] == "DESC"))
    return keys


def search_sessions(
    traces: Any = None,
    filter_string: str | None = None,
    *,
    order_by: Sequence[str] | str | None = None,
    max_results: int | None = None,
    return_type: ReturnType | None = "pandas",
    engine: Engine = "polars",
) -> Any:
    """One row per session of the traces ``filter_string`` selects.

    Args:
        traces: What ``search_traces`` accepts, a scanned dataset included
            (``scan_traces``: aggregated out of core by the polars engine).
        filter_string: Selects traces; each session aggregates its selected traces.
        order_by: Entries ``"column [ASC|DESC]"`` over the session columns;
            ties fall back to ``last_request_time DESC``, then ``session_id``.
        max_results: At most this many sessions (``None``: all).
        return_type: ``"pandas"`` (default), ``"polars"`` or ``"arrow"``.
        engine: ``"polars"`` or ``"reference"``.

    Returns:
        The session table (columns in the module docstring), ordered.

    Raises:
        OrderByError: For an ``order_by`` entry naming no session column.
        FilterError: For a rejected filter.
        SearchArgumentError: For other bad arguments.

    Example:
        >>> from polartrace.testing import example_traces
        >>> search_sessions(example_traces(), return_type="polars").select(
        ...     "session_id", "trace_count").rows()
        [('s1', 1)]
    """
    shape = check_return_type(return_type)
    _check_engine(engine)
    check_max_results(max_results)
    bound = _with_session(parse_filter(filter_string))
    frame = metric_source(traces, engine)
    key = attrs.evolve(
        bind_group_key(f"metadata.{_quoted(SESSION_KEY)}"), label="session_id"
    )
    plan = plan_metrics(bound, Level.TRACE, [key], None, session_metrics(frame))
    columns = [label for label, _ in plan.columns]
    order = _order(order_by, columns)
    table = run_plan(frame, plan, engine).sort(
        [c for c, _ in order],
        descending=[d for _, d in order],
        nulls_last=True,
        maintain_order=True,
    )
    if max_results is not None:
        table = table.head(max_results)
    return shaped(table, plan.columns, shape)
