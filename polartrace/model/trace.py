"""The trace object model and its exact round trip through MLflow 3's trace JSON.

`Trace.from_dict` reads the dictionary MLflow's ``Trace.to_dict()`` writes and
`Trace.to_dict` writes it back with the same keys in the same order, so
``json.dumps(Trace.from_dict(d).to_dict()) == json.dumps(d)`` for anything MLflow
wrote. Span attribute values stay the JSON text MLflow stored and are decoded only
when an accessor asks, which keeps loading cheap. Every defect in the input raises
`TraceFormatError` whose ``location`` is the JSON path (``data.spans[2].attributes``).

Spans and assessments are defined in `polartrace.model.span` and
`polartrace.model.assessment`; this module re-exports them, so import from here.
"""

from __future__ import annotations

import enum
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs

from polartrace.model.assessment import (
    Assessment,
    AssessmentError,
    AssessmentKind,
    AssessmentSource,
    read_assessment,
)
from polartrace.model.span import (
    Span,
    SpanEvent,
    SpanStatus,
    SpanStatusCode,
    SpanType,
    read_span,
)
from polartrace.model.summary import trace_html, trace_repr
from polartrace.model.timestamps import timestamp_text
from polartrace.model.validate import (
    check_fields,
    check_strings,
    expect,
    fail,
    read_with_source,
    required,
    time_ms,
)
from polartrace.values.conventions import (
    MLFLOW2_STATE_UNSPECIFIED,
    SESSION_KEY,
    STATE_SPELLINGS,
    STATE_UNSPECIFIED,
    TRACE_NAME_TAG,
    root_span,
)
from polartrace.values.errors import TraceFormatError
from polartrace.values.nesting import check_nesting, loads

__all__ = [
    "Assessment",
    "AssessmentError",
    "AssessmentKind",
    "AssessmentSource",
    "Span",
    "SpanEvent",
    "SpanStatus",
    "SpanStatusCode",
    "SpanType",
    "Trace",
    "TraceData",
    "TraceInfo",
    "TraceState",
]


class TraceState(enum.StrEnum):
    """The state of a trace. ``TRACE_STATUS_UNSPECIFIED`` is read as unspecified."""

    STATE_UNSPECIFIED = "STATE_UNSPECIFIED"
    OK = "OK"
    ERROR = "ERROR"
    IN_PROGRESS = "IN_PROGRESS"

    @classmethod
    def _missing_(cls, value: object) -> TraceState | None:
        return cls.STATE_UNSPECIFIED if value == MLFLOW2_STATE_UNSPECIFIED else None


# Converters. Typed per element type because mypy's attrs plugin cannot solve the
# type variable of a generic converter such as ``tuple``. Copying also means that a
# trace never shares a mapping with its caller.


def _strings(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


def _location(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    return None if value is None else dict(value)


def _state(value: TraceState | str) -> TraceState:
    return value if type(value) is TraceState else TraceState(value)


def _spans(value: Iterable[Span]) -> tuple[Span, ...]:
    return tuple(value)


def _assessments(value: Iterable[Assessment]) -> tuple[Assessment, ...]:
    return tuple(value)


def _parent_of(span: Span) -> str | None:
    return span.parent_id


@attrs.frozen
class TraceData:
    """The spans of a trace, in stored order."""

    spans: tuple[Span, ...] = attrs.field(default=(), converter=_spans)

    @property
    def root_span(self) -> Span | None:
        """The first span without a parent, or ``None`` (`conventions.root_span`)."""
        return root_span(self.spans, _parent_of)

    @property
    def request(self) -> Any:
        """The root span's decoded inputs, ``None`` without a root span.

        This is the value of MLflow's DataFrame ``request`` column; MLflow's own
        ``TraceData.request`` returns the undecoded JSON text instead.
        """
        root = self.root_span
        return None if root is None else root.inputs

    @property
    def response(self) -> Any:
        """The root span's decoded outputs, ``None`` without a root span."""
        root = self.root_span
        return None if root is None else root.outputs

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"spans": [...]}`` as MLflow writes it."""
        return {"spans": [span.to_dict() for span in self.spans]}


# --- traces ------------------------------------------------------------------------

_STATES: Final = {
    spelling: TraceState(state) for spelling, state in STATE_SPELLINGS.items()
}


@attrs.frozen(kw_only=True)
class TraceInfo:
    """Everything about a trace except its spans, with MLflow's accessor names.

    Attributes:
        trace_id: The trace id (``tr-`` and 32 hex digits for MLflow traces).
        request_time: Start in epoch milliseconds.
        state: The trace state (a string is converted).
        execution_duration: Duration in milliseconds, ``None`` while in progress.
        client_request_id: The caller's own id, if any.
        trace_location: Where the trace is stored, kept as the dictionary given.
        request_preview: Truncated request text, ``None`` when not written.
        response_preview: Truncated response text, ``None`` when not written.
        trace_metadata: String metadata, in stored order.
        tags: String tags, in stored order.
        assessments: Every assessment, overridden ones included.
    """

    trace_id: str
    request_time: int
    state: TraceState = attrs.field(
        default=TraceState.STATE_UNSPECIFIED, converter=_state
    )
    execution_duration: int | None = None
    client_request_id: str | None = None
    trace_location: dict[str, Any] | None = attrs.field(
        default=None, converter=_location
    )
    request_preview: str | None = None
    response_preview: str | None = None
    trace_metadata: dict[str, str] = attrs.field(factory=dict, converter=_strings)
    tags: dict[str, str] = attrs.field(factory=dict, converter=_strings)
    assessments: tuple[Assessment, ...] = attrs.field(
        default=(), converter=_assessments
    )

    @property
    def request_id(self) -> str:
        """Alias of `trace_id`, MLflow's deprecated name."""
        return self.trace_id

    @property
    def status(self) -> TraceState:
        """Alias of `state`."""
        return self.state

    @property
    def timestamp_ms(self) -> int:
        """Alias of `request_time`."""
        return self.request_time

    @property
    def execution_time_ms(self) -> int | None:
        """Alias of `execution_duration`."""
        return self.execution_duration

    @property
    def end_time_ms(self) -> int:
        """``request_time`` plus the duration (plus 0 while in progress)."""
        return self.request_time + (self.execution_duration or 0)

    @property
    def request_metadata(self) -> dict[str, str]:
        """Alias of `trace_metadata`."""
        return self.trace_metadata

    @property
    def experiment_id(self) -> str | None:
        """The MLflow experiment id in ``trace_location``, or ``None``."""
        experiment = (self.trace_location or {}).get("mlflow_experiment")
        value = (
            experiment.get("experiment_id") if isinstance(experiment, dict) else None
        )
        return value if isinstance(value, str) else None

    @property
    def trace_name(self) -> str | None:
        """The ``mlflow.traceName`` tag, or ``None``."""
        return self.tags.get(TRACE_NAME_TAG)

    @property
    def session_id(self) -> str | None:
        """The ``mlflow.trace.session`` metadata value, or ``None``."""
        return self.trace_metadata.get(SESSION_KEY)

    @classmethod
    def from_dict(cls, d: Any, *, source: str | None = None) -> TraceInfo:
        """Read the ``info`` object of MLflow's trace JSON (see `Trace.from_dict`)."""
        return read_with_source(_info_from_dict, d, "info", source)

    def to_dict(self) -> dict[str, Any]:
        """Return the ``info`` object of MLflow's trace JSON, keys in MLflow's order.

        Raises:
            TraceFormatError: If a time lies outside the years 1-9999.
        """
        out: dict[str, Any] = {"trace_id": self.trace_id}
        if self.client_request_id is not None:
            out["client_request_id"] = self.client_request_id
        if self.trace_location is not None:
            out["trace_location"] = dict(self.trace_location)
        out["request_time"] = timestamp_text(self.request_time, "info.request_time")
        out["state"] = self.state.value
        # Protobuf's JSON form leaves out empty maps and lists.
        if self.trace_metadata:
            out["trace_metadata"] = dict(self.trace_metadata)
        if self.assessments:
            out["assessments"] = [a.to_dict() for a in self.assessments]
        if self.tags:
            out["tags"] = dict(self.tags)
        if self.request_preview is not None:
            out["request_preview"] = self.request_preview
        if self.response_preview is not None:
            out["response_preview"] = self.response_preview
        # MLflow drops the protobuf Duration and appends this key last.
        if self.execution_duration is not None:
            out["execution_duration_ms"] = self.execution_duration
        return out


_INFO_FIELDS: Final = {
    "trace_id": str,
    "client_request_id": str,
    "trace_location": dict,
    "state": str,
    "trace_metadata": dict,
    "assessments": list,
    "tags": dict,
    "request_preview": str,
    "response_preview": str,
    "execution_duration_ms": int,
}


def _info_from_dict(d: Any, path: str) -> TraceInfo:
    check_fields(d, _INFO_FIELDS, "an info object", path)
    required(d, "trace_id", path)
    if (request_time := time_ms(d, "request_time", path)) is None:
        fail("required key is missing or null", f"{path}.request_time")
    if (state := _STATES.get(d.get("state") or STATE_UNSPECIFIED)) is None:
        names = ", ".join(TraceState)
        fail(f"unknown state {d['state']!r} (expected one of {names})", f"{path}.state")
    if location := d.get("trace_location"):
        check_nesting(location, f"{path}.trace_location")
    for key in ("trace_metadata", "tags"):
        if mapping := d.get(key):
            check_strings(mapping, f"{path}.{key}")
    assessments = d.get("assessments") or ()
    if assessments:
        assessments = [
            read_assessment(a, f"{path}.assessments[{i}]")
            for i, a in enumerate(assessments)
        ]
    return TraceInfo(
        trace_id=d["trace_id"],
        request_time=request_time,
        state=state,
        execution_duration=d.get("execution_duration_ms"),
        client_request_id=d.get("client_request_id"),
        trace_location=d.get("trace_location"),
        request_preview=d.get("request_preview"),
        response_preview=d.get("response_preview"),
        trace_metadata=d.get("trace_metadata") or {},
        tags=d.get("tags") or {},
        assessments=assessments,
    )


def _trace_from_dict(d: Any, path: str) -> Trace:
    expect(d, dict, "a trace object", path)
    check_fields(d, {"info": dict, "data": dict}, "", "")
    required(d, "info", "")
    info = _info_from_dict(d["info"], "info")
    data = d.get("data") or {}
    check_fields(data, {"spans": list}, "an object", "data")
    ids: dict[str, str] = {}
    spans = [
        read_span(s, f"data.spans[{i}]", ids)
        for i, s in enumerate(data.get("spans") or ())
    ]
    return Trace(info, TraceData(spans))


@attrs.frozen(repr=False)
class Trace:
    """A trace: its `TraceInfo` and its spans.

    Example:
        >>> info = TraceInfo(trace_id="tr-1", request_time=1700000000500, state="OK")
        >>> Trace(info).to_dict()
        {'info': {'trace_id': 'tr-1', 'request_time': '2023-11-14T22:13:20.500Z', \
'state': 'OK'}, 'data': {'spans': []}}
    """

    info: TraceInfo
    data: TraceData = TraceData()

    @classmethod
    def from_dict(cls, d: Any, *, source: str | None = None) -> Trace:
        """Read a trace in the shape of MLflow 3's ``Trace.to_dict()``.

        Times may be RFC 3339 text with any offset and fraction, or integer epoch
        milliseconds. Keys polartrace does not know are ignored. Mappings are
        copied one level deep; nested values such as a list-valued feedback stay
        shared with ``d``, so do not mutate ``d`` afterwards.

        Args:
            d: ``{"info": {...}, "data": {"spans": [...]}}``.
            source: Named in errors, e.g. a file name.

        Returns:
            The trace.

        Raises:
            TraceFormatError: If ``d`` is no such trace; ``location`` is the JSON
                path of the defect (``data.spans[2].attributes``), or ``trace`` when
                ``d`` itself is not an object.
        """
        return read_with_source(_trace_from_dict, d, "trace", source)

    @classmethod
    def from_json(cls, text: str | bytes, *, source: str | None = None) -> Trace:
        """Read a trace from JSON text such as MLflow's ``Trace.to_json()`` writes.

        Raises:
            TraceFormatError: If ``text`` is not JSON (``location`` gives the line
                and column) or not a trace (see `from_dict`).
        """
        where: str | None
        try:
            d = loads(text)
        except json.JSONDecodeError as exc:
            message, where = exc.msg, f"line {exc.lineno}, column {exc.colno}"
        except TraceFormatError as exc:  # nested too deeply
            message, where = exc.message, exc.location
        except ValueError as exc:  # bytes that are not UTF-8, -16 or -32
            message, where = str(exc), None
        else:
            return cls.from_dict(d, source=source)
        msg = f"invalid JSON: {message}"
        raise TraceFormatError(msg, source=source, location=where)

    def __repr__(self) -> str:
        """A one-line summary: id, state, name, span count and duration."""
        return trace_repr(self)

    def _repr_html_(self) -> str:
        return trace_html(self)

    def to_dict(self) -> dict[str, Any]:
        """Return ``{"info": ..., "data": {"spans": [...]}}`` as MLflow writes it."""
        return {"info": self.info.to_dict(), "data": self.data.to_dict()}

    def to_json(self, *, pretty: bool = False) -> str:
        """Return the JSON text of `to_dict`, as MLflow's ``Trace.to_json()``."""
        return json.dumps(self.to_dict(), indent=2 if pretty else None)

    def search_spans(
        self,
        *,
        span_type: str | None = None,
        name: str | re.Pattern[str] | None = None,
        span_id: str | None = None,
    ) -> list[Span]:
        """Return the spans that match every given criterion, in stored order.

        Args:
            span_type: Exact span type, e.g. ``SpanType.LLM``.
            name: Exact name, or a compiled pattern searched for anywhere in the
                name (``re.Pattern.search``, as MLflow does).
            span_id: Exact span id (16 hex digits).

        Returns:
            The matching spans.

        Raises:
            TypeError: If ``name`` is neither a string nor a compiled pattern.

        Example:
            >>> span = Span(name="retriever", span_id="01" * 8,
            ...     otel_trace_id="02" * 16, start_time_ns=0)
            >>> info = TraceInfo(trace_id="tr-1", request_time=0)
            >>> trace = Trace(info, TraceData([span]))
            >>> [s.name for s in trace.search_spans(name=re.compile("retr"))]
            ['retriever']
        """
        if name is not None and not isinstance(name, str | re.Pattern):
            msg = f"name must be a str or a compiled pattern, not {type(name).__name__}"
            raise TypeError(msg)
        return [
            span
            for span in self.data.spans
            if (span_type is None or span.span_type == span_type)
            and (span_id is None or span.span_id == span_id)
            and (
                name is None
                or (
                    span.name == name
                    if isinstance(name, str)
                    else name.search(span.name)
                )
            )
        ]
