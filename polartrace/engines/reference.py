"""The reference engine: a search plan run per ``Trace`` in plain Python.

This is the executable specification of docs/semantics.md: filtering, ordering and
paging, each written here from the semantics and borrowed from no other engine. It
favours clarity over speed, reads the same operator table as the compiled engine
(``operators.OPERATORS``) and the same value helpers (``json_values``), and the
property tests hold the Polars engine to its answers. It imports no Polars.

RLIKE runs on the ``regex`` package (Python's ``re`` dialect, plus a timeout) with
the pattern `python_pattern` translates from Rust's syntax; it backtracks, so a
pattern that takes longer than `REGEX_SECONDS` on one value raises
`RegexTimeoutError` instead of hanging (the Polars engine answers it in linear
time).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import Any

import regex

from polartrace.bind.nodes import (
    Aggregate,
    AllOf,
    AnyOf,
    BoundFilter,
    Cond,
    Dynamic,
    Measure,
    Negate,
    Node,
    SpanRelation,
)
from polartrace.bind.order_by import AggregateKey, SortKey
from polartrace.catalogue.fields import FieldSpec, Source, ValueType
from polartrace.catalogue.like import like_match
from polartrace.catalogue.lowercase import lower
from polartrace.catalogue.operators import OPERATORS, Base
from polartrace.catalogue.text_units import linked_prompts, preview_units, span_units
from polartrace.language.ast import Axis, Op, Quantifier
from polartrace.language.regex_python import python_pattern
from polartrace.model.trace import Assessment, Span, Trace
from polartrace.plan.search import (
    And,
    AssessmentMatch,
    ColumnTest,
    Not,
    Or,
    Predicate,
    PromptMatch,
    SearchPlan,
    SpanAggregate,
    SpanMatch,
    SpanQuantified,
    TextMatch,
    plan_filter,
)
from polartrace.values.errors import RegexTimeoutError
from polartrace.values.json_values import canonical_text, numeric_value

__all__ = ["ReferenceEngine", "evaluate", "matches"]

_MISSING = object()

#: Longest an RLIKE may search one value, in seconds, before it is refused.
REGEX_SECONDS = 2.0


def evaluate(bound: BoundFilter, traces: Sequence[Trace]) -> list[bool]:
    """Evaluate ``bound`` on every trace.

    Args:
        bound: A filter from :func:`polartrace.parse_filter`.
        traces: All traces of the search: session-scoped assessments apply to every
            trace of their session, so the evaluator needs the whole set.

    Returns:
        One boolean per trace, in order.
    """
    context, where = _Context(traces), plan_filter(bound)
    return [context.node(where, trace) for trace in traces]


def matches(bound: BoundFilter, trace: Trace) -> bool:
    """Evaluate ``bound`` on a single trace (session scope limited to that trace)."""
    return evaluate(bound, [trace])[0]


# --- base tests (the same table compile.py implements with Polars) ------------------


def _like(value: str, pattern: str) -> bool:
    return like_match(value, pattern)


def _string_base(value: str, base: Base, operand: Any) -> bool:
    match base:
        case Base.EQ:
            return bool(value == operand)
        case Base.IN:
            return value in operand
        case Base.LIKE:
            return _like(value, operand)
        case Base.ILIKE:
            return _like(lower(value), lower(operand))
        case Base.RLIKE:
            return _rlike(value, operand)
    msg = f"{base} does not apply to strings"  # pragma: no cover
    raise AssertionError(msg)


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    return regex.compile(python_pattern(pattern))


def _rlike(value: str, pattern: str) -> bool:
    try:
        return _compiled(pattern).search(value, timeout=REGEX_SECONDS) is not None
    except TimeoutError:
        raise RegexTimeoutError(pattern, REGEX_SECONDS) from None


def _number_base(value: float, base: Base, operand: Any) -> bool:
    match base:
        case Base.EQ:
            return bool(value == operand)
        case Base.LT:
            return bool(value < operand)
        case Base.LE:
            return bool(value <= operand)
        case Base.GT:
            return bool(value > operand)
        case Base.GE:
            return bool(value >= operand)
        case Base.IN:
            return any(value == item for item in operand)
    msg = f"{base} does not apply to numbers"  # pragma: no cover
    raise AssertionError(msg)


def _dynamic_eq(value: Any, literal: Dynamic, *, quoted_form: bool) -> bool:
    number = numeric_value(value)
    if number is not None and literal.number is not None:
        return number == literal.number
    if canonical_text(value) == literal.text:
        return True
    return (
        quoted_form
        and isinstance(value, str)
        and (json.dumps(value, ensure_ascii=False) == literal.text)
    )


def _dynamic_base(value: Any, base: Base, operand: Any, *, quoted_form: bool) -> bool:
    if base is Base.EQ:
        return _dynamic_eq(value, operand, quoted_form=quoted_form)
    if base is Base.IN:
        return any(
            _dynamic_eq(value, item, quoted_form=quoted_form) for item in operand
        )
    if base in (Base.LT, Base.LE, Base.GT, Base.GE):
        number = numeric_value(value)
        return number is not None and _number_base(number, base, operand.number)
    return _string_base(canonical_text(value) or "", base, operand)


def _apply(cond: Cond, value: Any, *, quoted_form: bool = False) -> bool:
    """Apply ``cond``'s operator to one value; ``_MISSING``/``None`` is missing."""
    op = OPERATORS[cond.op]
    missing = value is _MISSING or value is None
    if op.base is Base.IS_NULL:
        return missing != op.negated
    if missing:
        return False  # the two-valued rule: every other test is false on missing
    vtype = cond.field.value_type
    if vtype is ValueType.DYNAMIC:
        hit = _dynamic_base(value, op.base, cond.value, quoted_form=quoted_form)
    elif vtype in (ValueType.TIME, ValueType.NUMBER):
        hit = _number_base(value, op.base, cond.value)
    else:
        hit = _string_base(value, op.base, cond.value)
    return hit != op.negated


# --- the evaluator ---------------------------------------------------------------


class _Context:
    """Holds what crosses traces: session-scoped assessments by session id."""

    def __init__(self, traces: Sequence[Trace]) -> None:
        self.by_session: dict[str, list[Assessment]] = {}
        for trace in traces:
            for assessment in trace.info.assessments:
                session = assessment.session_id
                if assessment.is_valid and session is not None:
                    self.by_session.setdefault(session, []).append(assessment)

    def node(self, node: Predicate | None, trace: Trace) -> bool:
        info = trace.info
        match node:
            case None:
                return True
            case ColumnTest(cond=cond):
                return _apply(cond, field_value(cond.field, cond.key, trace))
            case SpanMatch(conds=conds):
                return any(
                    all(self.span_cond(c, span) for c in conds)
                    for span in trace.data.spans
                )
            case AssessmentMatch():
                return self.assessment(node, trace)
            case TextMatch(cond=cond):
                units = chain(
                    preview_units(info), *(span_units(s) for s in trace.data.spans)
                )
                return any(_apply(cond, unit) for unit in units)
            case PromptMatch(prompts=prompts):
                return any(p in prompts for p in linked_prompts(info.tags))
            case SpanQuantified(quantifier=quantifier, test=test, relation=relation):
                return _quantified(quantifier, test, relation, trace.data.spans)
            case SpanAggregate(aggregate=aggregate, op=op, value=value):
                return _compare(aggregate_value(aggregate, trace), op, value)
            case And(items=items):
                return all(self.node(item, trace) for item in items)
            case Or(items=items):
                return any(self.node(item, trace) for item in items)
            case Not(item=item):
                return not self.node(item, trace)
        msg = f"not a plan node: {node!r}"  # pragma: no cover
        raise TypeError(msg)

    def assessments_of(self, trace: Trace) -> Iterator[Assessment]:
        """Valid assessments that apply to ``trace``: its own and its session's."""
        own = [a for a in trace.info.assessments if a.is_valid]
        yield from own
        session = trace.info.session_id
        if session is not None:
            owned = {id(a) for a in own}
            yield from (
                a for a in self.by_session.get(session, ()) if id(a) not in owned
            )

    def assessment(self, match: AssessmentMatch, trace: Trace) -> bool:
        relevant = [
            a
            for a in self.assessments_of(trace)
            if a.kind == match.kind and a.name == match.name
        ]
        if match.test is None:  # it exists (an error-only feedback does)
            return bool(relevant)
        test = match.test
        return any(_apply(test, a.value, quoted_form=True) for a in relevant)

    def span_cond(self, cond: Cond, span: Span) -> bool:
        return _span_cond(cond, span)


def _span_cond(cond: Cond, span: Span) -> bool:
    if cond.field.read_span is not None:
        return _apply(cond, cond.field.read_span(span))
    match cond.field.column:
        case "content":
            return any(_apply(cond, unit) for unit in span_units(span))
        case "attributes":
            return _apply(cond, span.attributes.get(str(cond.key), _MISSING))
    msg = f"unknown span field {cond.field.column}"  # pragma: no cover
    raise AssertionError(msg)


# --- trace-level questions (docs/semantics.md#trace-level-questions) -------------


def _passes(test: Node, span: Span) -> bool:
    """Whether one span passes a span test (conditions under AND/OR/NOT)."""
    match test:
        case Cond():
            return _span_cond(test, span)
        case AllOf(items=items):
            return all(_passes(item, span) for item in items)
        case AnyOf(items=items):
            return any(_passes(item, span) for item in items)
        case Negate(item=item):
            return not _passes(item, span)
    msg = f"not a span test: {test!r}"  # pragma: no cover - the binder's invariant
    raise AssertionError(msg)


class _Tree:
    """The parent links of one trace's spans, by position in ``trace.data.spans``.

    Span ``r`` is a child of span ``s`` when ``r.parent_id == s.span_id``. A span
    is a root when it has no parent id or its parent id names no span of the trace.
    """

    def __init__(self, spans: Sequence[Span]) -> None:
        self.spans = spans
        by_id: dict[str, list[int]] = {}
        for i, span in enumerate(spans):
            by_id.setdefault(span.span_id, []).append(i)
        self.parents = [
            by_id.get(span.parent_id, []) if span.parent_id is not None else []
            for span in spans
        ]
        self.children: list[list[int]] = [[] for _ in spans]
        for child, parents in enumerate(self.parents):
            for parent in parents:
                self.children[parent].append(child)

    def related(self, i: int, axis: Axis) -> set[int]:
        """The positions of the spans that stand in ``axis`` to span ``i``."""
        match axis:
            case Axis.CHILD:
                return set(self.children[i])
            case Axis.PARENT:
                return set(self.parents[i])
            case Axis.SIBLING:
                return {j for p in self.parents[i] for j in self.children[p]} - {i}
            case Axis.DESCENDANT:
                return self._reach(i, self.children)
            case Axis.ANCESTOR:
                return self._reach(i, self.parents)
        msg = f"unknown axis {axis}"  # pragma: no cover - Axis is closed
        raise AssertionError(msg)

    @staticmethod
    def _reach(i: int, links: list[list[int]]) -> set[int]:
        # One or more steps along links; a cycle may lead back to i itself.
        found: set[int] = set()
        todo = list(links[i])
        while todo:
            j = todo.pop()
            if j not in found:
                found.add(j)
                todo.extend(links[j])
        return found

    def depth(self) -> int:
        """Spans on the longest path down from a root (0 for no span).

        Levels are counted breadth first from the roots, so a span on a cycle of
        parent ids, below no root, has no level.
        """
        level = [i for i, parents in enumerate(self.parents) if not parents]
        seen, depth = set(level), 0
        while level:
            depth += 1
            level = [c for i in level for c in self.children[i] if c not in seen]
            seen.update(level)
        return depth


def _quantified(
    quantifier: Quantifier,
    test: Node,
    relation: SpanRelation | None,
    spans: Sequence[Span],
) -> bool:
    tree = _Tree(spans)

    def qualifies(i: int) -> bool:
        if not _passes(test, spans[i]):
            return False
        if relation is None:
            return True
        related = tree.related(i, relation.axis)
        found = any(_passes(relation.test, spans[j]) for j in related)
        return found != relation.negated

    match quantifier:
        case Quantifier.ANY:
            return any(qualifies(i) for i in range(len(spans)))
        case Quantifier.NO:
            return not any(qualifies(i) for i in range(len(spans)))
        case Quantifier.EVERY:
            # Vacuously true for a trace without spans.
            return all(qualifies(i) for i in range(len(spans)))
    msg = f"unknown quantifier {quantifier}"  # pragma: no cover
    raise AssertionError(msg)


def aggregate_value(aggregate: Aggregate, trace: Trace) -> float | None:
    """The aggregate of one trace; ``None`` for min/max/avg of no value."""
    spans = trace.data.spans
    if aggregate.measure is Measure.DEPTH:
        return _Tree(spans).depth()
    where = aggregate.where
    chosen = [s for s in spans if where is None or _passes(where, s)]
    if aggregate.measure is Measure.COUNT:
        return len(chosen)
    read = aggregate.field.read_span if aggregate.field is not None else None
    assert read is not None  # the binder allows numeric span fields only
    values: list[float] = [v for v in map(read, chosen) if v is not None]
    match aggregate.measure:
        case Measure.SUM:
            return sum(values)  # 0 for no value
        case Measure.MIN:
            return min(values, default=None)
        case Measure.MAX:
            return max(values, default=None)
        case Measure.AVG:
            return sum(values) / len(values) if values else None
    msg = f"unknown measure {aggregate.measure}"  # pragma: no cover
    raise AssertionError(msg)


def _compare(value: float | None, op: Op, operand: float) -> bool:
    spec = OPERATORS[op]
    if value is None:
        return False  # the two-valued rule: a missing value fails every comparison
    return _number_base(value, spec.base, operand) != spec.negated


# --- reading a field from a Trace ------------------------------------------------


def field_value(field: FieldSpec, key: str | None, trace: Trace) -> Any:
    """The value of a trace-level field (info, tag, metadata) of ``trace``.

    ``_MISSING`` for an unset tag or metadata key; an info field is read through the
    accessor its catalogue entry declares, as the frame builder reads it.
    """
    info = trace.info
    match field.source:
        case Source.TAG:
            return info.tags.get(str(key), _MISSING)
        case Source.METADATA:
            return info.trace_metadata.get(str(key), _MISSING)
        case Source.INFO if field.read is not None:
            return field.read(trace)
    msg = f"{field.name} is not a trace-level field with an accessor"
    raise AssertionError(msg)  # pragma: no cover - the binder allows no other


# --- ordering and paging (docs/semantics.md#ordering-and-ties, #paging) ----------


def _sort_value(key: SortKey, trace: Trace) -> Any:
    if isinstance(key, AggregateKey):
        return aggregate_value(key.aggregate, trace)
    return field_value(key.field, key.key, trace)


def _sorted(
    keys: list[int], traces: Sequence[Trace], order: Sequence[SortKey]
) -> list[int]:
    """``keys`` sorted by ``order``: each key ascending or descending, nulls last.

    One stable sort per key, from the last key to the first, so earlier keys decide
    and later ones break their ties. Strings (status names, tags, metadata, ids)
    compare by code point, as Python compares them; times and durations compare as
    numbers.
    """
    rows = list(keys)
    for key in reversed(order):
        value = {k: _sort_value(key, traces[k]) for k in rows}
        present = [k for k in rows if not _absent(value[k])]
        missing = [k for k in rows if _absent(value[k])]
        present.sort(key=value.__getitem__, reverse=key.descending)
        rows = present + missing  # nulls last, whatever the direction
    return rows


def _absent(value: Any) -> bool:
    return value is None or value is _MISSING


class ReferenceEngine:
    """Runs plans over a sequence of ``Trace``; a trace's key is its position."""

    def __init__(self, traces: Sequence[Trace]) -> None:
        self.traces = traces
        self._context = _Context(traces)

    def _matches(self, plan: SearchPlan) -> list[int]:
        node = self._context.node
        return [k for k, t in enumerate(self.traces) if node(plan.where, t)]

    def count(self, plan: SearchPlan) -> int:
        """How many traces ``plan.where`` selects."""
        return len(self._matches(plan))

    def keys(self, plan: SearchPlan) -> list[int]:
        """Keys of the selected traces in the plan's order, from its offset."""
        ordered = _sorted(self._matches(plan), self.traces, plan.order)
        end = None if plan.limit is None else plan.offset + plan.limit
        return ordered[plan.offset : end]
