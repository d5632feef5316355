"""Polars expressions for the plan's tests, written once for every Polars executor.

Each builder returns a boolean expression over one table: `column_test` over the
trace table, `span_test` over the span table, `assessment_test` over the assessment
table, `unit_test` over the full-text units, `prompt_test` over the prompt links.
The in-memory engine (`polartrace.engines.polars.compile`) runs them on a frame's
tables, the lazy engine (`polartrace.engines.lazy`) on scanned Parquet and on
batches of it.

Every base test is null on a missing value; `finish` applies the operator table's
negation and then fills nulls with ``False`` per predicate, which is exactly the
two-valued rule of docs/semantics.md#missing-values.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Container, Sequence
from typing import Any

import polars as pl

from polartrace.bind.nodes import Cond, Dynamic
from polartrace.bind.order_by import OrderKey
from polartrace.catalogue.fields import Source, ValueType
from polartrace.catalogue.operators import OPERATORS, Base, LikeKind, like_plan
from polartrace.frame.schema import META_PREFIX, TAG_PREFIX
from polartrace.frame.trace_frame import may_hold_null
from polartrace.plan.search import AssessmentMatch, PromptMatch

__all__ = [
    "assessment_test",
    "column_name",
    "column_test",
    "finish",
    "prompt_test",
    "sort_column",
    "span_test",
    "unit_test",
]

_TRUE = pl.lit(value=True)
_FALSE = pl.lit(value=False)


@functools.lru_cache(maxsize=1024, typed=True)
def _value(value: str | int | float) -> pl.Expr:
    """The literal expression of a filter value, built once.

    ``pl.lit`` costs a few microseconds of type dispatch, several times per cold
    compile, and an expression is immutable. ``typed``: ``1`` and ``1.0`` are
    different literals (an integer and a float column compare differently).
    """
    return pl.lit(value)


# --- base tests on one column --------------------------------------------------------


def _string_base(column: pl.Expr, base: Base, value: object) -> pl.Expr:
    """A base test on a String column; null where the column is null."""
    match base:
        case Base.EQ:
            return column.eq(_value(value))
        case Base.IN:
            return column.is_in(pl.Series(list(value), dtype=pl.String).implode())  # type: ignore[call-overload]
        case Base.LIKE:
            return _like(column, str(value))
        case Base.ILIKE:
            return _like(column.str.to_lowercase(), str(value).lower())
        case Base.RLIKE:
            return column.str.contains(str(value))
        case Base.IS_NULL:
            return column.is_null()
    msg = f"{base} does not apply to strings"  # pragma: no cover - binder invariant
    raise AssertionError(msg)


def _like(column: pl.Expr, pattern: str) -> pl.Expr:
    plan = like_plan(pattern)
    match plan.kind:
        case LikeKind.EQUALS:
            return column == plan.literal
        case LikeKind.PREFIX:
            return column.str.starts_with(plan.literal)
        case LikeKind.SUFFIX:
            return column.str.ends_with(plan.literal)
        case LikeKind.CONTAINS:
            return column.str.contains(plan.literal, literal=True)
        case LikeKind.ANY:
            return pl.when(column.is_not_null()).then(_TRUE)
        case LikeKind.REGEX:
            return column.str.contains(plan.literal)
    msg = f"unknown LIKE plan {plan.kind}"  # pragma: no cover
    raise AssertionError(msg)


def _string_test(
    column: pl.Expr, dtype: pl.DataType, base: Base, value: object
) -> pl.Expr:
    """A base test on a string column stored as String, Enum or Categorical.

    A dictionary-encoded column is tested through its dictionary: the test runs on
    the (few) distinct strings, and the column's codes are matched against the
    strings that pass, so each row costs an integer lookup instead of a string
    operation. Equality compares codes directly.
    """
    if base is Base.IS_NULL or not isinstance(dtype, pl.Enum | pl.Categorical):
        return _string_base(column, base, value)
    if base is Base.EQ:
        return column.eq(_value(value))
    categories = (
        dtype.categories
        if isinstance(dtype, pl.Enum)
        else dtype.categories.to_series()  # the (global) categories behind it
    )
    hits = (
        categories.to_frame("v")
        .filter(_string_base(pl.col("v"), base, value).fill_null(_FALSE))
        .to_series()
    )
    return column.is_in(hits.cast(dtype).implode())


_NUMERIC: dict[Base, Callable[[pl.Expr, Any], pl.Expr]] = {
    Base.EQ: lambda c, v: c.eq(_value(v)),
    Base.LT: lambda c, v: c.lt(_value(v)),
    Base.LE: lambda c, v: c.le(_value(v)),
    Base.GT: lambda c, v: c.gt(_value(v)),
    Base.GE: lambda c, v: c.ge(_value(v)),
    Base.IN: lambda c, v: c.cast(pl.Float64).is_in(
        pl.Series([float(x) for x in v], dtype=pl.Float64).implode()
    ),
    Base.IS_NULL: lambda c, _: c.is_null(),
}


def _dynamic_eq(
    text: pl.Expr, number: pl.Expr, quoted: pl.Expr | None, lit: Dynamic
) -> pl.Expr:
    # A numeric value against a numeric literal compares as numbers; otherwise the
    # canonical texts compare (and, for assessments, a string's JSON-quoted form).
    by_text = text == lit.text
    if quoted is not None:
        by_text = by_text | (quoted == lit.text).fill_null(_FALSE)
    if lit.number is None:
        return by_text
    return pl.when(number.is_not_null()).then(number == lit.number).otherwise(by_text)


def _dynamic_base(
    text: pl.Expr, number: pl.Expr, quoted: pl.Expr | None, base: Base, value: object
) -> pl.Expr:
    match base:
        case Base.EQ:
            assert isinstance(value, Dynamic)
            return _dynamic_eq(text, number, quoted, value)
        case Base.IN:
            items: Sequence[Dynamic] = value  # type: ignore[assignment]
            return pl.any_horizontal(
                [_dynamic_eq(text, number, quoted, i) for i in items]
            )
        case Base.LT | Base.LE | Base.GT | Base.GE:
            # Only numeric values order; the number is null for every other value
            # (and for missing ones), so the test is null there and _finish makes
            # it false.
            assert isinstance(value, Dynamic)
            return _NUMERIC[base](number, value.number)
        case _:
            return _string_base(text, base, value)


def finish(
    column: pl.Expr,
    base_expr: pl.Expr,
    negated: bool,
    base: Base,
    nullable: bool = True,
) -> pl.Expr:
    """Apply negation and the two-valued rule to a base test on ``column``.

    ``nullable=False`` says the column has no missing value, so the test has no
    null to fill (one pass over the rows fewer).
    """
    if base is Base.IS_NULL or not nullable:
        return ~base_expr if negated else base_expr
    if negated:
        present = column.is_not_null()
        return (present & ~base_expr.fill_null(_TRUE)).fill_null(_FALSE)
    return base_expr.fill_null(_FALSE)


# --- one test per plan leaf ------------------------------------------------------


def column_name(cond: Cond) -> str:
    """The trace-table column a `ColumnTest` reads."""
    spec = cond.field
    if spec.source is Source.TAG:
        return TAG_PREFIX + str(cond.key)
    if spec.source is Source.METADATA:
        return META_PREFIX + str(cond.key)
    return str(spec.column)


def column_test(
    cond: Cond,
    facts: tuple[pl.DataType, bool] | None,
    column: pl.Expr | None = None,
) -> pl.Expr:
    """``cond`` over the trace table.

    Args:
        cond: A condition on a trace column (`column_name`).
        facts: That column's dtype and whether it may hold a null; ``None`` when
            the table has no such column (an absent tag or metadata key).
        column: The column's values, if not the column itself.
    """
    op = OPERATORS[cond.op]
    column = pl.col(column_name(cond)) if column is None else column
    dtype: pl.DataType
    if facts is None:  # an absent tag/metadata key: an all-null column
        column, dtype, nullable = pl.lit(None, pl.String), pl.String(), True
    else:
        dtype, nullable = facts
    if cond.field.value_type in (ValueType.TIME, ValueType.NUMBER):
        base_expr = _NUMERIC[op.base](column, cond.value)
    else:
        base_expr = _string_test(column, dtype, op.base, cond.value)
    return finish(column, base_expr, op.negated, op.base, nullable)


def unit_test(cond: Cond) -> pl.Expr:
    """``cond`` (full text, or ``span.content``) over the units table."""
    op = OPERATORS[cond.op]
    unit = pl.col("unit")
    return finish(unit, _string_base(unit, op.base, cond.value), op.negated, op.base)


def prompt_test(match: PromptMatch) -> pl.Expr:
    """The prompt links of ``match`` over the prompt table."""
    wanted = pl.Series(match.prompts, dtype=pl.String).implode()
    return pl.col("prompt").is_in(wanted)


def assessment_test(match: AssessmentMatch) -> pl.Expr:
    """The assessments of ``match`` over the assessment table."""
    named = (pl.col("kind") == match.kind) & (pl.col("name") == match.name)
    if match.test is None:
        return named
    op = OPERATORS[match.test.op]
    text, number, quoted = pl.col("text"), pl.col("number"), pl.col("quoted")
    base_expr = _dynamic_base(text, number, quoted, op.base, match.test.value)
    return named & finish(text, base_expr, op.negated, op.base)


def span_test(
    cond: Cond,
    spans: pl.DataFrame,
    attribute: Callable[[str], tuple[str, str] | None],
    content: Callable[[pl.Expr], pl.Expr],
) -> pl.Expr:
    """``cond`` over the span table ``spans``.

    Args:
        cond: A span condition.
        spans: The span table (its schema and null counts decide the test).
        attribute: Derives an attribute's canonical-text and numeric columns onto
            the span table and names them (``None``: no span has it).
        content: Turns a test on units into a mask over the span rows that own a
            passing unit.
    """
    spec = cond.field
    op = OPERATORS[cond.op]
    if spec.column == "content":
        return content(unit_test(cond))
    if spec.column == "attributes":
        names = attribute(str(cond.key))
        if names is None:  # no span has it: every value is missing
            text, number = pl.lit(None, pl.String), pl.lit(None, pl.Float64)
        else:
            text, number = pl.col(names[0]), pl.col(names[1])
        base_expr = _dynamic_base(text, number, None, op.base, cond.value)
        return finish(text, base_expr, op.negated, op.base)
    column = pl.col(str(spec.column))
    stored = spans.get_column(str(spec.column))
    if spec.value_type is ValueType.NUMBER:
        base_expr = _NUMERIC[op.base](column, cond.value)
    else:
        base_expr = _string_test(column, stored.dtype, op.base, cond.value)
    return finish(column, base_expr, op.negated, op.base, may_hold_null(stored))


def sort_column(key: OrderKey, columns: Container[str]) -> pl.Expr:
    """The expression a sort key orders by, over a trace table of ``columns``."""
    spec = key.field
    if spec.source in (Source.TAG, Source.METADATA):
        name = (TAG_PREFIX if spec.source is Source.TAG else META_PREFIX) + str(key.key)
        return pl.col(name) if name in columns else pl.lit(None, dtype=pl.String)
    column = pl.col(str(spec.column))
    # Status sorts by code point of its name whatever its storage type.
    return column.cast(pl.String) if spec.column == "state" else column
