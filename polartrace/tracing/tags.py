"""Look up and tag traces on the in-memory store and on frames, as MLflow does.

``set_trace_tag`` and ``delete_trace_tag`` mirror MLflow's; ``get_trace`` on a frame
finds a trace by id.

The store is changed in place (a running trace keeps the tag when it finishes). A
`TraceFrame` is immutable, and its columns, compiled filters and caches are built
from its traces, so tagging a frame returns a new frame built from the changed
traces; the old frame is untouched. That costs a rebuild of the frame: tag many
traces of a big frame through a list of traces (``frame.traces_at``) and one
``TraceFrame.from_traces``.
"""

from __future__ import annotations

from typing import Any

from polartrace.frame.trace_frame import _check_key, _retag, _value
from polartrace.tracing.live import live_trace
from polartrace.tracing.store import get_store
from polartrace.values.errors import TraceNotFoundError, TracingError

__all__ = [
    "delete_trace_tag",
    "set_trace_tag",
]


def _change_store(trace_id: str, key: str, value: str | None) -> None:
    live = live_trace(trace_id)
    if live is not None:
        with live.lock:
            if not live.published:
                if value is not None:
                    live.tags[key] = value
                elif live.tags.pop(key, None) is None:
                    msg = (
                        f"No trace tag with key {key!r} for trace with ID {trace_id!r}"
                    )
                    raise TracingError(msg)
                return
    if get_store()._update(trace_id, lambda t: _retag(t, key, value)) is None:
        msg = f"no trace with id {trace_id!r} in the trace store"
        raise TraceNotFoundError(msg)


def set_trace_tag(trace_id: str, key: str, value: Any) -> None:
    """Set a tag on a trace of the in-memory store, as ``mlflow.set_trace_tag``.

    A running trace gets the tag when it finishes. Search by it with
    ``tags.<key>``.

    Args:
        trace_id: The trace's id.
        key: The tag key.
        value: The tag value; non-strings are stored as their ``str()``.

    Raises:
        TraceNotFoundError: If no running or stored trace has this id.
        TracingError: For a key that is not a non-empty string.

    Example:
        >>> import polartrace
        >>> with polartrace.start_span("answer") as span:
        ...     pass
        >>> set_trace_tag(span.trace_id, "label", "good")
        >>> polartrace.get_trace(span.trace_id).info.tags["label"]
        'good'
    """
    _change_store(trace_id, _check_key(key), _value(value))


def delete_trace_tag(trace_id: str, key: str) -> None:
    """Delete a tag of a trace of the in-memory store, as MLflow's client does.

    Raises:
        TraceNotFoundError: If no running or stored trace has this id.
        TracingError: If the trace has no tag ``key`` (MLflow's message).

    Example:
        >>> import polartrace
        >>> with polartrace.start_span("answer") as span:
        ...     polartrace.update_current_trace(tags={"label": "draft"})
        >>> delete_trace_tag(span.trace_id, "label")
        >>> "label" in polartrace.get_trace(span.trace_id).info.tags
        False
    """
    _change_store(trace_id, _check_key(key), None)
