"""``search_traces``, ``count`` and ``metrics`` over a Spark DataFrame of trace rows.

The DataFrame holds one row per trace in the shape of `polartrace.spark.layout`.
Every call binds the filter on the driver first, so a bad filter raises its
`FilterError` before any Spark job starts. Then:

1. the conjuncts Spark can test itself go into a ``where``
   (`polartrace.spark.pushdown`), for file and partition skipping;
2. the filter *text* goes to the workers with ``mapInArrow``; each batch of rows is
   rebuilt into a frame and searched by the in-memory Polars engine
   (`polartrace.spark.partition`), which yields its first ``max_results`` matches
   with their sort values (a top-k per batch), a count, or the rows a metrics query
   aggregates;
3. the driver (or Spark, for ``return_type="spark"``) orders the candidates by the
   sort values with the engine's directions, nulls last, then by ``_key``, and takes
   the page; counts are summed; metrics are aggregated by Spark per group.

Only the columns the plan reads travel to Python: the trace columns always, the
span, assessment and prompt arrays when a condition, sort key or metric reads them,
never the JSON text (read afterwards for the page alone).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any, Literal

import polars as pl
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from polartrace.api.arguments import check_max_results
from polartrace.api.metrics import bind_query
from polartrace.bind.filter import parse_filter
from polartrace.bind.metric_nodes import Aggregate, Level, Scope
from polartrace.bind.order_by import AggregateKey
from polartrace.engines.polars.metrics import ENGINE_DTYPES
from polartrace.frame.pages import PAGE_SCHEMA
from polartrace.output import build as output
from polartrace.output.metrics import check_return_type, shaped
from polartrace.plan.metrics import MetricsPlan, plan_metrics
from polartrace.plan.search import (
    And,
    AssessmentMatch,
    ColumnTest,
    Not,
    Or,
    Predicate,
    PromptMatch,
    SearchPlan,
    SpanAggregate,
    SpanMatch,
    SpanQuantified,
    TextMatch,
)
from polartrace.spark.layout import (
    ASSESSMENTS,
    KEY,
    LLM_TRACE_COLUMNS,
    METADATA,
    PAGE,
    PROMPTS,
    SPANS,
    TAGS,
    TRACE_COLUMNS,
)
from polartrace.spark.partition import (
    count_partition,
    many_schema,
    metric_schema,
    metrics_partition,
    search_many_partition,
    search_partition,
    search_plan,
    sort_schema,
)
from polartrace.spark.pushdown import column, pushed
from polartrace.values.errors import SearchArgumentError

__all__ = [
    "candidates",
    "count",
    "count_frame",
    "metrics",
    "page_keys",
    "search_traces",
]

ReturnType = Literal["spark", "polars", "pandas", "list"]
_RETURN_TYPES = ("spark", "polars", "pandas", "list")
#: A page of at most this many keys is fetched with ``isin``, a larger one by a join.
_ISIN_KEYS = 10_000


def _tables(node: Predicate | None) -> set[str]:
    """The array columns a predicate reads."""
    match node:
        case None | ColumnTest():
            return set()
        case SpanMatch() | SpanQuantified() | SpanAggregate() | TextMatch():
            return {SPANS}
        case AssessmentMatch():
            return {ASSESSMENTS}
        case PromptMatch():
            return {PROMPTS}
        case And(items=items) | Or(items=items):
            return set().union(*(_tables(i) for i in items))
        case Not(item=item):
            return _tables(item)
    msg = f"unknown plan node {node!r}"  # pragma: no cover - Predicate is closed
    raise AssertionError(msg)


def _shipped(df: DataFrame, arrays: Iterable[str]) -> list[Column]:
    """The columns of ``df`` that travel to the workers (names may hold dots)."""
    wanted = {KEY, *TRACE_COLUMNS, TAGS, METADATA, *arrays}
    if not set(df.columns) >= LLM_TRACE_COLUMNS:
        # Rows written without the LLM columns: the workers derive them (and the
        # trace totals) from the spans' attributes.
        wanted.add(SPANS)
    return [column(c) for c in df.columns if c in wanted]


def _check_frame(df: Any) -> DataFrame:
    if not isinstance(df, DataFrame):
        msg = f"df must be a Spark DataFrame of trace rows, not {type(df).__name__}"
        raise SearchArgumentError(msg)
    missing = [c for c in (KEY, "trace_id", "request_time") if c not in df.columns]
    if missing:
        msg = (
            f"the DataFrame lacks {missing}: it must hold one row per trace in "
            "polartrace's Spark shape (polartrace.spark.read_dataset, read_archive)"
        )
        raise SearchArgumentError(msg)
    return df


def _filtered(df: DataFrame, where: Predicate | None) -> DataFrame:
    condition = pushed(where, df.columns)
    return df if condition is None else df.where(condition)


def _strings(value: Sequence[str] | str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)


def count(df: DataFrame, filter_string: str | None = None) -> int:
    """How many traces of ``df`` the filter selects.

    Raises:
        FilterError: For a rejected filter, before any Spark job.
        SearchArgumentError: If ``df`` is not a DataFrame of trace rows.
    """
    total = count_frame(df, filter_string).agg(F.sum("n")).collect()[0][0]
    return int(total or 0)


def count_frame(df: DataFrame, filter_string: str | None) -> DataFrame:
    """The lazy per-batch counts (column ``n``) of a filter over ``df``.

    Raises:
        FilterError: For a rejected filter, before any Spark job.
        SearchArgumentError: If ``df`` is not a DataFrame of trace rows.
    """
    plan = search_plan(filter_string, (), None)
    df = _check_frame(df)
    source = _filtered(df, plan.where).select(_shipped(df, _tables(plan.where)))
    return source.mapInArrow(
        functools.partial(count_partition, filter_string), "n bigint"
    )


def _order(plan: SearchPlan) -> list[Column]:
    columns = [
        F.col(name).desc_nulls_last()
        if key.descending
        else F.col(name).asc_nulls_last()
        for key, (name, _) in zip(plan.order, sort_schema(plan)[1:], strict=True)
    ]
    return [*columns, F.col(KEY).asc()]


def search_traces(
    df: DataFrame,
    filter_string: str | None = None,
    *,
    order_by: Sequence[str] | str | None = None,
    max_results: int | None = None,
    return_type: ReturnType = "spark",
    include_spans: bool = True,
) -> Any:
    """Search a DataFrame of trace rows with an MLflow filter string.

    Args:
        df: One row per trace, in polartrace's Spark shape.
        filter_string: The filter; ``None`` or ``""`` selects every trace.
        order_by: Entries ``"key [ASC|DESC]"``, as `polartrace.search_traces`;
            ties fall back to ``timestamp_ms DESC``, ``request_id ASC``, then the
            row's ``_key``.
        max_results: At most this many traces (``None``: all of them).
        return_type: ``"spark"``: the matching rows of ``df`` in order, a lazy
            DataFrame; ``"polars"``, ``"pandas"`` or ``"list"``: collected, the
            same result `polartrace.search_traces` builds (no page token).
        include_spans: Whether collected rows carry span data.

    Returns:
        The matching traces, in order.

    Raises:
        FilterError: For a rejected filter, before any Spark job.
        OrderByError: For a bad ``order_by`` entry, before any Spark job.
        SearchArgumentError: For other bad arguments.
    """
    if return_type not in _RETURN_TYPES:
        msg = f"return_type must be one of {_RETURN_TYPES}, not {return_type!r}"
        raise SearchArgumentError(msg)
    check_max_results(max_results)
    entries = _strings(order_by)
    plan, found = candidates(df, filter_string, entries, max_results)
    if return_type == "spark":
        sort_names = [n for n, _ in sort_schema(plan)[1:]]
        page = found.orderBy(*_order(plan))
        if max_results is not None:
            page = page.limit(max_results)
        source = _filtered(df, plan.where)
        return source.join(page, on=KEY).orderBy(*_order(plan)).drop(*sort_names)
    table = pl.from_arrow(found.toArrow())
    assert isinstance(table, pl.DataFrame)
    keys = page_keys(table, plan, max_results)
    frame = output.page_frame(_pages(df, keys))
    return output.build(frame, range(len(keys)), return_type, include_spans, None)


def candidates(
    df: DataFrame,
    filter_string: str | None,
    order_by: tuple[str, ...] = (),
    max_results: int | None = None,
) -> tuple[SearchPlan, DataFrame]:
    """The plan of a search and its lazy candidates: ``_key`` and sort values.

    The candidates hold each batch's first ``max_results`` matches; `page_keys`
    orders them. Binding comes first: a bad filter or ``order_by`` raises here,
    before any job.

    Raises:
        FilterError: For a rejected filter.
        OrderByError: For a bad ``order_by`` entry.
        SearchArgumentError: If ``df`` is not a DataFrame of trace rows.
    """
    plan = search_plan(filter_string, order_by, max_results)
    df = _check_frame(df)
    arrays = _tables(plan.where)
    if any(isinstance(k, AggregateKey) for k in plan.order):
        arrays.add(SPANS)
    schema = ", ".join(f"`{n}` {t}" for n, t in sort_schema(plan))
    found = (
        _filtered(df, plan.where)
        .select(_shipped(df, arrays))
        .mapInArrow(
            functools.partial(search_partition, filter_string, order_by, max_results),
            schema,
        )
    )
    return plan, found


def candidates_many(
    df: DataFrame,
    searches: Sequence[tuple[str | None, tuple[str, ...], int | None]],
) -> tuple[list[SearchPlan], DataFrame]:
    """The candidates of several searches, computed in one pass over ``df``.

    Each search is ``(filter_string, order_by, max_results)``; row ``_search`` is
    its index, its sort values are ``_s<i>_<k>`` (`search_many_partition`). No
    conjunct is pushed (the searches differ), and every array column is read. For
    running many filters over the same data, as the conformance tests and the
    scaling benchmark do; `searched` turns one search's rows into its candidates.

    Raises:
        FilterError: For a rejected filter, before any job.
        OrderByError: For a bad ``order_by`` entry, before any job.
    """
    frozen = tuple((text, tuple(order), limit) for text, order, limit in searches)
    plans = [search_plan(*search) for search in frozen]
    df = _check_frame(df)
    schema = ", ".join(f"`{n}` {t}" for n, t in many_schema(plans))
    found = df.select(_shipped(df, (SPANS, ASSESSMENTS, PROMPTS))).mapInArrow(
        functools.partial(search_many_partition, frozen), schema
    )
    return plans, found


def searched(table: pl.DataFrame, index: int, plan: SearchPlan) -> pl.DataFrame:
    """Search ``index``'s rows of `candidates_many`, as `candidates` has them."""
    names = {f"_s{index}{n[5:]}": n for n, _ in sort_schema(plan)[1:]}
    return table.filter(pl.col("_search") == index).select(
        KEY, *(pl.col(old).alias(new) for old, new in names.items())
    )


def page_keys(table: pl.DataFrame, plan: SearchPlan, limit: int | None) -> list[int]:
    """The first ``limit`` candidates' ``_key``, ordered as the engine orders them.

    Sorted by Polars, as the in-memory engine sorts: the plan's directions, nulls
    last, then ``_key`` (the row order of a frame).
    """
    names = [n for n, _ in sort_schema(plan)[1:]]
    ordered = table.sort(
        [*names, KEY],
        descending=[*(k.descending for k in plan.order), False],
        nulls_last=True,
    )
    return ordered[KEY].head(limit if limit is not None else ordered.height).to_list()


def _pages(df: DataFrame, keys: list[int]) -> pl.DataFrame:
    """The page table rows (`polartrace.frame.pages`) of the rows ``keys`` of ``df``."""
    if not keys:
        return pl.DataFrame(schema=PAGE_SCHEMA)
    spark = df.sparkSession
    if len(keys) <= _ISIN_KEYS:
        rows = df.where(F.col(KEY).isin(keys)).select(KEY, PAGE)
    else:
        wanted = spark.createDataFrame([(k,) for k in keys], f"{KEY} bigint")
        rows = df.join(wanted, on=KEY).select(KEY, PAGE)
    table = pl.from_arrow(rows.toArrow())
    assert isinstance(table, pl.DataFrame)
    order = pl.DataFrame({KEY: keys, "_order": range(len(keys))})
    joined = order.join(table.unique(KEY), on=KEY, how="left").sort("_order")
    return joined.select(pl.col(PAGE).struct.unnest()).cast(pl.Schema(PAGE_SCHEMA))


# --- metrics -------------------------------------------------------------------------


def _metric_tables(plan: MetricsPlan) -> set[str]:
    arrays = _tables(plan.where)
    if plan.level is Level.SPAN:
        arrays.add(SPANS)
    refs = [m.ref for m in plan.metrics] + [g.ref for g in plan.group_by]
    for ref in refs:
        if ref is not None and ref.scope is Scope.SPAN:
            arrays.add(SPANS)
        if ref is not None and ref.scope is Scope.ASSESSMENT:
            arrays.add(ASSESSMENTS)
    return arrays


def _aggregate(plan: MetricsPlan, j: int) -> Column:
    """Metric ``j`` over the rows of its part (the rows, or its assessment values)."""
    metric = plan.metrics[j]
    ref = metric.ref
    part = j + 1 if ref is not None and ref.scope is Scope.ASSESSMENT else 0
    mine = F.col("_part") == F.lit(part)
    value = F.when(mine, F.col(f"_v{j}"))
    match metric.aggregate:
        case Aggregate.COUNT:
            return F.count(F.when(mine, F.lit(1)))
        case Aggregate.ERROR_COUNT:
            return F.sum(F.when(mine, F.col("_e").cast("bigint")))
        case Aggregate.ERROR_RATE:
            return F.avg(F.when(mine, F.col("_e").cast("double")))
        case Aggregate.PERCENTILE:
            # Exact: Spark collects the group's values (linear interpolation).
            return F.percentile(value, F.lit(float(metric.fraction or 0)))
        case Aggregate.AVG:
            return F.avg(value)
        case Aggregate.SUM:
            return F.sum(value)
        case Aggregate.MIN:
            return F.min(value)
        case Aggregate.MAX:
            return F.max(value)
        case Aggregate.COUNT_DISTINCT:
            return F.count_distinct(value)
    msg = f"unknown aggregate {metric.aggregate}"  # pragma: no cover
    raise AssertionError(msg)


def metrics(
    df: DataFrame,
    filter_string: str | None = None,
    *,
    metrics: Sequence[str] | str | None = None,
    group_by: Sequence[str] | str | None = None,
    every: str | None = None,
    level: Literal["trace", "span"] = "trace",
    return_type: Literal["pandas", "polars", "arrow"] | None = "pandas",
) -> Any:
    """Aggregate the traces (or spans) a filter selects, as `polartrace.metrics`.

    Each partition's rows (the selected traces or spans, with their group keys and
    values) are computed by the in-memory engine; Spark aggregates them per group.
    Percentiles are exact: Spark's ``percentile`` collects each group's values.
    Sums and averages add floats in another order than in memory, so they may
    differ from `polartrace.metrics` in the last bits.

    Raises:
        MetricError: For a bad metric, group key or ``every``.
        FilterError: For a rejected filter, before any Spark job.
        SearchArgumentError: For other bad arguments.
    """
    shape = check_return_type(return_type)
    if level not in ("trace", "span"):
        msg = f"level must be one of ('trace', 'span'), not {level!r}"
        raise SearchArgumentError(msg)
    specs, keys = _strings(metrics) or ("count",), _strings(group_by)
    bound_metrics, group_keys, bucket = bind_query(
        list(specs), list(keys), every, Level(level)
    )
    plan = plan_metrics(
        parse_filter(filter_string), Level(level), group_keys, bucket, bound_metrics
    )
    df = _check_frame(df)
    schema = metric_schema(plan)
    rows = _filtered(df, plan.where).select(_shipped(df, _metric_tables(plan)))
    rows = rows.mapInArrow(
        functools.partial(metrics_partition, filter_string, specs, keys, every, level),
        ", ".join(f"`{n}` {t}" for n, t in schema),
    )
    key_names = [n for n, _ in schema if n == "_t" or n.startswith("_g")]
    aggs = [F.count(F.when(F.col("_part") == 0, F.lit(1))).alias("_n")]
    aggs += [_aggregate(plan, j).alias(f"_m{j}") for j in range(len(plan.metrics))]
    grouped = rows.groupBy(*key_names).agg(*aggs) if key_names else rows.agg(*aggs)
    table = pl.from_arrow(grouped.where(F.col("_n") > 0).toArrow())
    assert isinstance(table, pl.DataFrame)
    labels = [label for label, _ in plan.columns]
    dtypes = {label: ENGINE_DTYPES[out] for label, out in plan.columns}
    names = [*key_names, *(f"_m{j}" for j in range(len(plan.metrics)))]
    result = table.select(
        pl.col(name).cast(dtypes[label]).alias(label)
        for name, label in zip(names, labels, strict=True)
    )
    if key_names:
        result = result.sort(labels[: len(key_names)], nulls_last=True)
    if not result.height:
        result = pl.DataFrame(schema=dtypes)
    return shaped(result, plan.columns, shape)
