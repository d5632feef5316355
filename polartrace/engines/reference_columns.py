"""The ``columns=`` values of one page of a trace search, read from ``Trace`` objects.

Written from docs/semantics.md#columns, not from the Polars engine: a field's
value is the one the reference engine orders by (`reference.field_value`,
`reference.aggregate_value`); an assessment column is the mean of the numeric
values of the trace's valid assessments of that kind and name, its session's
included. Plain Python, no Polars.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from polartrace.bind.columns import AssessmentValue, ColumnKey, TraceColumn
from polartrace.bind.order_by import AggregateKey
from polartrace.engines.reference import (
    ReferenceEngine,
    _absent,
    aggregate_value,
    field_value,
)
from polartrace.model.trace import Trace
from polartrace.values.json_values import numeric_value

__all__ = ["column_records", "column_value"]


def column_value(engine: ReferenceEngine, key: ColumnKey, trace: Trace) -> Any:
    """The value of one column for ``trace``, one of ``engine``'s traces."""
    if isinstance(key, AssessmentValue):
        numbers = [
            number
            for a in engine._context.assessments_of(trace)
            if a.kind == key.kind
            and a.name == key.name
            and (number := numeric_value(a.value)) is not None
        ]
        return sum(numbers) / len(numbers) if numbers else None
    if isinstance(key, AggregateKey):
        value = aggregate_value(key.aggregate, trace)
    else:
        value = field_value(key.field, key.key, trace)
    return None if _absent(value) else value


def column_records(
    engine: ReferenceEngine, keys: Sequence[int], columns: Sequence[TraceColumn]
) -> list[tuple[Any, ...]]:
    """One tuple of the ``columns`` values per trace of ``keys``, in order.

    Times are epoch ms; a missing value is ``None``.
    """
    traces = engine.traces
    return [
        tuple(column_value(engine, c.key, traces[k]) for c in columns) for k in keys
    ]
