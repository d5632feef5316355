"""Compile a bound filter into one Polars boolean expression over ``frame.traces``.

Trace fields become column expressions. Span groups, assessment clauses, full-text
clauses and prompt clauses are evaluated as vectorised sub-queries on their own
tables (``spans``, ``assessments``, ``units``, ``prompts``) that yield the trace
keys of their matching rows; those keys become a boolean column over the traces by
one scatter (``_key`` is the trace's row number), which is a semi-join without a
hash. There is no Python loop over rows and no ``map_elements``.

Every base test is null on a missing value; ``_finish`` applies the operator table's
negation and then fills nulls with ``False`` per predicate, which is exactly the
two-valued rule of docs/semantics.md#missing-values.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from polartrace.bind.filter import (
    AllOf,
    AnyOf,
    BoundFilter,
    Cond,
    Dynamic,
    Negate,
    Node,
    SpanGroup,
)
from polartrace.catalogue.fields import Source, ValueType
from polartrace.catalogue.operators import OPERATORS, Base, LikeKind, like_plan
from polartrace.frame.schema import META_PREFIX, TAG_PREFIX
from polartrace.frame.trace_frame import may_hold_null

if TYPE_CHECKING:
    from polartrace.frame.trace_frame import TraceFrame

__all__ = ["compile_filter"]

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


def compile_filter(bound: BoundFilter, frame: TraceFrame) -> pl.Expr:
    """Return a boolean expression over ``frame.traces`` that selects the matches.

    Args:
        bound: A filter from :func:`polartrace.parse_filter`.
        frame: The frame it will run on; sub-queries on its span, assessment, unit
            and prompt tables are evaluated here, so the result is cached per frame.

    Returns:
        An expression with no nulls: ``True`` exactly for the matching traces.
    """
    cached = frame._compiled.get(bound.text)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    expr = _TRUE if bound.root is None else _Compiler(frame).node(bound.root)
    frame._compiled[bound.text] = expr
    return expr


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


def _finish(
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


def _hits(table: pl.DataFrame, predicate: pl.Expr, column: str = "_key") -> pl.Series:
    """The ``column`` values of the rows of ``table`` that ``predicate`` keeps.

    One lazy query, so only ``column`` and the predicate's columns are read. The
    values are not made distinct: `_row_mask` sets a row once or many times alike,
    and hashing every matching key (``unique``) would cost more than the rest of a
    span query.
    """
    query = table.lazy().filter(predicate).select(pl.col(column))
    return query.collect().to_series()


def _row_mask(height: int, rows: pl.Series) -> pl.Series:
    """A boolean column of ``height`` rows, true at the row numbers ``rows``.

    ``rows`` may repeat a row number and come in any order.
    """
    return pl.zeros(height, pl.Boolean, eager=True).scatter(rows, values=True)


# --- the compiler --------------------------------------------------------------------


class _Compiler:
    def __init__(self, frame: TraceFrame) -> None:
        self.frame = frame

    def node(self, node: Node) -> pl.Expr:
        match node:
            case Cond():
                return self.cond(node)
            case SpanGroup(conds=conds):
                return self._keys_in(self._span_keys(conds))
            # A chain of & (|) is what Polars' optimizer makes of all_horizontal
            # (any_horizontal) anyway, and costs half as much to build.
            case AllOf(items=items):
                return functools.reduce(operator.and_, map(self.node, items))
            case AnyOf(items=items):
                return functools.reduce(operator.or_, map(self.node, items))
            case Negate(item=item):
                return ~self.node(item)
        msg = f"not a bound node: {node!r}"  # pragma: no cover
        raise TypeError(msg)

    def _keys_in(self, keys: pl.Series) -> pl.Expr:
        # A semi-join on the trace key. ``_key`` is the row number, so the keys
        # become a boolean column by one scatter: cheaper than hashing them and
        # probing every row with ``is_in``.
        return pl.lit(_row_mask(self.frame.traces.height, keys))

    def cond(self, cond: Cond) -> pl.Expr:
        spec = cond.field
        op = OPERATORS[cond.op]
        match spec.source:
            case Source.INFO | Source.TAG | Source.METADATA:
                name = self._trace_name(cond)
                facts = self.frame.trace_column(name)
                column = pl.col(name)
                dtype: pl.DataType
                if facts is None:  # an absent tag/metadata key: an all-null column
                    column, dtype, nullable = pl.lit(None, pl.String), pl.String(), True
                else:
                    dtype, nullable = facts
                if spec.value_type in (ValueType.TIME, ValueType.NUMBER):
                    base_expr = _NUMERIC[op.base](column, cond.value)
                else:
                    base_expr = _string_test(column, dtype, op.base, cond.value)
                return _finish(column, base_expr, op.negated, op.base, nullable)
            case Source.PROMPT:
                values = cond.value if isinstance(cond.value, tuple) else (cond.value,)
                wanted = pl.Series(values, dtype=pl.String).implode()
                return self._keys_in(
                    _hits(self.frame.prompts, pl.col("prompt").is_in(wanted))
                )
            case Source.TEXT:
                units = self.frame.units
                match_expr = _finish(
                    pl.col("unit"),
                    _string_base(pl.col("unit"), op.base, cond.value),
                    op.negated,
                    op.base,
                )
                return self._keys_in(_hits(units, match_expr))
            case Source.ASSESSMENT:
                return self._assessment(cond)
            case Source.SPAN:
                return self._keys_in(self._span_keys((cond,)))
        msg = f"unknown source {spec.source}"  # pragma: no cover
        raise AssertionError(msg)

    @staticmethod
    def _trace_name(cond: Cond) -> str:
        spec = cond.field
        if spec.source is Source.TAG:
            return TAG_PREFIX + str(cond.key)
        if spec.source is Source.METADATA:
            return META_PREFIX + str(cond.key)
        return str(spec.column)

    def _assessment(self, cond: Cond) -> pl.Expr:
        op = OPERATORS[cond.op]
        table = self.frame.assessments
        named = (pl.col("kind") == cond.field.column) & (pl.col("name") == cond.key)
        if op.base is Base.IS_NULL:
            # IS NULL: no valid assessment of that name at all; an error-only
            # feedback (null value) still counts as one.
            exists = self._keys_in(_hits(table, named))
            return exists if op.negated else ~exists
        text, number, quoted = pl.col("text"), pl.col("number"), pl.col("quoted")
        base_expr = _dynamic_base(text, number, quoted, op.base, cond.value)
        match_expr = _finish(text, base_expr, op.negated, op.base)
        return self._keys_in(_hits(table, named & match_expr))

    def _span_keys(self, conds: Sequence[Cond]) -> pl.Series:
        """The trace key of every span that satisfies all conditions (keys repeat)."""
        # Conditions first: they may derive attribute columns onto frame.spans.
        exprs = [self._span_cond(cond) for cond in conds]
        spans = self.frame.spans
        return _hits(spans, pl.all_horizontal(exprs))

    def _span_cond(self, cond: Cond) -> pl.Expr:
        spec = cond.field
        op = OPERATORS[cond.op]
        if spec.column == "content":
            units = self.frame.units
            unit = pl.col("unit")
            match_expr = _finish(
                unit,
                _string_base(unit, op.base, cond.value),
                op.negated,
                op.base,
            )
            rows = _hits(units, match_expr & pl.col("_span").is_not_null(), "_span")
            return pl.lit(_row_mask(self.frame.spans.height, rows))  # _span: row number
        if spec.column == "attributes":
            names = self.frame.span_attribute(str(cond.key))
            if names is None:  # no span has it: every value is missing
                text, number = (
                    pl.lit(None, dtype=pl.String),
                    pl.lit(None, dtype=pl.Float64),
                )
            else:
                text, number = pl.col(names[0]), pl.col(names[1])
            base_expr = _dynamic_base(text, number, None, op.base, cond.value)
            return _finish(text, base_expr, op.negated, op.base)
        column = pl.col(str(spec.column))
        stored = self.frame.spans.get_column(str(spec.column))
        if spec.value_type is ValueType.NUMBER:
            base_expr = _NUMERIC[op.base](column, cond.value)
        else:
            base_expr = _string_test(column, stored.dtype, op.base, cond.value)
        nullable = may_hold_null(stored)
        return _finish(column, base_expr, op.negated, op.base, nullable)
