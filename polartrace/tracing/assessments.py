"""Feedback and expectations on captured traces, as ``mlflow.log_feedback`` and friends.

An assessment is attached wherever its trace lives: to a running trace (it is
published with it) or to a finished one in the store. Overriding a feedback keeps
the old one with ``valid=False`` and links the new one through ``overrides``, so
searches (``feedback.<name> = ...``) see only the current judgement.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from polartrace.model.trace import (
    Assessment,
    AssessmentError,
    AssessmentKind,
    AssessmentSource,
    Trace,
)
from polartrace.tracing.encode import exception_event
from polartrace.tracing.live import live_trace
from polartrace.tracing.store import get_store
from polartrace.values.errors import TraceNotFoundError, TracingError

__all__ = ["log_expectation", "log_feedback", "override_feedback", "string_map"]


def string_map(mapping: Mapping[Any, Any] | None, what: str) -> dict[str, str]:
    """Return ``mapping`` with keys and values as strings (``str()`` of others).

    Raises:
        TracingError: If ``mapping`` is not a mapping.
    """
    if mapping is None:
        return {}
    if not isinstance(mapping, Mapping):
        msg = f"{what} must be a dict of strings, not {type(mapping).__name__}"
        raise TracingError(msg)
    return {str(k): v if isinstance(v, str) else str(v) for k, v in mapping.items()}


_DEFAULT_SOURCE = AssessmentSource("CODE", "default")


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _change_assessments(
    trace_id: str, change: Callable[[list[Assessment]], Assessment]
) -> Assessment:
    """Apply ``change`` to the trace's assessment list, wherever the trace lives."""
    live = live_trace(trace_id)
    if live is not None:
        with live.lock:
            if not live.published:
                return change(live.assessments)
    result: list[Assessment] = []

    def apply(trace: Trace) -> Trace:
        assessments = list(trace.info.assessments)
        result.append(change(assessments))
        return Trace(attrs.evolve(trace.info, assessments=assessments), trace.data)

    if get_store()._update(trace_id, apply) is None:
        msg = f"no trace with id {trace_id!r} in the trace store"
        raise TraceNotFoundError(msg)
    return result[0]


def _new_assessment(trace_id: str, **fields: Any) -> Assessment:
    now = _now_ms()
    metadata = string_map(fields.pop("metadata", None), "metadata")
    source = fields.pop("source", None) or _DEFAULT_SOURCE
    if not isinstance(source, AssessmentSource):
        msg = f"source must be an AssessmentSource, not {type(source).__name__}"
        raise TracingError(msg)
    return Assessment(
        assessment_id="a-" + uuid.uuid4().hex,
        trace_id=trace_id,
        source=source,
        create_time_ms=now,
        last_update_time_ms=now,
        metadata=metadata,
        valid=True,
        **fields,
    )


def _append(
    trace_id: str,
    kind: AssessmentKind,
    name: str,
    value: Any,
    source: AssessmentSource | None,
    metadata: Mapping[str, Any] | None,
    span_id: str | None,
    **fields: Any,
) -> Assessment:
    """Create an assessment and add it to the trace, running or stored."""
    assessment = _new_assessment(
        trace_id,
        kind=kind,
        name=name,
        value=value,
        source=source,
        metadata=metadata,
        span_id=span_id,
        **fields,
    )

    def add(assessments: list[Assessment]) -> Assessment:
        assessments.append(assessment)
        return assessment

    return _change_assessments(trace_id, add)


def _error(error: BaseException | AssessmentError | None) -> AssessmentError | None:
    if error is None or isinstance(error, AssessmentError):
        return error
    event = exception_event(error)
    # MLflow's _get_stacktrace: the repr, then the formatted exception.
    stack = (repr(error) + str(event.attributes["exception.stacktrace"])).strip()
    return AssessmentError(type(error).__name__, str(error), stack)


def log_feedback(
    *,
    trace_id: str,
    name: str = "feedback",
    value: Any = None,
    source: AssessmentSource | None = None,
    error: BaseException | AssessmentError | None = None,
    rationale: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    span_id: str | None = None,
) -> Assessment:
    """Attach a feedback (a judgement of quality) to a trace.

    Args:
        trace_id: A finished or running trace.
        name: The feedback name, e.g. ``"helpfulness"``.
        value: A number, string, boolean, or a list or dict of them.
        source: Who judged; ``AssessmentSource("CODE", "default")`` by default.
        error: Why there is no value (an exception or an `AssessmentError`).
        rationale: Why this value.
        metadata: String metadata; ``{"mlflow.trace.session": id}`` makes the
            feedback apply to every trace of that session in searches.
        span_id: The span it refers to.

    Returns:
        The new assessment (id ``a-`` and 32 hex digits, ``valid=True``).

    Raises:
        TracingError: If neither ``value`` nor ``error`` is given.
        TraceNotFoundError: If no trace has this id.

    Example:
        >>> from polartrace.tracing.sdk import get_trace, start_span
        >>> with start_span("answer") as span:
        ...     pass
        >>> fb = log_feedback(trace_id=span.trace_id, name="helpful", value=True)
        >>> [a.name for a in get_trace(span.trace_id).info.assessments]
        ['helpful']
    """
    if value is None and error is None:
        msg = "log_feedback needs a value or an error"
        raise TracingError(msg)
    return _append(
        trace_id,
        AssessmentKind.FEEDBACK,
        name,
        value,
        source,
        metadata,
        span_id,
        error=_error(error),
        rationale=rationale,
    )


def log_expectation(
    *,
    trace_id: str,
    name: str,
    value: Any,
    source: AssessmentSource | None = None,
    metadata: Mapping[str, Any] | None = None,
    span_id: str | None = None,
) -> Assessment:
    """Attach an expectation (a ground-truth label) to a trace.

    Args:
        trace_id: A finished or running trace.
        name: The expectation name, e.g. ``"expected_answer"``.
        value: Any JSON value.
        source: Who labelled it; ``AssessmentSource("CODE", "default")`` by default.
        metadata: String metadata.
        span_id: The span it refers to.

    Returns:
        The new assessment.

    Raises:
        TracingError: If ``value`` is ``None``.
        TraceNotFoundError: If no trace has this id.

    Example:
        >>> from polartrace.tracing.sdk import get_trace, start_span
        >>> with start_span("answer") as span:
        ...     pass
        >>> log_expectation(trace_id=span.trace_id, name="expected", value="42").kind
        <AssessmentKind.EXPECTATION: 'expectation'>
    """
    if value is None:
        msg = "log_expectation needs a value"
        raise TracingError(msg)
    return _append(
        trace_id, AssessmentKind.EXPECTATION, name, value, source, metadata, span_id
    )


def override_feedback(
    *,
    trace_id: str,
    assessment_id: str,
    value: Any,
    rationale: str | None = None,
    source: AssessmentSource | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Assessment:
    """Replace a feedback by a corrected one, keeping the old one as invalid.

    The old feedback gets ``valid=False`` (searches ignore it); the new one has
    the same name and span, ``overrides=assessment_id`` and ``valid=True``.

    Args:
        trace_id: The trace holding the feedback.
        assessment_id: The feedback to override.
        value: The corrected value.
        rationale: Why it was corrected.
        source: Who corrected it; ``AssessmentSource("CODE", "default")`` by default.
        metadata: String metadata of the new feedback.

    Returns:
        The new feedback.

    Raises:
        TracingError: If the assessment is missing or is not a feedback.
        TraceNotFoundError: If no trace has this id.

    Example:
        >>> from polartrace.tracing.sdk import get_trace, start_span
        >>> with start_span("answer") as span:
        ...     pass
        >>> old = log_feedback(trace_id=span.trace_id, name="tone", value="rude")
        >>> new = override_feedback(trace_id=span.trace_id,
        ...                         assessment_id=old.assessment_id, value="polite")
        >>> [(a.value, a.valid) for a in get_trace(span.trace_id).info.assessments]
        [('rude', False), ('polite', True)]
    """

    def replace(assessments: list[Assessment]) -> Assessment:
        index = next(
            (i for i, a in enumerate(assessments) if a.assessment_id == assessment_id),
            None,
        )
        if index is None:
            msg = f"trace {trace_id!r} has no assessment with id {assessment_id!r}"
            raise TracingError(msg)
        old = assessments[index]
        if old.kind is not AssessmentKind.FEEDBACK:
            msg = f"assessment {assessment_id!r} is an {old.kind.value}, not a feedback"
            raise TracingError(msg)
        new = _new_assessment(
            trace_id,
            name=old.name,
            kind=AssessmentKind.FEEDBACK,
            value=value,
            source=source,
            rationale=rationale,
            metadata=metadata,
            span_id=old.span_id,
            overrides=assessment_id,
        )
        assessments[index] = attrs.evolve(
            old, valid=False, last_update_time_ms=new.create_time_ms
        )
        assessments.append(new)
        return new

    return _change_assessments(trace_id, replace)
