"""One bound on how deeply JSON may nest, checked by every reader.

Python's ``json`` recurses once per level and raises ``RecursionError`` near a
thousand levels; Arrow and Polars recurse in native code and can overflow the C
stack on less. No trace MLflow writes comes close: its own protobuf JSON parser
refuses more than 100 levels, and so does polartrace. Readers call `loads` for JSON
text and `check_nesting` for values that are already parsed, and report a
`TraceFormatError` naming the file and the line or row, never a ``RecursionError``.
"""

from __future__ import annotations

import json
from typing import Any, Final

from polartrace.values.errors import TraceFormatError

__all__ = ["MAX_DEPTH", "check_nesting", "loads", "nesting_error"]

#: The deepest JSON nesting a trace, a page token or an OTLP request may have
#: (objects and arrays; the outermost one is level 1), as protobuf's JSON parser.
MAX_DEPTH: Final = 100

_TOO_DEEP: Final = f"JSON nested deeper than {MAX_DEPTH} levels"
_PATH_LEVELS: Final = 4


def nesting_error(location: str | None = None) -> TraceFormatError:
    """The error for JSON nested beyond `MAX_DEPTH` (the caller adds the source)."""
    return TraceFormatError(_TOO_DEEP, location=location)


_LEAVES: Final = frozenset({str, int, float, bool, type(None)})


def _within(value: Any, levels: int) -> bool:
    """Whether ``value`` nests at most ``levels`` deep (a scalar is 0 deep)."""
    kind = type(value)
    if kind is dict:
        items = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        return True
    if levels == 0:
        return False
    # The usual container holds only scalars (span attributes, tags): one C call.
    if _LEAVES.issuperset(map(type, items)):
        return True
    return all(_within(item, levels - 1) for item in items)


def _too_deep_path(value: Any, levels: int = MAX_DEPTH, path: str = "") -> str:
    """The JSON path of the first branch of ``value`` deeper than ``levels``."""
    items = value.items() if type(value) is dict else enumerate(value)
    for key, item in items:
        if not _within(item, levels - 1):
            if path.endswith("..."):
                return path
            if path.count("[") + path.count(".") >= _PATH_LEVELS:
                return f"{path}..."
            where = f"{path}[{key}]" if type(key) is int else f"{path}.{key}"
            return _too_deep_path(item, levels - 1, where.lstrip("."))
    return path or "$"


def check_nesting(value: Any, location: str | None = None) -> None:
    """Raise `TraceFormatError` if ``value`` nests deeper than `MAX_DEPTH`.

    The error's location is ``location`` followed by the JSON path of the first
    container beyond the bound.

    >>> check_nesting({"a": [[1]]}) is None
    True
    >>> deep = []
    >>> for _ in range(MAX_DEPTH):
    ...     deep = [deep]
    >>> try:
    ...     check_nesting({"x": deep}, "line 3")
    ... except TraceFormatError as exc:
    ...     print(exc.location, "/", exc.message)
    line 3, x[0][0]... / JSON nested deeper than 100 levels
    """
    if not _within(value, MAX_DEPTH):
        path = _too_deep_path(value)
        where = ", ".join(part for part in (location, path) if part)
        raise nesting_error(where or None)


def loads(text: str | bytes, location: str | None = None) -> Any:
    """``json.loads`` with the nesting bound: deep text is a `TraceFormatError`.

    ``json.JSONDecodeError`` passes through, for the caller's own message with the
    line and column. Text with fewer brackets than the bound is not walked.

    Raises:
        TraceFormatError: If the text nests deeper than `MAX_DEPTH`.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise nesting_error(location) from None
    if isinstance(text, bytes):
        opening = text.count(b"[") + text.count(b"{")
    else:
        opening = text.count("[") + text.count("{")
    if opening > MAX_DEPTH:
        check_nesting(value, location)
    return value
