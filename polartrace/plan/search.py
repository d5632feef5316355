"""The plan of one search: which traces match, in which order, which page.

A plan is data: frozen nodes that say what to compute and never compute it. Each
engine (`polartrace.engines`) walks the same plan its own way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias, assert_never

import attrs

from polartrace.bind.nodes import (
    AllOf,
    AnyOf,
    BoundFilter,
    Cond,
    Negate,
    Node,
    SpanGroup,
)
from polartrace.bind.order_by import OrderKey
from polartrace.catalogue.fields import REQUEST_ID, TIMESTAMP, Source
from polartrace.language.ast import Op

__all__ = [
    "TIE_BREAKS",
    "And",
    "AssessmentMatch",
    "ColumnTest",
    "Not",
    "Or",
    "Predicate",
    "PromptMatch",
    "SearchPlan",
    "SpanMatch",
    "TextMatch",
    "plan_filter",
    "plan_search",
]


def _conds(values: Iterable[Cond]) -> tuple[Cond, ...]:
    return tuple(values)


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


@attrs.frozen
class ColumnTest:
    """A test on one column of the trace table (an info field, a tag, a metadata)."""

    cond: Cond


@attrs.frozen
class SpanMatch:
    """Some span of the trace satisfies every condition (a semi-join on spans)."""

    conds: tuple[Cond, ...] = attrs.field(converter=_conds)


@attrs.frozen
class AssessmentMatch:
    """Some valid assessment of ``kind`` and ``name`` that applies to the trace.

    Session-scoped assessments apply to every trace of their session. ``test``
    ``None`` asks only that one exists (``IS NOT NULL``, ``issue.id``); otherwise its
    value must pass ``test``.
    """

    kind: str
    name: str
    test: Cond | None


@attrs.frozen
class TextMatch:
    """Some full-text unit of the trace (previews, span units) passes ``cond``."""

    cond: Cond


@attrs.frozen
class PromptMatch:
    """The trace links one of ``prompts`` (``name/version``)."""

    prompts: tuple[str, ...] = attrs.field(converter=_strings)


def _predicates(values: Iterable[Predicate]) -> tuple[Predicate, ...]:
    return tuple(values)


@attrs.frozen
class And:
    """Every item holds."""

    items: tuple[Predicate, ...] = attrs.field(converter=_predicates)


@attrs.frozen
class Or:
    """At least one item holds."""

    items: tuple[Predicate, ...] = attrs.field(converter=_predicates)


@attrs.frozen
class Not:
    """The item does not hold (every leaf is already two-valued)."""

    item: Predicate


Predicate: TypeAlias = (
    ColumnTest | SpanMatch | AssessmentMatch | TextMatch | PromptMatch | And | Or | Not
)

#: MLflow's tie-breaks, after the ``order_by`` keys: newest first, then by id.
TIE_BREAKS: tuple[OrderKey, ...] = (
    OrderKey(TIMESTAMP, None, descending=True),
    OrderKey(REQUEST_ID, None, descending=False),
)


@attrs.frozen
class SearchPlan:
    """A search: filter, order and page.

    Attributes:
        text: Names the filter (and the search's scope): engines cache what they
            derive from ``where`` under it.
        where: The filter; ``None`` keeps every trace.
        order_by: The ``order_by`` keys as given; empty for the default order.
        offset: Matches skipped before the page.
        limit: At most this many keys (``None``: all of them).
    """

    text: str
    where: Predicate | None
    order_by: tuple[OrderKey, ...] = ()
    offset: int = 0
    limit: int | None = None

    @property
    def order(self) -> tuple[OrderKey, ...]:
        """Every sort key: ``order_by``, then the tie-breaks it does not name."""
        named = {k.identity for k in self.order_by}
        return (*self.order_by, *(k for k in TIE_BREAKS if k.identity not in named))


def plan_search(
    bound: BoundFilter,
    order_by: Iterable[OrderKey] = (),
    offset: int = 0,
    limit: int | None = None,
) -> SearchPlan:
    """Plan a search of a bound filter, ordered by ``order_by``, one page of it.

    Example:
        >>> from polartrace.bind.filter import parse_filter
        >>> plan_search(parse_filter("feedback.x IS NULL")).where
        Not(item=AssessmentMatch(kind='feedback', name='x', test=None))
    """
    return SearchPlan(bound.text, plan_filter(bound), tuple(order_by), offset, limit)


def plan_filter(bound: BoundFilter) -> Predicate | None:
    """The predicate of a bound filter (``None``: no filter)."""
    return None if bound.root is None else _predicate(bound.root)


def _predicate(node: Node) -> Predicate:
    match node:
        case Cond():
            return _leaf(node)
        case SpanGroup(conds=conds):
            return SpanMatch(conds)
        case AllOf(items=items):
            return And(_predicate(i) for i in items)
        case AnyOf(items=items):
            return Or(_predicate(i) for i in items)
        case Negate(item=item):
            return Not(_predicate(item))
        case _:  # pragma: no cover - Node is closed
            assert_never(node)


def _leaf(cond: Cond) -> Predicate:
    match cond.field.source:
        case Source.INFO | Source.TAG | Source.METADATA:
            return ColumnTest(cond)
        case Source.SPAN:
            return SpanMatch((cond,))
        case Source.TEXT:
            return TextMatch(cond)
        case Source.PROMPT:
            value = cond.value
            values = value if isinstance(value, tuple) else (value,)
            return PromptMatch(str(v) for v in values)
        case Source.ASSESSMENT:
            # IS [NOT] NULL asks whether such an assessment exists: an error-only
            # feedback (null value) exists.
            match = AssessmentMatch(str(cond.field.column), str(cond.key), cond)
            if cond.op is Op.IS_NOT_NULL:
                return attrs.evolve(match, test=None)
            if cond.op is Op.IS_NULL:
                return Not(attrs.evolve(match, test=None))
            return match
        case _:  # pragma: no cover - Source is closed
            assert_never(cond.field.source)
