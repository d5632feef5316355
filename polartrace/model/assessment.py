"""Assessments: feedback, expectations and issue links, as MLflow writes them.

`Assessment.from_dict` reads MLflow's ``Assessment.to_dictionary()`` (the protobuf
JSON form) and `Assessment.to_dict` writes it back, keys in field-number order.
Kept apart from the traces in `polartrace.model.trace`, which re-exports everything
public here: import from there.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from typing import Any, Final

import attrs

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
from polartrace.values.conventions import ASSESSMENT_SOURCE_RUN_KEY, SESSION_KEY
from polartrace.values.errors import TraceFormatError
from polartrace.values.nesting import check_nesting

__all__ = ["Assessment", "AssessmentError", "AssessmentKind", "AssessmentSource"]

#: Metadata key that scopes an assessment, or a trace, to a session.
_JSON_FORMAT: Final = "JSON_FORMAT"


class AssessmentKind(enum.StrEnum):
    """Which member of the protobuf ``value`` oneof an assessment carries."""

    FEEDBACK = "feedback"
    EXPECTATION = "expectation"
    ISSUE = "issue"


# Typed converters, as in `polartrace.model.trace`: mypy's attrs plugin cannot solve a
# generic one, and copying means an assessment never shares its caller's mapping.


def _strings(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


def _kind(value: AssessmentKind | str) -> AssessmentKind:
    return value if type(value) is AssessmentKind else AssessmentKind(value)


@attrs.frozen
class AssessmentSource:
    """Who produced an assessment: ``HUMAN``, ``LLM_JUDGE`` or ``CODE``, and an id."""

    source_type: str | None = None
    source_id: str | None = None

    def to_dict(self) -> dict[str, str]:
        """Return the protobuf JSON form, leaving out unset fields."""
        out = {"source_type": self.source_type, "source_id": self.source_id}
        return {key: value for key, value in out.items() if value is not None}


@attrs.frozen
class AssessmentError:
    """Why a feedback has no value: the judge or scorer failed."""

    error_code: str | None = None
    error_message: str | None = None
    stack_trace: str | None = None

    def to_dict(self) -> dict[str, str]:
        """Return the protobuf JSON form, leaving out unset fields."""
        out = attrs.asdict(self)
        return {key: value for key, value in out.items() if value is not None}


@attrs.frozen(kw_only=True)
class Assessment:
    """A feedback, expectation or issue link attached to a trace.

    Attributes:
        name: ``assessment_name``; for an issue link, the issue's id.
        kind: Which kind of assessment this is.
        value: The value as JSON gave it (MLflow writes numbers as floats, ``3.0``);
            ``None`` for an error-only feedback. For an issue link, protobuf's
            boolean flag (``None`` when not written, which protobuf reads as true).
        assessment_id: The id, ``a-...``.
        trace_id: The trace it was logged on.
        span_id: The span it refers to, if any.
        source: Who produced it.
        create_time_ms: Creation time in epoch milliseconds.
        last_update_time_ms: Last update in epoch milliseconds.
        error: For a feedback, why it has no value.
        rationale: The justification given.
        metadata: String metadata; ``mlflow.trace.session`` scopes it to a session.
        overrides: The id of the assessment this one replaces.
        valid: ``False`` once overridden; ``None`` (not written) means valid.
    """

    name: str
    kind: AssessmentKind = attrs.field(converter=_kind)
    value: Any = None
    assessment_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    source: AssessmentSource | None = None
    create_time_ms: int | None = None
    last_update_time_ms: int | None = None
    error: AssessmentError | None = None
    rationale: str | None = None
    metadata: dict[str, str] = attrs.field(factory=dict, converter=_strings)
    overrides: str | None = None
    # No protobuf field: MLflow derives the run from metadata. A top-level "run_id"
    # in the input is kept here so that it round-trips; read it through `run_id`.
    _run_id: str | None = None
    valid: bool | None = None

    @property
    def is_valid(self) -> bool:
        """Whether the assessment counts: only an explicit ``valid: false`` excludes."""
        return self.valid is not False

    @property
    def session_id(self) -> str | None:
        """The session this assessment is scoped to (its metadata), or ``None``."""
        return self.metadata.get(SESSION_KEY)

    @property
    def run_id(self) -> str | None:
        """The run that produced it: ``run_id`` or ``mlflow.assessment.sourceRunId``."""
        if self._run_id is not None:
            return self._run_id
        return self.metadata.get(ASSESSMENT_SOURCE_RUN_KEY)

    @classmethod
    def from_dict(cls, d: Any, *, source: str | None = None) -> Assessment:
        """Read one assessment in the shape of MLflow's ``Assessment.to_dictionary()``.

        Raises:
            TraceFormatError: If ``d`` is no such assessment; ``location`` is a path
                starting at ``assessment``, such as ``assessment.feedback``.
        """
        return read_with_source(read_assessment, d, "assessment", source)

    def to_dict(self) -> dict[str, Any]:
        """Return the protobuf JSON form, keys in field-number order as MLflow writes.

        Raises:
            TraceFormatError: If a time lies outside the years 1-9999.
        """
        out: dict[str, Any] = {}
        if self.assessment_id is not None:
            out["assessment_id"] = self.assessment_id
        out["assessment_name"] = self.name
        if self.trace_id is not None:
            out["trace_id"] = self.trace_id
        if self.span_id is not None:
            out["span_id"] = self.span_id
        if self.source is not None:
            out["source"] = self.source.to_dict()
        if self.create_time_ms is not None:
            out["create_time"] = timestamp_text(
                self.create_time_ms, "assessment.create_time"
            )
        if self.last_update_time_ms is not None:
            out["last_update_time"] = timestamp_text(
                self.last_update_time_ms, "assessment.last_update_time"
            )
        if self.kind is AssessmentKind.FEEDBACK:
            out["feedback"] = {"value": self.value}
            if self.error is not None:
                out["feedback"]["error"] = self.error.to_dict()
        elif self.kind is AssessmentKind.EXPECTATION:
            # As MLflow's ExpectationValue.to_proto: scalars in a protobuf Value,
            # anything else (lists, objects, null) as JSON text.
            if isinstance(self.value, str | int | float):
                out["expectation"] = {"value": self.value}
            else:
                text = json.dumps(self.value)
                serialized = {"serialization_format": _JSON_FORMAT, "value": text}
                out["expectation"] = {"serialized_value": serialized}
        if self.rationale is not None:
            out["rationale"] = self.rationale
        if self.metadata:
            out["metadata"] = dict(self.metadata)
        if self.overrides is not None:
            out["overrides"] = self.overrides
        if self._run_id is not None:  # not a protobuf field; see the attribute
            out["run_id"] = self._run_id
        if self.valid is not None:
            out["valid"] = self.valid
        if self.kind is AssessmentKind.ISSUE:  # protobuf field 16, after valid (15)
            out["issue"] = {} if self.value is None else {"value": self.value}
        return out


_ASSESSMENT_FIELDS: Final = {
    "assessment_id": str,
    "assessment_name": str,
    "trace_id": str,
    "span_id": str,
    "source": dict,
    "feedback": dict,
    "expectation": dict,
    "issue": dict,
    "rationale": str,
    "error": dict,
    "metadata": dict,
    "overrides": str,
    "run_id": str,
    "valid": bool,
}
_SOURCE_FIELDS: Final = {"source_type": str, "source_id": str}
_ERROR_FIELDS: Final = {"error_code": str, "error_message": str, "stack_trace": str}
_KINDS: Final = tuple((kind.value, kind) for kind in AssessmentKind)


# Sources repeat across assessments (one human, one judge): share the frozen objects.
_SOURCES: dict[tuple[Any, Any], AssessmentSource] = {}


def _source(d: Any, path: str) -> AssessmentSource:
    check_fields(d, _SOURCE_FIELDS, "a source object", f"{path}.source")
    key = (d.get("source_type"), d.get("source_id"))
    if (source := _SOURCES.get(key)) is None:
        if len(_SOURCES) >= 1024:  # bound the cache for data with many source ids
            _SOURCES.clear()
        source = _SOURCES[key] = AssessmentSource(*key)
    return source


def _deserialize(sv: Any, path: str) -> Any:
    """Decode an expectation's ``serialized_value`` (MLflow writes ``JSON_FORMAT``)."""
    expect(sv, dict, "an object", path)
    if (fmt := sv.get("serialization_format")) != _JSON_FORMAT:
        fail(f"unsupported serialization format {fmt!r}", path)
    text = expect(sv.get("value"), str, "JSON text", f"{path}.value")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        msg = f"invalid JSON: {exc}"
        raise TraceFormatError(msg, location=f"{path}.value") from None


def read_assessment(d: Any, path: str) -> Assessment:
    """Read the assessment at JSON path ``path``; raise `TraceFormatError` if bad."""
    check_fields(d, _ASSESSMENT_FIELDS, "an assessment object", path)
    required(d, "assessment_name", path)
    kinds = [(key, kind) for key, kind in _KINDS if d.get(key) is not None]
    if len(kinds) != 1:
        found = ", ".join(key for key, _ in kinds) or "none"
        fail(f"expected one of feedback, expectation, issue; found {found}", path)
    key, kind = kinds[0]
    body = d[key]
    value, error = body.get("value"), None
    if kind is AssessmentKind.FEEDBACK:
        # A top-level "error" is protobuf field 12, deprecated for feedback.error.
        inside = "error" in body
        if (raw_error := body["error"] if inside else d.get("error")) is not None:
            where = f"{path}.{key}.error" if inside else f"{path}.error"
            check_fields(raw_error, _ERROR_FIELDS, "an error object", where)
            error = AssessmentError(*(raw_error.get(name) for name in _ERROR_FIELDS))
    elif kind is AssessmentKind.EXPECTATION and "serialized_value" in body:
        value = _deserialize(body["serialized_value"], f"{path}.{key}.serialized_value")
    elif kind is AssessmentKind.ISSUE and value is not None:
        expect(value, bool, "a boolean", f"{path}.{key}.value")
    if type(value) is dict or type(value) is list:
        # Free-form JSON that the frame builder and output recurse into.
        check_nesting(value, f"{path}.{key}.value")
    if (source := d.get("source")) is not None:
        source = _source(source, path)
    if metadata := d.get("metadata"):
        check_strings(metadata, f"{path}.metadata")
    created = time_ms(d, "create_time", path)
    # Both times are usually the same text: parse it once.
    same = d.get("last_update_time") == d.get("create_time")
    return Assessment(
        name=d["assessment_name"],
        kind=kind,
        value=value,
        assessment_id=d.get("assessment_id"),
        trace_id=d.get("trace_id"),
        span_id=d.get("span_id"),
        source=source,
        create_time_ms=created,
        last_update_time_ms=created if same else time_ms(d, "last_update_time", path),
        error=error,
        rationale=d.get("rationale"),
        metadata=metadata or {},
        overrides=d.get("overrides"),
        run_id=d.get("run_id"),
        valid=d.get("valid"),
    )
