"""Span and assessment tables in the shape asked for: Polars, pandas, Arrow, list.

The Polars engine hands over row numbers of the frame's span table (or of its
assessment table, `polartrace.frame.assessment_table`), and `from_frame` gathers
the columns from there; the reference engine hands over tuples read from ``Trace``
objects, and `from_records` types them. Both give the raw table (times as epoch
integers); `shaped` gives the public dtypes (times as UTC datetimes) and attaches
the next page's token (`polartrace.output.tokens`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from polartrace.bind.columns import TraceColumn
from polartrace.bind.metric_nodes import GroupKey, Output
from polartrace.bind.rows import Table
from polartrace.engines.polars.columns import trace_columns
from polartrace.engines.polars.metrics import _cast, _span_column
from polartrace.frame.assessment_table import assessment_details
from polartrace.frame.schema import RAW_PREFIX
from polartrace.frame.trace_frame import TraceFrame
from polartrace.output.paged import PagedRows
from polartrace.output.tokens import with_token
from polartrace.plan.rows import ASSESSMENT_COLUMNS, SPAN_COLUMNS, Column, RowsPlan
from polartrace.values.conventions import SPAN_INPUTS, SPAN_OUTPUTS

__all__ = ["from_frame", "from_records", "from_tables", "raw_schema", "shaped"]

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


def _span_extra(
    plan: RowsPlan, span_attribute: Callable[[str], tuple[str, str] | None]
) -> list[pl.Expr]:
    """The expressions of the span fields of ``columns=``, over the span rows."""
    return [
        _cast(_span_column(g.ref, span_attribute, g.output), g.ref, g.output).alias(
            g.label
        )
        for g in plan.extra
        if isinstance(g, GroupKey)
    ]


def _traced(plan: RowsPlan) -> list[TraceColumn]:
    """The trace fields of ``columns=``: each row gets its trace's value."""
    return [g for g in plan.extra if isinstance(g, TraceColumn)]


def _raw_text(spans: pl.DataFrame, key: str, name: str) -> pl.Expr:
    column = RAW_PREFIX + key
    if column in spans.columns:
        return pl.col(column).alias(name)
    return pl.lit(None, pl.String).alias(name)


def _own_spans(table: pl.DataFrame) -> list[pl.Expr]:
    return [
        pl.col("start_ns").alias("start_time"),
        pl.col("end_ns").alias("end_time"),
        _raw_text(table, SPAN_INPUTS, "inputs"),
        _raw_text(table, SPAN_OUTPUTS, "outputs"),
        *(pl.col(name) for name, _ in SPAN_COLUMNS if name not in _FIXED_SPAN),
    ]


def _typed(parts: pl.DataFrame, plan: RowsPlan) -> pl.DataFrame:
    return parts.select(
        pl.col(name).cast(dtype) for name, dtype in raw_schema(plan).items()
    )


def _own_assessments() -> list[pl.Expr]:
    return [
        pl.col("number").alias(name) if name == "value_number" else pl.col(name)
        for name, _ in ASSESSMENT_COLUMNS
        if name != "trace_id"
    ]


def from_frame(frame: TraceFrame, rows: pl.Series, plan: RowsPlan) -> pl.DataFrame:
    """The raw table of the rows ``rows`` of the frame's span or assessment table."""
    # First: a span attribute's expression may derive span columns.
    per_span = _span_extra(plan, frame.span_attribute)
    if plan.table is Table.SPANS:
        table = frame.spans[rows]
        own = _own_spans(table)
    else:
        table = assessment_details(frame)[rows]
        own = _own_assessments()
    keys = table["_key"]
    trace_ids = frame.traces["trace_id"].gather(keys)
    parts = table.select(*own, *per_span)
    traced = _traced(plan)
    if traced:  # the values search_traces(columns=...) gives, per row's trace
        parts = parts.hstack(trace_columns(frame, keys, traced).get_columns())
    return _typed(parts.with_columns(trace_id=trace_ids), plan)


def from_tables(
    rows: Callable[[], pl.DataFrame],
    span_attribute: Callable[[str], tuple[str, str] | None],
    traces: pl.DataFrame,
    plan: RowsPlan,
) -> pl.DataFrame:
    """The raw table of a page of rows read from storage, in their order.

    Args:
        rows: The page's rows, in order: of the stored span table (``_key`` and
            the columns the output reads), or of the assessment table with the
            columns of `polartrace.frame.assessment_table.assessment_details`;
            called after ``span_attribute`` has derived what ``columns=`` read.
        span_attribute: Derives a ``span.attributes.<key>`` column onto those rows
            and names it (as `TraceFrame.span_attribute` does on a frame).
        traces: ``_key``, ``trace_id`` and the values of the trace fields of
            ``columns=`` (a column per label), one row per key of the page.
        plan: The table's plan.
    """
    per_span = _span_extra(plan, span_attribute)
    table = rows()
    own = _own_spans(table) if plan.table is Table.SPANS else _own_assessments()
    labels = [g.label for g in _traced(plan)]
    values = table.select(pl.col("_key")).join(
        traces.select("_key", "trace_id", *labels),
        on="_key",
        how="left",
        maintain_order="left",
    )
    parts = table.select(*own, *per_span)
    return _typed(parts.hstack(values.drop("_key")), plan)


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
