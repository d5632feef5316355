"""Compile a plan's predicate into one Polars boolean expression over ``frame.traces``.

Trace-column tests become column expressions (`polartrace.engines.polars.exprs`).
Span, assessment, full-text and prompt matches are evaluated as vectorised
sub-queries on their own tables (``spans``, ``assessments``, ``units``,
``prompts``) that yield the trace keys of their matching rows; those keys become a
boolean column over the traces by one scatter (``_key`` is the trace's row number),
which is a semi-join without a hash. There is no Python loop over rows and no
``map_elements``. The result embeds those masks, so it is cached per frame.
"""

from __future__ import annotations

import functools
import operator
from typing import TYPE_CHECKING, assert_never

import polars as pl

from polartrace.engines.polars.exprs import (
    assessment_test,
    column_name,
    column_test,
    prompt_test,
    span_test,
    unit_test,
)
from polartrace.plan.search import (
    And,
    AssessmentMatch,
    ColumnTest,
    Not,
    Or,
    Predicate,
    PromptMatch,
    SpanMatch,
    TextMatch,
    plan_filter,
)

if TYPE_CHECKING:
    from polartrace.bind.nodes import BoundFilter, Cond
    from polartrace.frame.trace_frame import TraceFrame

__all__ = ["compile_filter", "compile_where"]

_TRUE = pl.lit(value=True)


def compile_filter(bound: BoundFilter, frame: TraceFrame) -> pl.Expr:
    """Return a boolean expression over ``frame.traces`` that selects the matches.

    Args:
        bound: A filter from :func:`polartrace.parse_filter`.
        frame: The frame it will run on.

    Returns:
        An expression with no nulls: ``True`` exactly for the matching traces.
    """
    cached = frame._compiled.get(bound.text)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    return compile_where(bound.text, plan_filter(bound), frame)


def compile_where(text: str, where: Predicate | None, frame: TraceFrame) -> pl.Expr:
    """`compile_filter` of a planned predicate; ``text`` names it in the cache."""
    cached = frame._compiled.get(text)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    expr = _TRUE if where is None else _Compiler(frame).node(where)
    frame._compiled[text] = expr
    return expr


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


class _Compiler:
    def __init__(self, frame: TraceFrame) -> None:
        self.frame = frame

    def node(self, node: Predicate) -> pl.Expr:
        frame = self.frame
        match node:
            case ColumnTest(cond=cond):
                return column_test(cond, frame.trace_column(column_name(cond)))
            case SpanMatch(conds=conds):
                return self._keys_in(self._span_keys(conds))
            case AssessmentMatch():
                return self._keys_in(_hits(frame.assessments, assessment_test(node)))
            case TextMatch(cond=cond):
                return self._keys_in(_hits(frame.units, unit_test(cond)))
            case PromptMatch():
                return self._keys_in(_hits(frame.prompts, prompt_test(node)))
            # A chain of & (|) is what Polars' optimizer makes of all_horizontal
            # (any_horizontal) anyway, and costs half as much to build.
            case And(items=items):
                return functools.reduce(operator.and_, map(self.node, items))
            case Or(items=items):
                return functools.reduce(operator.or_, map(self.node, items))
            case Not(item=item):
                return ~self.node(item)
            case _:  # pragma: no cover - Predicate is closed
                assert_never(node)

    def _keys_in(self, keys: pl.Series) -> pl.Expr:
        # A semi-join on the trace key. ``_key`` is the row number, so the keys
        # become a boolean column by one scatter: cheaper than hashing them and
        # probing every row with ``is_in``.
        return pl.lit(_row_mask(self.frame.traces.height, keys))

    def _content(self, units_test: pl.Expr) -> pl.Expr:
        spans_with_unit = units_test & pl.col("_span").is_not_null()
        rows = _hits(self.frame.units, spans_with_unit, "_span")
        return pl.lit(_row_mask(self.frame.spans.height, rows))  # _span: row number

    def _span_keys(self, conds: tuple[Cond, ...]) -> pl.Series:
        """The trace key of every span that satisfies all conditions (keys repeat)."""
        frame = self.frame
        # Tests first: they may derive attribute columns onto frame.spans.
        exprs = [
            span_test(c, frame.spans, frame.span_attribute, self._content)
            for c in conds
        ]
        return _hits(frame.spans, pl.all_horizontal(exprs))
