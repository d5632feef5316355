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
from polartrace.engines.polars.structure import (
    SpanTable,
    aggregate_keys,
    qualifying_keys,
)
from polartrace.language.ast import Quantifier
from polartrace.plan.search import (
    And,
    AssessmentMatch,
    ColumnTest,
    Not,
    Or,
    Predicate,
    PromptMatch,
    SpanAggregate,
    SpanMatch,
    SpanQuantified,
    TextMatch,
    plan_filter,
)

if TYPE_CHECKING:
    from polartrace.bind.nodes import BoundFilter, Cond
    from polartrace.frame.trace_frame import TraceFrame

__all__ = ["CACHE_SIZE", "compile_filter", "compile_where", "span_table"]

_TRUE = pl.lit(value=True)

#: Compiled filters kept per frame, least recently used dropped first: each holds
#: its span, assessment and text masks (one boolean per trace each), so a service
#: that sends ever new filters must not grow a frame without bound.
CACHE_SIZE = 128


def compile_filter(bound: BoundFilter, frame: TraceFrame) -> pl.Expr:
    """Return a boolean expression over ``frame.traces`` that selects the matches.

    Args:
        bound: A filter from :func:`polartrace.parse_filter`.
        frame: The frame it will run on.

    Returns:
        An expression with no nulls: ``True`` exactly for the matching traces.
    """
    cached = _cached(frame, bound.text)
    if cached is not None:
        return cached
    return compile_where(bound.text, plan_filter(bound), frame)


def compile_where(text: str, where: Predicate | None, frame: TraceFrame) -> pl.Expr:
    """`compile_filter` of a planned predicate; ``text`` names it in the cache."""
    cached = _cached(frame, text)
    if cached is not None:
        return cached
    expr = _TRUE if where is None else _Compiler(frame).node(where)
    cache = frame._compiled
    cache[text] = expr
    while len(cache) > CACHE_SIZE:
        # The dict keeps insertion order, and a hit re-inserts: the first key is
        # the least recently used. Another thread may have dropped it already.
        cache.pop(next(iter(cache), None), None)  # type: ignore[arg-type]
    return expr


def _cached(frame: TraceFrame, text: str) -> pl.Expr | None:
    """The cached expression of ``text``, now the most recently used one."""
    cache = frame._compiled
    expr = cache.pop(text, None)
    if expr is not None:
        cache[text] = expr
    return expr  # type: ignore[no-any-return]


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


#: Where a frame keeps its `SpanTable` (no filter text starts with a NUL).
_SPAN_TABLE = "\x00span table"


def span_table(frame: TraceFrame) -> SpanTable:
    """The frame's spans for trace-level questions, with their edges, kept."""
    table = frame._compiled.get(_SPAN_TABLE)
    if table is None:
        compiler = _Compiler(frame)
        table = SpanTable(lambda: frame.spans, frame.span_attribute, compiler._content)
        frame._compiled[_SPAN_TABLE] = table
    return table


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
            case SpanQuantified(quantifier=quantifier, test=test, relation=relation):
                every = quantifier is Quantifier.EVERY
                keys = qualifying_keys(span_table(frame), test, relation, negate=every)
                found = self._keys_in(keys)  # EVERY: some span fails the test
                return found if quantifier is Quantifier.ANY else ~found
            case SpanAggregate(aggregate=aggregate, op=op, value=value):
                keys, failing = aggregate_keys(span_table(frame), aggregate, op, value)
                decided = self._keys_in(keys)
                return ~decided if failing else decided
            # Flat, not a chain of & (|): Polars' optimizer takes time cubic in the
            # depth of a chain (minutes for a few hundred repeated terms). Kleene
            # logic either way.
            case And(items=items):
                return pl.all_horizontal([self.node(i) for i in items])
            case Or(items=items):
                return pl.any_horizontal([self.node(i) for i in items])
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
