"""Traces with real span trees, and trace-level filters over them.

`tree_trace_lists` draws traces whose spans form trees up to six levels deep with
up to five children a span, from a few names so that names repeat; a root may be
an orphan (its parent id names no span of the trace), a trace may have two roots
or none. `structure_filters` draws quantifiers, relations and aggregates over
conditions on those names, types, statuses and durations, combined with AND, OR
and NOT, so that they match some traces and miss others.

Durations are whole milliseconds (or missing, for an unfinished span), so sums and
averages are exact in both engines.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from polartrace.language import ast
from polartrace.language.ast import (
    AggFunc,
    Aggregate,
    AggregateComparison,
    And,
    Axis,
    Comparison,
    Expr,
    Field,
    Not,
    Number,
    Op,
    Or,
    Quantifier,
    Relation,
    SpanQuantifier,
    String,
)
from polartrace.model.trace import Span, SpanStatus, Trace, TraceData, TraceInfo
from polartrace.testing._vocab import BASE_TIME_MS

__all__ = ["aggregate_order_by", "structure_filters", "tree_trace_lists"]

#: Span names (repeated across levels and traces) and types.
TREE_NAMES = ("agent", "llm", "tool", "search")
TREE_TYPES = ("AGENT", "LLM", "TOOL", "CHAIN")
_STATUSES = ("OK", "ERROR", "UNSET")
_MAX_DEPTH = 6
_MAX_FAN_OUT = 5
_ORPHAN_PARENT = "00000000000000ff"  # no generated span has this id
_ROOTS = st.sampled_from((1, 1, 2, 0))
_ENDS = st.sampled_from((-1, 0))

_SPAN = st.tuples(
    st.sampled_from(TREE_NAMES),
    st.sampled_from(TREE_TYPES),
    st.sampled_from(_STATUSES),
    st.none() | st.integers(0, 60),  # duration in ms; None: unfinished
)


@st.composite
def _tree_trace(draw: st.DrawFn, number: int, max_spans: int) -> Trace:
    start_ms = BASE_TIME_MS + number * 1000
    otel = f"{number:032x}"
    spans: list[Span] = []
    # Spans still to place: (parent position or None, level). Taken from the front
    # (breadth first) or the back (depth first), so that trees grow wide or deep
    # within ``max_spans``; a third of the traces have two roots or none.
    queue: list[tuple[int | None, int]] = [(None, 1)] * draw(_ROOTS)
    while queue and len(spans) < max_spans:
        parent, level = queue.pop(draw(_ENDS))
        name, kind, status, ms = draw(_SPAN)
        if parent is None:
            parent_id = _ORPHAN_PARENT if draw(st.booleans()) else None
        else:
            parent_id = spans[parent].span_id
        start = start_ms * 1_000_000
        spans.append(
            Span(
                name=name,
                span_id=f"{number:04x}{len(spans):012x}",
                otel_trace_id=otel,
                start_time_ns=start,
                end_time_ns=None if ms is None else start + ms * 1_000_000,
                parent_id=parent_id,
                status=SpanStatus(status),
                raw_attributes={"mlflow.spanType": f'"{kind}"'},
            )
        )
        if level < _MAX_DEPTH:
            fan_out = draw(st.integers(0, _MAX_FAN_OUT))
            queue += [(len(spans) - 1, level + 1)] * fan_out
    info = TraceInfo(
        trace_id=f"tr-{number:032x}",
        request_time=start_ms,
        state=draw(st.sampled_from(("OK", "ERROR"))),
        execution_duration=100,
    )
    return Trace(info, TraceData(spans))


@st.composite
def _tree_trace_lists(
    draw: st.DrawFn, min_size: int, max_size: int, max_spans: int
) -> list[Trace]:
    size = draw(st.integers(min_size, max_size))
    return [draw(_tree_trace(number, max_spans)) for number in range(1, size + 1)]


def tree_trace_lists(
    min_size: int = 1, max_size: int = 6, *, max_spans: int = 14
) -> st.SearchStrategy[list[Trace]]:
    """Lists of traces whose spans form trees (depth up to 6, fan-out up to 5).

    Names repeat, roots may be orphans, a trace may have no span. Trace ids are
    ``tr-…01``, ``tr-…02``, ... and the later a trace, the newer.

    Example:
        >>> from hypothesis import given
        >>> @given(tree_trace_lists(max_size=3))
        ... def test_ids_are_unique(traces):
        ...     assert len({t.info.trace_id for t in traces}) == len(traces)
        >>> test_ids_are_unique()
    """
    return _tree_trace_lists(min_size, max_size, max_spans)


# --- filters ----------------------------------------------------------------------


def _field(key: str) -> st.SearchStrategy[Field]:
    # Inside a group the span. prefix is optional: draw both spellings.
    return st.sampled_from((Field(None, key), Field("span", key)))


def _leaf(key: str, ops: tuple[Op, ...], values: Any) -> st.SearchStrategy[Expr]:
    return st.builds(Comparison, _field(key), st.sampled_from(ops), values)


_SPAN_LEAF: st.SearchStrategy[Expr] = st.one_of(
    _leaf("name", (Op.EQ,), st.sampled_from(TREE_NAMES).map(String)),
    _leaf("type", (Op.EQ, Op.NE), st.sampled_from(TREE_TYPES).map(String)),
    _leaf("status", (Op.EQ,), st.sampled_from(_STATUSES).map(String)),
    _leaf("duration_ms", (Op.GT, Op.LE), st.integers(0, 60).map(Number)),
)


def _span_tests() -> st.SearchStrategy[Expr]:
    def extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        pairs = st.lists(children, min_size=2, max_size=2)
        return st.one_of(pairs.map(And), pairs.map(Or), children.map(Not))

    return st.recursive(_SPAN_LEAF, extend, max_leaves=3)


SPAN_TESTS = _span_tests()

_RELATIONS = st.none() | st.builds(
    Relation, st.sampled_from(list(Axis)), st.booleans(), SPAN_TESTS
)


@st.composite
def _quantified(draw: st.DrawFn) -> Expr:
    quantifier = draw(st.sampled_from(list(Quantifier)))
    relation = None if quantifier is Quantifier.EVERY else draw(_RELATIONS)
    return SpanQuantifier(quantifier, draw(SPAN_TESTS), relation)


_ORDER_OPS = (Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE)


@st.composite
def _aggregate(draw: st.DrawFn) -> Aggregate:
    func = draw(st.sampled_from(list(AggFunc)))
    where = draw(st.none() | SPAN_TESTS)
    if func is AggFunc.COUNT:
        return Aggregate(func, None, where)
    return Aggregate(func, draw(_field("duration_ms")), where)


@st.composite
def _aggregate_comparison(draw: st.DrawFn) -> Expr:
    aggregate = draw(_aggregate())
    limit = 8 if aggregate.func is AggFunc.COUNT else 150
    value = Number(draw(st.integers(0, limit)))
    return AggregateComparison(aggregate, draw(st.sampled_from(_ORDER_OPS)), value)


_MEASURES = st.builds(
    Comparison,
    st.sampled_from((Field(None, "span_count"), Field(None, "depth"))),
    st.sampled_from(_ORDER_OPS),
    st.integers(0, 8).map(Number),
)
_TRACE_LEAF = st.builds(
    Comparison,
    st.just(Field(None, "status")),
    st.just(Op.EQ),
    st.sampled_from(("OK", "ERROR")).map(String),
)
#: One trace-level question.
STRUCTURE_LEAVES: st.SearchStrategy[Expr] = st.one_of(
    _quantified(), _aggregate_comparison(), _MEASURES
)


def structure_filters(max_leaves: int = 3) -> st.SearchStrategy[Expr]:
    """Filters of quantifiers, relations and aggregates under AND, OR and NOT.

    Now and then a trace field (``status``) joins them. Turn one into text with
    `polartrace.language.ast.unparse`.
    """

    def extend(children: st.SearchStrategy[Expr]) -> st.SearchStrategy[Expr]:
        pairs = st.lists(children, min_size=2, max_size=2)
        return st.one_of(pairs.map(And), pairs.map(Or), children.map(Not))

    leaves = st.one_of(STRUCTURE_LEAVES, STRUCTURE_LEAVES, _TRACE_LEAF)
    return st.recursive(leaves, extend, max_leaves=max_leaves)


def _aggregate_text(aggregate: Aggregate) -> str:
    # The text of "aggregate = 0" up to its last " = ": the aggregate as written.
    text = ast.unparse(AggregateComparison(aggregate, Op.EQ, Number(0)))
    return text.rsplit(" = ", 1)[0]


def aggregate_order_by() -> st.SearchStrategy[list[str]]:
    """An ``order_by`` of one aggregate (or trace measure) and a direction."""
    keys = st.one_of(
        _aggregate().map(_aggregate_text), st.sampled_from(("span_count", "depth"))
    )
    directions = st.sampled_from(("ASC", "DESC"))
    return st.builds(lambda key, way: [f"{key} {way}"], keys, directions)
