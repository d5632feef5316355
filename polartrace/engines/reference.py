"""The reference engine: a search plan run per ``Trace`` in plain Python.

This is the executable specification of docs/semantics.md: filtering, ordering and
paging, each written here from the semantics and borrowed from no other engine. It
favours clarity over speed, reads the same operator table as the compiled engine
(``operators.OPERATORS``) and the same value helpers (``json_values``), and the
property tests hold the Polars engine to its answers. It imports no Polars.

RLIKE runs on Python's ``re``; the binder has already checked the pattern against
Rust's regex syntax, and the two agree on the common subset the property tests draw
from (see docs/testing.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from itertools import chain
from typing import Any

from polartrace.bind.nodes import BoundFilter, Cond, Dynamic
from polartrace.bind.order_by import OrderKey
from polartrace.catalogue.fields import FieldSpec, Source, ValueType
from polartrace.catalogue.like import like_match
from polartrace.catalogue.operators import OPERATORS, Base
from polartrace.catalogue.text_units import linked_prompts, preview_units, span_units
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
    SpanMatch,
    TextMatch,
    plan_filter,
)
from polartrace.values.json_values import canonical_text, numeric_value

__all__ = ["ReferenceEngine", "evaluate", "matches"]

_MISSING = object()


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
            return _like(value.lower(), operand.lower())
        case Base.RLIKE:
            return re.search(python_pattern(operand), value) is not None
    msg = f"{base} does not apply to strings"  # pragma: no cover
    raise AssertionError(msg)


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
        if cond.field.read_span is not None:
            return _apply(cond, cond.field.read_span(span))
        match cond.field.column:
            case "content":
                return any(_apply(cond, unit) for unit in span_units(span))
            case "attributes":
                return _apply(cond, span.attributes.get(str(cond.key), _MISSING))
        msg = f"unknown span field {cond.field.column}"  # pragma: no cover
        raise AssertionError(msg)


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


def _sorted(
    keys: list[int], traces: Sequence[Trace], order: Sequence[OrderKey]
) -> list[int]:
    """``keys`` sorted by ``order``: each key ascending or descending, nulls last.

    One stable sort per key, from the last key to the first, so earlier keys decide
    and later ones break their ties. Strings (status names, tags, metadata, ids)
    compare by code point, as Python compares them; times and durations compare as
    numbers.
    """
    rows = list(keys)
    for key in reversed(order):
        value = {k: field_value(key.field, key.key, traces[k]) for k in rows}
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
