"""Comparison semantics as data: the operator table both engines read.

Every operator is a *base* test plus a negation flag. A base test is false on a
missing value (except ``IS NULL``, which is exactly "missing"); a negated operator is
"present and not base". That one rule is the two-valued missing-value rule
(docs/semantics.md#missing-values), so ``tags.env != 'prod'`` skips traces without
``env`` while ``NOT tags.env = 'prod'`` keeps them. ``compile.py`` maps each base
test to a Polars expression and ``reference.py`` to a Python function; neither
decides negation on its own.

LIKE patterns are translated once, here, into a regex both Rust's ``regex`` crate
(Polars) and Python's ``re`` read the same way, plus a cheaper plan (equality, prefix,
suffix, substring) when the pattern allows one.
"""

from __future__ import annotations

import enum
import re

import attrs

from polartrace.language.ast import Op

__all__ = [
    "NUMBER_RE",
    "OPERATORS",
    "Base",
    "LikePlan",
    "OpSpec",
    "like_body",
    "like_plan",
    "like_to_regex",
    "parse_number",
]


class Base(enum.Enum):
    """The positive tests every operator is built from."""

    EQ = "="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    LIKE = "LIKE"
    ILIKE = "ILIKE"
    RLIKE = "RLIKE"
    IN = "IN"
    IS_NULL = "IS NULL"


@attrs.frozen
class OpSpec:
    """How an operator evaluates: ``present and (base != negated)``."""

    base: Base
    negated: bool = False

    @property
    def ordering(self) -> bool:
        """Whether the base test is ``< <= > >=`` (numbers only)."""
        return self.base in {Base.LT, Base.LE, Base.GT, Base.GE}

    @property
    def pattern(self) -> bool:
        """Whether the value is a LIKE/ILIKE/RLIKE pattern."""
        return self.base in {Base.LIKE, Base.ILIKE, Base.RLIKE}


OPERATORS: dict[Op, OpSpec] = {
    Op.EQ: OpSpec(Base.EQ),
    Op.NE: OpSpec(Base.EQ, negated=True),
    Op.LT: OpSpec(Base.LT),
    Op.LE: OpSpec(Base.LE),
    Op.GT: OpSpec(Base.GT),
    Op.GE: OpSpec(Base.GE),
    Op.LIKE: OpSpec(Base.LIKE),
    Op.ILIKE: OpSpec(Base.ILIKE),
    Op.RLIKE: OpSpec(Base.RLIKE),
    Op.NOT_LIKE: OpSpec(Base.LIKE, negated=True),
    Op.NOT_ILIKE: OpSpec(Base.ILIKE, negated=True),
    Op.NOT_RLIKE: OpSpec(Base.RLIKE, negated=True),
    Op.IN: OpSpec(Base.IN),
    Op.NOT_IN: OpSpec(Base.IN, negated=True),
    Op.IS_NULL: OpSpec(Base.IS_NULL),
    # "present and not missing" is simply "present".
    Op.IS_NOT_NULL: OpSpec(Base.IS_NULL, negated=True),
}

#: A numeric string is a string that is exactly a number literal of the filter
#: language: attached sign, optional fraction and exponent, no spaces.
NUMBER_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z")

_INT_RE = re.compile(r"[+-]?\d+\Z")
_INT64 = (-(2**63), 2**63 - 1)


def parse_number(text: str) -> int | float | None:
    """Return the number a numeric string spells, or ``None`` if it is not one.

    Integers stay ``int`` when they fit in 64 bits (beyond that they compare as
    floats); everything else is a ``float``.

    >>> parse_number("150"), parse_number("1e3"), parse_number("-0.5")
    (150, 1000.0, -0.5)
    >>> parse_number(" 1") is None, parse_number("0x10") is None
    (True, True)
    """
    if not NUMBER_RE.match(text):
        return None
    if _INT_RE.match(text):
        value = int(text)
        if _INT64[0] <= value <= _INT64[1]:
            return value
    return float(text)


def _escape(char: str) -> str:
    # \xHH is read identically by Rust's regex crate and Python's re, unlike
    # re.escape's output, which Rust rejects for some characters.
    if char.isascii() and not char.isalnum():
        return f"\\x{ord(char):02x}"
    return char


def like_body(pattern: str) -> str:
    """Translate a SQL LIKE pattern into an unanchored regex body.

    ``%`` is any run and ``_`` exactly one character; there is no escape character,
    so every other character is literal. Python callers use it with
    ``re.fullmatch(body, value, re.DOTALL)``.

    >>> like_body("a%b_c")
    'a.*b.c'
    """
    return "".join(
        ".*" if ch == "%" else "." if ch == "_" else _escape(ch) for ch in pattern
    )


def like_to_regex(pattern: str) -> str:
    r"""Translate a SQL LIKE pattern into a regex anchored at both ends, for Polars.

    Rust's ``$`` without multi-line mode is the very end of the text; Python's would
    also match before a final newline, which is why the reference evaluator uses
    ``like_body`` with ``re.fullmatch`` instead.

    >>> like_to_regex("50.5%")
    '(?s)^50\\x2e5.*$'
    """
    return f"(?s)^{like_body(pattern)}$"


class LikeKind(enum.Enum):
    """The cheapest test that decides a LIKE pattern."""

    EQUALS = "equals"
    PREFIX = "prefix"
    SUFFIX = "suffix"
    CONTAINS = "contains"
    ANY = "any"  # the pattern is only '%' signs: every present value matches
    REGEX = "regex"


@attrs.frozen
class LikePlan:
    """A LIKE pattern reduced to a literal test where possible."""

    kind: LikeKind
    literal: str


def like_plan(pattern: str) -> LikePlan:
    """Return the cheapest equivalent test for a LIKE pattern.

    >>> like_plan("%refund%")
    LikePlan(kind=<LikeKind.CONTAINS: 'contains'>, literal='refund')
    >>> like_plan("prod%").kind, like_plan("p%n").kind
    (<LikeKind.PREFIX: 'prefix'>, <LikeKind.REGEX: 'regex'>)
    """
    if "_" in pattern:
        return LikePlan(LikeKind.REGEX, like_to_regex(pattern))
    core = pattern.strip("%")
    if not core:
        return LikePlan(LikeKind.ANY if pattern else LikeKind.EQUALS, "")
    if "%" in core:
        return LikePlan(LikeKind.REGEX, like_to_regex(pattern))
    lead, trail = pattern.startswith("%"), pattern.endswith("%")
    if lead and trail:
        return LikePlan(LikeKind.CONTAINS, core)
    if lead:
        return LikePlan(LikeKind.SUFFIX, core)
    if trail:
        return LikePlan(LikeKind.PREFIX, core)
    return LikePlan(LikeKind.EQUALS, core)
