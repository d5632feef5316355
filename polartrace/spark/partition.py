"""What Spark's Python workers run: polartrace's Polars engine over a partition.

Each function takes the filter as its text (and the ``order_by`` entries, the metric
specs as written), binds and plans it on the worker, rebuilds each Arrow batch of
rows into a frame (`polartrace.spark.layout.frame_from_rows`) and runs the
in-memory engine on it, so every answer is that engine's. It yields small Arrow
batches: the matching traces' ``_key`` and sort values, a count, or the rows a
metrics query aggregates. Nothing here imports pyspark.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from typing import Final

import polars as pl
import pyarrow as pa

from polartrace.api.metrics import bind_query
from polartrace.bind.filter import bind_order_by, parse_filter
from polartrace.bind.metric_nodes import Level, Metric, Output, Scope
from polartrace.bind.order_by import AggregateKey, SortKey
from polartrace.catalogue.fields import ValueType
from polartrace.engines.polars.engine import PolarsEngine
from polartrace.engines.polars.metrics import metric_rows
from polartrace.engines.polars.ordering import sort_values
from polartrace.plan.metrics import MetricsPlan, plan_metrics
from polartrace.plan.search import SearchPlan, plan_search
from polartrace.spark.layout import KEY, frame_from_rows

__all__ = [
    "count_partition",
    "many_schema",
    "metric_schema",
    "metrics_partition",
    "search_many_partition",
    "search_partition",
    "search_plan",
    "sort_schema",
]

_TYPES: Final[dict[str, pl.DataType]] = {
    "string": pl.String(),
    "bigint": pl.Int64(),
    "double": pl.Float64(),
    "boolean": pl.Boolean(),
    "int": pl.Int32(),
}


@functools.lru_cache(maxsize=64)
def search_plan(
    filter_string: str | None, order_by: tuple[str, ...], limit: int | None
) -> SearchPlan:
    """The plan of a search: bound on the driver first (errors), then on each worker."""
    bound = parse_filter(filter_string)
    return plan_search(bound, bind_order_by(list(order_by)), 0, limit)


def _sort_type(key: SortKey) -> str:
    """The Spark type a sort key's values travel as (an order-preserving cast)."""
    if isinstance(key, AggregateKey):
        return "double"
    match key.field.value_type:
        case ValueType.TIME:
            return "bigint"
        case ValueType.NUMBER:
            return "double"
    return "string"


def sort_schema(plan: SearchPlan) -> list[tuple[str, str]]:
    """Name and Spark type of each column `search_partition` yields."""
    return [(KEY, "bigint")] + [
        (f"_sort{i}", _sort_type(k)) for i, k in enumerate(plan.order)
    ]


def _arrow(
    table: pl.DataFrame, schema: Sequence[tuple[str, str]]
) -> list[pa.RecordBatch]:
    # A column the batch lacks (a search or metric that found no value) is null.
    typed = table.select(
        (pl.col(n) if n in table.columns else pl.lit(None)).cast(_TYPES[t]).alias(n)
        for n, t in schema
    ).rechunk()
    # Plain (not large) strings: the types Spark declares for the batch.
    arrow = typed.to_arrow(compat_level=pl.CompatLevel.oldest())
    target = pa.schema(
        [
            pa.field(n, pa.string() if t == "string" else arrow.schema.field(n).type)
            for n, t in schema
        ]
    )
    batches: list[pa.RecordBatch] = arrow.cast(target).to_batches()
    return batches


def search_partition(
    filter_string: str | None,
    order_by: tuple[str, ...],
    limit: int | None,
    batches: Iterator[pa.RecordBatch],
) -> Iterator[pa.RecordBatch]:
    """The first ``limit`` matches of each batch in the plan's order, with sort values.

    The global first ``limit`` are among them: the batch's order is the global
    order restricted to the batch (rows taken in ``_key`` order, the last
    tie-break).
    """
    plan = search_plan(filter_string, order_by, limit)
    schema = sort_schema(plan)
    for batch in batches:
        if not batch.num_rows:
            continue
        frame, positions = frame_from_rows(batch)
        keys = pl.Series("_key", PolarsEngine(frame).keys(plan), dtype=pl.UInt32)
        if keys.is_empty():
            continue
        values = sort_values(frame, keys, plan.order)
        values = values.with_columns(positions.gather(values["_key"]).alias(KEY))
        yield from _arrow(values, schema)


def many_schema(plans: Sequence[SearchPlan]) -> list[tuple[str, str]]:
    """Columns `search_many_partition` yields: ``_search``, ``_key``, each sort value.

    Search ``i``'s sort value ``k`` is column ``_s<i>_<k>`` (null in other rows).
    """
    columns = [("_search", "int"), (KEY, "bigint")]
    for i, plan in enumerate(plans):
        columns += [(f"_s{i}{n[5:]}", t) for n, t in sort_schema(plan)[1:]]
    return columns


def search_many_partition(
    searches: tuple[tuple[str | None, tuple[str, ...], int | None], ...],
    batches: Iterator[pa.RecordBatch],
) -> Iterator[pa.RecordBatch]:
    """`search_partition` for several searches in one pass over the rows."""
    plans = [search_plan(*search) for search in searches]
    schema = many_schema(plans)
    for batch in batches:
        if not batch.num_rows:
            continue
        frame, positions = frame_from_rows(batch)
        engine = PolarsEngine(frame)
        parts = []
        for i, plan in enumerate(plans):
            keys = pl.Series("_key", engine.keys(plan), dtype=pl.UInt32)
            values = sort_values(frame, keys, plan.order)
            parts.append(
                values.with_columns(
                    positions.gather(values["_key"]).alias(KEY),
                    pl.lit(i, pl.Int32).alias("_search"),
                ).rename({n: f"_s{i}{n[5:]}" for n in values.columns if n != "_key"})
            )
        table = pl.concat(parts, how="diagonal_relaxed")
        if table.height:
            yield from _arrow(table, schema)


def count_partition(
    filter_string: str | None, batches: Iterator[pa.RecordBatch]
) -> Iterator[pa.RecordBatch]:
    """One row per batch: how many of its traces the filter selects (column ``n``)."""
    plan = search_plan(filter_string, (), None)
    for batch in batches:
        if batch.num_rows:
            frame, _ = frame_from_rows(batch)
            found = PolarsEngine(frame).count(plan)
            yield pa.RecordBatch.from_arrays([pa.array([found], pa.int64())], ["n"])


@functools.lru_cache(maxsize=64)
def metrics_plan(
    filter_string: str | None,
    metrics: tuple[str, ...],
    group_by: tuple[str, ...],
    every: str | None,
    level: str,
) -> MetricsPlan:
    """The plan of a metrics query (bound on the driver first, then on workers)."""
    chosen = Level(level)
    bound_metrics, keys, bucket = bind_query(
        list(metrics), list(group_by), every, chosen
    )
    return plan_metrics(
        parse_filter(filter_string), chosen, keys, bucket, bound_metrics
    )


_OUTPUT_TYPES: Final = {
    Output.INT: "bigint",
    Output.FLOAT: "double",
    Output.STRING: "string",
    Output.TIME: "bigint",
}


def _value_type(metric: Metric) -> str | None:
    """The Spark type of the value metric ``metric`` reads (``None``: reads none)."""
    ref = metric.ref
    if ref is None:
        return None
    if ref.scope is Scope.ASSESSMENT or (
        metric.output is not Output.STRING and ref.numeric
    ):
        return "double"
    if metric.output is Output.STRING:
        return "string"
    return "bigint" if ref.field.value_type is ValueType.TIME else "string"


def metric_schema(plan: MetricsPlan) -> list[tuple[str, str]]:
    """Name and Spark type of each column `metrics_partition` yields."""
    columns = [("_part", "int")]
    if plan.bucket is not None:
        columns.append(("_t", "bigint"))
    columns += [
        (f"_g{i}", _OUTPUT_TYPES[g.output]) for i, g in enumerate(plan.group_by)
    ]
    columns.append(("_e", "boolean"))
    for j, metric in enumerate(plan.metrics):
        kind = _value_type(metric)
        if kind is not None:
            columns.append((f"_v{j}", kind))
    return columns


def metrics_partition(
    filter_string: str | None,
    metrics: tuple[str, ...],
    group_by: tuple[str, ...],
    every: str | None,
    level: str,
    batches: Iterator[pa.RecordBatch],
) -> Iterator[pa.RecordBatch]:
    """The rows a metrics query aggregates, batch by batch (`metric_rows`)."""
    plan = metrics_plan(filter_string, metrics, group_by, every, level)
    schema = metric_schema(plan)
    for batch in batches:
        if not batch.num_rows:
            continue
        frame, _ = frame_from_rows(batch)
        rows = metric_rows(frame, plan)
        if rows.height:
            yield from _arrow(rows, schema)
