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
    "RegexMismatch",
    "RegexProblem",
    "from_python",
    "python_pattern",
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


# --- the same pattern for Python's re (the reference engine) ------------------------


class RegexMismatch(Exception):
    """A Rust pattern that Python's ``re`` cannot be made to read the same way."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


_NO_SURROGATES = 0xD800, 0xE000


@functools.cache
def _crate_class(letter: str) -> tuple[str, str]:
    r"""The crate's ``\w``, ``\d`` or ``\s`` as Python class bodies: (set, complement).

    Python's classes differ from the crate's (``²`` is ``\w`` in Python only,
    ``\x1c`` is ``\s`` in Python only, and the Unicode versions differ), so the
    crate itself says which code points each class holds.
    """
    points = [*range(_NO_SURROGATES[0]), *range(_NO_SURROGATES[1], 0x110000)]
    chars = pl.Series([chr(p) for p in points], dtype=pl.String)
    hits = chars.str.contains(rf"^\{letter}$").to_list()
    inside = _ranges([p for p, hit in zip(points, hits, strict=True) if hit])
    outside = _ranges([p for p, hit in zip(points, hits, strict=True) if not hit])
    return inside, outside


def _ranges(points: list[int]) -> str:
    parts: list[str] = []
    start = previous = None
    for point in [*points, -2]:
        if previous is not None and point == previous + 1:
            previous = point
            continue
        if start is not None and previous is not None:
            parts.append(
                f"\\U{start:08x}"
                if start == previous
                else f"\\U{start:08x}-\\U{previous:08x}"
            )
        start = previous = point
    return "".join(parts)


_FLAG_GROUP = re.compile(r"\(\?([imsxuUR-]*)(:|\))")
_NAMED_GROUP = re.compile(r"\(\?P?<([A-Za-z_][A-Za-z0-9_]*)>")


@functools.lru_cache(maxsize=512)
def python_pattern(pattern: str, *, exact: bool = True) -> str:
    r"""Translate a pattern the crate accepts into one Python's ``re`` reads alike.

    Differences the translation removes: ``$`` outside multi-line mode is the very
    end of the text in the crate (``\Z`` in Python, whose ``$`` also matches
    before a final newline); ``\w \d \s \b`` and their negations use the crate's
    Unicode tables; inline flags in mid-pattern become scoped groups; ``\z``,
    ``(?<name>...)``, ``\x{...}`` and the swap-greed flag ``U`` are spelled for
    Python. Unicode classes (``\pL``), ASCII mode (``(?-u)``) and CRLF mode
    (``R``) have no equivalent in ``re`` and raise `RegexMismatch`.

    ``exact=False`` keeps Python's own ``\w \d \s \b``: the binder's check of
    what can be translated, without building the crate's tables.

    >>> python_pattern(r"a$"), python_pattern(r"(?m)a$"), python_pattern(r"\z")
    ('a\\Z', '(?m:a$)', '\\Z')
    >>> python_pattern(r"(?<y>\x{63})")
    '(?P<y>\\U00000063)'
    """
    out: list[str] = []
    # One frame per open group: (multi-line, flags this group reopens at each '|').
    stack: list[tuple[bool, str]] = []
    multiline, scoped = False, ""
    i, n, in_class = 0, len(pattern), False
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            i = _escape_for_python(pattern, i, out, in_class=in_class, exact=exact)
            continue
        if in_class:
            in_class = c != "]"
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            if pattern.startswith("^", i):
                out.append("^")
                i += 1
            continue
        if (named := _NAMED_GROUP.match(pattern, i)) is not None:
            out.append(f"(?P<{named.group(1)}>")
            stack.append((multiline, scoped))
            scoped = ""
            i = named.end()
            continue
        if (flags := _FLAG_GROUP.match(pattern, i)) is not None:
            on, multiline_now = _python_flags(flags.group(1), multiline, i)
            if flags.group(2) == ":":
                stack.append((multiline, scoped))
                multiline, scoped = multiline_now, ""
                out.append(f"(?{on}:" if on else "(?:")
            else:  # flags for the rest of the group: a scope Python accepts
                multiline = multiline_now
                if on:
                    out.append(f"(?{on}:")
                    scoped += f"(?{on}:"
            i = flags.end()
            continue
        if c == "(":
            stack.append((multiline, scoped))
            scoped = ""
            out.append(c)
        elif c == ")":
            out.append(")" * scoped.count("("))
            multiline, scoped = stack.pop() if stack else (False, "")
            out.append(c)
        elif c == "|":
            out.append(")" * scoped.count("(") + "|" + scoped)
        elif c == "$":
            out.append("$" if multiline else r"\Z")
        else:
            out.append(c)
        i += 1
    out.append(")" * scoped.count("("))
    text = "".join(out)
    try:
        re.compile(text)
    except re.error as exc:
        msg = f"Python's re cannot read it the same way ({exc.msg})"
        raise RegexMismatch(msg, 0) from None
    return text


def _python_flags(flags: str, multiline: bool, at: int) -> tuple[str, bool]:
    """Python's spelling of crate flags (``on-off``), and the multi-line state."""
    on, _, off = flags.partition("-")
    if "R" in flags or "u" in off:
        msg = "CRLF mode (R) and ASCII mode (-u) have no equivalent in Python's re"
        raise RegexMismatch(msg, at)
    if "m" in on:
        multiline = True
    if "m" in off:
        multiline = False
    # U swaps greediness, which never changes whether a match exists; u is the
    # default in both dialects.
    on, off = on.replace("U", "").replace("u", ""), off.replace("U", "")
    return (on + (f"-{off}" if off else "")), multiline


def _escape_for_python(
    pattern: str, i: int, out: list[str], *, in_class: bool, exact: bool
) -> int:
    """Translate the escape at ``pattern[i]``; return the index after it."""
    letter = pattern[i + 1]
    if letter in "wdsWDSbB" and not exact:
        out.append(pattern[i : i + 2])
        return i + 2
    if letter in "wdsWDS":
        inside, outside = _crate_class(letter.lower())
        body = outside if letter.isupper() else inside
        out.append(body if in_class else f"[{body}]")
        return i + 2
    if letter in "bB" and not in_class:
        word = f"[{_crate_class('w')[0]}]"
        at_edge = f"(?<={word})(?!{word})|(?<!{word})(?={word})"
        inner = f"(?<={word})(?={word})|(?<!{word})(?!{word})"
        out.append(f"(?:{at_edge if letter == 'b' else inner})")
        return i + 2
    if letter == "z" and not in_class:
        out.append(r"\Z")
        return i + 2
    if letter == "x" and pattern.startswith("{", i + 2):
        close = pattern.find("}", i + 3)
        out.append(f"\\U{int(pattern[i + 3 : close], 16):08x}")
        return close + 1
    if letter in "pP" or letter in "<>" or pattern.startswith("{", i + 2):
        msg = f"'\\{letter}' has no equivalent in Python's re"
        raise RegexMismatch(msg, i)
    out.append(pattern[i : i + 2])
    return i + 2
