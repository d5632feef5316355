"""Validate RLIKE patterns against the regex dialect that evaluates them.

RLIKE runs in Polars, i.e. Rust's ``regex`` crate (linear time, no look-around or
back-references). The only faithful check of that dialect is the crate itself, so
this module asks Polars to compile the pattern once. It is the one place outside the
engine that imports Polars; the binder calls it so that a bad pattern is a filter
error at bind time instead of a silent non-match at search time.
"""

from __future__ import annotations

import functools

import attrs
import polars as pl

__all__ = ["RegexProblem", "regex_problem"]


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
