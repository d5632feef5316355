"""The trace frame: Arrow-backed Polars tables that the compiled engine searches.

Five tables share a dense ``UInt32`` trace key ``_key`` (the row number in
``traces``):

``traces``
    One row per trace: typed info columns, then one column per tag key
    (``tag:<key>``) and per metadata key (``meta:<key>``), so a predicate on one key
    is a single vectorised column operation and an absent key is an absent column.
``spans``
    One row per span (``_span`` is its row number): name, type, status, times,
    duration, and per attribute key its canonical text (``attr:<key>``) and, where it
    is a real number, its value (``num:<key>``).
``units``
    Full-text units (design.md section 4), one row each: ``_key``, ``_span`` (null for
    the trace's request/response previews) and ``unit``.
``assessments``
    One row per (valid assessment, trace it applies to): session-scoped assessments
    are expanded to every trace of their session here, once, so both filters and
    counts see them without a join at search time.
``prompts``
    One row per linked prompt version (``name/version``).

The frame keeps the source ``Trace`` objects (or their JSON lines) only to build
output rows for the traces a search returns.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import polars as pl

from polartrace._json import canonical_text, numeric_value
from polartrace._text import linked_prompts, preview_units, span_units
from polartrace.model import Trace

__all__ = ["STATE_ENUM", "SPAN_STATUS_ENUM", "TraceFrame"]

STATE_ENUM = pl.Enum(["ERROR", "IN_PROGRESS", "OK", "STATE_UNSPECIFIED"])
SPAN_STATUS_ENUM = pl.Enum(["ERROR", "OK", "UNSET"])
TAG_PREFIX = "tag:"
META_PREFIX = "meta:"
ATTR_PREFIX = "attr:"
NUM_PREFIX = "num:"

_TRACE_SCHEMA: dict[str, pl.DataType] = {
    "_key": pl.UInt32(),
    "trace_id": pl.String(),
    "client_request_id": pl.String(),
    "state": STATE_ENUM,
    "request_time": pl.Int64(),
    "execution_duration": pl.Int64(),
    "end_time": pl.Int64(),
    "experiment_id": pl.String(),
    "request_preview": pl.String(),
    "response_preview": pl.String(),
}
_SPAN_SCHEMA: dict[str, pl.DataType] = {
    "_key": pl.UInt32(),
    "_span": pl.UInt32(),
    "span_id": pl.String(),
    "parent_id": pl.String(),
    "name": pl.String(),
    "type": pl.String(),
    "status": SPAN_STATUS_ENUM,
    "start_ns": pl.Int64(),
    "end_ns": pl.Int64(),
    "duration_ms": pl.Float64(),
}
_UNIT_SCHEMA: dict[str, pl.DataType] = {
    "_key": pl.UInt32(),
    "_span": pl.UInt32(),
    "unit": pl.String(),
}
_ASSESSMENT_SCHEMA: dict[str, pl.DataType] = {
    "_key": pl.UInt32(),
    "kind": pl.String(),
    "name": pl.String(),
    "text": pl.String(),
    "quoted": pl.String(),
    "number": pl.Float64(),
}
_PROMPT_SCHEMA: dict[str, pl.DataType] = {"_key": pl.UInt32(), "prompt": pl.String()}


class TraceFrame:
    """An immutable, searchable set of traces.

    Build one with :meth:`from_traces` or :func:`polartrace.read_traces`; search it
    with :meth:`search` / :meth:`count` or :func:`polartrace.search_traces`.

    Example:
        >>> frame = TraceFrame.from_traces([])
        >>> len(frame), frame.traces.columns[:3]
        (0, ['_key', 'trace_id', 'client_request_id'])
    """

    def __init__(
        self,
        traces: pl.DataFrame,
        spans: pl.DataFrame,
        units: pl.DataFrame,
        assessments: pl.DataFrame,
        prompts: pl.DataFrame,
        objects: Sequence[Trace],
    ) -> None:
        self.traces = traces
        self.spans = spans
        self.units = units
        self.assessments = assessments
        self.prompts = prompts
        self._objects = objects
        # Compiled filters are cached per frame: they embed frame-specific masks.
        self._compiled: dict[str, Any] = {}

    def __len__(self) -> int:
        return self.traces.height

    def __repr__(self) -> str:
        return (
            f"<TraceFrame: {len(self)} traces, {self.spans.height} spans, "
            f"{self.assessments.height} assessment rows>"
        )

    def trace(self, key: int) -> Trace:
        """Return the ``Trace`` object at row ``key``."""
        return self._objects[key]

    def traces_at(self, keys: Iterable[int]) -> list[Trace]:
        """Return ``Trace`` objects for the given row keys, in that order."""
        objects = self._objects
        return [objects[key] for key in keys]

    @property
    def tag_keys(self) -> list[str]:
        """Every tag key present in at least one trace."""
        return [c[len(TAG_PREFIX) :] for c in self.traces.columns if c.startswith(TAG_PREFIX)]

    @property
    def metadata_keys(self) -> list[str]:
        """Every metadata key present in at least one trace."""
        return [
            c[len(META_PREFIX) :] for c in self.traces.columns if c.startswith(META_PREFIX)
        ]

    @classmethod
    def from_traces(cls, traces: Iterable[Trace]) -> TraceFrame:
        """Build a frame from ``Trace`` objects.

        Args:
            traces: Any iterable of :class:`polartrace.Trace`.

        Returns:
            A frame whose row order is the iteration order.

        Raises:
            TypeError: If an item is not a ``Trace``.
        """
        objects = list(traces)
        for index, item in enumerate(objects):
            if not isinstance(item, Trace):
                msg = f"item {index} is a {type(item).__name__}, not a polartrace Trace"
                raise TypeError(msg)
        builder = _Builder()
        for key, trace in enumerate(objects):
            builder.add(key, trace)
        return builder.finish(objects)

    def search(self, filter_string: str | None = None, **kwargs: Any) -> Any:
        """Search this frame; see :func:`polartrace.search_traces` for arguments."""
        from polartrace.search import search_traces  # noqa: PLC0415 - later stage

        return search_traces(self, filter_string=filter_string, **kwargs)

    def count(self, filter_string: str | None = None, **kwargs: Any) -> int:
        """Count matching traces; see :func:`polartrace.count`."""
        from polartrace.search import count  # noqa: PLC0415 - later stage

        return count(self, filter_string, **kwargs)


class _Builder:
    """Accumulates column lists from ``Trace`` objects, then types them once."""

    def __init__(self) -> None:
        self.info: dict[str, list[Any]] = {name: [] for name in _TRACE_SCHEMA}
        self.tags: dict[str, list[str | None]] = {}
        self.meta: dict[str, list[str | None]] = {}
        self.spans: dict[str, list[Any]] = {name: [] for name in _SPAN_SCHEMA}
        self.attr_text: dict[str, list[str | None]] = {}
        self.attr_num: dict[str, list[float | None]] = {}
        self.units: dict[str, list[Any]] = {name: [] for name in _UNIT_SCHEMA}
        self.assessments: list[tuple[int, Any]] = []
        self.sessions: dict[str, list[int]] = {}
        self.prompts: dict[str, list[Any]] = {name: [] for name in _PROMPT_SCHEMA}
        self.n = 0

    @staticmethod
    def _sparse(columns: dict[str, list[Any]], key: str, row: int, value: Any) -> None:
        column = columns.get(key)
        if column is None:
            column = columns[key] = []
        column.extend([None] * (row - len(column)))
        column.append(value)

    def add(self, key: int, trace: Trace) -> None:
        info = trace.info
        duration = info.execution_duration
        row = self.info
        row["_key"].append(key)
        row["trace_id"].append(info.trace_id)
        row["client_request_id"].append(info.client_request_id)
        row["state"].append(str(info.state.value))
        row["request_time"].append(info.request_time)
        row["execution_duration"].append(duration)
        row["end_time"].append(info.request_time + (duration or 0))
        row["experiment_id"].append(info.experiment_id)
        row["request_preview"].append(info.request_preview)
        row["response_preview"].append(info.response_preview)
        for name, value in info.tags.items():
            self._sparse(self.tags, name, key, value)
        for name, value in info.trace_metadata.items():
            self._sparse(self.meta, name, key, value)
        session = info.trace_metadata.get("mlflow.trace.session")
        if session is not None:
            self.sessions.setdefault(session, []).append(key)
        for prompt in linked_prompts(info.tags):
            self.prompts["_key"].append(key)
            self.prompts["prompt"].append(prompt)
        for preview in preview_units(info):
            self._unit(key, None, preview)
        for span in trace.data.spans:
            self._add_span(key, span)
        for assessment in info.assessments:
            if assessment.is_valid:
                self.assessments.append((key, assessment))
        self.n = key + 1

    def _unit(self, key: int, span_row: int | None, text: str) -> None:
        self.units["_key"].append(key)
        self.units["_span"].append(span_row)
        self.units["unit"].append(text)

    def _add_span(self, key: int, span: Any) -> None:
        cols = self.spans
        span_row = len(cols["_key"])
        start, end = span.start_time_ns, span.end_time_ns
        cols["_key"].append(key)
        cols["_span"].append(span_row)
        cols["span_id"].append(span.span_id)
        cols["parent_id"].append(span.parent_id)
        cols["name"].append(span.name)
        cols["type"].append(span.span_type)
        cols["status"].append(span.status.code.value)
        cols["start_ns"].append(start)
        cols["end_ns"].append(end)
        cols["duration_ms"].append(
            None if start is None or end is None else (end - start) / 1e6
        )
        attributes = span.attributes
        for name, value in attributes.items():
            self._sparse(self.attr_text, name, span_row, canonical_text(value))
            self._sparse(self.attr_num, name, span_row, numeric_value(value))
        for unit in span_units(span):
            self._unit(key, span_row, unit)

    def finish(self, objects: Sequence[Trace]) -> TraceFrame:
        n, n_spans = self.n, len(self.spans["_key"])
        traces = pl.DataFrame(self.info, schema=_TRACE_SCHEMA)
        extra = [
            pl.Series(TAG_PREFIX + k, _pad(v, n), dtype=pl.String)
            for k, v in self.tags.items()
        ] + [
            pl.Series(META_PREFIX + k, _pad(v, n), dtype=pl.String)
            for k, v in self.meta.items()
        ]
        traces = traces.with_columns(extra) if extra else traces
        spans = pl.DataFrame(self.spans, schema=_SPAN_SCHEMA)
        attr_cols = [
            pl.Series(ATTR_PREFIX + k, _pad(v, n_spans), dtype=pl.String)
            for k, v in self.attr_text.items()
        ] + [
            pl.Series(NUM_PREFIX + k, _pad(v, n_spans), dtype=pl.Float64)
            for k, v in self.attr_num.items()
        ]
        spans = spans.with_columns(attr_cols) if attr_cols else spans
        units = pl.DataFrame(self.units, schema=_UNIT_SCHEMA)
        prompts = pl.DataFrame(self.prompts, schema=_PROMPT_SCHEMA)
        assessments = pl.DataFrame(
            _assessment_rows(self.assessments, self.sessions), schema=_ASSESSMENT_SCHEMA,
            orient="row",
        )
        return TraceFrame(traces, spans, units, assessments, prompts, objects)


def _pad(values: list[Any], n: int) -> list[Any]:
    values.extend([None] * (n - len(values)))
    return values


def _assessment_rows(
    assessments: list[tuple[int, Any]], sessions: dict[str, list[int]]
) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    for owner, assessment in assessments:
        value = assessment.value
        text = canonical_text(value)
        quoted = json.dumps(value, ensure_ascii=False) if isinstance(value, str) else None
        targets = {owner}
        session = assessment.session_id
        if session is not None:
            targets.update(sessions.get(session, ()))
        rows.extend(
            (target, assessment.kind, assessment.name, text, quoted, numeric_value(value))
            for target in sorted(targets)
        )
    return rows
