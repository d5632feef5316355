"""``metrics``: aggregate the traces (or spans) a filter selects, by group and time.

Binds the metric specs, group keys and bucket (`polartrace.bind.metrics`) and the
filter, plans them (`polartrace.plan.metrics`), runs the plan on the Polars executor
or the reference engine and shapes the table (`polartrace.output.metrics`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import polars as pl

from polartrace.api.search import Engine, _as_frame, _check_engine
from polartrace.bind.filter import parse_filter
from polartrace.bind.metrics import (
    Bucket,
    GroupKey,
    Level,
    Metric,
    bind_every,
    bind_group_key,
    bind_metric,
    labels_unique,
)
from polartrace.bind.nodes import BoundFilter
from polartrace.engines.polars.metrics import run_metrics as polars_metrics
from polartrace.engines.reference_metrics import run_metrics as reference_metrics
from polartrace.frame.trace_frame import TraceFrame
from polartrace.output.metrics import ReturnType, check_return_type, from_rows, shaped
from polartrace.plan.metrics import TIME_COLUMN, MetricsPlan, plan_metrics
from polartrace.values.errors import MetricError, SearchArgumentError

if TYPE_CHECKING:
    from polartrace.engines.lazy import ScannedTraces

__all__ = ["metric_source", "metrics", "run_plan"]

_LEVELS = ("trace", "span")


def metric_source(traces: Any, engine: str) -> TraceFrame | ScannedTraces:
    """What a metrics query runs on: a frame, or a scanned dataset (polars engine).

    Raises:
        SearchArgumentError: For the reference engine on a scanned dataset.
    """
    # A scanned dataset was made by the lazy engine's module; when it is not
    # loaded, nothing is scanned, and importing it would load pyarrow and numpy.
    lazy = sys.modules.get("polartrace.engines.lazy")
    if lazy is not None and isinstance(traces, lazy.ScannedTraces):
        if engine != "polars":
            msg = (
                "a scanned dataset is aggregated by the polars engine; .collect() it "
                "first for engine='reference'"
            )
            raise SearchArgumentError(msg)
        scanned: ScannedTraces = traces
        return scanned
    return _as_frame(traces)


def _strings(value: Sequence[str] | str | None, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, Sequence):
        msg = f"{what} must be a str or a list of str, not {type(value).__name__}"
        raise SearchArgumentError(msg)
    return list(value)


def _level(level: str) -> Level:
    if level not in _LEVELS:
        msg = f"level must be one of {_LEVELS}, not {level!r}"
        raise SearchArgumentError(msg)
    return Level(level)


def bind_query(
    metrics: Sequence[str] | str | None,
    group_by: Sequence[str] | str | None,
    every: str | None,
    level: Level,
) -> tuple[list[Metric], list[GroupKey], Bucket | None]:
    """The metrics, group keys and bucket of a query, bound and checked."""
    specs = _strings(metrics, "metrics") or ["count"]
    bound_metrics = [bind_metric(spec, level) for spec in specs]
    keys = [bind_group_key(key, level) for key in _strings(group_by, "group_by")]
    bucket = None if every is None else bind_every(every)
    time = [TIME_COLUMN] if bucket is not None else []
    labels_unique([*time, *(k.label for k in keys), *(m.label for m in bound_metrics)])
    return bound_metrics, keys, bucket


def run_plan(
    frame: TraceFrame | ScannedTraces, plan: MetricsPlan, engine: str
) -> pl.DataFrame:
    """Run ``plan`` on ``engine``: the raw table (times as epoch ms)."""
    if not isinstance(frame, TraceFrame):
        from polartrace.engines.lazy_metrics import run_scanned_metrics

        return run_scanned_metrics(frame, plan)
    if engine == "reference":
        traces = frame.traces_at(range(len(frame)))
        return from_rows(reference_metrics(traces, plan), plan)
    return polars_metrics(frame, plan)


def metrics(
    traces: Any = None,
    filter_string: str | None = None,
    *,
    metrics: Sequence[str] | str | None = None,
    group_by: Sequence[str] | str | None = None,
    every: str | None = None,
    level: Literal["trace", "span"] = "trace",
    return_type: ReturnType | None = "pandas",
    engine: Engine = "polars",
) -> Any:
    """Aggregate the traces (or spans) a filter selects: one row per group and bucket.

    Args:
        traces: What ``search_traces`` accepts: a ``TraceFrame``, traces, a path,
            a ``TraceStore``, a scanned dataset (``scan_traces``: aggregated out
            of core, reading only the columns the query needs), or ``None`` for
            the default source.
        filter_string: Selects the rows; ``None`` selects every trace.
        metrics: Metric specs, one column each: ``count``, ``error_count``,
            ``error_rate``, ``p50``/``p90``/``p95``/``p99`` (any ``p<number>``),
            ``avg``, ``sum``, ``min``, ``max`` and ``count_distinct`` of a field,
            e.g. ``"p95(latency)"``, ``"avg(feedback.relevance)"``. Default:
            ``["count"]``.
        group_by: Fields to group by, e.g. ``["tags.environment", "status"]``.
        every: Time buckets, e.g. ``"15m"``, ``"1h"``, ``"1d"``, ``"1w"``: UTC,
            aligned to the epoch (weeks start on Monday); a ``time`` column
            holds each bucket's start.
        level: ``"trace"``: a row is a selected trace. ``"span"``: a row is a span
            of a selected trace that satisfies the filter's top-level span group.
        return_type: ``"pandas"`` (default), ``"polars"`` or ``"arrow"``.
        engine: ``"polars"`` or ``"reference"`` (plain Python; the same answers;
            not on a scanned dataset).

    Returns:
        A table with the time column (with ``every``), the group columns and one
        column per metric, ordered by time and group values (nulls last). No
        selected rows give a table with these columns and no rows.

    Raises:
        MetricError: For an unknown metric or field, a field the metric cannot
            aggregate, a bad ``every``, or two columns of the same name.
        FilterError: For a rejected filter.
        SearchArgumentError: For other bad arguments.

    Example:
        >>> from polartrace.testing import example_traces
        >>> metrics(example_traces(), metrics=["count", "error_rate"],
        ...         group_by="status", return_type="polars").rows()
        [('ERROR', 1, 1.0), ('IN_PROGRESS', 1, 0.0), ('OK', 2, 0.0)]
    """
    shape = check_return_type(return_type)
    _check_engine(engine)
    chosen = _level(level)
    bound_metrics, keys, bucket = bind_query(metrics, group_by, every, chosen)
    bound: BoundFilter = parse_filter(filter_string)
    source = metric_source(traces, engine)
    plan = plan_metrics(bound, chosen, keys, bucket, bound_metrics)
    return shaped(run_plan(source, plan, engine), plan.columns, shape)


__all__ += ["MetricError", "bind_query"]
