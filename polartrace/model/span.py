"""Spans: the timed steps of a trace, read from and written to MLflow's span JSON.

A `Span` keeps its attribute values as the JSON text MLflow stored, so that writing
it back is byte-exact and loading stays cheap; accessors decode on first use and
cache the result. `polartrace.model.trace` re-exports everything here: import from
there.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs

from polartrace.model.validate import (
    check_fields,
    expect,
    fail,
    hex_to_id,
    id_to_hex,
    read_with_source,
    required,
)
from polartrace.values.conventions import (
    SPAN_INPUTS,
    SPAN_OUTPUTS,
    SPAN_STATUS_SPELLINGS,
    SPAN_TYPE_KEY,
    TRACE_REQUEST_ID_KEY,
    status_code_json,
)
from polartrace.values.json_values import decode_attribute
from polartrace.values.nesting import check_nesting

__all__ = ["Span", "SpanEvent", "SpanStatus", "SpanStatusCode", "SpanType"]


class SpanStatusCode(enum.StrEnum):
    """The status code of a span, without the ``STATUS_CODE_`` prefix of the JSON."""

    UNSET = "UNSET"
    OK = "OK"
    ERROR = "ERROR"


class SpanType:
    """MLflow's span types. ``Span.span_type`` is a plain string; others are allowed."""

    LLM: Final = "LLM"
    CHAIN: Final = "CHAIN"
    AGENT: Final = "AGENT"
    TOOL: Final = "TOOL"
    CHAT_MODEL: Final = "CHAT_MODEL"
    RETRIEVER: Final = "RETRIEVER"
    PARSER: Final = "PARSER"
    EMBEDDING: Final = "EMBEDDING"
    RERANKER: Final = "RERANKER"
    MEMORY: Final = "MEMORY"
    WORKFLOW: Final = "WORKFLOW"
    TASK: Final = "TASK"
    GUARDRAIL: Final = "GUARDRAIL"
    EVALUATOR: Final = "EVALUATOR"
    UNKNOWN: Final = "UNKNOWN"


# Converters, typed per element type because mypy's attrs plugin cannot solve the
# type variable of a generic converter such as ``tuple``. Copying the mappings
# means that a span never shares one with its caller.


def _strings(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


def _values(value: Mapping[str, Any]) -> dict[str, Any]:
    return dict(value)


def _events(value: Iterable[SpanEvent]) -> tuple[SpanEvent, ...]:
    return tuple(value)


def _links(value: Iterable[Mapping[str, Any]]) -> tuple[dict[str, Any], ...]:
    return tuple(dict(link) for link in value)


def _status_code(value: SpanStatusCode | str) -> SpanStatusCode:
    return value if type(value) is SpanStatusCode else SpanStatusCode(value)


@attrs.frozen
class SpanStatus:
    """A span's status code and description (``message`` is ``""`` when unset)."""

    code: SpanStatusCode = attrs.field(
        default=SpanStatusCode.UNSET, converter=_status_code
    )
    message: str = ""


_STATUS_CODES: Final = {
    spelling: SpanStatusCode(code) for spelling, code in SPAN_STATUS_SPELLINGS.items()
}


@attrs.frozen
class SpanEvent:
    """Something that happened during a span, such as an exception.

    Attributes:
        name: The event name (``exception`` for errors).
        timestamp_ns: When it happened, in epoch nanoseconds.
        attributes: Plain values: unlike span attributes, MLflow's JSON holds event
            attributes unencoded.
    """

    name: str
    timestamp_ns: int
    attributes: dict[str, Any] = attrs.field(factory=dict, converter=_values)

    @property
    def timestamp(self) -> int:
        """Alias of `timestamp_ns`, MLflow's name."""
        return self.timestamp_ns

    def to_dict(self) -> dict[str, Any]:
        """Return the event in MLflow's JSON shape."""
        attributes = dict(self.attributes)
        return {
            "name": self.name,
            "time_unix_nano": self.timestamp_ns,
            "attributes": attributes,
        }


@attrs.frozen(kw_only=True)
class Span:
    """One span of a trace, holding its attribute values as the JSON text MLflow stores.

    Attributes:
        name: The span name.
        span_id: The OpenTelemetry span id, 16 lower-case hex digits.
        otel_trace_id: The OpenTelemetry trace id, 32 lower-case hex digits.
        start_time_ns: Start in epoch nanoseconds.
        end_time_ns: End in epoch nanoseconds, ``None`` while unfinished.
        parent_id: The parent's span id (hex), ``None`` for a root span.
        status: Code and message.
        raw_attributes: Attribute values as JSON text, in stored key order;
            `attributes` and `get_attribute` decode them.
        events: The span's events.
        links: OpenTelemetry links, kept as the dictionaries given.

    The constructor checks nothing (`from_dict` does): `to_dict` needs ids that are
    hex digits of the right length.

    Example:
        >>> span = Span(name="llm", span_id="00000000000000a1",
        ...     otel_trace_id="ab" * 16, start_time_ns=0, end_time_ns=2_500_000,
        ...     raw_attributes={"mlflow.spanType": '"LLM"', "mlflow.spanInputs": "[1]"})
        >>> span.span_type, span.inputs, span.duration_ms
        ('LLM', [1], 2.5)
    """

    name: str
    span_id: str
    otel_trace_id: str
    start_time_ns: int
    end_time_ns: int | None = None
    parent_id: str | None = None
    status: SpanStatus = SpanStatus()
    raw_attributes: dict[str, str] = attrs.field(factory=dict, converter=_strings)
    events: tuple[SpanEvent, ...] = attrs.field(default=(), converter=_events)
    links: tuple[dict[str, Any], ...] = attrs.field(default=(), converter=_links)
    # Decoded values by key, filled on first access; a cache, not part of identity.
    _decoded: dict[str, Any] = attrs.field(
        factory=dict, init=False, eq=False, repr=False
    )

    def get_attribute(self, key: str) -> Any:
        """Return the decoded value of attribute ``key``, or ``None`` if absent.

        Text that is not valid JSON comes back as it is. Values are cached and
        shared: treat a returned list or dict as read-only.
        """
        decoded = self._decoded
        if key in decoded:
            return decoded[key]
        text = self.raw_attributes.get(key)
        if text is None:
            return None
        value = decoded[key] = decode_attribute(text)
        return value

    @property
    def attributes(self) -> dict[str, Any]:
        """All attributes decoded, in stored order (a new dict; values shared)."""
        decoded, raw = self._decoded, self.raw_attributes
        if len(decoded) != len(raw):
            for key, text in raw.items():
                if key not in decoded:
                    decoded[key] = decode_attribute(text)
        # Read in raw order: the cache holds keys in the order they were asked for.
        return {key: decoded[key] for key in raw}

    @property
    def inputs(self) -> Any:
        """The decoded ``mlflow.spanInputs`` attribute, or ``None``."""
        return self.get_attribute(SPAN_INPUTS)

    @property
    def outputs(self) -> Any:
        """The decoded ``mlflow.spanOutputs`` attribute, or ``None``."""
        return self.get_attribute(SPAN_OUTPUTS)

    @property
    def span_type(self) -> str:
        """The decoded ``mlflow.spanType`` attribute; ``UNKNOWN`` when absent."""
        value = self.get_attribute(SPAN_TYPE_KEY)
        return SpanType.UNKNOWN if value is None else str(value)

    @property
    def trace_id(self) -> str | None:
        """The MLflow trace id from ``mlflow.traceRequestId``, or ``None``."""
        value = self.get_attribute(TRACE_REQUEST_ID_KEY)
        return None if value is None else str(value)

    @property
    def request_id(self) -> str | None:
        """Alias of `trace_id`, MLflow's deprecated name."""
        return self.trace_id

    @property
    def duration_ms(self) -> float | None:
        """End minus start in milliseconds; ``None`` while the span is unfinished."""
        if self.end_time_ns is None:
            return None
        return (self.end_time_ns - self.start_time_ns) / 1e6

    @classmethod
    def from_dict(cls, d: Any, *, source: str | None = None) -> Span:
        """Read one span in the shape of MLflow's ``Span.to_dict()``.

        Raises:
            TraceFormatError: If ``d`` is no such span; ``location`` is a path
                starting at ``span``, such as ``span.attributes``.
        """
        return read_with_source(read_span, d, "span", source)

    def to_dict(self) -> dict[str, Any]:
        """Return the span in the shape of MLflow's ``Span.to_dict()``."""
        parent = None if self.parent_id is None else hex_to_id(self.parent_id)
        status = {
            "code": status_code_json(self.status.code.value),
            "message": self.status.message,
        }
        return {
            "trace_id": hex_to_id(self.otel_trace_id),
            "span_id": hex_to_id(self.span_id),
            "parent_span_id": parent,
            "name": self.name,
            "start_time_unix_nano": self.start_time_ns,
            "end_time_unix_nano": self.end_time_ns,
            "events": [event.to_dict() for event in self.events],
            "status": status,
            "attributes": dict(self.raw_attributes),
            "links": [dict(link) for link in self.links],
        }


_SPAN_FIELDS: Final = {
    "trace_id": str,
    "span_id": str,
    "parent_span_id": str,
    "name": str,
    "start_time_unix_nano": int,
    "end_time_unix_nano": int,
    "events": list,
    "status": dict,
    "attributes": dict,
    "links": list,
}
_EVENT_FIELDS: Final = {"name": str, "time_unix_nano": int, "attributes": dict}
_UNSET_JSON: Final = status_code_json(SpanStatusCode.UNSET.value)
# Statuses without a message are shared: nearly every span has one.
_PLAIN_STATUS: Final = {code: SpanStatus(code) for code in SpanStatusCode}


def read_span(d: Any, path: str, ids: dict[str, str] | None = None) -> Span:
    """Read the span dictionary ``d`` found at JSON path ``path``.

    ``ids`` memoizes decoded trace ids across the spans of one trace.
    """
    check_fields(d, _SPAN_FIELDS, "a span object", path)
    if ids is None:
        ids = {}
    for key in ("trace_id", "span_id", "name", "start_time_unix_nano"):
        required(d, key, path)
    # The spans of a trace repeat one trace id: decode it once per trace.
    if (otel := ids.get(b64 := d["trace_id"])) is None:
        otel = ids[b64] = id_to_hex(b64, 16, f"{path}.trace_id")
    parent = d.get("parent_span_id") or None  # OTLP writes "" for no parent
    if parent is not None:
        parent = id_to_hex(parent, 8, f"{path}.parent_span_id")
    raw = d.get("attributes") or {}
    for key, text in raw.items():
        if type(text) is not str:
            expect(text, str, "JSON-encoded text", f"{path}.attributes[{key!r}]")
    status = _PLAIN_STATUS[SpanStatusCode.UNSET]
    if (st := d.get("status")) is not None:
        code = st.get("code", _UNSET_JSON)
        if type(code) is not str or code not in _STATUS_CODES:
            fail(f"unknown status code {code!r}", f"{path}.status.code")
        check_fields(st, {"message": str}, "a status object", f"{path}.status")
        message = st.get("message")
        status = (
            SpanStatus(_STATUS_CODES[code], message)
            if message
            else _PLAIN_STATUS[_STATUS_CODES[code]]
        )
    events = d.get("events") or ()
    if events:
        events = [_read_event(e, f"{path}.events[{i}]") for i, e in enumerate(events)]
    links = d.get("links") or ()
    for i, link in enumerate(links):
        expect(link, dict, "a link object", f"{path}.links[{i}]")
    if links:
        check_nesting(links, f"{path}.links")
    return Span(
        name=d["name"],
        span_id=id_to_hex(d["span_id"], 8, f"{path}.span_id"),
        otel_trace_id=otel,
        start_time_ns=d["start_time_unix_nano"],
        end_time_ns=d.get("end_time_unix_nano"),
        parent_id=parent,
        status=status,
        raw_attributes=raw,
        events=events,
        links=links,
    )


def _read_event(d: Any, path: str) -> SpanEvent:
    check_fields(d, _EVENT_FIELDS, "an event object", path)
    required(d, "name", path)
    required(d, "time_unix_nano", path)
    if attributes := d.get("attributes"):
        check_nesting(attributes, f"{path}.attributes")
    return SpanEvent(d["name"], d["time_unix_nano"], d.get("attributes") or {})
