"""The bound filter: what a filter tests, checked and resolved against the catalogue.

`polartrace.bind.filter` produces these nodes; the plan (`polartrace.plan`) and every
engine read them. They are plain data with no dependency on a backend.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias

import attrs

from polartrace.catalogue.fields import FieldSpec
from polartrace.language import ast
from polartrace.language.ast import Op

__all__ = [
    "AllOf",
    "AnyOf",
    "BoundFilter",
    "BoundValue",
    "Cond",
    "Dynamic",
    "Negate",
    "Node",
    "Scalar",
    "SpanGroup",
]


@attrs.frozen
class Dynamic:
    """A literal compared against a dynamic value (span attribute, assessment).

    Attributes:
        text: The literal's canonical text (a string is itself; ``3.0`` is ``3``).
        number: Its numeric reading (a number literal or a numeric string), if any.
        is_number: Whether it was written as a number literal (``< > <= >=`` need one).
    """

    text: str
    number: float | None
    is_number: bool


Scalar: TypeAlias = str | int | float | Dynamic
BoundValue: TypeAlias = Scalar | tuple[Scalar, ...] | None


@attrs.frozen
class Cond:
    """One checked comparison.

    Attributes:
        field: The catalogue entry it tests.
        key: The tag/metadata/attribute key or assessment name (``None`` for fixed
            fields; reserved-key fields carry their fixed key from the catalogue;
            ``issue.id = 'i'`` is bound as the issue assessment ``i`` ``IS NOT
            NULL``).
        op: The operator, looked up in ``operators.OPERATORS`` by both engines.
        value: The converted literal: a ``str`` (strings, patterns, state names), an
            ``int``/``float`` (times and durations), a ``Dynamic``, a tuple of those
            for ``IN``/``NOT IN``, or ``None`` for ``IS [NOT] NULL``. Prompt values
            are ``name/version`` strings. ILIKE patterns are kept as written.
    """

    field: FieldSpec
    key: str | None
    op: Op
    value: BoundValue
    loc: ast.Loc = attrs.field(default=ast.Loc(0, 0), eq=False, repr=False)


def _conds(values: Iterable[Cond]) -> tuple[Cond, ...]:
    return tuple(values)


def _nodes(values: Iterable[Node]) -> tuple[Node, ...]:
    return tuple(values)


@attrs.frozen
class SpanGroup:
    """Span conditions that must all hold on one and the same span."""

    conds: tuple[Cond, ...] = attrs.field(converter=_conds)


@attrs.frozen
class AllOf:
    """Every item holds."""

    items: tuple[Node, ...] = attrs.field(converter=_nodes)


@attrs.frozen
class AnyOf:
    """At least one item holds."""

    items: tuple[Node, ...] = attrs.field(converter=_nodes)


@attrs.frozen
class Negate:
    """The item does not hold (missing values made it false, so this is plain NOT)."""

    item: Node


Node: TypeAlias = Cond | SpanGroup | AllOf | AnyOf | Negate


@attrs.frozen
class BoundFilter:
    """A filter ready for either engine; ``root is None`` means "every trace"."""

    text: str
    root: Node | None
