"""Span and assessment tables in the shape asked for: Polars, pandas, Arrow, list.

The Polars engine hands over row numbers of the frame's span table (or of its
assessment table, `polartrace.frame.assessment_table`), and `from_frame` gathers
the columns from there; the reference engine hands over tuples read from ``Trace``
objects, and `from_records` types them. Both give the raw table (times as epoch
integers); `shaped` gives the public dtypes (times as UTC datetimes) and attaches
the next page's token (`polartrace.output.tokens`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from polartrace.bind.metric_nodes import GroupKey, Output, Scope
from polartrace.bind.rows import Table
from polartrace.engines.polars.metrics import _cast, _span_column, _trace_column
from polartrace.frame.assessment_table import assessment_details
from polartrace.frame.schema import RAW_PREFIX
from polartrace.frame.trace_frame import TraceFrame
from polartrace.output.paged import PagedRows
from polartrace.output.tokens import with_token
from polartrace.plan.rows import ASSESSMENT_COLUMNS, SPAN_COLUMNS, Column, RowsPlan
from polartrace.values.conventions import SPAN_INPUTS, SPAN_OUTPUTS

__all__ = ["from_frame", "from_records", "raw_schema", "shaped"]

_RAW: dict[Column, pl.DataType] = {
    Column.TEXT: pl.String(),
    Column.INT: pl.Int64(),
    Column.FLOAT: pl.Float64(),
    Column.TIME_NS: pl.Int64(),
    Column.TIME_MS: pl.Int64(),
}
_PUBLIC: dict[Column, pl.DataType] = {
    **_RAW,
    Column.TIME_NS: pl.Datetime("ns", "UTC"),
    Column.TIME_MS: pl.Datetime("ms", "UTC"),
}
_OUTPUT_RAW: dict[Output, pl.DataType] = {
    Output.INT: pl.Int64(),
    Output.FLOAT: pl.Float64(),
    Output.STRING: pl.String(),
    Output.TIME: pl.Int64(),
}
_OUTPUT_PUBLIC: dict[Output, pl.DataType] = {
    **_OUTPUT_RAW,
    Output.TIME: pl.Datetime("ms", "UTC"),
}
_FIXED_SPAN = {"trace_id", "inputs", "outputs", "start_time", "end_time"}


def _own(plan: RowsPlan) -> tuple[tuple[str, Column], ...]:
    return SPAN_COLUMNS if plan.table is Table.SPANS else ASSESSMENT_COLUMNS


def raw_schema(plan: RowsPlan) -> dict[str, pl.DataType]:
    """The columns as the engines hand them over: times as epoch integers."""
    return {
        **{name: _RAW[kind] for name, kind in _own(plan)},
        **{g.label: _OUTPUT_RAW[g.output] for g in plan.extra},
    }


def _public_schema(plan: RowsPlan) -> dict[str, pl.DataType]:
    return {
        **{name: _PUBLIC[kind] for name, kind in _own(plan)},
        **{g.label: _OUTPUT_PUBLIC[g.output] for g in plan.extra},
    }


def _extra(frame: TraceFrame, group: GroupKey) -> tuple[bool, pl.Expr]:
    """Whether a ``columns=`` field is read per span, and its expression."""
    ref, output = group.ref, group.output
    if ref.scope is Scope.SPAN:
        column = _span_column(ref, frame.span_attribute, output)
    else:
        column = _trace_column(ref, frame.traces.columns)
    return ref.scope is Scope.SPAN, _cast(column, ref, output).alias(group.label)


def _raw_text(spans: pl.DataFrame, key: str, name: str) -> pl.Expr:
    column = RAW_PREFIX + key
    if column in spans.columns:
        return pl.col(column).alias(name)
    return pl.lit(None, pl.String).alias(name)


def from_frame(frame: TraceFrame, rows: pl.Series, plan: RowsPlan) -> pl.DataFrame:
    """The raw table of the rows ``rows`` of the frame's span or assessment table."""
    extra = [_extra(frame, g) for g in plan.extra]  # may derive span columns
    schema = raw_schema(plan)
    if plan.table is Table.SPANS:
        table = frame.spans[rows]
        own = [
            pl.col("start_ns").alias("start_time"),
            pl.col("end_ns").alias("end_time"),
            _raw_text(table, SPAN_INPUTS, "inputs"),
            _raw_text(table, SPAN_OUTPUTS, "outputs"),
            *(pl.col(name) for name, _ in SPAN_COLUMNS if name not in _FIXED_SPAN),
        ]
    else:
        table = assessment_details(frame)[rows]
        own = [
            pl.col("number").alias(name) if name == "value_number" else pl.col(name)
            for name, _ in ASSESSMENT_COLUMNS
            if name != "trace_id"
        ]
    keys = table["_key"]
    trace_ids = frame.traces["trace_id"].gather(keys)
    parts = table.select(*own, *(e for per_span, e in extra if per_span))
    traced = [e for per_span, e in extra if not per_span]
    if traced:
        # With _key, a select of literals only (absent tags) keeps one row per trace.
        values = frame.traces.select(pl.col("_key"), *traced).drop("_key")
        parts = parts.hstack(values.gather(keys))
    return parts.with_columns(trace_id=trace_ids).select(
        pl.col(name).cast(dtype) for name, dtype in schema.items()
    )


def from_records(records: Sequence[tuple[Any, ...]], plan: RowsPlan) -> pl.DataFrame:
    """The reference engine's tuples as the raw table."""
    return pl.DataFrame(list(records), schema=raw_schema(plan), orient="row")


def shaped(
    table: pl.DataFrame, plan: RowsPlan, return_type: str, token: str | None
) -> Any:
    """The raw ``table`` with public dtypes, as ``return_type``, with ``token``."""
    result = table.cast(_public_schema(plan))  # type: ignore[arg-type]
    if return_type == "list":
        return PagedRows(result.to_dicts(), token)
    if return_type == "arrow":
        return with_token(result.to_arrow(), token)
    if return_type == "pandas":
        return with_token(result.to_pandas(), token)
    return with_token(result, token)
