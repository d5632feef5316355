"""The ``columns=`` values of one page of a trace search, over a frame.

A column's value is what ``order_by`` sorts a trace by (`exprs.sort_column` for a
field, `structure.aggregate_values` for an aggregate over spans), or the mean
numeric value of the trace's valid assessments of one name. Every value is read
for the page's keys alone: a gather of the trace table, and the span or
assessment rows of those keys only.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from polartrace.bind.columns import AssessmentValue, TraceColumn
from polartrace.bind.metric_nodes import Output
from polartrace.bind.order_by import AggregateKey, OrderKey
from polartrace.engines.polars.compile import span_table
from polartrace.engines.polars.exprs import sort_column
from polartrace.engines.polars.structure import aggregate_values, empty_value
from polartrace.frame.trace_frame import TraceFrame

__all__ = ["RAW_DTYPES", "joined", "trace_columns"]

#: The dtype of each column type as the engines hand values over (times: epoch ms).
RAW_DTYPES: dict[Output, pl.DataType] = {
    Output.INT: pl.Int64(),
    Output.FLOAT: pl.Float64(),
    Output.STRING: pl.String(),
    Output.TIME: pl.Int64(),
}


def _fields(
    frame: TraceFrame, rows: pl.Series, columns: Sequence[TraceColumn]
) -> pl.DataFrame:
    """The columns that read a trace-table field, gathered at ``rows``."""
    names = frame.traces.columns
    exprs = [
        sort_column(c.key, names).alias(c.label)
        for c in columns
        if isinstance(c.key, OrderKey)
    ]
    read = sorted({r for e in exprs for r in e.meta.root_names()})
    page = frame.traces.select("_key", *read)[rows]
    # With _key, a select of literals only (absent tags) keeps one row per key.
    return page.select("_key", *exprs).drop("_key")


def joined(keys: pl.DataFrame, found: pl.DataFrame, fill: object) -> pl.Series:
    """``found``'s ``value`` for each of ``keys``' ``_key``, in order; else ``fill``."""
    value = keys.join(found, on="_key", how="left", maintain_order="left")["value"]
    return value if fill is None else value.fill_null(fill)


def _aggregate(frame: TraceFrame, rows: pl.Series, key: AggregateKey) -> pl.Series:
    found = aggregate_values(span_table(frame), key.aggregate, keys=rows)
    return joined(rows.to_frame("_key"), found, empty_value(key.aggregate))


def _assessment(frame: TraceFrame, rows: pl.Series, key: AssessmentValue) -> pl.Series:
    table = frame.assessments
    found = (
        table.lazy()
        .filter(
            pl.col("_key").is_in(rows.implode()),
            pl.col("kind") == key.kind,
            pl.col("name") == key.name,
        )
        .group_by("_key")
        .agg(pl.col("number").mean().alias("value"))
        .collect()
    )
    return joined(rows.to_frame("_key"), found, None)


def trace_columns(
    frame: TraceFrame,
    keys: Sequence[int] | pl.Series,
    columns: Sequence[TraceColumn],
) -> pl.DataFrame:
    """The ``columns`` of the traces ``keys`` of ``frame``, one row per key in order.

    A key may repeat (a span table's rows: one per span of a trace). Values are
    typed as `RAW_DTYPES` says (times as epoch ms); a missing value is null (an
    unset tag, a trace without tokens or without that feedback).
    """
    rows = pl.Series("_key", keys, dtype=pl.UInt32)
    fields = _fields(frame, rows, columns)
    out: list[pl.Series] = []
    for column in columns:
        key = column.key
        if isinstance(key, OrderKey):
            values = fields[column.label]
        elif isinstance(key, AggregateKey):
            values = _aggregate(frame, rows, key)
        else:
            values = _assessment(frame, rows, key)
        out.append(values.cast(RAW_DTYPES[column.output]).alias(column.label))
    return pl.DataFrame(out, height=len(keys))
