"""The ``columns=`` values of one page of a search over a scanned Parquet dataset.

The same values as `polartrace.engines.polars.columns`, read the lazy engine's
way: a field from the trace files with the page's keys pushed down, an aggregate
over spans batch by batch as ``order_by`` computes it
(`LazyEngine._aggregate_values`), an assessment mean from the assessment files
in batches (session-scoped ones from `ScannedTraces.session_scope`), each kept
for the page's keys only.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from polartrace.bind.columns import AssessmentValue, TraceColumn
from polartrace.bind.order_by import AggregateKey, OrderKey
from polartrace.engines.lazy import LazyEngine
from polartrace.engines.polars.columns import RAW_DTYPES, joined
from polartrace.engines.polars.exprs import sort_column
from polartrace.engines.polars.structure import empty_value

__all__ = ["lazy_columns"]


def _fields(
    engine: LazyEngine, rows: pl.Series, columns: Sequence[TraceColumn]
) -> pl.DataFrame:
    dataset = engine.dataset
    names = dataset.schema.names()
    exprs = []
    for column in columns:
        if isinstance(column.key, OrderKey):
            dataset.require([str(column.key.field.column)])
            exprs.append(sort_column(column.key, names).alias(column.label))
    found = (
        dataset.traces.filter(pl.col("_key").is_in(rows.implode()))
        .select(pl.col("_key").cast(pl.UInt32), *exprs)
        .collect(engine="streaming")
    )
    return rows.to_frame("_key").join(
        found, on="_key", how="left", maintain_order="left"
    )


def _assessment(engine: LazyEngine, rows: pl.Series, key: AssessmentValue) -> pl.Series:
    wanted = (
        pl.col("_key").is_in(rows.implode())
        & (pl.col("kind") == key.kind)
        & (pl.col("name") == key.name)
    )
    # Session-scoped assessments reach across parts: the rows of the traces they
    # reach come from the dataset's session scope, the stored ones do not count.
    scope = engine.dataset.session_scope()
    stored = wanted & ~pl.col("_key").is_in(scope.keys.implode())
    parts = [
        batch.filter(stored).select(pl.col("_key").cast(pl.UInt32), "number")
        for batch in engine.dataset.batches(
            "assessments", ["_key", "kind", "name", "number"]
        )
    ]
    parts.append(scope.rows.filter(wanted).select("_key", "number"))
    table = pl.concat(
        [pl.DataFrame(schema={"_key": pl.UInt32(), "number": pl.Float64()}), *parts]
    )
    found = table.group_by("_key").agg(pl.col("number").mean().alias("value"))
    return joined(rows.to_frame("_key"), found, None)


def lazy_columns(
    engine: LazyEngine, keys: Sequence[int], columns: Sequence[TraceColumn]
) -> pl.DataFrame:
    """The ``columns`` of the traces ``keys`` of the engine's dataset, in order.

    Typed as `RAW_DTYPES` says, as `polartrace.engines.polars.columns.trace_columns`.
    """
    rows = pl.Series("_key", keys, dtype=pl.UInt32)
    fields = _fields(engine, rows, columns)
    out: list[pl.Series] = []
    for column in columns:
        key = column.key
        if isinstance(key, OrderKey):
            values = fields[column.label]
        elif isinstance(key, AggregateKey):
            found = engine._aggregate_values(key.aggregate)
            values = joined(rows.to_frame("_key"), found, empty_value(key.aggregate))
        else:
            values = _assessment(engine, rows, key)
        out.append(values.cast(RAW_DTYPES[column.output]).alias(column.label))
    return pl.DataFrame(out, height=len(keys))
