"""The Polars executor of a `RowsPlan`: the rows of a span or assessment table.

Vectorised on the frame's tables: the trace mask is gathered onto the span (or
assessment) rows by trace key and ANDed with the row tests; the selected rows are
sorted by the plan's keys (a trace key's values computed once per trace and
gathered by trace key), then by trace key, stably, and sliced. The result is row
numbers of ``frame.spans`` or of `polartrace.frame.assessment_table`'s table, which
the output reads its columns from.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from polartrace.bind.nodes import Cond
from polartrace.bind.rows import RowKey, RowSortKey, Table
from polartrace.engines.polars.compile import _Compiler, compile_where
from polartrace.engines.polars.exprs import assessment_test, span_test
from polartrace.engines.polars.ordering import _aggregate_columns, _sort_spec
from polartrace.frame.assessment_table import assessment_details
from polartrace.frame.trace_frame import TraceFrame
from polartrace.plan.rows import RowsPlan
from polartrace.plan.search import Predicate

__all__ = ["row_numbers", "span_mask", "trace_mask"]


def trace_mask(frame: TraceFrame, text: str, where: Predicate | None) -> pl.Series:
    """Whether each trace (by key) is selected by ``where``."""
    mask = compile_where(text, where, frame)
    return frame.traces.select((pl.col("_key").is_not_null() & mask).alias("m"))["m"]


def span_mask(
    frame: TraceFrame, text: str, where: Predicate | None, conds: Sequence[Cond]
) -> pl.Series:
    """Whether each row of ``frame.spans`` is a selected span.

    A span is selected when its trace passes ``where`` and it satisfies every one
    of ``conds`` (docs/semantics.md#span-and-assessment-tables).
    """
    compiler = _Compiler(frame)
    tests = [
        span_test(c, frame.spans, frame.span_attribute, compiler._content)
        for c in conds
    ]
    spans = frame.spans  # read after the tests: they may derive columns onto it
    keep = trace_mask(frame, text, where).gather(spans["_key"])
    if tests:
        keep = keep & spans.select(pl.all_horizontal(tests).fill_null(False))[:, 0]
    return keep


def _assessment_mask(
    frame: TraceFrame, plan: RowsPlan, table: pl.DataFrame
) -> pl.Series:
    keep = trace_mask(frame, plan.text, plan.where).gather(table["_key"])
    if plan.assessment_tests:
        tests = [assessment_test(m) for m in plan.assessment_tests]
        keep = keep & table.select(pl.any_horizontal(tests).fill_null(False))[:, 0]
    return keep


def _row_column(key: RowKey) -> pl.Expr:
    column = pl.col(key.column)
    # Names, types, statuses and models are stored as Enums: sort by their text.
    return column.cast(pl.String) if key.text else column


def row_numbers(frame: TraceFrame, plan: RowsPlan) -> pl.Series:
    """Row numbers of the plan's page of rows, in its order.

    The numbers index ``frame.spans`` (spans) or ``assessment_details(frame)``.
    """
    if plan.table is Table.SPANS:
        table = frame.spans
        keep = span_mask(frame, plan.text, plan.where, plan.span_conds)
        table = frame.spans  # the tests may have derived columns onto it
    else:
        table = assessment_details(frame)
        keep = _assessment_mask(frame, plan, table)
    order = plan.order
    row_keys = [k for k in order if isinstance(k, RowKey)]
    trace_keys = [k for k in order if not isinstance(k, RowKey)]
    rows = table.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"),
        pl.col("_key"),
        *(_row_column(k).alias(f"_r{i}") for i, k in enumerate(row_keys)),
    ).filter(keep)
    if trace_keys:
        exprs, _ = _sort_spec(frame, trace_keys)
        values = (
            frame.traces.lazy()
            .with_columns(_aggregate_columns(frame, trace_keys))
            .select(e.alias(f"_t{i}") for i, e in enumerate(exprs))
            .collect()
        )
        rows = rows.hstack(values.gather(rows["_key"]))
    names = _sort_names(order)
    return (
        rows.lazy()
        .sort(
            [*names, "_key"],
            descending=[*(k.descending for k in order), False],
            nulls_last=True,
            maintain_order=True,
        )
        .slice(plan.offset, plan.limit)
        .select("_row")
        .collect()["_row"]
    )


def _sort_names(order: Sequence[RowSortKey]) -> list[str]:
    names, r, t = [], 0, 0
    for key in order:
        if isinstance(key, RowKey):
            names.append(f"_r{r}")
            r += 1
        else:
            names.append(f"_t{t}")
            t += 1
    return names
