r"""Validate RLIKE patterns against the regex dialect that evaluates them.

RLIKE runs in Polars, i.e. Rust's ``regex`` crate (linear time, no look-around or
back-references). The only faithful check of that dialect is the crate itself, so
this module asks Polars to compile the pattern once. It is the one place outside the
engine that imports Polars; the binder calls it so that a bad pattern is a filter
error at bind time instead of a silent non-match at search time.

MLflow evaluates RLIKE with Python's ``re``, which reads some text as literal that
the crate rejects: a ``{`` that does not open a valid ``{m,n}`` (``'^{"'``, common
against JSON metadata), ``{,n}``, a ``[`` or ``&&``/``~~`` inside a class.
:func:`from_python` rewrites those spellings into the crate's, so a pattern written
for MLflow means the same here (docs/compatibility.md).
"""

from __future__ import annotations

import functools
import re

import attrs
import polars as pl

__all__ = [
    "RegexProblem",
    "from_python",
    "regex_problem",
]

_QUANTIFIER = re.compile(r"\{(\d*)(?:,(\d*))?\}")


@attrs.frozen
class RegexProblem:
    """Why a pattern does not compile, and where (0-based offset in the pattern)."""

    message: str
    offset: int


@functools.lru_cache(maxsize=512)
def regex_problem(pattern: str) -> RegexProblem | None:
    r"""Return why ``pattern`` is not a valid Rust regex, or ``None`` if it is.

    >>> regex_problem(r"^\d{3}$") is None
    True
    >>> regex_problem("(unclosed").message
    'unclosed group'
    """
    try:
        pl.select(pl.lit("").str.contains(pattern))
    except pl.exceptions.PolarsError as exc:
        return _describe(str(exc))
    return None


def _describe(text: str) -> RegexProblem:
    # Polars relays the crate's report: the pattern, a caret line, "error: ...".
    lines = text.splitlines()
    message = next(
        (
            line.strip()[len("error: ") :]
            for line in lines
            if line.strip().startswith("error:")
        ),
        "invalid regular expression",
    )
    offset = 0
    for index, line in enumerate(lines[1:], start=1):
        if set(line.strip()) == {"^"} and index >= 2:
            offset = max(
                0,
                line.index("^")
                - (len(lines[index - 1]) - len(lines[index - 1].lstrip())),
            )
            break
    return RegexProblem(message, offset)


def from_python(pattern: str) -> tuple[str, list[int]]:
    r"""Rewrite Python ``re`` spellings the Rust crate reads differently or rejects.

    Returns the rewritten pattern and, for each of its characters, the offset of the
    character of ``pattern`` it came from (so errors point into what the user wrote).
    Anything else is kept as written: where both dialects accept a pattern they
    agree on it, and what the crate cannot do (look-around, back-references) stays
    an error.

    >>> from_python('^{"')[0]
    '^\\{"'
    >>> from_python("a{,3}b{2}c{}")[0]
    'a{0,3}b{2}c\\{}'
    >>> from_python("[[]x&&y[a&&b]")[0]
    '[\\[]x&&y[a\\&\\&b]'
    """
    out: list[str] = []
    where: list[int] = []

    def emit(text: str, at: int) -> None:
        out.append(text)
        where.extend([at] * len(text))

    i, n, in_class = 0, len(pattern), False
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            # Python's end of text \Z is the crate's \z (the crate has no \Z).
            emit("\\z" if nxt == "Z" and not in_class else c + nxt, i)
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
                emit(c, i)
            elif c in "[&~":  # nested class and set operators in the crate
                emit("\\" + c, i)
            else:
                emit(c, i)
            i += 1
            continue
        if c == "[":
            in_class = True
            emit(c, i)
            i += 1
            if i < n and pattern[i] == "^":
                emit("^", i)
                i += 1
            if i < n and pattern[i] == "]":  # a leading ] is literal in a class
                emit("\\]", i)
                i += 1
            continue
        if c == "{":
            found = _QUANTIFIER.match(pattern, i)
            if found is None or found.group(0) == "{}":
                emit("\\{", i)
                i += 1
                continue
            low, high = found.group(1), found.group(2)
            # {,n} and {,} start at zero in Python; the crate needs the zero.
            emit(found.group(0) if low else "{0," + (high or "") + "}", i)
            i = found.end()
            continue
        emit(c, i)
        i += 1
    return "".join(out), where
