"""Operator spellings, token positions and clipped quotes.

What the parser and its diagnosis both read.
"""

from __future__ import annotations

from lark import Token

from polartrace.language.ast import Loc, Op

_OPS = {s: Op(s) for s in ("=", "!=", "<", "<=", ">", ">=")}
_OPS |= {"like": Op.LIKE, "ilike": Op.ILIKE, "rlike": Op.RLIKE, "in": Op.IN}


def _loc(token: Token) -> Loc:
    return Loc(token.start_pos or 0, token.end_pos or 0)


def _clip(text: str, width: int = 30) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
