"""Parse filter text into the syntax tree of :mod:`polartrace.language.ast`.

This is the only module that knows lark. It loads ``grammar.lark`` once, turns lark's
parse tree into AST nodes with a transformer, and translates every lark error, in one
function, into a :class:`~polartrace.values.errors.FilterSyntaxError` that quotes the
offending text, says what was expected and, where it helps, how to fix it. Fields and
values are recorded as written; whether they make sense is the binder's question.
"""

from __future__ import annotations

import math
import re
from typing import Any, NamedTuple, NoReturn, cast

from lark import Lark, Token
from lark.exceptions import LarkError
from lark.visitors import Transformer_NonRecursive

from polartrace.language import ast
from polartrace.language.ast import Expr, Field, Loc, Number, Op, String
from polartrace.language.diagnosis import _translate
from polartrace.language.tokens import _OPS, _clip, _loc
from polartrace.values.errors import FilterSyntaxError

__all__ = [
    "parse",
]

# maybe_placeholders: an empty slot between ANDs arrives as None (see and_expr).
_LARK = Lark.open_from_package(
    "polartrace.language", "grammar.lark", parser="lalr", maybe_placeholders=True
)

# Later stages walk the tree recursively; a cap far above any hand-written filter
# keeps "NOT NOT ... x" from ending in a RecursionError there.
_MAX_DEPTH = 100
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1

_NEGATED = {Op.LIKE: Op.NOT_LIKE, Op.ILIKE: Op.NOT_ILIKE, Op.RLIKE: Op.NOT_RLIKE}
_NEGATED[Op.IN] = Op.NOT_IN

_FIELD_HEAD = re.compile(r"`([^`]*)`|([A-Za-z_][A-Za-z0-9_]*)")
_KEY_SEGMENT = re.compile(r"([A-Za-z0-9_.\-]+)|`([^`]*)`|\"([^\"]*)\"|'([^']*)'")
_UNESCAPE = {q: re.compile(rf"\\([\\{q}])|{q}{q}") for q in "'\""}
_OR_HINT = "OR needs two conditions, one on each side"


class _Part(NamedTuple):
    """An expression, its extent in the text (parentheses included) and height."""

    node: Expr
    start: int
    end: int
    depth: int


class _Chain(NamedTuple):
    """The conditions of one AND-chain, and whether its first or last slot is empty."""

    parts: tuple[_Part, ...]
    open_start: bool
    open_end: bool


class _ToAst(Transformer_NonRecursive[Token, Any]):
    """Build AST nodes bottom-up, one method per grammar alias.

    Non-recursive, so deeply nested input cannot exhaust the Python stack here.
    Problems are raised as :class:`FilterSyntaxError`; lark wraps them in
    ``VisitError`` and :func:`_translate` unwraps them.
    """

    def __init__(self, text: str) -> None:
        super().__init__(visit_tokens=False)
        self._text = text

    def __default__(self, data: Any, children: Any, meta: Any) -> NoReturn:
        # An alias without a method would leak a raw Tree into the AST.
        msg = f"grammar alias {data!r} has no transformer method"
        raise NotImplementedError(msg)

    def _error(self, message: str, loc: Loc, hint: str | None = None) -> NoReturn:
        raise FilterSyntaxError(message, self._text, loc.start, end=loc.end, hint=hint)

    def _part(self, node: Expr, loc: Loc, depth: int) -> _Part:
        if depth > _MAX_DEPTH:
            self._error(f"the filter nests more than {_MAX_DEPTH} levels deep", loc)
        return _Part(node, loc.start, loc.end, depth)

    def _join(self, chain: _Chain) -> _Part:
        if len(chain.parts) == 1:
            return chain.parts[0]
        loc = Loc(chain.parts[0].start, chain.parts[-1].end)
        node = ast.And([p.node for p in chain.parts], loc=loc)
        return self._part(node, loc, max(p.depth for p in chain.parts) + 1)

    def filter(self, children: list[Any]) -> Expr | None:
        (chain,) = children
        # Nothing but ANDs ("AND", "AND AND"): MLflow takes that as no filter.
        return self._join(chain).node if chain.parts else None

    def or_expr(self, children: list[Any]) -> _Chain:
        chains: list[_Chain] = children[0::2]
        for i, keyword in enumerate(children[1::2]):
            left, right, problem = chains[i], chains[i + 1], ""
            if left.open_end and left.parts:
                problem = "follows AND with no condition between them"
            elif left.open_end:
                problem = "follows another OR with no condition between them"
                problem = problem if i else "has no condition on its left"
            elif right.open_start and right.parts:
                problem = "is followed by AND with no condition between them"
            elif right.open_start and i + 2 == len(chains):
                problem = "has no condition on its right"
            if problem:  # an empty chain between two ORs is the next OR's "left"
                self._error(f"'{keyword}' {problem}", _loc(keyword), _OR_HINT)
        if len(chains) == 1:
            return chains[0]
        parts = [self._join(chain) for chain in chains]
        loc = Loc(parts[0].start, parts[-1].end)
        node = ast.Or([p.node for p in parts], loc=loc)
        part = self._part(node, loc, max(p.depth for p in parts) + 1)
        return _Chain((part,), False, False)

    def and_expr(self, children: list[Any]) -> _Chain:
        slots = children[0::2]  # None where an AND meets an edge or another AND
        parts = tuple(slot for slot in slots if slot is not None)
        return _Chain(parts, slots[0] is None, slots[-1] is None)

    def negation(self, children: list[Any]) -> _Part:
        keyword, operand = children
        loc = Loc(_loc(keyword).start, operand.end)
        return self._part(ast.Not(operand.node, loc=loc), loc, operand.depth + 1)

    def group(self, children: list[Any]) -> _Part:
        lpar, chain, rpar = children
        loc = Loc(_loc(lpar).start, _loc(rpar).end)
        if not chain.parts:
            hint = "put a condition between the parentheses, or remove them"
            self._error("empty parentheses: expected a condition", loc, hint)
        inner = self._join(chain)  # "(x)" is x: a group leaves no node behind
        return _Part(inner.node, loc.start, loc.end, inner.depth)

    def condition(self, children: list[_Part]) -> _Part:
        return children[0]

    def compare(self, children: list[Any]) -> _Part:
        field, op, value = children
        return self._comparison(field, _OPS[op.lower()], value, _loc(op))

    def compare_not(self, children: list[Any]) -> _Part:
        field, keyword, op, value = children
        op_loc = Loc(_loc(keyword).start, _loc(op).end)
        return self._comparison(field, _NEGATED[_OPS[op.lower()]], value, op_loc)

    def is_null(self, children: list[Any]) -> _Part:
        field, keyword, *rest = children  # rest: [NULL] or [NOT, NULL]
        op = Op.IS_NOT_NULL if len(rest) == 2 else Op.IS_NULL
        op_loc = Loc(_loc(keyword).start, _loc(rest[-1]).end)
        return self._comparison(field, op, None, op_loc)

    def _comparison(self, field: Field, op: Op, value: Any, op_loc: Loc) -> _Part:
        loc = Loc(field.loc.start, value.loc.end if value else op_loc.end)
        node = ast.Comparison(field, op, value, loc=loc, op_loc=op_loc)
        return _Part(node, loc.start, loc.end, 1)

    def field(self, children: list[Any]) -> Field:
        (token,) = children
        text, loc = str(token), _loc(token)
        head = _FIELD_HEAD.match(text)
        assert head is not None  # FIELD's pattern starts with a name
        name = head[2] if head[1] is None else head[1]
        if head.end() == len(text):
            if not name:
                self._error("empty field name ``", loc)
            return Field(None, name, loc=loc)
        segments = list(_KEY_SEGMENT.finditer(text, head.end() + 1))
        key = "".join(next(g for g in m.groups() if g is not None) for m in segments)
        written = _clip(text[: head.end() + 1])
        if not key:
            hint = f"write the key after the dot, e.g. {written}environment"
            self._error(f"empty key after '{written}'", loc, hint)
        if (bare := segments[0][1]) and bare[0] in "-.":
            hint = f"quote the key: {written}`{key}`"
            self._error(f"key '{_clip(key)}' cannot start with '{bare[0]}'", loc, hint)
        return Field(name, key, loc=loc)

    def value_list(self, children: list[Any]) -> ast.ValueList:
        items = [c for c in children if isinstance(c, String | Number)]
        loc = Loc(_loc(children[0]).start, _loc(children[-1]).end)
        return ast.ValueList(items, loc=loc)

    def string(self, children: list[Any]) -> String:
        (token,) = children
        quote, body = token[0], token[1:-1]
        if "\\" in body or quote * 2 in body:
            # \<quote> and \\ are escapes, a doubled quote is one quote; any other
            # backslash stays, so that regexes such as '^\d+$' need no doubling.
            body = _UNESCAPE[quote].sub(lambda m: m[1] or quote, body)
        return String(body, loc=_loc(token))

    def number(self, children: list[Any]) -> Number:
        (token,) = children
        text, loc = str(token), _loc(token)
        if any(c in text for c in ".eE"):
            if math.isinf(real := float(text)):
                self._error(
                    f"number {_clip(text)} is too large", loc, "numbers must be finite"
                )
            return Number(real, loc=loc)
        # Bound the length first: int() of thousands of digits is slow or refused.
        digits = text.lstrip("+-").lstrip("0")
        integer = int(text) if len(digits) <= 19 else None
        if integer is None or not _INT_MIN <= integer <= _INT_MAX:
            hint = "integers are signed 64-bit; write a float such as 1e30 instead"
            self._error(f"integer {_clip(text)} out of range", loc, hint)
        return Number(integer, loc=loc)


def parse(text: str | None) -> Expr | None:
    """Parse a filter string into its syntax tree.

    Args:
        text: Filter text such as ``"status = 'OK' AND tags.env = 'prod'"``. ``None``
            and ``""`` mean no filter.

    Returns:
        The root node, or ``None`` for no filter (also for a filter of nothing but
        ANDs, which MLflow accepts as no filter).

    Raises:
        FilterSyntaxError: If the text does not follow the grammar. For any string,
            :class:`~polartrace.values.errors.FilterError` subclasses are the only
            exceptions raised.

    Example:
        >>> parse("tags.env = 'prod'").field
        Field(prefix='tags', key='env')
    """
    if not text:
        return None
    if text.isspace():
        msg, hint = "the filter is blank", "pass None or '' for no filter"
        raise FilterSyntaxError(msg, text, 0, end=len(text), hint=hint)
    _check_utf8(text)
    try:
        return cast("Expr | None", _ToAst(text).transform(_LARK.parse(text)))
    except LarkError as exc:
        error = _translate(exc, text)
        # Hide lark's traceback; keep a cause only for an internal failure.
        raise error from error.__cause__


def _check_utf8(text: str) -> None:
    r"""Refuse a lone surrogate: no trace can hold it, and engines cannot encode it.

    A byte that is not UTF-8 in a command-line argument reaches Python as one
    (``surrogateescape``), and so does ``"\ud800"`` written in Python.
    """
    if text.isascii():
        return
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        char = text[exc.start]
        msg = f"the filter holds {char!r}, a lone surrogate that is not Unicode text"
        hint = "a byte that is not UTF-8 on the command line arrives as one"
        raise FilterSyntaxError(msg, text, exc.start, hint=hint) from None


# --- errors ------------------------------------------------------------------------
