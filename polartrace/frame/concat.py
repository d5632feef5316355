"""Join frames end to end: ``polartrace.concat``.

The result is the frame ``TraceFrame.from_traces`` builds from the traces of every
frame in order: keys and span numbers are renumbered, each frame's own dictionary
encodings (``Enum`` columns) are widened to text, joined and narrowed again, and
columns appear in first-appearance order. Session-scoped assessments are expanded
to every trace of their session in the joined frame, also when that session's
traces came from different frames.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any, Final

import polars as pl

from polartrace.frame.llm import LLM_NAME_COLUMNS
from polartrace.frame.schema import (
    _ASSESSMENT_SCHEMA,
    META_PREFIX,
    SPAN_STATUS_ENUM,
    STATE_ENUM,
    TAG_PREFIX,
)
from polartrace.frame.trace_frame import TraceFrame, _assessment_rows, _compact
from polartrace.values.conventions import SESSION_KEY

__all__ = ["concat"]

_DERIVED: Final = ("attr:", "num:")  # span columns a frame derives on first use
_SESSION: Final = META_PREFIX + SESSION_KEY
_FIXED_ENUMS: Final = (STATE_ENUM, SPAN_STATUS_ENUM)


def concat(frames: Iterable[TraceFrame]) -> TraceFrame:
    """Join frames into one, their traces in the order given.

    Every trace is kept, as reading one file that holds the same traces twice keeps
    both rows; a trace id found in more than one place gives a ``UserWarning``
    naming it, since two exports that overlap are counted twice.

    Args:
        frames: The frames to join (at least one).

    Returns:
        One frame, equal to ``TraceFrame.from_traces`` of all their traces.

    Raises:
        TypeError: If an item is not a ``TraceFrame``.
        ValueError: If ``frames`` is empty.

    Example:
        >>> import polartrace
        >>> from polartrace import Trace, TraceFrame, TraceInfo
        >>> def frame(trace_id):
        ...     info = TraceInfo(trace_id=trace_id, request_time=0)
        ...     return TraceFrame.from_traces([Trace(info)])
        >>> [t.info.trace_id for t in polartrace.concat([frame("tr-1"), frame("tr-2")])]
        ['tr-1', 'tr-2']
    """
    parts = list(frames)
    for index, item in enumerate(parts):
        if not isinstance(item, TraceFrame):
            msg = f"item {index} is a {type(item).__name__}, not a TraceFrame"
            raise TypeError(msg)
    if not parts:
        msg = "concat needs at least one frame"
        raise ValueError(msg)
    if len(parts) == 1:
        return parts[0]
    key_offsets, span_offsets = [0], [0]
    for frame in parts:
        key_offsets.append(key_offsets[-1] + len(frame))
        span_offsets.append(span_offsets[-1] + frame.spans.height)
    spans_of = [
        f.spans.select(c for c in f.spans.columns if not c.startswith(_DERIVED))
        for f in parts
    ]
    traces = _join([f.traces for f in parts], key_offsets)
    spans = _join(spans_of, key_offsets, span_offsets)
    spans = spans.with_columns(
        _compact(spans[name])
        for name in ("name", "type", *LLM_NAME_COLUMNS)
        if name in spans.columns
    )
    # As `TraceFrame.from_traces` lays them out: info, then every tag, then every
    # metadata key, each in first-appearance order.
    tags = [c for c in traces.columns if c.startswith(TAG_PREFIX)]
    meta = [c for c in traces.columns if c.startswith(META_PREFIX)]
    info = [c for c in traces.columns if c not in tags and c not in meta]
    traces = traces.select(*info, *(_compact(traces[name]) for name in (*tags, *meta)))
    assessments = _join([f.assessments for f in parts], key_offsets)
    if _sessions_cross(traces, key_offsets):
        assessments = _expand_sessions(parts, key_offsets, traces, assessments)
    assessments = assessments.with_columns(
        _compact(assessments["kind"]), _compact(assessments["name"])
    )
    prompts = _join([f.prompts for f in parts], key_offsets)
    _warn_duplicates(traces["trace_id"])
    objects = [f._objects for f in parts]
    joined = (
        [t for o in objects for t in o or ()]
        if all(o is not None for o in objects)
        else None
    )
    # A frame of objects writes its page table when asked (`TraceFrame.pages`).
    pages = None if joined is not None else pl.concat([f.pages for f in parts])
    return TraceFrame(traces, spans, assessments, prompts, joined, pages=pages)


def _widen(table: pl.DataFrame) -> pl.DataFrame:
    """``table`` with each frame-specific ``Enum`` column as plain text."""
    widened = [
        pl.col(name).cast(pl.String)
        for name, dtype in table.schema.items()
        if isinstance(dtype, pl.Enum) and dtype not in _FIXED_ENUMS
    ]
    return table.with_columns(widened) if widened else table


def _join(
    tables: list[pl.DataFrame],
    key_offsets: list[int],
    span_offsets: list[int] | None = None,
) -> pl.DataFrame:
    shifted = []
    for index, table in enumerate(tables):
        shift = [pl.col("_key") + pl.lit(key_offsets[index], dtype=pl.UInt32)]
        if span_offsets is not None:
            shift.append(pl.col("_span") + pl.lit(span_offsets[index], dtype=pl.UInt32))
        shifted.append(_widen(table).with_columns(shift))
    return pl.concat(shifted, how="diagonal")


def _sessions_cross(traces: pl.DataFrame, key_offsets: list[int]) -> bool:
    """Whether some session has traces from more than one of the joined frames."""
    if _SESSION not in traces.columns:
        return False
    ends = pl.Series(key_offsets[1:-1], dtype=pl.UInt32)
    part = ends.search_sorted(traces["_key"], side="right").alias("part")
    spread = (
        pl.DataFrame([traces[_SESSION].cast(pl.String), part])
        .drop_nulls(_SESSION)
        .group_by(_SESSION)
        .agg(pl.col("part").n_unique())
    )
    return bool((spread["part"] > 1).any())


def _expand_sessions(
    parts: list[TraceFrame],
    key_offsets: list[int],
    traces: pl.DataFrame,
    assessments: pl.DataFrame,
) -> pl.DataFrame:
    """Rebuild the assessment rows so that sessions expand across frames.

    Every owner of a valid assessment has a row of its own, so the keys the joined
    tables list are all the owners there are; their ``Trace`` objects give the
    assessments and the joined session column gives each session's traces.
    """
    sessions: dict[str, list[int]] = dict(
        traces.select(pl.col(_SESSION).cast(pl.String), "_key")
        .drop_nulls(_SESSION)
        .group_by(_SESSION, maintain_order=True)
        .agg("_key")
        .iter_rows()
    )
    owners = assessments["_key"].unique().sort().to_list()
    valid: list[tuple[int, Any]] = []
    for key in owners:
        index = next(i for i, end in enumerate(key_offsets[1:]) if key < end)
        trace = parts[index].trace(key - key_offsets[index])
        valid.extend((key, a) for a in trace.info.assessments if a.is_valid)
    return pl.DataFrame(
        _assessment_rows(valid, sessions), schema=_ASSESSMENT_SCHEMA, orient="row"
    )


def _warn_duplicates(trace_ids: pl.Series) -> None:
    repeated = trace_ids.filter(trace_ids.is_duplicated()).unique(maintain_order=True)
    if repeated.is_empty():
        return
    first = repeated[0]
    more = f" and {len(repeated) - 1} more" if len(repeated) > 1 else ""
    msg = (
        f"trace id {first!r}{more} found more than once; every copy is kept "
        "(search counts each), as when one file holds a trace twice"
    )
    warnings.warn(msg, UserWarning, stacklevel=3)
