"""The one validator of MLflow's trace JSON: shape checks that name the JSON path.

Every failure is a `TraceFormatError` whose ``location`` is the path of the defect
(``data.spans[2].attributes``). The model's readers use these checks; the OTLP reader
and the tracing SDK raise through `fail` too. Also here: base64 OpenTelemetry ids
and the check that a text can be stored as UTF-8.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable, Mapping
from typing import Any, NoReturn, TypeVar

from polartrace.model.timestamps import FIRST_MS, LAST_MS, parse_timestamp_ms
from polartrace.values.errors import TraceFormatError

__all__ = [
    "check_encodable",
    "check_fields",
    "check_strings",
    "expect",
    "fail",
    "hex_to_id",
    "id_to_hex",
    "read_with_source",
    "required",
    "time_ms",
]

_T = TypeVar("_T")

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
        if not FIRST_MS <= value <= LAST_MS:
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
