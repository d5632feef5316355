"""Canonical text of JSON values and the wire formats of MLflow's trace JSON.

Both query engines compare span attributes and assessment values through their
*canonical text* (docs/semantics.md#dynamic-values), split them into full-text units
and read them as numbers. The three functions that define this, `canonical_text`,
`numeric_value` and `text_leaves`, live here in plain Python so that the compiled
Polars path and the reference evaluator cannot drift apart: the frame builder calls
them when it lays out the columns, the reference evaluator when it reads a trace.

The module also holds what reading MLflow's trace JSON needs beyond ``json``:
attribute values stored as JSON text (`decode_attribute`), protobuf timestamps in
RFC 3339 text (`parse_timestamp_ms`, `format_timestamp_ms`), base64 OpenTelemetry
ids, and the shape checks that turn bad input into `TraceFormatError` with a JSON
path. It knows nothing of the model classes.
"""

from __future__ import annotations

import binascii
import datetime as _dt
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NoReturn, TypeVar

import orjson

from polartrace.values.errors import TraceFormatError

_T = TypeVar("_T")

__all__ = [
    "append_leaves",
    "canonical_text",
    "decode_attribute",
    "format_timestamp_ms",
    "numeric_value",
    "parse_timestamp_ms",
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


# --- RFC 3339 timestamps (the protobuf JSON form of google.protobuf.Timestamp) ---

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_EPOCH_NAIVE = _dt.datetime(1970, 1, 1)
_ONE_MS = _dt.timedelta(milliseconds=1)
_RFC3339 = re.compile(
    r"(\d{4}-\d\d-\d\d)[Tt](\d\d:\d\d:\d\d)(?:\.(\d+))?([Zz]|[+-]\d\d:\d\d)",
    re.ASCII,
)


def parse_timestamp_ms(text: str) -> int:
    """Parse an RFC 3339 timestamp into epoch milliseconds (floored).

    Accepts ``YYYY-MM-DDTHH:MM:SS``, an optional fraction of any length, and ``Z``
    or a ``±HH:MM`` offset (``T`` and ``Z`` in either case). Sub-millisecond digits
    are dropped, rounding towards the past as protobuf's
    ``Timestamp.ToMilliseconds`` does for MLflow.

    Args:
        text: The timestamp text.

    Returns:
        Milliseconds since 1970-01-01T00:00:00Z.

    Raises:
        ValueError: If ``text`` is not an RFC 3339 timestamp or names no real date.

    Examples:
        >>> parse_timestamp_ms("2023-11-14T22:13:20.5Z")
        1700000000500
        >>> parse_timestamp_ms("2023-11-14T23:13:20.000999+01:00")
        1700000000000
    """
    # Fast path for the two shapes MLflow writes; fromisoformat checks the digits.
    if (
        len(text) in (20, 24)
        and text[-1] == "Z"
        and text[4] == "-"
        and text[7] == "-"
        and text[10] == "T"
        and text[13] == ":"
        and text[16] == ":"
        and (len(text) == 20 or text[19] == ".")
    ):
        iso = text
    elif match := _RFC3339.fullmatch(text):
        date, time, fraction, zone = match.groups()
        # datetime holds microseconds: more digits only matter below a millisecond.
        fraction = f".{fraction[:6]}" if fraction else ""
        zone = "+00:00" if zone in ("Z", "z") else zone
        iso = f"{date}T{time}{fraction}{zone}"
    else:
        msg = f"not an RFC 3339 timestamp: {text!r}"
        raise ValueError(msg)
    try:
        moment = _dt.datetime.fromisoformat(iso)
    except ValueError as exc:  # 2023-02-30, 25:00, ...
        msg = f"not a valid timestamp: {text!r} ({exc})"
        raise ValueError(msg) from None
    return (moment - _EPOCH) // _ONE_MS


def format_timestamp_ms(ms: int) -> str:
    """Format epoch milliseconds as protobuf's JSON form of a timestamp.

    Whole seconds are written without a fraction, others with exactly three
    digits, as ``google.protobuf.Timestamp.ToJsonString`` does for millisecond
    values.

    Args:
        ms: Milliseconds since 1970-01-01T00:00:00Z.

    Returns:
        RFC 3339 text in UTC with a ``Z`` suffix.

    Raises:
        OverflowError: If ``ms`` lies outside the years 1 to 9999.

    Examples:
        >>> format_timestamp_ms(1700000000000), format_timestamp_ms(1700000000500)
        ('2023-11-14T22:13:20Z', '2023-11-14T22:13:20.500Z')
    """
    seconds, millis = divmod(ms, 1000)
    text = (_EPOCH_NAIVE + _dt.timedelta(seconds=seconds)).isoformat()
    return f"{text}Z" if millis == 0 else f"{text}.{millis:03d}Z"


_FIRST_MS = (_dt.datetime(1, 1, 1, tzinfo=_dt.UTC) - _EPOCH) // _ONE_MS
_LAST_MS = (
    _dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=_dt.UTC) - _EPOCH
) // (_ONE_MS)


def timestamp_text(ms: int, path: str) -> str:
    """Format ``ms`` as `format_timestamp_ms` does, for the time at JSON ``path``.

    Raises:
        TraceFormatError: If ``ms`` lies outside the years 1 to 9999.
    """
    try:
        return format_timestamp_ms(ms)
    except OverflowError:
        msg = f"timestamp {ms} ms is outside the years 1-9999"
        raise TraceFormatError(msg, location=path) from None


# --- OpenTelemetry ids -----------------------------------------------------------


def id_to_hex(value: object, size: int, path: str) -> str:
    """Decode a base64 OpenTelemetry id of ``size`` bytes into lower-case hex.

    Raises:
        TraceFormatError: If ``value`` is not base64 text of exactly ``size`` bytes.
    """
    expect(value, str, f"base64 of {size} bytes", path)
    try:
        raw = binascii.a2b_base64(value, strict_mode=True)  # type: ignore[arg-type]
    except ValueError:  # binascii.Error, or text that is not ASCII
        raw = None  # fail outside the handler: one error in the traceback, not two
    if raw is None:
        fail(f"not valid base64: {value!r}", path)
    if len(raw) != size:
        fail(f"expected base64 of {size} bytes, got {len(raw)}: {value!r}", path)
    return raw.hex()


def hex_to_id(hex_id: str) -> str:
    """Encode a hex OpenTelemetry id as the base64 text MLflow's JSON holds."""
    return binascii.b2a_base64(bytes.fromhex(hex_id), newline=False).decode("ascii")


def check_encodable(value: Any, path: str = "") -> None:
    r"""Raise `TraceFormatError` at the first string UTF-8 cannot encode in ``value``.

    ``json`` reads an escaped lone surrogate (``"\ud800"``) into a ``str`` that no
    UTF-8 column can hold: Arrow and Polars would fail with an encoding error
    naming neither the trace nor the field. Keys and values are both checked;
    the path is a JSON path (``info.tags['my key']``, ``data.spans[2].name``).

    >>> try:
    ...     check_encodable({"info": {"tags": {"k": "x\ud800"}}})
    ... except TraceFormatError as exc:
    ...     print(exc.location)
    info.tags.k
    """
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            where = f"a lone surrogate {value[exc.start]!r} at character {exc.start}"
            fail(f"text holds {where}, which UTF-8 cannot encode", path)
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = _join(path, key) if key.isidentifier() else f"{path}[{key!r}]"
            check_encodable(key, inner)
            check_encodable(item, inner)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_encodable(item, f"{path}[{index}]")


# --- shape checks: every failure is a TraceFormatError naming the JSON path -------


def _join(path: str, key: str) -> str:
    # The top of a trace has the empty path, so that its keys read "info", "data".
    return f"{path}.{key}" if path else key


def fail(message: str, path: str) -> NoReturn:
    """Raise `TraceFormatError` for the value at JSON path ``path``."""
    raise TraceFormatError(message, location=path)


def _what(value: object) -> str:
    """Name a value's JSON type for messages, quoting short scalars."""
    if value is None:
        return "null"
    if isinstance(value, bool | int | float):
        return f"{type(value).__name__} {value!r}"
    if isinstance(value, str):
        return f"string {value[:40]!r}"
    if isinstance(value, dict):
        return "an object"
    return "an array" if isinstance(value, list) else type(value).__name__


def expect(value: object, kind: type, name: str, path: str) -> Any:
    """Return ``value`` if it is a ``kind`` (booleans are no ints), else fail."""
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        fail(f"expected {name}, got {_what(value)}", path)
    return value


def required(d: dict[str, Any], key: str, path: str) -> None:
    """Fail unless ``d[key]`` is present and not null."""
    if d.get(key) is None:
        fail("required key is missing or null", _join(path, key))


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_TYPE_NAMES: dict[type, str] = {
    str: "a string",
    int: "an integer",
    bool: "a boolean",
    dict: "an object",
    list: "an array",
}


def check_fields(d: Any, schema: Mapping[str, type], what: str, path: str) -> None:
    """Fail unless ``d`` is an object whose keys in ``schema`` hold that type or null.

    Keys outside ``schema`` are not checked: they are ignored by the readers.
    """
    if type(d) is not dict:
        expect(d, dict, what, path)
    for key, value in d.items():
        # Exact type first: the common case costs one lookup and one comparison.
        kind = schema.get(key)
        if kind is None or value is None:
            continue
        if type(value) is not kind:
            expect(value, kind, _TYPE_NAMES[kind], _join(path, key))
        elif kind is int and not _INT64_MIN <= value <= _INT64_MAX:  # type: ignore[operator]
            # Frame columns are 64-bit: a wider integer could not be stored.
            fail(f"integer {value} does not fit in 64 bits", _join(path, key))


def check_strings(d: dict[str, Any], path: str) -> None:
    """Fail unless every value of ``d`` is a string."""
    for key, value in d.items():
        if type(value) is not str:
            expect(value, str, "a string", f"{path}[{key!r}]")


def time_ms(d: dict[str, Any], key: str, path: str) -> int | None:
    """Return ``d[key]`` (RFC 3339 text or int epoch ms) in epoch ms, or ``None``."""
    value = d.get(key)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        # Integer milliseconds are accepted for hand-written data, within the
        # years RFC 3339 text (and so MLflow's JSON) can spell.
        if not _FIRST_MS <= value <= _LAST_MS:
            fail(f"timestamp {value} ms is outside the years 1-9999", _join(path, key))
        return value
    expect(value, str, "RFC 3339 text or epoch milliseconds", _join(path, key))
    try:
        return parse_timestamp_ms(value)
    except ValueError as exc:
        message = str(exc)
    fail(message, _join(path, key))


def read_with_source(
    parse: Callable[[Any, str], _T], d: Any, path: str, source: str | None
) -> _T:
    """Return ``parse(d, path)``, naming ``source`` in the errors it raises."""
    try:
        return parse(d, path)
    except TraceFormatError as exc:
        if source is None:
            raise
        raise TraceFormatError(
            exc.message, source=source, location=exc.location
        ) from None
