"""Canonical text of JSON values and the wire formats of MLflow's trace JSON.

Both query engines compare span attributes and assessment values through their
*canonical text* (docs/semantics.md#dynamic-values), split them into full-text units
and read them as numbers. The three functions that define this, `canonical_text`,
`numeric_value` and `text_leaves`, live here in plain Python so that the compiled
Polars path and the reference evaluator cannot drift apart: the frame builder calls
them when it lays out the columns, the reference evaluator when it reads a trace.

The module also decodes attribute values stored as JSON text (`decode_attribute`).
Timestamps and the shape checks of MLflow's trace JSON are in
`polartrace.model.timestamps` and `polartrace.model.validate`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import orjson

__all__ = [
    "append_leaves",
    "canonical_text",
    "decode_attribute",
    "numeric_value",
    "text_leaves",
]

# Integral floats below this magnitude are written as integers. It is where
# ``repr`` switches to exponent notation, so ``3.0`` -> ``3`` but ``1e16`` stays
# ``1e+16``; below it ``str(int(x))`` equals ``repr(x)`` without its ``.0``.
_INTEGRAL_LIMIT = 1e16


def _float_text(value: float) -> str:
    if value != value:  # NaN; spelled as json.dumps spells it
        return "NaN"
    if value in (math.inf, -math.inf):
        return "Infinity" if value > 0 else "-Infinity"
    if value.is_integer() and -_INTEGRAL_LIMIT < value < _INTEGRAL_LIMIT:
        return str(int(value))  # -0.0 becomes "0"
    return repr(value)


def _normalize(value: Any) -> Any:
    """Return ``value`` with every integral float replaced by an int, at any depth."""
    if isinstance(value, float):
        if value.is_integer() and -_INTEGRAL_LIMIT < value < _INTEGRAL_LIMIT:
            return int(value)
        return value
    if isinstance(value, dict):
        return {key: _normalize(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_normalize(item) for item in value]
    return value


def canonical_text(value: Any) -> str | None:
    r"""Return the canonical text of a decoded JSON value, or ``None`` if it is null.

    A string is itself; a boolean is ``true``/``false``; an integer is its decimal
    digits; an integral float is written as an integer (``3.0`` -> ``3``) while its
    magnitude is below 1e16, and every other float in its shortest round-trip form
    (``0.9``, ``1e+16``, ``1e-07``). ``NaN``, ``Infinity`` and ``-Infinity`` are
    spelled as ``json.dumps`` spells them, and ``-0.0`` is ``0``. Lists and objects
    are JSON with ``", "`` and ``": "`` separators, key order and non-ASCII
    characters kept, and the float rule applied at every depth.

    Args:
        value: A value as ``json.loads`` returns it (tuples are read as lists).

    Returns:
        The canonical text, or ``None`` for ``None`` (a missing value).

    Raises:
        TypeError: If ``value`` holds something JSON cannot represent.

    Examples:
        >>> canonical_text(3.0), canonical_text(0.9), canonical_text(1e30)
        ('3', '0.9', '1e+30')
        >>> canonical_text(True), canonical_text(42), canonical_text("positive")
        ('true', '42', 'positive')
        >>> canonical_text({"k": [1.0, "é", None, False]})
        '{"k": [1, "é", null, false]}'
        >>> canonical_text(None) is None
        True
    """
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, dict | list | tuple):
        return json.dumps(
            _normalize(value), ensure_ascii=False, separators=(", ", ": ")
        )
    msg = f"not a JSON value: {type(value).__name__}"
    raise TypeError(msg)


def numeric_value(value: Any) -> float | None:
    """Return ``value`` as a float if it is a real number, else ``None``.

    Only ints and floats count: booleans are not numbers here, and neither are
    numeric strings (docs/semantics.md#dynamic-values: ordering operators hold only
    for numbers).
    Integers too large for a float become infinities of their sign.

    Args:
        value: A decoded JSON value.

    Returns:
        The number as a float, or ``None``.

    Examples:
        >>> numeric_value(3), numeric_value(0.9), numeric_value(True)
        (3.0, 0.9, None)
        >>> numeric_value("3") is None
        True
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return float(value)
    except OverflowError:  # an int beyond the float range
        return math.inf if value > 0 else -math.inf


def text_leaves(value: Any) -> Iterator[str]:
    """Yield the full-text units of a decoded JSON value.

    Strings are yielded as they are (the empty string too), numbers and booleans as
    their canonical text, the items of lists and the values of objects recursively;
    object keys and nulls yield nothing (docs/semantics.md#full-text).

    Args:
        value: A decoded JSON value.

    Yields:
        One string per leaf, in document order.

    Raises:
        TypeError: If ``value`` holds something JSON cannot represent.

    Examples:
        >>> list(text_leaves({"q": "Ünï", "n": [2.0, True, None], "d": {"k": 0.5}}))
        ['Ünï', '2', 'true', '0.5']
        >>> list(text_leaves(None))
        []
    """
    leaves: list[str] = []
    append_leaves(value, leaves)
    yield from leaves


def append_leaves(value: Any, out: list[str]) -> None:
    """Append the leaves `text_leaves` yields for ``value`` to ``out``.

    The definition of `text_leaves`, written for speed: the units table runs it
    on every distinct attribute value of a frame. Exact types are tested first
    (what JSON decoding returns); subclasses take the ``isinstance`` branches.

    Raises:
        TypeError: If ``value`` holds something JSON cannot represent.
    """
    kind = type(value)
    if kind is str:
        out.append(value)
    elif kind is dict:
        for item in value.values():
            if type(item) is str:
                out.append(item)
            else:
                append_leaves(item, out)
    elif kind is list:
        for item in value:
            if type(item) is str:
                out.append(item)
            else:
                append_leaves(item, out)
    elif value is None:
        return
    elif isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for item in value.values():
            append_leaves(item, out)
    elif isinstance(value, list | tuple):
        for item in value:
            append_leaves(item, out)
    else:
        text = canonical_text(value)
        if text is not None:
            out.append(text)


def decode_attribute(text: str) -> Any:
    """Decode a span attribute stored as JSON text, as MLflow reads it back.

    MLflow stores every span attribute value JSON-encoded. A value that is not valid
    JSON (written by another tool) is returned as the raw string, as MLflow does.

    Args:
        text: The stored attribute text.

    Returns:
        The decoded value, or ``text`` itself if it is not valid JSON.

    Examples:
        >>> decode_attribute('"LLM"'), decode_attribute("0.7"), decode_attribute("LLM")
        ('LLM', 0.7, 'LLM')
    """
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested beyond the C stack
        return text


#: An integer literal orjson reads as a float where ``json.loads`` keeps it exact
#: (beyond 64 bits: 20 digits, or a minus and 19). May match inside a string too,
#: which only costs the slower exact path. For checking many texts at once in
#: Polars; one text in Python is checked after decoding (`holds_wide_float`).
LONG_INTEGER = r"-[0-9]{19}|[0-9]{20}"

# orjson reads an integer literal beyond 64 bits as a float of magnitude 2**63 or
# more; every other text it accepts it reads as json does. A decoded value without
# such a float is therefore exactly what json.loads gives.
_WIDE = float(2**63)
_SCALARS = frozenset({str, int, bool, type(None)})


def holds_wide_float(value: Any) -> bool:
    """Whether ``value`` holds a float of magnitude ``2**63`` or more, at any depth.

    The check that makes an orjson decode safe to keep: without such a float, the
    text held no integer orjson reads differently from ``json``. Walking a decoded
    value is several times cheaper than a Python regex over its text.

    >>> holds_wide_float({"a": [1, "x", 2.5]}), holds_wide_float([2.0**64])
    (False, True)
    """
    kind = type(value)
    if kind is float:
        return not -_WIDE < value < _WIDE
    if kind is dict:
        value = value.values()
    elif kind is not list:
        return False
    if _SCALARS.issuperset(map(type, value)):  # the usual leaf: strings and ints
        return False
    return any(map(holds_wide_float, value))


def decode_attribute_fast(text: str, may_be_long: bool | None = None) -> Any:
    """`decode_attribute`, read by orjson (about twice as fast) where it agrees.

    Every text orjson accepts it reads as ``json.loads`` does (floats included),
    except integers beyond 64 bits, which it reads as floats: a text that may hold
    one goes to `decode_attribute`, as does what orjson rejects (``NaN``, ``1e400``,
    lone surrogates, text that is not JSON).

    Args:
        text: The stored attribute text.
        may_be_long: Whether ``text`` matches `LONG_INTEGER`, when the caller has
            already checked many texts at once; ``None`` decodes first and checks
            the value (`holds_wide_float`).

    >>> decode_attribute_fast("[1, 2.5]"), decode_attribute_fast("12345678901234567890")
    ([1, 2.5], 12345678901234567890)
    """
    if not isinstance(text, str) or may_be_long:
        return decode_attribute(text)
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return decode_attribute(text)
    if may_be_long is None and holds_wide_float(value):
        return decode_attribute(text)
    return value
