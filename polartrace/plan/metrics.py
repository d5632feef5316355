"""The plan of a metrics query: which rows, grouped how, aggregated into what.

Like `polartrace.plan.search`, a plan is data. The rows are the traces the filter
selects (``Level.TRACE``) or their spans (``Level.SPAN``): the spans of selected
traces that satisfy every span group written as a top-level conjunct of the filter
(docs/semantics.md#metrics). Rows are grouped by the group keys and, with a bucket,
by the start of the time bucket of their time (a trace's request time, a span's
start), and each metric is one column.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from polartrace.bind.metric_nodes import Bucket, GroupKey, Level, Metric, Output
from polartrace.bind.nodes import AllOf, BoundFilter, Cond, SpanGroup
from polartrace.plan.search import Predicate, plan_filter

__all__ = ["TIME_COLUMN", "MetricsPlan", "plan_metrics", "top_level_span_conds"]

#: The name of the time-bucket column.
TIME_COLUMN = "time"


def _groups(values: Iterable[GroupKey]) -> tuple[GroupKey, ...]:
    return tuple(values)


def _metrics(values: Iterable[Metric]) -> tuple[Metric, ...]:
    return tuple(values)


def _conds(values: Iterable[Cond]) -> tuple[Cond, ...]:
    return tuple(values)


@attrs.frozen
class MetricsPlan:
    """A metrics query.

    Attributes:
        text: Names the filter; engines cache what they derive from ``where`` by it.
        where: The traces selected (``None``: all of them).
        level: Whether a row is a trace or a span.
        span_conds: At ``Level.SPAN``, the conditions a selected trace's span must
            also satisfy to be a row.
        group_by: The group keys, in column order.
        bucket: The time buckets, or ``None`` for no time axis.
        metrics: The result columns after the keys.
    """

    text: str
    where: Predicate | None
    level: Level
    span_conds: tuple[Cond, ...] = attrs.field(converter=_conds)
    group_by: tuple[GroupKey, ...] = attrs.field(converter=_groups)
    bucket: Bucket | None
    metrics: tuple[Metric, ...] = attrs.field(converter=_metrics)

    @property
    def columns(self) -> tuple[tuple[str, Output], ...]:
        """Every result column and its type: the time bucket, the keys, the metrics.

        Rows come ordered by these key columns, ascending, nulls last.
        """
        time = ((TIME_COLUMN, Output.TIME),) if self.bucket is not None else ()
        keys = tuple((g.label, g.output) for g in self.group_by)
        return (*time, *keys, *((m.label, m.output) for m in self.metrics))

    @property
    def key_count(self) -> int:
        """How many leading columns are keys (the bucket and the group keys)."""
        return len(self.group_by) + (self.bucket is not None)


def top_level_span_conds(bound: BoundFilter) -> tuple[Cond, ...]:
    """The conditions of the span groups that are top-level conjuncts of a filter.

    Example:
        >>> from polartrace.bind.filter import parse_filter
        >>> f = parse_filter("status = 'OK' AND span.type = 'LLM' OR span.name = 'x'")
        >>> top_level_span_conds(f)
        ()
        >>> [c.field.name for c in top_level_span_conds(parse_filter(
        ...     "status = 'OK' AND span.type = 'LLM'"))]
        ['span.type']
    """
    root = bound.root
    items = root.items if isinstance(root, AllOf) else (root,)
    return tuple(
        cond for item in items if isinstance(item, SpanGroup) for cond in item.conds
    )


def plan_metrics(
    bound: BoundFilter,
    level: Level,
    group_by: Iterable[GroupKey],
    bucket: Bucket | None,
    metrics: Iterable[Metric],
) -> MetricsPlan:
    """Plan a metrics query over the rows ``bound`` selects at ``level``."""
    span_conds = top_level_span_conds(bound) if level is Level.SPAN else ()
    return MetricsPlan(
        bound.text, plan_filter(bound), level, span_conds, group_by, bucket, metrics
    )
