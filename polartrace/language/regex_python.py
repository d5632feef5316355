r"""RLIKE patterns for Python's ``re``: the reference engine reads what Polars reads.

The binder checks a pattern against the Rust ``regex`` crate that Polars runs
(`polartrace.language.regex`). The reference engine evaluates with Python's
``re``, whose dialect differs in places: `python_pattern` translates a crate
pattern into one ``re`` reads alike, or raises `RegexMismatch` for what ``re``
cannot express. It imports no Polars: the crate's character classes come from
the tables in `polartrace.language.regex_classes`.
"""

from __future__ import annotations

import functools
import re

from polartrace.language.regex_classes import class_ranges

__all__ = ["RegexMismatch", "python_pattern"]


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

    Python's classes differ from the crate's, so the translation spells out the
    crate's own tables (`regex_classes`). Surrogates are in neither side: no
    Polars string holds one.
    """
    inside: list[int] = []
    for first, last in class_ranges(letter):
        inside.extend(range(first, last + 1))
    held = set(inside)
    points = [*range(_NO_SURROGATES[0]), *range(_NO_SURROGATES[1], 0x110000)]
    return _ranges(inside), _ranges([p for p in points if p not in held])


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
