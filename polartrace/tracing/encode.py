"""Values as MLflow stores them in spans: JSON text, and exception events.

MLflow writes every span attribute as ``json.dumps(value, cls=TraceJSONEncoder,
ensure_ascii=False)``; `dump_value` does the same, so that what polartrace captures
reads back exactly like an MLflow trace. Tracing must never break the traced code,
so nothing here raises on a strange value.
"""

from __future__ import annotations

import dataclasses
import json
import time
import traceback
from typing import Any

import attrs

from polartrace.model.trace import SpanEvent

__all__ = ["dump_value", "event_value", "exception_event", "safe_text"]


class _Encoder(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        model_dump = getattr(o, "model_dump", None)
        if callable(model_dump) and not isinstance(o, type):  # pydantic v2 models
            return model_dump()
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            return dataclasses.asdict(o)
        if attrs.has(type(o)):
            return attrs.asdict(o)
        return safe_text(o)


def safe_text(value: Any) -> str:
    """Return ``str(value)``, or its ``repr``, or a placeholder: never raise."""
    try:
        return str(value)
    except Exception:  # a user's __str__ must not break tracing
        try:
            return repr(value)
        except Exception:
            return f"<unprintable {type(value).__name__}>"


def dump_value(value: Any) -> str:
    """Return ``value`` as the JSON text MLflow stores in a span attribute.

    Pydantic models, dataclasses and attrs classes become objects; anything else
    that JSON cannot hold becomes its ``str()``. This never raises: a value JSON
    cannot encode at all (a cycle, a tuple key) is stored as its ``str()``; in a
    dict, only the entries that fail are.

    Example:
        >>> dump_value({"q": "Ünï", "n": 1.5}), dump_value({1, 2})
        ('{"q": "Ünï", "n": 1.5}', '"{1, 2}"')
    """
    try:
        return json.dumps(value, cls=_Encoder, ensure_ascii=False)
    except Exception:  # a cycle, non-string keys, a failing model_dump()
        pass
    if isinstance(value, dict):  # e.g. function inputs: keep the good arguments
        try:
            items = {_key(k): json.loads(dump_value(v)) for k, v in value.items()}
            return json.dumps(items, ensure_ascii=False)
        except Exception:  # fall through to the text form
            pass
    return json.dumps(safe_text(value), ensure_ascii=False)


def _key(key: Any) -> Any:
    return key if key is None or isinstance(key, str | int | float) else safe_text(key)


def event_value(value: Any) -> Any:
    """Return an event attribute value: event attributes are stored unencoded.

    Scalars and lists of scalars are kept (as OpenTelemetry allows); anything else
    becomes its JSON text.
    """
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple) and all(
        isinstance(v, str | int | float | bool) for v in value
    ):
        return list(value)
    return dump_value(value)


def exception_event(exc: BaseException) -> SpanEvent:
    """Return the ``exception`` event OpenTelemetry's ``record_exception`` writes."""
    try:
        stack = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    except Exception:
        stack = safe_text(exc)
    attributes = {
        "exception.type": type(exc).__name__,
        "exception.message": safe_text(exc),
        "exception.stacktrace": stack,
        "exception.escaped": "False",
    }
    return SpanEvent("exception", time.time_ns(), attributes)
