"""Trace-level questions over a span table: quantifiers, relations, aggregates.

Every function takes a span table that holds whole traces (the frame's ``spans``,
or one batch of the lazy engine) and works on span rows by position. Relations are
semi-joins of the table with the spans found so far on (``_key``, ``parent_id``) =
(``_key``, ``span_id``): a child or a parent is one semi-join, a descendant or an
ancestor one per level of the deepest trace (a frontier that stops when it adds no
span), a sibling one join of an edge list; never a loop per trace or span.
Aggregates are one ``group_by`` on ``_key``. The semantics
are docs/semantics.md#trace-level-questions; the reference engine implements the
same rules from ``Trace`` objects.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import polars as pl

from polartrace.bind.nodes import (
    Aggregate,
    AllOf,
    AnyOf,
    Cond,
    Measure,
    Negate,
    Node,
    SpanRelation,
)
from polartrace.catalogue.operators import OPERATORS, Base
from polartrace.engines.polars.exprs import finish, span_test
from polartrace.language.ast import Axis, Op

__all__ = [
    "SpanTable",
    "aggregate_keys",
    "aggregate_test",
    "aggregate_values",
    "empty_passes",
    "empty_value",
    "qualifying_keys",
    "trace_values",
]

Attribute = Callable[[str], tuple[str, str] | None]
Content = Callable[[pl.Expr], pl.Expr]

_COMPARE: dict[Base, Callable[[pl.Expr, Any], pl.Expr]] = {
    Base.EQ: operator.eq,
    Base.LT: operator.lt,
    Base.LE: operator.le,
    Base.GT: operator.gt,
    Base.GE: operator.ge,
}


class SpanTable:
    """A span table of whole traces, with the tests' derived columns and its edges.

    Args:
        spans: Returns the current table: attribute tests may derive columns onto
            it, so it is read after they are built.
        attribute: Derives an attribute's columns (see `exprs.span_test`).
        content: Turns a test on full-text units into a mask over the span rows.
    """

    def __init__(
        self,
        spans: Callable[[], pl.DataFrame],
        attribute: Attribute,
        content: Content,
    ) -> None:
        self._spans = spans
        self.attribute = attribute
        self.content = content
        self._ids: pl.DataFrame | None = None
        self._edges: pl.DataFrame | None = None

    @property
    def table(self) -> pl.DataFrame:
        """The span table as it stands."""
        return self._spans()

    def mask(self, test: Node) -> pl.Series:
        """One boolean per span row: does it pass ``test``?"""
        expr = self.expr(test)  # first: it may derive columns onto the table
        # ANDed with a column: a test that reads none may be one scalar.
        every_row = pl.col("_key").is_not_null()
        return self.table.select((every_row & expr).alias("hit")).to_series()

    def expr(self, test: Node) -> pl.Expr:
        """``test`` as an expression over the table (may derive columns onto it)."""
        match test:
            case Cond():
                return span_test(test, self.table, self.attribute, self.content)
            case AllOf(items=items):  # flat, as in compile.py
                return pl.all_horizontal([self.expr(i) for i in items])
            case AnyOf(items=items):
                return pl.any_horizontal([self.expr(i) for i in items])
            case Negate(item=item):
                return ~self.expr(item)
        msg = f"not a span test: {test!r}"  # pragma: no cover - binder invariant
        raise AssertionError(msg)

    @property
    def ids(self) -> pl.DataFrame:
        """``_key``, ``span_id``, ``parent_id`` and ``row`` (the row position)."""
        if self._ids is None:
            row = pl.int_range(pl.len(), dtype=pl.UInt32).alias("row")
            self._ids = self.table.select("_key", "span_id", "parent_id", row)
        return self._ids

    @property
    def edges(self) -> pl.DataFrame:
        """``child`` and ``parent`` row positions of every parent link in a trace.

        A parent id that names no span of the trace gives no edge: that span is a
        root. Duplicate span ids give a child one edge per span of that id.
        """
        if self._edges is None:
            ids = self.ids
            parents = ids.select("_key", "span_id", pl.col("row").alias("parent"))
            children = ids.filter(pl.col("parent_id").is_not_null()).select(
                "_key",
                pl.col("parent_id").alias("span_id"),
                pl.col("row").alias("child"),
            )
            self._edges = children.join(parents, on=["_key", "span_id"]).select(
                "child", "parent"
            )
        return self._edges

    def _rows(self, rows: pl.Series) -> pl.Series:
        """A boolean per span row, true at the positions ``rows``."""
        return pl.zeros(self.table.height, pl.Boolean, eager=True).scatter(
            rows, values=True
        )

    def _parents(self, rows: pl.Series) -> pl.Series:
        """The rows of the parents of ``rows``: a semi-join on the parent ids."""
        front = self.ids[rows].select("_key", pl.col("parent_id").alias("span_id"))
        return self.ids.join(front.drop_nulls(), on=["_key", "span_id"], how="semi")[
            "row"
        ]

    def _children(self, rows: pl.Series) -> pl.Series:
        """The rows of the children of ``rows``: a semi-join on the parent ids."""
        front = self.ids[rows].select("_key", pl.col("span_id").alias("parent_id"))
        return self.ids.join(front, on=["_key", "parent_id"], how="semi")["row"]

    def related(self, axis: Axis, target: pl.Series) -> pl.Series:
        """One boolean per span row: does a span in ``axis`` to it pass ``target``?

        Each step starts from the passing rows only (a semi-join of the span ids
        with them), so a rare ``target`` costs little whatever the table's size.
        """
        rows = target.arg_true()
        match axis:
            case Axis.CHILD:  # my child passes: I am the parent of a passing row
                return self._rows(self._parents(rows))
            case Axis.PARENT:
                return self._rows(self._children(rows))
            case Axis.SIBLING:
                return self._siblings(target)
            case Axis.DESCENDANT:
                return self._closure(rows, self._parents)
            case Axis.ANCESTOR:
                return self._closure(rows, self._children)
        msg = f"unknown axis {axis}"  # pragma: no cover - Axis is closed
        raise AssertionError(msg)

    def _closure(
        self, rows: pl.Series, step: Callable[[pl.Series], pl.Series]
    ) -> pl.Series:
        # One or more steps: each round steps from the last round's new rows only,
        # so the rounds are bounded by the longest chain (a cycle ends when it
        # brings no new row).
        reached = pl.zeros(self.table.height, pl.Boolean, eager=True)
        while len(rows):
            found = step(rows)
            rows = found.filter(~reached.gather(found)).unique()
            reached = reached.scatter(rows, values=True)
        return reached

    def _siblings(self, target: pl.Series) -> pl.Series:
        # Another child of one of my parents passes: that parent's passing
        # children, less me if I pass.
        edges = self.edges.with_columns(hit=target.gather(self.edges["child"]))
        counts = edges.group_by("parent").agg(hits=pl.col("hit").sum())
        joined = edges.join(counts, on="parent")
        rows = joined.filter(pl.col("hits") > pl.col("hit").cast(pl.UInt32))["child"]
        return self._rows(rows)

    def depth(self) -> pl.Series:
        """The level of each span row below its root (1 for a root; null on a cycle)."""
        ids = self.ids
        levels = pl.repeat(None, ids.height, dtype=pl.UInt32, eager=True)
        # A root: no parent id, or one that names no span of the trace.
        named = ids.select("_key", pl.col("span_id").alias("parent_id"))
        front = ids.join(named, on=["_key", "parent_id"], how="anti")["row"]
        seen, level = self._rows(front), 0
        while len(front):
            level += 1
            levels = levels.scatter(front, level)
            found = self._children(front)
            front = found.filter(~seen.gather(found)).unique()
            seen = seen.scatter(front, values=True)
        return levels


def qualifying_keys(
    spans: SpanTable, test: Node, relation: SpanRelation | None, *, negate: bool
) -> pl.Series:
    """The trace keys of the span rows that qualify (or, ``negate``, do not).

    A row qualifies when it passes ``test`` and, given a relation, has (``HAS NO``:
    has not) a related row that passes the relation's test. Keys may repeat.
    """
    hit = spans.mask(test)
    if relation is not None:
        related = spans.related(relation.axis, spans.mask(relation.test))
        hit = hit & (~related if relation.negated else related)
    if negate:
        hit = ~hit
    return spans.table["_key"].filter(hit)


#: An aggregate's value for a trace with no span it aggregates.
def empty_value(aggregate: Aggregate) -> int | None:
    """0 for ``count``, ``sum`` and ``depth``; null for ``min``, ``max``, ``avg``."""
    zero = (Measure.COUNT, Measure.SUM, Measure.DEPTH)
    return 0 if aggregate.measure in zero else None


def aggregate_values(
    spans: SpanTable,
    aggregate: Aggregate,
    having: pl.Expr | None = None,
    keys: pl.Series | None = None,
) -> pl.DataFrame:
    """``_key`` and ``value`` of the aggregate for each trace that has spans.

    A trace without a span that the aggregate reads has no row: its value is
    `empty_value`. ``having`` keeps only the rows whose ``value`` passes it;
    ``keys``, when given, only the traces of those keys (a page's columns).
    """
    measure = aggregate.measure
    if measure is Measure.DEPTH:
        rows = spans.table.select("_key").with_columns(value=spans.depth())
        if keys is not None:
            rows = rows.filter(pl.col("_key").is_in(keys.implode()))
        grouped = rows.group_by("_key").agg(pl.col("value").max().fill_null(0))
        grouped = grouped.select("_key", pl.col("value").cast(pl.Int64))
        return grouped if having is None else grouped.filter(having)
    where = None if aggregate.where is None else spans.expr(aggregate.where)
    query = spans.table.lazy()  # read after expr: it may derive columns
    if where is not None:
        query = query.filter(where)
    if keys is not None:
        query = query.filter(pl.col("_key").is_in(keys.implode()))
    if measure is Measure.COUNT:
        value = pl.len().cast(pl.Int64)
    else:
        assert aggregate.field is not None  # the binder's invariant
        column = pl.col(str(aggregate.field.column))
        value = {
            Measure.SUM: column.sum(),
            Measure.MIN: column.min(),
            Measure.MAX: column.max(),
            Measure.AVG: column.mean(),
        }[measure]
    groups = query.group_by("_key").agg(value.alias("value"))
    return (groups if having is None else groups.filter(having)).collect()


def aggregate_keys(
    spans: SpanTable, aggregate: Aggregate, op: Op, value: int | float
) -> tuple[pl.Series, bool]:
    """The keys that decide ``aggregate op value``, and whether they fail it.

    When a trace without the spans the aggregate reads passes (``count(...) < 3``),
    the keys are those of the traces that have such spans and fail, and the second
    item is true; otherwise they are the keys of the traces that pass. One query:
    the group_by and the test on its groups.
    """
    test = aggregate_test(pl.col("value"), op, value)
    inverted = empty_passes(aggregate, op, value)
    found = aggregate_values(spans, aggregate, ~test if inverted else test)
    return found["_key"], inverted


def empty_passes(aggregate: Aggregate, op: Op, value: int | float) -> bool:
    """Whether a trace without the spans ``aggregate`` reads passes ``op value``."""
    empty = pl.lit(empty_value(aggregate), dtype=_VALUE_TYPES[aggregate.measure])
    return bool(pl.select(aggregate_test(empty, op, value)).item())


#: The dtype of an empty aggregate's literal; its value decides, not its width.
_VALUE_TYPES = {
    Measure.COUNT: pl.Int64(),
    Measure.DEPTH: pl.Int64(),
    Measure.SUM: pl.Float64(),
    Measure.MIN: pl.Float64(),
    Measure.MAX: pl.Float64(),
    Measure.AVG: pl.Float64(),
}


def trace_values(spans: SpanTable, aggregate: Aggregate, height: int) -> pl.Series:
    """The aggregate of every trace, by key, for keys ``0 .. height - 1``."""
    found = aggregate_values(spans, aggregate)
    empty = pl.repeat(
        empty_value(aggregate), height, dtype=found["value"].dtype, eager=True
    )
    return empty.scatter(found["_key"], found["value"])


def aggregate_test(values: pl.Expr, op: Op, value: int | float) -> pl.Expr:
    """``values op value`` under the two-valued rule (null fails every operator)."""
    spec = OPERATORS[op]
    base = _COMPARE[spec.base](values, pl.lit(value))
    return finish(values, base, spec.negated, spec.base)
