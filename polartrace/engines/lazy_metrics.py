"""The executor of a `MetricsPlan` over a scanned Parquet dataset, out of core.

The rows it aggregates are those of the in-memory executor
(`polartrace.engines.polars.metrics`), built from the dataset's files instead of a
frame, and reading only the columns the plan needs; the aggregation is the
in-memory executor's own (`aggregate_rows`), so every metric means the same:

* At ``level="trace"`` the rows are one lazy query over the scanned trace parts:
  the filter (`LazyEngine.mask`: trace-column tests pushed down, span,
  assessment and text matches resolved to key sets batch by batch), a select of
  the keys and values, one ``group_by``, collected by Polars' streaming engine.
  Percentiles are exact: the group's values are the ones selected, whatever part
  they are in.
* At ``level="span"`` the selected traces' keys and trace columns are collected
  (a few columns per trace), the span table is read in batches of the columns its
  tests and metrics read, each batch filtered to the spans of selected traces that
  satisfy the filter's top-level span conditions, and the trace columns joined on
  by trace key.
* Assessment metrics read the scanned assessment table's ``_key``, ``kind``,
  ``name`` and ``number``.

Memory is bounded by the selected rows times the columns the query reads (a key,
the group keys and one value per metric), not by the dataset.
"""

from __future__ import annotations

from typing import Final

import polars as pl

from polartrace.bind.metric_nodes import FieldRef, Level, Scope
from polartrace.bind.nodes import Cond
from polartrace.engines.lazy import _SPAN_BASE, LazyEngine, ScannedTraces, _SpanBatch
from polartrace.engines.polars.exprs import span_test
from polartrace.engines.polars.metrics import MetricColumns, aggregate_rows
from polartrace.frame.schema import _SPAN_SCHEMA, ATTR_PREFIX, NUM_PREFIX, RAW_PREFIX
from polartrace.plan.metrics import MetricsPlan

__all__ = ["run_scanned_metrics"]

_SPAN_ALWAYS: Final = ("_key", "status")


def _named(key: str) -> tuple[str, str]:
    """A span attribute's column names, derived by each batch (`_SpanBatch`)."""
    return ATTR_PREFIX + key, NUM_PREFIX + key


def _refs(plan: MetricsPlan) -> list[FieldRef]:
    return [
        *(k.ref for k in plan.group_by),
        *(m.ref for m in plan.metrics if m.ref is not None),
    ]


def _trace_columns(plan: MetricsPlan) -> list[str]:
    """The stored trace columns the plan's trace-scope fields read (not tags)."""
    return [
        str(ref.field.frame_column)
        for ref in _refs(plan)
        if ref.scope is Scope.TRACE and ref.key is None
    ]


def _span_columns(dataset: ScannedTraces, plan: MetricsPlan) -> list[str]:
    """The span columns the plan's span conditions, keys and values read."""
    columns = list(_SPAN_ALWAYS)
    if plan.bucket is not None:
        columns.append("start_ns")
    if plan.span_conds:  # the columns the search engine's span tests read
        columns += _SPAN_BASE
    for cond in plan.span_conds:
        columns += _cond_columns(dataset, cond)
    for ref in _refs(plan):
        if ref.scope is not Scope.SPAN:
            continue
        if ref.field.read_span is None:  # span.attributes.<key>
            columns.append(RAW_PREFIX + str(ref.key))
        else:
            columns.append(str(ref.field.frame_column))
    return list(dict.fromkeys(columns))


def _cond_columns(dataset: ScannedTraces, cond: Cond) -> list[str]:
    if cond.field.column == "attributes":
        return [RAW_PREFIX + str(cond.key)]
    if cond.field.column == "content":
        return [*dataset.raw_columns(), "events"]
    return [str(cond.field.column)]


def _selected(keys: pl.Series) -> pl.Series:
    """A mask indexed by trace key: whether the trace is selected."""
    size = int(keys.max() or 0) + 1 if len(keys) else 0  # type: ignore[arg-type]
    mask = pl.zeros(size, pl.Boolean, eager=True)
    return mask.scatter(keys.cast(pl.Int64), values=True) if size else mask


def _keep(mask: pl.Series, keys: pl.Series) -> pl.Series:
    """Whether each span's trace (``keys``) is selected; keys past the mask are not."""
    if not len(mask):
        return pl.zeros(len(keys), pl.Boolean, eager=True)
    inside = keys < len(mask)
    return mask.gather(keys.clip(upper_bound=len(mask) - 1)) & inside


def _batch_rows(
    table: pl.DataFrame, plan: MetricsPlan, mask: pl.Series, trace_names: list[str]
) -> pl.DataFrame:
    """The rows of one span batch: spans of selected traces passing the span group."""
    batch = _SpanBatch(table)
    # Tests and columns first: they derive attribute columns onto the batch.
    tests = [
        span_test(c, batch.table, batch.attribute, batch.content)
        for c in plan.span_conds
    ]
    exprs = MetricColumns(plan, trace_names, batch.attribute).span
    keep = _keep(mask, batch.table["_key"])
    if tests:
        passed = batch.table.select(pl.all_horizontal(tests).fill_null(value=False))
        keep = keep & passed.to_series()
    return batch.table.filter(keep).select(pl.col("_key"), *exprs)


def _span_rows(
    dataset: ScannedTraces,
    plan: MetricsPlan,
    selected: pl.DataFrame,
    trace_names: list[str],
) -> pl.DataFrame:
    """The selected spans' ``_key``, keys and values, a batch at a time."""
    mask = _selected(selected["_key"])
    columns = _span_columns(dataset, plan)
    parts = [
        _batch_rows(table, plan, mask, trace_names)
        for table in dataset.batches("spans", columns)
    ]
    if not parts:  # no span at all: an empty batch gives the columns their types
        schema = {c: _SPAN_SCHEMA.get(c, pl.String()) for c in columns}
        parts = [_batch_rows(pl.DataFrame(schema=schema), plan, mask, trace_names)]
    rows = pl.concat(parts, how="vertical_relaxed")
    if selected.width > 1:  # trace columns the span rows read
        rows = rows.join(selected, on="_key", how="left")
    return rows


def run_scanned_metrics(dataset: ScannedTraces, plan: MetricsPlan) -> pl.DataFrame:
    """Compute ``plan`` over ``dataset``: the in-memory executor's table.

    Raises:
        TraceFormatError: If a field needs a column the dataset was written without.
    """
    dataset.require(_trace_columns(plan))
    trace_names = dataset.schema.names()
    cols = MetricColumns(plan, trace_names, _named)
    engine = LazyEngine(dataset)
    traces = dataset.traces
    if plan.where is not None:
        traces = traces.filter(engine.mask(plan.where))
    selected = traces.select(pl.col("_key"), *cols.trace)
    if plan.level is Level.SPAN:
        collected = selected.collect(engine="streaming")
        rows = _span_rows(dataset, plan, collected, trace_names).lazy()
    else:
        rows = selected
    assessments = dataset.scan("assessments").select("_key", "kind", "name", "number")
    return aggregate_rows(rows, plan, cols.keys, assessments, engine="streaming")
