"""RFC 3339 timestamps: the protobuf JSON form of ``google.protobuf.Timestamp``.

MLflow's trace JSON writes times as RFC 3339 text. This is the one parser of that
text (over ``datetime.fromisoformat``) and its formatter; the model's readers, the
columnar reader and the outputs all use it.
"""

from __future__ import annotations

import datetime as _dt
import re

from polartrace.values.errors import TraceFormatError

__all__ = ["format_timestamp_ms", "parse_timestamp_ms", "timestamp_text"]

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


#: The first and last epoch milliseconds RFC 3339 text (so MLflow's JSON) can spell.
FIRST_MS = (_dt.datetime(1, 1, 1, tzinfo=_dt.UTC) - _EPOCH) // _ONE_MS
LAST_MS = (_dt.datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=_dt.UTC) - _EPOCH) // (
    _ONE_MS
)


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
