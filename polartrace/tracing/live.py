"""Live spans and traces: the mutable side of tracing, frozen into model objects.

A `LiveSpan` collects attributes (as MLflow's JSON text), events and a status while
the traced code runs. Every span belongs to a `_LiveTrace`, whose lock guards all of
its spans, so spans of one trace may be touched from several threads. When the root
span ends the trace is built (`_build`) exactly as MLflow's span processor finishes
one: times from the root span, state from the root's status, previews, token usage,
cost (`polartrace.tracing.prices`), size statistics, de-duplicated span names; then
it is published to the store.
"""

from __future__ import annotations

import getpass
import json
import os
import random
import sys
import threading
import time
import warnings
from collections import Counter
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, Final

import attrs

from polartrace.model.trace import (
    Assessment,
    Span,
    SpanEvent,
    SpanStatus,
    SpanStatusCode,
    SpanType,
    Trace,
    TraceData,
    TraceInfo,
    TraceState,
)
from polartrace.tracing.encode import (
    dump_value,
    event_value,
    exception_event,
    safe_text,
)
from polartrace.tracing.prices import priced
from polartrace.tracing.store import get_store
from polartrace.values.conventions import (
    CHAT_USAGE_KEY,
    COST_KEY,
    INFO_FINALIZED_KEY,
    METADATA_MAX_CHARS,
    SIZE_BYTES_KEY,
    SIZE_STATS_KEY,
    SPAN_INPUTS,
    SPAN_OUTPUTS,
    SPAN_TYPE_KEY,
    TOKEN_USAGE_KEY,
    TRACE_INPUTS_KEY,
    TRACE_NAME_TAG,
    TRACE_OUTPUTS_KEY,
    TRACE_REQUEST_ID_KEY,
    status_code_name,
    token_usage,
    truncate_preview,
)
from polartrace.values.errors import TracingError
from polartrace.values.llm import trace_totals

__all__ = [
    "LiveSpan",
    "TracingWarning",
]

# Reserved keys only the SDK writes, as MLflow spells them (mlflow/tracing/constant.py);
# the others are in polartrace.values.conventions.
START_TIME_NS: Final = "mlflow.spanStartTimeNs"
EXPERIMENT_ID: Final = "mlflow.experimentId"
LOG_LEVEL: Final = "mlflow.spanLogLevel"
FUNCTION_NAME: Final = "mlflow.spanFunctionName"
CHUNK_EVENT: Final = "mlflow.chunk.item.{index}"
CHUNK_VALUE: Final = "mlflow.chunk.value"
EXPERIMENT: Final = "0"  # MLflow's "Default" experiment; there is no server here
# Span types MLflow logs at INFO (20); every other type is DEBUG (10).
_INFO_TYPES: Final = frozenset(
    {"LLM", "CHAT_MODEL", "TOOL", "RETRIEVER", "AGENT", "EMBEDDING"}
)


class TracingWarning(UserWarning):
    """A tracing call that did nothing, e.g. `update_current_trace` outside a trace."""


# --- ids ---------------------------------------------------------------------------


def _random_hex(bits: int) -> str:
    # OpenTelemetry's RandomIdGenerator: random bits, never the invalid all-zero id.
    value = 0
    while value == 0:
        value = random.getrandbits(bits)
    return f"{value:0{bits // 4}x}"


# --- live spans and traces --------------------------------------------------------

ACTIVE_SPAN: ContextVar[LiveSpan | None] = ContextVar(
    "polartrace_active_span", default=None
)
LAST_TRACE_ID: ContextVar[str | None] = ContextVar(
    "polartrace_last_trace_id", default=None
)
_last_trace_id: str | None = None
_LIVE: dict[str, _LiveTrace] = {}  # running traces, until first published


class _LiveTrace:
    """A trace whose root span has not ended yet (or has, with late children)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.otel_trace_id = _random_hex(128)
        self.trace_id = "tr-" + self.otel_trace_id
        self.spans: list[LiveSpan] = []
        self.root: LiveSpan | None = None
        self.tags: dict[str, str] = {}
        self.metadata: dict[str, str] = {}
        self.client_request_id: str | None = None
        self.request_preview: str | None = None
        self.response_preview: str | None = None
        self.state: TraceState | None = None
        self.assessments: list[Assessment] = []
        self.published = False
        _LIVE[self.trace_id] = self

    def publish(self) -> None:
        """Build the trace and hand it to the store (again, if spans ended late).

        A failure here is a polartrace bug: it is reported as a `TracingWarning`
        and never reaches the traced code, as MLflow logs a failed export.
        """
        global _last_trace_id  # MLflow's process-wide "last active trace"
        with self.lock:
            try:
                trace = _build(self)
                get_store()._publish(trace)
            except Exception as exc:  # tracing must never break the traced code
                msg = f"could not record trace {self.trace_id}: {exc!r}"
                warnings.warn(msg, TracingWarning, stacklevel=4)
                return
            if not self.published:
                self.published = True
                _LIVE.pop(self.trace_id, None)
                _last_trace_id = self.trace_id
                LAST_TRACE_ID.set(self.trace_id)


def live_trace(trace_id: str) -> _LiveTrace | None:
    """Return the running trace with this id, or ``None``."""
    return _LIVE.get(trace_id)


class LiveSpan:
    """A span that is still being recorded; `polartrace.start_span` yields one.

    Setters store values the way MLflow does: attribute values as JSON text,
    inputs under ``mlflow.spanInputs``, outputs under ``mlflow.spanOutputs``. After
    `end`, setters do nothing but warn. Read the finished trace with
    `polartrace.get_trace` (``span.trace_id``).
    """

    def __init__(
        self,
        name: str,
        span_type: str | None,
        parent: LiveSpan | None,
        attributes: Mapping[str, Any] | None = None,
    ) -> None:
        self._trace: _LiveTrace = parent._trace if parent is not None else _LiveTrace()
        self.name = str(name)
        self.span_id = _random_hex(64)
        self.parent_id = None if parent is None else parent.span_id
        self.start_time_ns = time.time_ns()
        self.end_time_ns: int | None = None
        self._status = SpanStatus()
        self._events: list[SpanEvent] = []
        self._attributes: dict[str, str] = {START_TIME_NS: str(self.start_time_ns)}
        with self._trace.lock:
            if parent is None:
                self._trace.root = self
                self._attributes[EXPERIMENT_ID] = json.dumps(EXPERIMENT)
            self._attributes[TRACE_REQUEST_ID_KEY] = json.dumps(self._trace.trace_id)
            self._attributes[SPAN_TYPE_KEY] = dump_value(span_type or SpanType.UNKNOWN)
            self._trace.spans.append(self)
        if attributes:
            self.set_attributes(attributes)

    def __repr__(self) -> str:
        return (
            f"LiveSpan(name={self.name!r}, trace_id={self.trace_id!r}, "
            f"span_id={self.span_id!r}, parent_id={self.parent_id!r})"
        )

    @property
    def trace_id(self) -> str:
        """The MLflow trace id, ``tr-`` and the 32 hex digits of the OTel trace id."""
        return self._trace.trace_id

    @property
    def request_id(self) -> str:
        """Alias of `trace_id`, MLflow's deprecated name."""
        return self._trace.trace_id

    @property
    def otel_trace_id(self) -> str:
        """The OpenTelemetry trace id, 32 hex digits."""
        return self._trace.otel_trace_id

    @property
    def status(self) -> SpanStatus:
        """The current status (``UNSET`` until it ends or is set)."""
        return self._status

    @property
    def span_type(self) -> str:
        """The ``mlflow.spanType`` attribute."""
        return str(self.get_attribute(SPAN_TYPE_KEY))

    @property
    def inputs(self) -> Any:
        """The decoded inputs, or ``None``."""
        return self.get_attribute(SPAN_INPUTS)

    @property
    def outputs(self) -> Any:
        """The decoded outputs, or ``None``."""
        return self.get_attribute(SPAN_OUTPUTS)

    @property
    def attributes(self) -> dict[str, Any]:
        """Every attribute, decoded (a new dict)."""
        with self._trace.lock:
            raw = dict(self._attributes)
        return {key: json.loads(text) for key, text in raw.items()}

    @property
    def events(self) -> list[SpanEvent]:
        """The events recorded so far (a new list)."""
        with self._trace.lock:
            return list(self._events)

    def get_attribute(self, key: str) -> Any:
        """Return the decoded value of attribute ``key``, or ``None``."""
        with self._trace.lock:
            text = self._attributes.get(key)
        return None if text is None else json.loads(text)

    def _writable(self, what: str) -> bool:
        if self.end_time_ns is None:
            return True
        msg = f"span {self.name!r} has ended; {what} is ignored"
        warnings.warn(msg, TracingWarning, stacklevel=3)
        return False

    def set_attribute(self, key: str, value: Any) -> None:
        """Set one attribute; ``value`` is stored as JSON text."""
        text = dump_value(value)
        with self._trace.lock:
            if self._writable(f"attribute {key!r}"):
                self._attributes[str(key)] = text

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        """Set several attributes, overwriting keys that exist."""
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def set_inputs(self, inputs: Any) -> None:
        """Record the span's inputs (``mlflow.spanInputs``)."""
        self.set_attribute(SPAN_INPUTS, inputs)

    def set_outputs(self, outputs: Any) -> None:
        """Record the span's outputs (``mlflow.spanOutputs``)."""
        self.set_attribute(SPAN_OUTPUTS, outputs)

    def set_span_type(self, span_type: str) -> None:
        """Change the span type (``mlflow.spanType``)."""
        self.set_attribute(SPAN_TYPE_KEY, span_type)

    def set_status(
        self, status: SpanStatus | SpanStatusCode | str, message: str = ""
    ) -> None:
        """Set the status: a `SpanStatus`, or a code ``"OK"``, ``"ERROR"``, ``"UNSET"``.

        Raises:
            TracingError: If ``status`` names no status code.
        """
        if not isinstance(status, SpanStatus):
            try:
                code = SpanStatusCode(status_code_name(str(status)))
            except ValueError:
                names = ", ".join(c.value for c in SpanStatusCode)
                msg = f"unknown span status {status!r} (expected one of {names})"
                raise TracingError(msg) from None
            status = SpanStatus(code, message)
        with self._trace.lock:
            if self._writable("set_status"):
                self._status = status

    def add_event(
        self,
        event: SpanEvent | str,
        attributes: Mapping[str, Any] | None = None,
        timestamp_ns: int | None = None,
    ) -> None:
        """Record an event: a `SpanEvent`, or a name and attributes (time: now)."""
        if not isinstance(event, SpanEvent):
            when = time.time_ns() if timestamp_ns is None else timestamp_ns
            event = SpanEvent(str(event), when, dict(attributes or {}))
        values = {str(k): event_value(v) for k, v in event.attributes.items()}
        event = SpanEvent(event.name, event.timestamp_ns, values)
        with self._trace.lock:
            if self._writable(f"event {event.name!r}"):
                self._events.append(event)

    def record_exception(self, exc: BaseException) -> None:
        """Add an ``exception`` event and set the status to ERROR, as OpenTelemetry."""
        self.add_event(exception_event(exc))
        self.set_status(SpanStatusCode.ERROR, f"{type(exc).__name__}: {safe_text(exc)}")

    def add_chunk_event(self, index: int, chunk: Any) -> None:
        """Record one streamed item as MLflow does (``mlflow.chunk.item.<i>``)."""
        name = CHUNK_EVENT.format(index=index)
        self.add_event(name, {CHUNK_VALUE: dump_value(chunk)})

    def end(
        self,
        outputs: Any = None,
        attributes: Mapping[str, Any] | None = None,
        status: SpanStatus | SpanStatusCode | str | None = None,
        end_time_ns: int | None = None,
    ) -> None:
        """End the span; later calls do nothing.

        A status that is not ERROR becomes OK, as in MLflow. Ending the root span
        finishes the trace and makes it searchable.

        Args:
            outputs: Outputs to record, unless ``None``.
            attributes: Attributes to set first.
            status: A status to set first.
            end_time_ns: The end time (now by default).
        """
        trace = self._trace
        with trace.lock:
            if self.end_time_ns is not None:
                return
            if attributes:
                self.set_attributes(attributes)
            if outputs is not None:
                self.set_outputs(outputs)
            if status is not None:
                self.set_status(status)
            if self._status.code is not SpanStatusCode.ERROR:
                self._status = SpanStatus(SpanStatusCode.OK)
            level = 20 if self.span_type in _INFO_TYPES else 10
            self._attributes[LOG_LEVEL] = str(level)
            self.end_time_ns = time.time_ns() if end_time_ns is None else end_time_ns
            if self is trace.root or trace.published:
                trace.publish()

    def to_span(self) -> Span:
        """Return an immutable `polartrace.Span` of the current state."""
        with self._trace.lock:
            return Span(
                name=self.name,
                span_id=self.span_id,
                otel_trace_id=self._trace.otel_trace_id,
                start_time_ns=self.start_time_ns,
                end_time_ns=self.end_time_ns,
                parent_id=self.parent_id,
                status=self._status,
                raw_attributes=self._attributes,
                events=self._events,
            )


# --- finishing a trace -------------------------------------------------------------


def _environment() -> dict[str, str]:
    # MLflow's resolve_env_metadata, minus git (no subprocess on the hot path).
    try:
        user = getpass.getuser()
    except Exception:
        user = ""
    source = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "<console>"
    return {
        "mlflow.user": user,
        "mlflow.source.name": source,
        "mlflow.source.type": "LOCAL",
        "mlflow.trace_schema.version": "3",
    }


_ENVIRONMENT: Final = _environment()


def _message_text(obj: Any, role: str) -> str | None:
    """The last ``role`` message's text of a chat request or response, as MLflow."""
    if not isinstance(obj, dict):
        return None
    messages: Any = None
    if isinstance(obj.get("messages"), list):
        messages = obj["messages"]
    elif isinstance(obj.get("choices"), list) and obj["choices"]:
        choice = obj["choices"][0]
        messages = [choice.get("message")] if isinstance(choice, dict) else None
    elif "request" in obj:
        return _message_text(obj["request"], role)
    if not messages:
        return None
    found = [
        m for m in messages if isinstance(m, dict) and "role" in m and "content" in m
    ]
    if not found:
        return None
    message = next((m for m in reversed(found) if m["role"] == role), found[-1])
    content = message.get("content")
    if isinstance(content, list):
        for part in content:
            if isinstance(part, str):
                return part
            if isinstance(part, dict) and part.get("type") in ("text", "output_text"):
                text = part.get("text")
                return text if isinstance(text, str) else None
        return None
    return content if isinstance(content, str) else None


def _preview(raw: str | None, role: str) -> str | None:
    # mlflow.tracing.utils.truncation: a chat message's text if there is one, else
    # the JSON itself; "" (no inputs/outputs) is left out like protobuf does.
    if not raw:
        return None
    try:
        text = _message_text(json.loads(raw), role) or raw
    except ValueError:
        text = raw
    return truncate_preview(text) or None


def _percentile(values: list[int], q: float) -> int:
    index = q * (len(values) - 1)
    low = int(index)
    if low + 1 >= len(values):
        return values[-1]
    weight = index - low
    return int(values[low] * (1 - weight) + values[low + 1] * weight)


def _with_size_stats(trace: Trace) -> Trace:
    # add_size_stats_to_trace_metadata, computed on the finished trace.
    sizes = [len(json.dumps(s.to_dict()).encode()) for s in trace.data.spans]
    if not sizes:
        return trace
    bare = len(Trace(trace.info).to_json().encode())
    total = sum(sizes) + bare + (len(sizes) - 1) * 2
    ordered = sorted(sizes)
    stats = {
        "total_size_bytes": total,
        "num_spans": len(sizes),
        "max": ordered[-1],
        "p25": _percentile(ordered, 0.25),
        "p50": _percentile(ordered, 0.50),
        "p75": _percentile(ordered, 0.75),
    }
    metadata = dict(trace.info.trace_metadata)
    metadata[SIZE_STATS_KEY] = json.dumps(stats)
    metadata[SIZE_BYTES_KEY] = str(total)
    return Trace(attrs.evolve(trace.info, trace_metadata=metadata), trace.data)


def _dedup_names(spans: list[Span]) -> list[Span]:
    # deduplicate_span_names_in_place: [red, red, blue] -> [red_1, red_2, blue]
    counts = {name: 1 for name, n in Counter(s.name for s in spans).items() if n > 1}
    out = []
    for span in spans:
        if (n := counts.get(span.name)) is not None:
            counts[span.name] = n + 1
            span = attrs.evolve(span, name=f"{span.name}_{n}")
        out.append(span)
    return out


def _build(live: _LiveTrace) -> Trace:
    """Return the finished `Trace` of ``live`` (its lock held)."""
    root = live.root
    assert root is not None
    end = root.end_time_ns if root.end_time_ns is not None else time.time_ns()
    spans = _dedup_names([priced(span.to_span()) for span in live.spans])
    if live.state is not None:
        state = live.state
    elif root.status.code is SpanStatusCode.ERROR:
        state = TraceState.ERROR
    else:
        state = TraceState.OK
    raw_inputs, raw_outputs = (
        root._attributes.get(SPAN_INPUTS),
        root._attributes.get(SPAN_OUTPUTS),
    )
    metadata = {**_ENVIRONMENT, **live.metadata}
    metadata[TRACE_INPUTS_KEY] = truncate_preview(raw_inputs, METADATA_MAX_CHARS)
    metadata[TRACE_OUTPUTS_KEY] = truncate_preview(raw_outputs, METADATA_MAX_CHARS)
    usage = token_usage(
        (span.span_id, span.parent_id, span.get_attribute(CHAT_USAGE_KEY))
        for span in spans
    )
    if usage is not None:
        metadata[TOKEN_USAGE_KEY] = json.dumps(usage)
    cost = trace_totals(
        "cost", [(s.span_id, s.parent_id, s.get_attribute) for s in spans]
    )
    if cost is not None:
        metadata[COST_KEY] = json.dumps(cost)
    info = TraceInfo(
        trace_id=live.trace_id,
        request_time=root.start_time_ns // 1_000_000,
        state=state,
        execution_duration=(end - root.start_time_ns) // 1_000_000,
        client_request_id=live.client_request_id,
        trace_location={
            "type": "MLFLOW_EXPERIMENT",
            "mlflow_experiment": {"experiment_id": EXPERIMENT},
        },
        request_preview=live.request_preview or _preview(raw_inputs, "user"),
        response_preview=live.response_preview or _preview(raw_outputs, "assistant"),
        trace_metadata=metadata,
        tags={TRACE_NAME_TAG: root.name, **live.tags},
        assessments=live.assessments,
    )
    trace = _with_size_stats(Trace(info, TraceData(spans)))
    metadata = dict(trace.info.trace_metadata)
    metadata[INFO_FINALIZED_KEY] = "true"
    return Trace(attrs.evolve(trace.info, trace_metadata=metadata), trace.data)


def last_trace_id(*, thread_local: bool) -> str | None:
    """The id of the last trace finished in this process (or in this context)."""
    return LAST_TRACE_ID.get() if thread_local else _last_trace_id
