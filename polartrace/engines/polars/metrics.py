"""The Polars executor of a `MetricsPlan`: one select, one group_by, vectorised.

The rows (selected traces, or the selected spans with the trace columns they need
gathered by trace key) become one table of the key columns (``_t`` for the time
bucket, ``_g<i>`` for group keys) and the values each metric reads (``_v<j>``); one
``group_by`` aggregates them. Assessment metrics read the assessment table instead:
it is joined to the rows' keys on the trace key and aggregated the same way, then
joined to the result on the keys. The time bucket is integer arithmetic on epoch
milliseconds (floor division), which is what the reference engine computes too.

`MetricColumns` (which columns a plan reads, as expressions) and `aggregate_rows`
(the group_by and the result's shape) are shared with the scanned-dataset executor
(`polartrace.engines.lazy_metrics`), which only builds the rows another way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import polars as pl

from polartrace.bind.metric_nodes import (
    Aggregate,
    FieldRef,
    Level,
    Metric,
    Output,
    Scope,
)
from polartrace.catalogue.fields import Source, ValueType
from polartrace.engines.polars.compile import compile_where
from polartrace.engines.polars.rows import span_mask
from polartrace.frame.schema import META_PREFIX, TAG_PREFIX
from polartrace.frame.trace_frame import TraceFrame
from polartrace.plan.metrics import MetricsPlan

__all__ = [
    "ENGINE_DTYPES",
    "Attribute",
    "MetricColumns",
    "aggregate_rows",
    "metric_rows",
    "run_metrics",
]

#: The text and number columns of a span attribute, derived on first use; ``None``
#: when no span has it (`TraceFrame.span_attribute`).
Attribute = Callable[[str], tuple[str, str] | None]
#: The Polars engine that collects a query: in memory, or streaming a scan.
Collector = Literal["auto", "streaming"]

#: The dtype of each output type as the engines return it; times are epoch ms.
ENGINE_DTYPES: dict[Output, pl.DataType] = {
    Output.INT: pl.Int64(),
    Output.FLOAT: pl.Float64(),
    Output.STRING: pl.String(),
    Output.TIME: pl.Int64(),
}
_ERROR = "ERROR"
_NS_PER_MS = 1_000_000


def _cast(expr: pl.Expr, ref: FieldRef, output: Output) -> pl.Expr:
    """A field's column as the metric or key reads it."""
    if output is Output.STRING:
        return expr.cast(pl.String)
    if ref.numeric:
        return expr.cast(pl.Float64, strict=False)
    if ref.field.value_type is ValueType.TIME:
        return expr.cast(pl.Int64)
    return expr.cast(pl.String)


def _trace_column(ref: FieldRef, columns: Sequence[str]) -> pl.Expr:
    """A trace field over the trace table (``tag:env``, ``user``); absent keys: null."""
    spec = ref.field
    if spec.source in (Source.TAG, Source.METADATA):
        prefix = TAG_PREFIX if spec.source is Source.TAG else META_PREFIX
        name = prefix + str(ref.key)
        return pl.col(name) if name in columns else pl.lit(None, pl.String)
    return pl.col(str(spec.frame_column))


def _span_column(ref: FieldRef, attribute: Attribute, output: Output) -> pl.Expr:
    spec = ref.field
    if spec.read_span is not None:
        return pl.col(str(spec.frame_column))
    names = attribute(str(ref.key))  # span.attributes.<key>
    if names is None:  # no span has it
        return pl.lit(None, pl.String if output is Output.STRING else pl.Float64)
    return pl.col(names[0] if output is Output.STRING else names[1])


def _aggregate(metric: Metric, value: str) -> pl.Expr:
    column = pl.col(value)
    match metric.aggregate:
        case Aggregate.COUNT:
            return pl.len().cast(pl.Int64)
        case Aggregate.ERROR_COUNT:
            return pl.col("_e").sum().cast(pl.Int64)
        case Aggregate.ERROR_RATE:
            return pl.col("_e").cast(pl.Float64).mean()
        case Aggregate.PERCENTILE:
            return column.quantile(float(metric.fraction or 0), "linear")
        case Aggregate.AVG:
            return column.mean()
        case Aggregate.SUM:  # no values: null, not 0
            return pl.when(column.count() > 0).then(column.sum()).cast(pl.Float64)
        case Aggregate.MIN:
            return column.min()
        case Aggregate.MAX:
            return column.max()
        case Aggregate.COUNT_DISTINCT:
            return column.drop_nulls().n_unique().cast(pl.Int64)
    msg = f"unknown aggregate {metric.aggregate}"  # pragma: no cover
    raise AssertionError(msg)


class MetricColumns:
    """The key and value columns a plan reads, split by the table they come from.

    ``trace`` and ``span`` are the expressions over the trace and span tables;
    ``keys`` names the key columns (``_t``, ``_g<i>``) in order. ``columns`` are
    the trace table's column names (an absent tag reads as null) and ``attribute``
    derives a span attribute's columns onto the span table the expressions read.
    """

    def __init__(
        self, plan: MetricsPlan, columns: list[str], attribute: Attribute
    ) -> None:
        self.attribute = attribute
        self.trace: list[pl.Expr] = []
        self.span: list[pl.Expr] = []
        spans = plan.level is Level.SPAN
        self.keys: list[str] = []
        if plan.bucket is not None:
            bucket = plan.bucket
            time = (
                pl.col("start_ns").floordiv(_NS_PER_MS)
                if spans
                else pl.col("request_time")
            )
            start = (time - bucket.offset_ms).floordiv(bucket.width_ms)
            expr = (start * bucket.width_ms + bucket.offset_ms).alias("_t")
            (self.span if spans else self.trace).append(expr)
            self.keys.append("_t")
        # Both status enums hold ERROR: compared as codes, not cast to text per row.
        error = pl.col("status" if spans else "state") == _ERROR
        (self.span if spans else self.trace).append(error.fill_null(False).alias("_e"))
        for i, key in enumerate(plan.group_by):
            self._add(key.ref, key.output, f"_g{i}", columns, group=True)
            self.keys.append(f"_g{i}")
        for j, metric in enumerate(plan.metrics):
            ref = metric.ref
            if ref is not None and ref.scope is not Scope.ASSESSMENT:
                self._add(ref, metric.output, f"_v{j}", columns)

    def _add(
        self,
        ref: FieldRef,
        output: Output,
        name: str,
        columns: list[str],
        *,
        group: bool = False,
    ) -> None:
        if ref.scope is Scope.SPAN:
            column = _span_column(ref, self.attribute, output)
        else:
            column = _trace_column(ref, columns)
        # A text group key groups by its stored codes (an Enum of a tag's values)
        # and becomes text once per group, after the aggregation.
        if not (group and output is Output.STRING):
            column = _cast(column, ref, output)
        (self.span if ref.scope is Scope.SPAN else self.trace).append(
            column.alias(name)
        )


def _rows(frame: TraceFrame, plan: MetricsPlan, cols: MetricColumns) -> pl.LazyFrame:
    """One row per selected trace or span: ``_key``, the keys and the values."""
    traces = frame.traces
    if plan.level is Level.TRACE:
        mask = compile_where(plan.text, plan.where, frame)
        selected = traces.lazy()
        selected = selected if plan.where is None else selected.filter(mask)
        return selected.select(pl.col("_key"), *cols.trace)
    keep = span_mask(frame, plan.text, plan.where, plan.span_conds)
    spans = frame.spans  # read after the mask: its tests may derive columns
    rows = spans.filter(keep).select(pl.col("_key"), *cols.span)
    if cols.trace:
        # With _key, a select of literals only (absent tags) keeps one row per trace.
        gathered = (
            traces.select(pl.col("_key"), *cols.trace)
            .drop("_key")
            .gather(rows["_key"].cast(pl.Int64))
        )
        rows = rows.hstack(gathered)
    return rows.lazy()


def _assessment_part(
    assessments: pl.LazyFrame,
    rows: pl.LazyFrame,
    metric: Metric,
    keys: list[str],
    name: str,
) -> pl.LazyFrame:
    ref = metric.ref
    assert ref is not None
    values = assessments.filter(
        (pl.col("kind").cast(pl.String) == str(ref.field.column))
        & (pl.col("name").cast(pl.String) == str(ref.key))
    ).select(pl.col("_key"), pl.col("number").alias("_a"))
    joined = rows.select("_key", *keys).join(values, on="_key", how="inner")
    agg = _aggregate(metric, "_a").alias(name)
    if not keys:
        return joined.select(agg)
    return joined.group_by(keys).agg(agg)


def run_metrics(frame: TraceFrame, plan: MetricsPlan) -> pl.DataFrame:
    """Compute ``plan`` over ``frame``: ``plan.columns`` in order, times in epoch ms.

    Rows are ordered by the key columns, ascending, nulls last. No selected rows
    give no result rows.
    """
    cols = MetricColumns(plan, frame.traces.columns, frame.span_attribute)
    rows = _rows(frame, plan, cols)
    return aggregate_rows(rows, plan, cols.keys, frame.assessments.lazy())


def aggregate_rows(
    rows: pl.LazyFrame,
    plan: MetricsPlan,
    keys: list[str],
    assessments: pl.LazyFrame,
    *,
    engine: Collector = "auto",
) -> pl.DataFrame:
    """Aggregate ``rows`` (``_key``, ``_e``, the keys, the values) into the result.

    Args:
        rows: One row per selected trace or span (`MetricColumns`' columns).
        plan: The query.
        keys: The key columns of ``rows``, in order (`MetricColumns.keys`).
        assessments: The assessment table (``_key``, ``kind``, ``name``,
            ``number``), read by assessment metrics only.
        engine: The Polars engine that collects the query.

    Returns:
        ``plan.columns`` in order, times in epoch ms, ordered by the key columns,
        ascending, nulls last; no rows when none is selected.
    """
    names = [f"_m{j}" for j in range(len(plan.metrics))]
    schema = {label: ENGINE_DTYPES[output] for label, output in plan.columns}
    by_assessment = [
        j
        for j, m in enumerate(plan.metrics)
        if m.ref is not None and m.ref.scope is Scope.ASSESSMENT
    ]
    if by_assessment:  # read twice: once per table
        rows = rows.collect(engine=engine).lazy()
    aggs = [
        _aggregate(m, f"_v{j}").alias(names[j])
        for j, m in enumerate(plan.metrics)
        if j not in by_assessment
    ]
    size = pl.len().alias("_n")
    # Without keys: one row, dropped below when no row is selected.
    result = rows.group_by(keys).agg(size, *aggs) if keys else rows.select(size, *aggs)
    for j in by_assessment:
        part = _assessment_part(assessments, rows, plan.metrics[j], keys, names[j])
        if keys:
            result = result.join(part, on=keys, how="left", nulls_equal=True)
        else:
            result = pl.concat([result, part], how="horizontal")
        if plan.metrics[j].aggregate is Aggregate.COUNT_DISTINCT:
            result = result.with_columns(pl.col(names[j]).fill_null(0))
    if not keys:  # after the assessment parts: each is one row, as is the result
        result = result.filter(pl.col("_n") > 0)
    labels = [label for label, _ in plan.columns]
    table = (
        result.select(
            pl.col(name).alias(label).cast(schema[label])
            for name, label in zip([*keys, *names], labels, strict=True)
        )
        .sort(labels[: len(keys)], nulls_last=True, maintain_order=True)
        .collect(engine=engine)
    )
    return table if table.height else pl.DataFrame(schema=schema)


def metric_rows(frame: TraceFrame, plan: MetricsPlan) -> pl.DataFrame:
    """The rows ``plan`` aggregates, before any aggregation, as one long table.

    For an executor that aggregates the rows of several frames together
    (`polartrace.spark`). Columns: ``_part``, ``_t`` (with a bucket), ``_g<i>``
    (group keys, text keys as text), ``_e`` (the row is an error) and ``_v<j>``
    (the value metric ``j`` reads). Rows of ``_part`` 0 are the selected traces or
    spans; rows of ``_part`` ``j + 1`` are the assessment values of assessment
    metric ``j``, one per (row's trace, assessment), with the keys of the row.
    """
    cols = MetricColumns(plan, frame.traces.columns, frame.span_attribute)
    rows = _rows(frame, plan, cols).collect()
    keys = cols.keys
    values = [f"_v{j}" for j in range(len(plan.metrics))]
    parts = [rows.with_columns(pl.lit(0, pl.Int32).alias("_part"))]
    for j, metric in enumerate(plan.metrics):
        ref = metric.ref
        if ref is None or ref.scope is not Scope.ASSESSMENT:
            continue
        found = frame.assessments.filter(
            (pl.col("kind").cast(pl.String) == str(ref.field.column))
            & (pl.col("name").cast(pl.String) == str(ref.key))
        ).select(pl.col("_key"), pl.col("number").alias(values[j]))
        joined = rows.select("_key", *keys, "_e").join(found, on="_key", how="inner")
        parts.append(joined.with_columns(pl.lit(j + 1, pl.Int32).alias("_part")))
    text_keys = [
        pl.col(f"_g{i}").cast(pl.String)
        for i, key in enumerate(plan.group_by)
        if key.output is Output.STRING
    ]
    table = pl.concat(parts, how="diagonal_relaxed")
    return table.with_columns(text_keys).select(
        "_part", *keys, "_e", *(v for v in values if v in table.columns)
    )
