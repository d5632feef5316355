"""Strategies for filters: `comparisons`, `filters` and `filter_strings`.

Fields and operators come from the field catalogue
(``polartrace.catalogue.fields.FIELDS``), literals from the shared vocabulary, LIKE and
RLIKE patterns are cut from its words; strategies are cached per field and operator.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any, Final

from hypothesis import assume
from hypothesis import strategies as st

from polartrace.catalogue.fields import (
    FIELDS,
    PREFIXES,
    RESERVED_KEYS,
    FieldSpec,
    Prefix,
    ValueType,
)
from polartrace.catalogue.operators import OPERATORS, Base
from polartrace.language import ast
from polartrace.language.ast import Op
from polartrace.testing._vocab import (
    _ISO_TIMES,
    _KEYS,
    _MISSES,
    _NUMBERS,
    _WORDS,
)

# Written spellings of each prefix, in catalogue order (deterministic for replay).
_SPELLINGS: Final = {
    prefix: tuple(word for word, p in PREFIXES.items() if p is prefix and word)
    for prefix in Prefix
}
_OP_ORDER: Final = list(Op)


_REGEX_CLASSES: Final = ("[a-z]", "[A-Z]", "[0-9]", "\\d", "[^a-z]", ".")


def _regex_literal(char: str) -> str:
    # \xHH reads the same in Rust's regex crate and Python's re; letters and
    # digits (any script) stand for themselves in both.
    if char.isascii() and not char.isalnum():
        return f"\\x{ord(char):02x}"
    return char


@st.composite
def _cut(draw: st.DrawFn, words: tuple[str, ...]) -> tuple[str, int, int]:
    """A word and the bounds of a piece of it."""
    word = draw(st.sampled_from(words))
    start = draw(st.integers(0, len(word)))
    return word, start, draw(st.integers(start, len(word)))


@st.composite
def _regexes(draw: st.DrawFn, words: tuple[str, ...]) -> str:
    """A regex from the common subset that matches a piece of a word, or nearly."""
    word, start, end = draw(_cut(words))
    atoms = [_regex_literal(char) for char in word[start:end]]
    if atoms:
        positions = st.integers(0, len(atoms) - 1)
        for index in draw(st.sets(positions, max_size=2)):
            atoms[index] = draw(st.sampled_from(_REGEX_CLASSES))
        for index in draw(st.sets(positions, max_size=1)):
            atoms[index] += draw(st.sampled_from(("?", "*", "+")))
    body = "".join(atoms)
    if draw(st.integers(0, 4)) == 0:  # a group with an alternative
        other, lo, hi = draw(_cut(words))
        alternative = "".join(_regex_literal(c) for c in other[lo:hi]) or "x"
        body = f"({body or 'y'}|{alternative})" + draw(st.sampled_from(("", "?", "+")))
    if start == 0 and draw(st.booleans()):
        body = "^" + body
    if end == len(word) and draw(st.booleans()):
        body += "$"
    return body


@st.composite
def _like_patterns(draw: st.DrawFn, words: tuple[str, ...], fold: bool) -> str:
    """A LIKE pattern that matches a word, or nearly; case-changed when ``fold``."""
    word, start, end = draw(_cut(words))
    core = list(word[start:end])
    if core:
        for index in draw(st.sets(st.integers(0, len(core) - 1), max_size=2)):
            core[index] = draw(st.sampled_from(("_", "%")))
    lead = "%" if start > 0 else draw(st.sampled_from(("", "%")))
    trail = "%" if end < len(word) else draw(st.sampled_from(("", "%")))
    pattern = lead + "".join(core) + trail
    if fold:
        pattern = draw(st.sampled_from((pattern, pattern.upper(), pattern.swapcase())))
    return pattern


_CLOSED_SETS: Final = (ValueType.STATE, ValueType.SPAN_STATUS, ValueType.PROMPT)
_Extra = st.SearchStrategy[str] | None


def _scalar(spec: FieldSpec, op: Op, extra: _Extra) -> st.SearchStrategy[ast.Literal]:
    """One literal that ``spec`` accepts with ``op``."""
    vtype = spec.value_type
    numbers = st.sampled_from(_NUMBERS.get(spec.name, (0, 1))).map(ast.Number)
    if extra is not None:
        integers = st.integers(-(2**63), 2**63 - 1)
        finite = st.floats(allow_nan=False, allow_infinity=False)
        numbers = st.one_of(numbers, integers.map(ast.Number), finite.map(ast.Number))
    if vtype in (ValueType.TIME, ValueType.NUMBER):
        spelt = numbers.map(lambda number: ast.String(repr(number.value)))
        if vtype is ValueType.TIME:
            spelt = st.one_of(spelt, st.sampled_from(_ISO_TIMES).map(ast.String))
        return st.one_of(numbers, spelt)
    words = _WORDS[spec.name]
    # States, span statuses and prompts must be spelt right: no misses there.
    strings = st.sampled_from(words if vtype in _CLOSED_SETS else (*words, *_MISSES))
    if extra is not None:
        strings = st.one_of(strings, extra)
    if vtype is ValueType.DYNAMIC:
        if OPERATORS[op].ordering:
            return numbers
        return st.one_of(numbers, strings.map(ast.String))
    return strings.map(ast.String)


def _bad_value(spec: FieldSpec, op: Op) -> st.SearchStrategy[ast.Literal]:
    """A literal the binder rejects for ``spec`` and ``op`` (mostly)."""
    vtype, base = spec.value_type, OPERATORS[op].base
    if base is Base.RLIKE:
        return st.sampled_from(("(", "a{2,1}", "(?<=a)b", "[z-a]")).map(ast.String)
    if OPERATORS[op].pattern:
        return st.just(ast.Number(1))
    if vtype in (ValueType.TIME, ValueType.NUMBER):
        return st.sampled_from(("soon", "2023-02-30", "1 000")).map(ast.String)
    if vtype is ValueType.DYNAMIC:  # ordering operators need a number literal
        return st.just(ast.String("3"))
    if vtype in (ValueType.STATE, ValueType.SPAN_STATUS):
        return st.sampled_from(("ok", "FAILED", "")).map(ast.String)
    if vtype is ValueType.PROMPT:
        return st.sampled_from(("qa", "a/b/c", "/1")).map(ast.String)
    return st.just(ast.Number(1))


@functools.cache
def _value(
    spec: FieldSpec, op: Op, extra: _Extra, bad: bool
) -> st.SearchStrategy[ast.Value | None]:
    """The right-hand side of ``spec op ...``: a literal, a list, or ``None``."""
    if op in (Op.IS_NULL, Op.IS_NOT_NULL):
        return st.none()
    if op in (Op.IN, Op.NOT_IN):
        items = st.lists(_scalar(spec, op, extra), min_size=1, max_size=3)
        if bad:
            items = st.tuples(items, _bad_value(spec, op)).map(lambda p: [*p[0], p[1]])
        return items.map(ast.ValueList)
    if bad:
        return _bad_value(spec, op)
    if not OPERATORS[op].pattern:
        return _scalar(spec, op, extra)
    words = _WORDS.get(spec.name) or tuple(map(str, _NUMBERS.get(spec.name, (0,))))
    words = (*words, *_MISSES)
    base = OPERATORS[op].base
    patterns = (
        _regexes(words)
        if base is Base.RLIKE
        else _like_patterns(words, fold=base is Base.ILIKE)
    )
    if extra is not None:
        patterns = st.one_of(patterns, extra)
    return patterns.map(ast.String)


def _quotable(key: str) -> bool:
    # unparse quotes a key with a quote character it does not contain.
    return bool(key) and not set("`'\"") <= set(key)


@functools.cache
def _written(
    spec: FieldSpec, extra: _Extra
) -> st.SearchStrategy[tuple[ast.Field, FieldSpec]]:
    """Spellings of ``spec`` as users write it, with the field each resolves to."""
    spellings = _SPELLINGS[spec.prefix]
    if spec.prefix is Prefix.ATTRIBUTE:
        names = (spec.name, *spec.aliases)
        written = [ast.Field(p, n) for p in (None, *spellings) for n in names]
        # Reserved keys spell the same field: tags.`mlflow.traceName` is name.
        for (prefix, key), target in RESERVED_KEYS.items():
            if target is spec:
                written += [ast.Field(p, key) for p in _SPELLINGS[prefix]]
        # Mapped, not sampled as pairs: a FieldSpec in a strategy's repr is huge.
        return st.sampled_from(written).map(lambda field: (field, spec))
    if not spec.keyed:  # span.name, issue.id: the key is the field's own name
        key = spec.name.partition(".")[2]
        fields = [ast.Field(prefix, key) for prefix in spellings]
        return st.sampled_from(fields).map(lambda field: (field, spec))
    keys = st.sampled_from(_KEYS[spec.name])
    if extra is not None:
        keys = st.one_of(keys, extra.filter(_quotable))
    lead = "attributes." if spec.prefix is Prefix.SPAN else ""

    def field(pair: tuple[str, str]) -> tuple[ast.Field, FieldSpec]:
        prefix, key = pair
        return ast.Field(prefix, lead + key), RESERVED_KEYS.get(
            (spec.prefix, key), spec
        )

    return st.tuples(st.sampled_from(spellings), keys).map(field)


@functools.cache
def _operators(
    spec: FieldSpec, only: tuple[Op, ...] | None
) -> st.SearchStrategy[Op] | None:
    # Sorted: frozenset order depends on the hash seed, which would break replay.
    ops = [op for op in _OP_ORDER if op in spec.ops and (only is None or op in only)]
    return st.sampled_from(ops) if ops else None


@functools.cache
def _rejected(spec: FieldSpec) -> st.SearchStrategy[Op] | None:
    ops = [op for op in _OP_ORDER if op not in spec.ops]
    return st.sampled_from(ops) if ops else None  # dynamic fields take every op


_BY_NAME: Final = {spec.name: spec for spec in FIELDS}


@st.composite
def _comparisons(
    draw: st.DrawFn,
    names: tuple[str, ...],
    only: tuple[Op, ...] | None,
    errors: bool,
    extra: _Extra,
) -> ast.Comparison:
    field, spec = draw(_written(_BY_NAME[draw(st.sampled_from(names))], extra))
    rejected = _rejected(spec)
    if errors and rejected is not None and draw(st.integers(0, 15)) == 0:
        op = draw(rejected)
        return ast.Comparison(field, op, draw(_value(spec, op, extra, bad=False)))
    operators = _operators(spec, only)
    # Only a reserved key can leave nothing here (tags.`mlflow.linkedPrompts` is
    # prompt, which takes = and IN): such draws are rejected.
    assume(operators is not None)
    assert operators is not None  # for type checkers
    op = draw(operators)
    bad = (
        errors
        and op not in (Op.IS_NULL, Op.IS_NOT_NULL)
        and draw(st.integers(0, 15)) == 0
    )
    return ast.Comparison(field, op, draw(_value(spec, op, extra, bad)))


_FILTERABLE: Final = tuple(spec for spec in FIELDS if spec.ops)


def comparisons(
    *,
    fields: Sequence[FieldSpec] = _FILTERABLE,
    ops: Sequence[Op] | None = None,
    errors: bool = False,
    text: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[ast.Comparison]:
    """Generate one comparison on a catalogue field with an operator it accepts.

    The field is spelt in any accepted way (prefix spellings, aliases, reserved
    tag and metadata keys) and the literal suits the field and operator: states,
    ISO-8601 dates and numeric strings, ``name/version`` prompts, LIKE patterns with
    ``%`` and ``_``, regexes from the common Rust/Python subset, ``IN`` lists, or no
    value for ``IS [NOT] NULL``. Values and keys come from the vocabulary of
    :func:`traces`.

    Args:
        fields: Catalogue entries to draw from (default: every filterable field).
        ops: Only these operators (default: every operator the field accepts).
        errors: Now and then draw an operator the field rejects or a literal the
            binder rejects, for tests that expect filter errors.
        text: Extra strings for literals, patterns and keys (for example
            ``st.text()``), for syntax tests that need more than the vocabulary.

    Returns:
        A strategy of :class:`polartrace.language.ast.Comparison` nodes.

    Example:
        >>> from hypothesis import find
        >>> from polartrace.language.ast import unparse
        >>> from polartrace.catalogue.fields import FIELDS
        >>> latency = next(f for f in FIELDS if f.name == "execution_time_ms")
        >>> unparse(find(comparisons(fields=[latency], ops=[Op.IS_NULL]), bool))
        'execution_time_ms IS NULL'
    """
    only = None if ops is None else tuple(ops)
    return _comparisons(tuple(spec.name for spec in fields), only, errors, text)


def filters(
    *,
    max_leaves: int = 5,
    fields: Sequence[FieldSpec] = _FILTERABLE,
    errors: bool = False,
    text: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[ast.Expr]:
    """Generate filter syntax trees: comparisons joined by AND, OR, NOT and nesting.

    Leaves come from :func:`comparisons`; ``And`` and ``Or`` nodes have two or
    three operands, and any node may be negated or nested (parentheses are
    implied by the tree; :func:`polartrace.language.ast.unparse` writes them). Span
    comparisons in one AND-chain form one span group, so trees with several of them
    test the same-span rule.

    Args:
        max_leaves: At most about this many comparisons per tree.
        fields: Catalogue entries to draw comparisons from.
        errors: Sometimes draw comparisons that the binder rejects.
        text: Extra strings for literals and keys (see :func:`comparisons`).

    Returns:
        A strategy of :data:`polartrace.language.ast.Expr` trees.

    Example:
        >>> from hypothesis import given, settings
        >>> from polartrace import parse_filter
        >>> from polartrace.language.ast import unparse
        >>> @given(filters())
        ... @settings(max_examples=10)
        ... def test_generated_filters_bind(tree):
        ...     parse_filter(unparse(tree))  # raises if the binder rejects it
        >>> test_generated_filters_bind()
    """
    leaves = comparisons(fields=fields, errors=errors, text=text)

    def extend(children: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
        operands = st.lists(children, min_size=2, max_size=3)
        return st.one_of(
            operands.map(ast.And), operands.map(ast.Or), children.map(ast.Not)
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


def filter_strings(**kwargs: Any) -> st.SearchStrategy[str]:
    """Generate filter text: :func:`filters` written out by ``ast.unparse``.

    Args:
        **kwargs: Passed to :func:`filters`.

    Returns:
        A strategy of filter strings.

    Example:
        >>> from hypothesis import find
        >>> find(filter_strings(), lambda s: s.startswith("status ="))
        "status = 'STATE_UNSPECIFIED'"
    """
    return filters(**kwargs).map(ast.unparse)
