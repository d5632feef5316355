"""SQL LIKE evaluated without backtracking, for engines that match in Python.

A LIKE pattern is literal segments separated by ``%`` (any run, the empty one
included); ``_`` in a segment is exactly one character, newlines included, and
there is no escape character (docs/semantics.md). Such a pattern matches when the
first segment starts the value, the last one ends it, and every middle segment is
found in order in between. Taking each middle segment at its leftmost place is
always right, since it leaves the most room for the rest, so nothing is ever
retried: the time is at most the value's length times the pattern's, where a
backtracking regex takes exponential time on ``'%e%e%e%e%e%q'``.

The compiled engine reads the same semantics through `like_plan` and
`like_to_regex` (``polartrace.catalogue.operators``).
"""

from __future__ import annotations

__all__ = ["like_match"]


def _fits(value: str, start: int, segment: str) -> bool:
    """Whether ``segment`` (``_`` = any one character) matches at ``start``."""
    if "_" not in segment:
        return value.startswith(segment, start)
    if start + len(segment) > len(value):
        return False
    return all(
        want in ("_", got)
        for want, got in zip(segment, value[start : start + len(segment)], strict=True)
    )


def _find(value: str, segment: str, start: int, stop: int) -> int:
    """The first index ``i >= start`` where ``segment`` fits and ends by ``stop``."""
    if "_" not in segment:
        return value.find(segment, start, stop)
    for index in range(start, stop - len(segment) + 1):
        if _fits(value, index, segment):
            return index
    return -1


def like_match(value: str, pattern: str) -> bool:
    """Whether ``value`` matches the SQL LIKE ``pattern`` (case-sensitive).

    >>> like_match("refund request", "%fund%"), like_match("a-b", "a_b")
    (True, True)
    >>> like_match("e" * 40, "%e%e%e%e%e%q")
    False
    """
    first, *rest = pattern.split("%")
    if not rest:
        return len(value) == len(first) and _fits(value, 0, first)
    *middle, last = rest
    end = len(value) - len(last)
    if end < len(first) or not _fits(value, 0, first) or not _fits(value, end, last):
        return False
    position = len(first)
    for segment in middle:
        found = _find(value, segment, position, end)
        if found < 0:
            return False
        position = found + len(segment)
    return True
