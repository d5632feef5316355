"""The filter syntax tree: frozen attrs nodes with source locations, and ``unparse``.

The parser produces these nodes and nothing downstream sees lark. Nodes describe what
was *written* (prefix and key as typed, quotes removed); the binder decides what they
mean. Source locations are excluded from equality so that ``parse(unparse(node)) ==
node`` holds even though the unparsed text has different offsets.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from typing import TypeAlias

import attrs

__all__ = [
    "AggFunc",
    "Aggregate",
    "AggregateComparison",
    "And",
    "Axis",
    "Comparison",
    "Expr",
    "Field",
    "Literal",
    "Loc",
    "Not",
    "Number",
    "Op",
    "Or",
    "Quantifier",
    "Relation",
    "SpanQuantifier",
    "String",
    "Value",
    "ValueList",
    "unparse",
]


class Op(enum.Enum):
    """Every comparison operator of the filter language, valued by its text."""

    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    LIKE = "LIKE"
    ILIKE = "ILIKE"
    RLIKE = "RLIKE"
    NOT_LIKE = "NOT LIKE"
    NOT_ILIKE = "NOT ILIKE"
    NOT_RLIKE = "NOT RLIKE"
    IN = "IN"
    NOT_IN = "NOT IN"
    IS_NULL = "IS NULL"
    IS_NOT_NULL = "IS NOT NULL"

    def __str__(self) -> str:
        return self.value


@attrs.frozen
class Loc:
    """A half-open ``[start, end)`` range of character offsets in the filter string."""

    start: int
    end: int


_NOWHERE = Loc(0, 0)


# Typed converters: with a bare ``converter=tuple`` mypy cannot infer the element type
# of the generated ``__init__`` argument and rejects every caller.
def _literals(items: Iterable[Literal]) -> tuple[Literal, ...]:
    return tuple(items)


def _exprs(items: Iterable[Expr]) -> tuple[Expr, ...]:
    return tuple(items)


def _loc_field() -> Loc:
    # Locations never take part in equality or hashing: two trees that say the same
    # thing are equal wherever their text stood.
    return attrs.field(default=_NOWHERE, eq=False, repr=False)  # type: ignore[no-any-return, unused-ignore]


@attrs.frozen
class Field:
    """A field reference as written: ``prefix.key`` with quotes removed.

    ``prefix`` is ``None`` when the identifier had no dot (``status``), otherwise the
    text before the first dot (``tags``, ``attributes``, ``span``). ``key`` is the rest,
    with any quoted parts unquoted (``tags.`my key``` has key ``my key``;
    ``span.attributes.`a.b``` has key ``attributes.a.b``).
    """

    prefix: str | None
    key: str
    loc: Loc = _loc_field()


@attrs.frozen
class String:
    """A quoted string literal, escapes already resolved."""

    value: str
    loc: Loc = _loc_field()


@attrs.frozen
class Number:
    """A numeric literal: ``int`` when written without a point or exponent."""

    value: int | float
    loc: Loc = _loc_field()


Literal: TypeAlias = String | Number


@attrs.frozen
class ValueList:
    """A parenthesised list of literals, as used by ``IN`` and ``NOT IN``."""

    items: tuple[Literal, ...] = attrs.field(converter=_literals)
    loc: Loc = _loc_field()


Value: TypeAlias = String | Number | ValueList


@attrs.frozen
class Comparison:
    """``field op value``; ``value`` is ``None`` for ``IS [NOT] NULL``."""

    field: Field
    op: Op
    value: Value | None
    loc: Loc = _loc_field()
    op_loc: Loc = _loc_field()


@attrs.frozen
class And:
    """Conjunction of two or more operands, in source order."""

    operands: tuple[Expr, ...] = attrs.field(converter=_exprs)
    loc: Loc = _loc_field()


@attrs.frozen
class Or:
    """Disjunction of two or more operands, in source order."""

    operands: tuple[Expr, ...] = attrs.field(converter=_exprs)
    loc: Loc = _loc_field()


@attrs.frozen
class Not:
    """Boolean negation of its operand (two-valued: see docs/semantics.md)."""

    operand: Expr
    loc: Loc = _loc_field()


class Quantifier(enum.Enum):
    """How many of a trace's spans must satisfy a span group."""

    ANY = "ANY"
    NO = "NO"
    EVERY = "EVERY"


class Axis(enum.Enum):
    """How a related span stands to the span of a quantifier (``HAS CHILD``...)."""

    CHILD = "CHILD"
    DESCENDANT = "DESCENDANT"
    PARENT = "PARENT"
    ANCESTOR = "ANCESTOR"
    SIBLING = "SIBLING"


class AggFunc(enum.Enum):
    """An aggregate over a trace's spans, valued by its name in the language."""

    COUNT = "count"
    SUM = "sum"
    MIN = "min"
    MAX = "max"
    AVG = "avg"


@attrs.frozen
class Relation:
    """``HAS [NO] <axis> (group)`` after a span group."""

    axis: Axis
    negated: bool
    group: Expr
    loc: Loc = _loc_field()


@attrs.frozen
class SpanQuantifier:
    """``ANY|NO|EVERY SPAN (group)``, optionally followed by a relation."""

    quantifier: Quantifier
    group: Expr
    relation: Relation | None = None
    loc: Loc = _loc_field()


@attrs.frozen
class Aggregate:
    """``count(SPAN [WHERE group])`` or ``sum|min|max|avg(field [WHERE group])``.

    ``field`` is ``None`` for ``count``; ``where`` is ``None`` for every span.
    """

    func: AggFunc
    field: Field | None
    where: Expr | None = None
    loc: Loc = _loc_field()


@attrs.frozen
class AggregateComparison:
    """``aggregate op literal``, e.g. ``count(SPAN WHERE type = 'LLM') >= 2``."""

    aggregate: Aggregate
    op: Op
    value: Literal
    loc: Loc = _loc_field()
    op_loc: Loc = _loc_field()


Expr: TypeAlias = Comparison | And | Or | Not | SpanQuantifier | AggregateComparison


# --- unparse -----------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*\Z")
_BARE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_KEYWORDS = frozenset(
    {"and", "or", "not", "in", "is", "null", "like", "ilike", "rlike"}
)
# Words that start a quantifier or an aggregate when followed by what completes one.
_STRUCTURE_WORDS = frozenset(
    {"any", "no", "every", "count", "sum", "min", "max", "avg"}
)


def _quote_key(text: str) -> str:
    # A key after "prefix." may use any of the three quotes.
    for quote in ("`", '"', "'"):
        if quote not in text:
            return f"{quote}{text}{quote}"
    msg = f"cannot quote key {text!r}: it contains every quote character"
    raise ValueError(msg)


def _backtick(text: str) -> str:
    # A prefix, or a name without a prefix, may only be backticked: a quoted word on
    # the left of an operator is a value, not a field.
    if "`" in text:
        msg = f"cannot write {text!r} as a field name: it contains a backtick"
        raise ValueError(msg)
    return f"`{text}`"


def _unparse_field(field: Field) -> str:
    if field.prefix is None:
        bare = _BARE_NAME.match(field.key) and field.key.lower() not in _KEYWORDS
        # "any" alone is a name; unparse backticks it anyway, never to read as "ANY".
        bare = bare and field.key.lower() not in _STRUCTURE_WORDS
        return field.key if bare else _backtick(field.key)
    prefix = field.prefix if _BARE_NAME.match(field.prefix) else _backtick(field.prefix)
    key = field.key if _BARE_KEY.match(field.key) else _quote_key(field.key)
    return f"{prefix}.{key}"


def _unparse_literal(value: Literal) -> str:
    if isinstance(value, String):
        # Doubling quotes and backslashes is the one spelling that reads back exactly.
        body = value.value.replace("\\", "\\\\").replace("'", "''")
        return f"'{body}'"
    return repr(value.value)


def _unparse_value(value: Value) -> str:
    if isinstance(value, ValueList):
        return "(" + ", ".join(_unparse_literal(item) for item in value.items) + ")"
    return _unparse_literal(value)


def _unparse_aggregate(node: Aggregate) -> str:
    subject = "SPAN" if node.field is None else _unparse_field(node.field)
    where = "" if node.where is None else f" WHERE {unparse(node.where)}"
    return f"{node.func.value}({subject}{where})"


def _unparse_quantifier(node: SpanQuantifier) -> str:
    text = f"{node.quantifier.value} SPAN ({unparse(node.group)})"
    relation = node.relation
    if relation is not None:
        no = "NO " if relation.negated else ""
        text += f" HAS {no}{relation.axis.value} ({unparse(relation.group)})"
    return text


def _unparse_operand(node: Expr, parent: type) -> str:
    text = unparse(node)
    # Parenthesise every nested connective so the tree shape survives a round trip.
    if isinstance(node, And | Or) and parent is not None:
        return f"({text})"
    return text


def unparse(node: Expr | None) -> str:
    r"""Return filter text that parses back to ``node`` (locations aside).

    Args:
        node: A syntax tree from :func:`polartrace.language.parser.parse`, or ``None``
        for the
            empty filter.

    Returns:
        Canonical filter text: upper-case keywords, single-quoted strings with
        doubled quotes and backslashes, every nested AND/OR parenthesised.

    Example:
        >>> from polartrace.language.parser import parse
        >>> unparse(parse("status='OK' and not tags.env = \"prod\""))
        "status = 'OK' AND NOT tags.env = 'prod'"
    """
    match node:
        case None:
            return ""
        case Comparison(field=field, op=op, value=value):
            text = f"{_unparse_field(field)} {op.value}"
            return text if value is None else f"{text} {_unparse_value(value)}"
        case And(operands=operands):
            return " AND ".join(_unparse_operand(child, And) for child in operands)
        case Or(operands=operands):
            return " OR ".join(_unparse_operand(child, Or) for child in operands)
        case Not(operand=operand):
            return f"NOT {_unparse_operand(operand, Not)}"
        case SpanQuantifier():
            return _unparse_quantifier(node)
        case AggregateComparison(aggregate=aggregate, op=op, value=value):
            return (
                f"{_unparse_aggregate(aggregate)} {op.value} {_unparse_literal(value)}"
            )
    msg = f"not a filter node: {node!r}"
    raise TypeError(msg)
