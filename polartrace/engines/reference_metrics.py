"""The reference engine's metrics: a `MetricsPlan` computed from ``Trace`` objects.

Plain Python, written from docs/semantics.md#metrics and borrowing nothing from the
Polars executor: rows are selected with the reference engine's own evaluator, read
through the catalogue's accessors, grouped in a dict, aggregated by the functions
below (the percentile is written out from its definition) and sorted on their own.
The property tests hold the Polars executor to these answers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from polartrace.bind.metric_nodes import (
    Aggregate,
    FieldRef,
    GroupKey,
    Level,
    Metric,
    Output,
    Scope,
)
from polartrace.engines.reference import _MISSING, _Context, field_value
from polartrace.model.trace import Span, Trace
from polartrace.plan.metrics import MetricsPlan
from polartrace.values.json_values import canonical_text, numeric_value

__all__ = ["percentile", "run_metrics"]

_ERROR = "ERROR"


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The ``fraction`` quantile of ``values``, interpolated linearly.

    The values sorted ascending are x[0..n-1]; the quantile sits at rank
    h = (n - 1) * fraction, between x[floor(h)] and the next value, at the share
    h - floor(h) of the way from one to the other (numpy's default "linear", and
    Polars' ``quantile(interpolation="linear")``). No values: ``None``.

    Example:
        >>> percentile([4, 1, 3, 2], 0.5), percentile([10, 20], 0.95)
        (2.5, 19.5)
    """
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * fraction
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    below, above = float(ordered[low]), float(ordered[high])
    if rank == low or below == above:
        return below
    return below + (rank - low) * (above - below)


def _number(value: Any) -> float | None:
    """A value read as a number: an int or float, or a string that spells one."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return numeric_value(value)


def _present(value: Any) -> Any:
    return None if value is _MISSING else value


def _span_value(ref: FieldRef, span: Span, *, text: bool) -> Any:
    spec = ref.field
    if spec.read_span is not None:
        return spec.read_span(span)
    value = span.attributes.get(str(ref.key), _MISSING)  # span.attributes.<key>
    if value is _MISSING:
        return None
    return canonical_text(value) if text else numeric_value(value)


def _convert(value: Any, ref: FieldRef, output: Output) -> Any:
    """A read value as the result column holds it (``None`` when missing)."""
    if value is None:
        return None
    if ref.numeric and output is not Output.STRING:
        return _number(value)
    return value


class _Rows:
    """Reads the rows of one plan: the selected traces, or their selected spans."""

    def __init__(self, traces: Sequence[Trace], plan: MetricsPlan) -> None:
        self.plan = plan
        self.context = _Context(traces)
        self.traces = traces

    def rows(self) -> list[tuple[Trace, Span | None]]:
        node, plan = self.context.node, self.plan
        selected = [t for t in self.traces if node(plan.where, t)]
        if plan.level is Level.TRACE:
            return [(t, None) for t in selected]
        span_cond = self.context.span_cond
        return [
            (trace, span)
            for trace in selected
            for span in trace.data.spans
            if all(span_cond(c, span) for c in plan.span_conds)
        ]

    def value(
        self, ref: FieldRef, row: tuple[Trace, Span | None], output: Output
    ) -> Any:
        trace, span = row
        if ref.scope is Scope.SPAN:
            assert span is not None  # the binder allows span fields at span level
            return _convert(
                _span_value(ref, span, text=output is Output.STRING), ref, output
            )
        return _convert(_present(field_value(ref.field, ref.key, trace)), ref, output)

    def assessment_values(self, ref: FieldRef, trace: Trace) -> list[Any]:
        kind, name = ref.field.column, ref.key
        return [
            numeric_value(a.value)
            for a in self.context.assessments_of(trace)
            if a.kind == kind and a.name == name
        ]

    def time(self, row: tuple[Trace, Span | None]) -> int:
        trace, span = row
        if span is None:
            return trace.info.request_time
        return span.start_time_ns // 1_000_000

    def is_error(self, row: tuple[Trace, Span | None]) -> bool:
        trace, span = row
        if span is None:
            return trace.info.state.value == _ERROR
        return span.status.code.value == _ERROR


def _group_value(reader: _Rows, key: GroupKey, row: tuple[Trace, Span | None]) -> Any:
    return reader.value(key.ref, row, key.output)


def _aggregate(metric: Metric, values: list[Any], errors: list[bool]) -> Any:
    match metric.aggregate:
        case Aggregate.COUNT:
            return len(errors)
        case Aggregate.ERROR_COUNT:
            return sum(errors)
        case Aggregate.ERROR_RATE:
            return sum(errors) / len(errors) if errors else None
        case Aggregate.COUNT_DISTINCT:
            return len({v for v in values if v is not None})
    present = [v for v in values if v is not None]
    if not present:
        return None
    match metric.aggregate:
        case Aggregate.PERCENTILE:
            return percentile(present, float(metric.fraction or 0))
        case Aggregate.AVG:
            return math.fsum(present) / len(present)
        case Aggregate.SUM:
            return math.fsum(present)
        case Aggregate.MIN:
            return min(present)
        case Aggregate.MAX:
            return max(present)
    msg = f"unknown aggregate {metric.aggregate}"  # pragma: no cover
    raise AssertionError(msg)


def _sort_key(row: tuple[Any, ...]) -> tuple[tuple[bool, Any], ...]:
    # Ascending, nulls last: (False, value) sorts before every (True, 0).
    return tuple((True, 0) if value is None else (False, value) for value in row)


def run_metrics(traces: Sequence[Trace], plan: MetricsPlan) -> list[tuple[Any, ...]]:
    """Compute ``plan`` over ``traces``: one tuple per row, in ``plan.columns`` order.

    Times (the bucket, a time field's min or max) are epoch milliseconds.
    """
    reader = _Rows(traces, plan)
    groups: dict[tuple[Any, ...], list[tuple[Trace, Span | None]]] = {}
    for row in reader.rows():
        key = tuple(_group_value(reader, g, row) for g in plan.group_by)
        if plan.bucket is not None:
            key = (plan.bucket.start(reader.time(row)), *key)
        groups.setdefault(key, []).append(row)
    result = []
    for key, rows in groups.items():
        errors = [reader.is_error(row) for row in rows]
        cells = [_metric(reader, metric, rows, errors) for metric in plan.metrics]
        result.append((*key, *cells))
    result.sort(key=lambda r: _sort_key(r[: plan.key_count]))
    return result


def _metric(
    reader: _Rows,
    metric: Metric,
    rows: list[tuple[Trace, Span | None]],
    errors: list[bool],
) -> Any:
    ref = metric.ref
    values: list[Any] = []
    if ref is not None and ref.scope is Scope.ASSESSMENT:
        values = [v for trace, _ in rows for v in reader.assessment_values(ref, trace)]
    elif ref is not None:
        values = [reader.value(ref, row, metric.output) for row in rows]
    return _aggregate(metric, values, errors)
