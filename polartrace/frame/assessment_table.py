"""The assessment table with every column ``search_assessments`` returns.

A frame's ``assessments`` table holds what filters read (kind, name, value as text
and number). The row table of ``search_assessments`` also needs each assessment's
id, JSON value, source, creation time, span and session: `assessment_details`
builds that wider table from the frame's traces the first time it is asked for,
with the same rows in the same order (one per valid assessment and trace it
applies to, session-scoped ones expanded), and keeps it for the frame's lifetime.
A frame read from files reads only the traces that hold assessments.
"""

from __future__ import annotations

import json
import threading
import weakref
from typing import Any

import polars as pl

from polartrace.frame.schema import _ASSESSMENT_SCHEMA, META_PREFIX
from polartrace.frame.session_scope import valid_assessments
from polartrace.frame.trace_frame import TraceFrame, _assessment_rows
from polartrace.model.assessment import Assessment
from polartrace.values.conventions import SESSION_KEY

__all__ = ["DETAIL_SCHEMA", "assessment_details"]

#: The columns beyond the frame's assessment table.
DETAIL_SCHEMA: dict[str, pl.DataType] = {
    "assessment_id": pl.String(),
    "value": pl.String(),
    "source_type": pl.String(),
    "source_id": pl.String(),
    "create_time": pl.Int64(),
    "span_id": pl.String(),
    "session": pl.String(),
}

_CACHE: weakref.WeakKeyDictionary[TraceFrame, pl.DataFrame] = (
    weakref.WeakKeyDictionary()
)
_LOCK = threading.Lock()


def _detail(assessment: Assessment) -> tuple[Any, ...]:
    source = assessment.source
    value = assessment.value
    return (
        assessment.assessment_id,
        None if value is None else json.dumps(value, ensure_ascii=False),
        None if source is None else source.source_type,
        None if source is None else source.source_id,
        assessment.create_time_ms,
        assessment.span_id,
        assessment.session_id,
    )


def _valid(frame: TraceFrame) -> list[tuple[int, Assessment]]:
    """Each valid assessment with the key of the trace that holds it, in key order."""
    objects = frame._objects
    if objects is not None:
        return [
            (key, a)
            for key, trace in enumerate(objects)
            for a in trace.info.assessments
            if a.is_valid
        ]
    texts = frame.json_at(range(len(frame)))
    found = pl.Series(texts, dtype=pl.String).str.json_path_match("$.info.assessments")
    return valid_assessments(range(len(texts)), found.to_list())


def _sessions(frame: TraceFrame) -> dict[str, list[int]]:
    column = META_PREFIX + SESSION_KEY
    if column not in frame.traces.columns:
        return {}
    pairs = frame.traces.select("_key", pl.col(column).cast(pl.String)).drop_nulls()
    sessions: dict[str, list[int]] = {}
    for key, session in pairs.iter_rows():
        sessions.setdefault(session, []).append(key)
    return sessions


def _build(frame: TraceFrame) -> pl.DataFrame:
    sessions = _sessions(frame)
    rows: list[tuple[Any, ...]] = []
    for owner, assessment in _valid(frame):
        detail = _detail(assessment)
        rows.extend(
            (*base, *detail)
            for base in _assessment_rows([(owner, assessment)], sessions)
        )
    schema = {**_ASSESSMENT_SCHEMA, **DETAIL_SCHEMA}
    return pl.DataFrame(rows, schema=schema, orient="row")


def assessment_details(frame: TraceFrame) -> pl.DataFrame:
    """The frame's assessment rows with `DETAIL_SCHEMA`'s columns, built once.

    Example:
        >>> from polartrace.testing import example_traces
        >>> table = assessment_details(TraceFrame.from_traces(example_traces()))
        >>> table.select("_key", "name", "value").rows()
        [(0, 'correctness', 'true'), (2, 'expected_answer', '"Résumé"')]
    """
    with _LOCK:
        table = _CACHE.get(frame)
        if table is None:
            table = _CACHE[frame] = _build(frame)
        return table
