"""The trace frame: Arrow-backed Polars tables that the compiled engine searches.

Five tables share a dense ``UInt32`` trace key ``_key`` (the row number in
``traces``):

``traces``
    One row per trace: typed info columns, then one column per tag key
    (``tag:<key>``) and per metadata key (``meta:<key>``), so a predicate on one key
    is a single vectorised column operation and an absent key is an absent column.
``spans``
    One row per span (``_span`` is its row number): name, type, status, times,
    duration, the raw JSON text of each attribute (``raw:<key>``) and of its events.
    The canonical text (``attr:<key>``) and numeric value (``num:<key>``) of an
    attribute are derived the first time a filter asks for that key, from the
    distinct raw values only, and kept.
``units``
    Full-text units (docs/semantics.md#full-text), one row each: ``_key``,
    ``_span`` (null for the trace's request/response previews) and ``unit``. Built
    by ``_units`` on the first full-text search and kept: decoding the distinct
    inputs and outputs is the costliest step of a frame, and most searches never
    need it.
``assessments``
    One row per (valid assessment, trace it applies to): session-scoped assessments
    are expanded to every trace of their session here, once, so both filters and
    counts see them without a join at search time.
``prompts``
    One row per linked prompt version (``name/version``).

A sixth table, ``pages``, has no key column: its row ``i`` is trace ``i``. It holds
what a result page reads of each trace (`polartrace.frame.pages`): the trace's JSON
text in parts, the nested parts of MLflow's result columns as JSON text, and the
request and response. Each reader fills it once.

A frame built from ``Trace`` objects keeps them instead, for the list output and
iteration, and writes page table rows from them for the rows a page returns (the
whole table only when asked for it: `TraceFrame.pages`); a frame read from a file
builds objects only for the rows asked for.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import attrs
import polars as pl

from polartrace.catalogue.fields import FIELDS, Source
from polartrace.catalogue.text_units import linked_prompts
from polartrace.frame.llm import with_llm_columns
from polartrace.frame.pages import PAGE_SCHEMA, from_texts, from_traces, whole_texts
from polartrace.frame.schema import (
    _ASSESSMENT_SCHEMA,
    _PROMPT_SCHEMA,
    _SPAN_SCHEMA,
    _TRACE_SCHEMA,
    ATTR_PREFIX,
    META_PREFIX,
    NUM_PREFIX,
    RAW_PREFIX,
    SPAN_STATUS_ENUM,
    STATE_ENUM,
    TAG_PREFIX,
)
from polartrace.frame.summary import frame_html, frame_repr
from polartrace.frame.units import build_units
from polartrace.model.trace import Span, Trace
from polartrace.model.validate import check_encodable
from polartrace.values.conventions import SESSION_KEY
from polartrace.values.errors import TraceFormatError, TraceNotFoundError, TracingError
from polartrace.values.json_values import (
    canonical_text,
    decode_attribute,
    numeric_value,
)

__all__ = [
    "TraceFrame",
    "compact_categoricals",
    "frame_key",
    "frame_with_tag",
    "may_hold_null",
    "to_parquet_table",
]

# A column is dictionary-encoded when it has at most max(MIN, rows / RATIO) values.
_DICTIONARY_MIN = 64
_DICTIONARY_RATIO = 20
# Traces built at a time when a frame is iterated.
_ITER_BATCH = 1024


class TraceFrame:
    """An immutable, searchable set of traces.

    Build one with :meth:`from_traces` or :func:`polartrace.read_traces`; search it
    with :func:`polartrace.search_traces` and :func:`polartrace.count`.

    Example:
        >>> frame = TraceFrame.from_traces([])
        >>> len(frame), frame.traces.columns[:3]
        (0, ['_key', 'trace_id', 'client_request_id'])
    """

    def __init__(
        self,
        traces: pl.DataFrame,
        spans: pl.DataFrame,
        assessments: pl.DataFrame,
        prompts: pl.DataFrame,
        objects: Sequence[Trace] | None = None,
        *,
        raw_json: pl.Series | None = None,
        pages: pl.DataFrame | None = None,
    ) -> None:
        if pages is None:
            if raw_json is not None:
                pages = from_texts(raw_json.to_list())
            elif objects is None:
                msg = "a TraceFrame needs its Trace objects, their JSON text or pages"
                raise ValueError(msg)
        elif pages.schema != PAGE_SCHEMA:
            msg = f"a TraceFrame's pages need the columns {PAGE_SCHEMA}"
            raise ValueError(msg)
        self.traces = traces
        self.spans = spans
        self.assessments = assessments
        self.prompts = prompts
        self._objects = objects
        # What a result page reads of each trace, one row per trace in key order
        # (`polartrace.frame.pages`): frames read from files keep this instead of
        # objects and build Trace objects only for returned rows. A frame of
        # objects writes the rows a page asks for (`page_rows`), and the whole
        # table only when asked for it (`pages`).
        self._pages = pages
        self._units: pl.DataFrame | None = None
        self._time_order: tuple[pl.Series, pl.Series] | None = None
        # Derived data is added on first use; the lock keeps concurrent searches
        # from deriving the same columns twice or reading a half-built table.
        self._lock = threading.Lock()
        # Compiled filters are cached per frame: they embed frame-specific masks.
        self._compiled: dict[str, Any] = {}
        self._trace_names = frozenset(traces.columns)
        self._trace_facts: dict[str, tuple[pl.DataType, bool]] = {}

    @property
    def pages(self) -> pl.DataFrame:
        """The page table (`polartrace.frame.pages`); objects write it on first use."""
        with self._lock:
            if self._pages is None:
                assert self._objects is not None
                self._pages = from_traces(self._objects)
            return self._pages

    @property
    def page_count(self) -> int:
        """The rows of the page table: the frame's traces, or a page's rows alone."""
        pages = self._pages
        if pages is not None:
            return pages.height
        assert self._objects is not None
        return len(self._objects)

    def page_rows(self, rows: pl.Series) -> pl.DataFrame:
        """The page table rows ``rows``, in that order.

        A frame of objects whose table was not asked for writes just these rows:
        a page then costs the writing of its traces, not of the frame's.
        """
        pages = self._pages
        if pages is not None:
            return pages[rows]
        assert self._objects is not None
        objects = self._objects
        return from_traces([objects[row] for row in rows.to_list()])

    @property
    def units(self) -> pl.DataFrame:
        """The full-text units table, built on first use."""
        with self._lock:
            if self._units is None:
                self._units = build_units(self.traces, self.spans)
            return self._units

    @property
    def time_order(self) -> tuple[pl.Series, pl.Series]:
        """Request times in ascending order and the trace keys in that order.

        Built on first use and kept, like `units`: a time window is then two binary
        searches, and its traces come out already ordered by time.
        """
        with self._lock:
            if self._time_order is None:
                times = self.traces["request_time"]
                order = self.traces.select(
                    pl.arg_sort_by("request_time", maintain_order=True)
                ).to_series()
                self._time_order = (
                    times.gather(order).set_sorted(),
                    self.traces["_key"].gather(order),
                )
            return self._time_order

    def trace_column(self, name: str) -> tuple[pl.DataType, bool] | None:
        """The dtype of trace column ``name`` and whether a test on it may meet a null.

        ``None`` when the frame has no such column (an absent tag or metadata key).
        Kept per column: a cold compile asks for every clause, and reading an
        ``Enum`` column's dtype builds its categories anew each time, a noticeable
        share of a sub-millisecond count.
        """
        facts = self._trace_facts.get(name)
        if facts is None:
            if name not in self._trace_names:
                return None
            column = self.traces.get_column(name)
            facts = self._trace_facts[name] = (column.dtype, may_hold_null(column))
        return facts

    def span_attribute(self, key: str) -> tuple[str, str] | None:
        """Make sure the derived columns of attribute ``key`` exist on ``spans``.

        Returns:
            The names of its canonical-text and numeric columns, or ``None`` when no
            span has the attribute.
        """
        raw, text, number = RAW_PREFIX + key, ATTR_PREFIX + key, NUM_PREFIX + key
        with self._lock:
            if text in self.spans.columns:
                return text, number
            if raw not in self.spans.columns:
                return None
            self.spans = self.spans.with_columns(
                _derive_attribute(self.spans[raw], text, number)
            )
            return text, number

    def __len__(self) -> int:
        return self.traces.height

    def __iter__(self) -> Iterator[Trace]:
        """Yield the frame's traces as ``Trace`` objects, in frame order.

        Objects are built a batch at a time from the kept JSON text, so iterating
        a frame read from a file holds one batch, not every trace, in memory.
        """
        for start in range(0, len(self), _ITER_BATCH):
            yield from self.traces_at(range(start, min(start + _ITER_BATCH, len(self))))

    def __repr__(self) -> str:
        return frame_repr(self)

    def _repr_html_(self) -> str:
        return frame_html(self)

    def trace(self, key: int) -> Trace:
        """Return the ``Trace`` object at row ``key``."""
        return self.traces_at([key])[0]

    def traces_at(self, keys: Iterable[int]) -> list[Trace]:
        """Return ``Trace`` objects for the given row keys, in that order."""
        if self._objects is not None:
            objects = self._objects
            return [objects[key] for key in keys]
        return [Trace.from_json(text) for text in self.json_at(keys)]

    def json_at(self, keys: Iterable[int]) -> list[str]:
        """Return the MLflow JSON text of the given rows, in that order."""
        if self._pages is None:  # a frame of objects, whose table was not written
            return [trace.to_json() for trace in self.traces_at(keys)]
        # One gather, not one Series lookup per key (each costs microseconds).
        rows = pl.Series(list(keys), dtype=pl.Int64)
        return whole_texts(self._pages[rows]).to_list()

    @property
    def tag_keys(self) -> list[str]:
        """Every tag key present in at least one trace."""
        return [
            c[len(TAG_PREFIX) :]
            for c in self.traces.columns
            if c.startswith(TAG_PREFIX)
        ]

    @property
    def metadata_keys(self) -> list[str]:
        """Every metadata key present in at least one trace."""
        return [
            c[len(META_PREFIX) :]
            for c in self.traces.columns
            if c.startswith(META_PREFIX)
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
            TraceFormatError: If a text holds a lone surrogate, which no UTF-8
                column can store (naming the trace and the JSON path).
        """
        objects = list(traces)
        for index, item in enumerate(objects):
            if not isinstance(item, Trace):
                msg = f"item {index} is a {type(item).__name__}, not a polartrace Trace"
                raise TypeError(msg)
        builder = _Builder()
        try:
            for key, trace in enumerate(objects):
                builder.add(key, trace)
            return builder.finish(objects)
        except UnicodeEncodeError:
            # Rare: find the culprit only now, rather than check every string.
            for index, trace in enumerate(objects):
                try:
                    check_encodable(trace.to_dict())
                except TraceFormatError as exc:
                    where = f"trace {index} ({trace.info.trace_id!r}), {exc.location}"
                    raise TraceFormatError(exc.message, location=where) from None
            raise

    def get_trace(self, trace_id: str) -> Trace | None:
        """Return the trace with this id, or ``None`` if the frame has none.

        Example:
            >>> frame = TraceFrame.from_traces([])
            >>> frame.get_trace("tr-1") is None
            True
        """
        key = frame_key(self, trace_id)
        return None if key is None else self.trace(key)

    def set_trace_tag(self, trace_id: str, key: str, value: Any) -> TraceFrame:
        """Return a new frame in which trace ``trace_id`` has tag ``key`` = ``value``.

        A frame is immutable: this frame is unchanged, and the new one is rebuilt
        from the traces (see `polartrace.set_trace_tag` for the in-memory store).

        Raises:
            TraceNotFoundError: If the frame has no trace with this id.
        """
        return frame_with_tag(self, trace_id, key, value)

    def delete_trace_tag(self, trace_id: str, key: str) -> TraceFrame:
        """Return a new frame in which trace ``trace_id`` lacks tag ``key``.

        Raises:
            TraceNotFoundError: If the frame has no trace with this id.
            TracingError: If that trace has no tag ``key``.
        """
        return frame_with_tag(self, trace_id, key, None)


# The trace and span columns that hold a catalogue field, and the field's accessor.
# The LLM columns are derived from the finished tables instead (`frame.llm`).
_INFO_FIELDS: list[tuple[str, Callable[[Trace], Any]]] = [
    (str(spec.frame_column), spec.read)
    for spec in FIELDS
    if spec.source is Source.INFO
    and spec.read is not None
    and spec.frame_column in _TRACE_SCHEMA
]
_SPAN_FIELDS: list[tuple[str, Callable[[Span], Any]]] = [
    (str(spec.frame_column), spec.read_span)
    for spec in FIELDS
    if spec.read_span is not None and spec.frame_column in _SPAN_SCHEMA
]


class _Builder:
    """Accumulates column lists from ``Trace`` objects, then types them once."""

    def __init__(self) -> None:
        self.info: dict[str, list[Any]] = {name: [] for name in _TRACE_SCHEMA}
        self.tags: dict[str, list[str | None]] = {}
        self.meta: dict[str, list[str | None]] = {}
        self.spans: dict[str, list[Any]] = {name: [] for name in _SPAN_SCHEMA}
        self.raw: dict[str, list[str | None]] = {}
        self.assessments: list[tuple[int, Any]] = []
        self.sessions: dict[str, list[int]] = {}
        self.prompts: dict[str, list[Any]] = {name: [] for name in _PROMPT_SCHEMA}
        self.n = 0
        # Columns that hold a catalogue field are filled by the field's accessor.
        self._info_fields = [(self.info[c].append, read) for c, read in _INFO_FIELDS]
        self._span_fields = [(self.spans[c].append, read) for c, read in _SPAN_FIELDS]

    @staticmethod
    def _sparse(columns: dict[str, list[Any]], key: str, row: int, value: Any) -> None:
        column = columns.get(key)
        if column is None:
            column = columns[key] = []
        column.extend([None] * (row - len(column)))
        column.append(value)

    def add(self, key: int, trace: Trace) -> None:
        info = trace.info
        row = self.info
        row["_key"].append(key)
        for append, read in self._info_fields:
            append(read(trace))
        row["request_preview"].append(info.request_preview)
        row["response_preview"].append(info.response_preview)
        for name, value in info.tags.items():
            self._sparse(self.tags, name, key, value)
        for name, value in info.trace_metadata.items():
            self._sparse(self.meta, name, key, value)
        session = info.trace_metadata.get(SESSION_KEY)
        if session is not None:
            self.sessions.setdefault(session, []).append(key)
        for prompt in linked_prompts(info.tags):
            self.prompts["_key"].append(key)
            self.prompts["prompt"].append(prompt)
        for span in trace.data.spans:
            self._add_span(key, span)
        for assessment in info.assessments:
            if assessment.is_valid:
                self.assessments.append((key, assessment))
        self.n = key + 1

    def _add_span(self, key: int, span: Span) -> None:
        cols = self.spans
        span_row = len(cols["_key"])
        cols["_key"].append(key)
        cols["_span"].append(span_row)
        cols["span_id"].append(span.span_id)
        cols["parent_id"].append(span.parent_id)
        cols["start_ns"].append(span.start_time_ns)
        cols["end_ns"].append(span.end_time_ns)
        for append, read in self._span_fields:
            append(read(span))
        cols["events"].append(
            json.dumps([e.to_dict() for e in span.events]) if span.events else None
        )
        for name, raw in span.raw_attributes.items():
            self._sparse(self.raw, name, span_row, raw)

    def finish(self, objects: Sequence[Trace]) -> TraceFrame:
        n, n_spans = self.n, len(self.spans["_key"])
        traces = pl.DataFrame(self.info, schema=_TRACE_SCHEMA)
        extra = [
            _compact(pl.Series(TAG_PREFIX + k, _pad(v, n), dtype=pl.String))
            for k, v in self.tags.items()
        ] + [
            _compact(pl.Series(META_PREFIX + k, _pad(v, n), dtype=pl.String))
            for k, v in self.meta.items()
        ]
        traces = traces.with_columns(extra) if extra else traces
        spans = pl.DataFrame(self.spans, schema=_SPAN_SCHEMA)
        spans = spans.with_columns(_compact(spans["name"]), _compact(spans["type"]))
        raw_cols = [
            pl.Series(RAW_PREFIX + k, _pad(v, n_spans), dtype=pl.String)
            for k, v in self.raw.items()
        ]
        spans = spans.with_columns(raw_cols) if raw_cols else spans
        prompts = pl.DataFrame(self.prompts, schema=_PROMPT_SCHEMA)
        assessments = pl.DataFrame(
            _assessment_rows(self.assessments, self.sessions),
            schema=_ASSESSMENT_SCHEMA,
            orient="row",
        )
        assessments = assessments.with_columns(
            _compact(assessments["kind"]), _compact(assessments["name"])
        )
        traces, spans = with_llm_columns(traces, spans, _compact)
        return TraceFrame(traces, spans, assessments, prompts, objects)


def _compact(column: pl.Series) -> pl.Series:
    """Dictionary-encode a column of few distinct values as an ``Enum`` of them.

    Tag, metadata, span name and type values repeat: stored as codes, an equality
    test compares integers and a LIKE runs once per distinct value (compile.py).
    An ``Enum`` of this column's own values, not a ``Categorical``: its codes are as
    narrow as its dictionary (one byte for up to 256 values, where a
    ``Categorical`` always uses four), so a test on it reads a quarter of the
    memory. The
    categories are sorted, so sorting the codes sorts the strings. Columns of
    mostly distinct values (ids, previews) stay String: a dictionary would only add
    to them. A ``Categorical`` column (read from Parquet, see ``to_parquet_table``)
    is narrowed the same way.
    """
    # Counting first: for a column of mostly distinct values, listing them costs
    # more than counting them, and the list would be thrown away.
    if column.n_unique() > max(_DICTIONARY_MIN, column.len() // _DICTIONARY_RATIO):
        return column
    distinct = column.unique().drop_nulls()
    return column.cast(pl.Enum(distinct.cast(pl.String).sort()))


def compact_categoricals(table: pl.DataFrame) -> pl.DataFrame:
    """``table`` with each ``Categorical`` column narrowed by ``_compact``."""
    narrowed = [
        _compact(table[name])
        for name, dtype in table.schema.items()
        if isinstance(dtype, pl.Categorical)
    ]
    return table.with_columns(narrowed) if narrowed else table


def to_parquet_table(table: pl.DataFrame) -> pl.DataFrame:
    """``table`` as stored in Parquet: each frame-specific ``Enum`` a ``Categorical``.

    Parts written from different frames have different ``Enum`` columns, which
    Polars will not concatenate; as ``Categorical`` (the same dictionary encoding
    on disk) any parts concatenate and scan together, and ``compact_categoricals``
    narrows them again when a dataset is read whole. The fixed state and span
    status enums are the same in every frame and stay.
    """
    widened = [
        pl.col(name).cast(pl.Categorical)
        for name, dtype in table.schema.items()
        if isinstance(dtype, pl.Enum) and dtype not in (STATE_ENUM, SPAN_STATUS_ENUM)
    ]
    return table.with_columns(widened) if widened else table


def may_hold_null(column: pl.Series) -> bool:
    """Whether a test compiled on ``column`` may meet a missing value.

    An empty column says nothing about the rows an expression compiled on it will
    meet (a lazy scan compiles on its schema alone), so it counts as nullable.
    """
    return column.is_empty() or column.null_count() > 0


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
        quoted = (
            json.dumps(value, ensure_ascii=False) if isinstance(value, str) else None
        )
        targets = {owner}
        session = assessment.session_id
        if session is not None:
            targets.update(sessions.get(session, ()))
        rows.extend(
            (
                target,
                assessment.kind,
                assessment.name,
                text,
                quoted,
                numeric_value(value),
            )
            for target in sorted(targets)
        )
    return rows


def _derive_attribute(
    raw: pl.Series, text_name: str, number_name: str
) -> list[pl.Series]:
    """Derive canonical text and numeric value (distinct raw values decode once)."""
    distinct = raw.drop_nulls().unique()
    texts: list[str | None] = []
    numbers: list[float | None] = []
    for value in distinct.to_list():
        decoded = decode_attribute(value)
        texts.append(canonical_text(decoded))
        numbers.append(numeric_value(decoded))
    return [
        raw.replace_strict(
            distinct, pl.Series(texts, dtype=pl.String), default=None
        ).alias(text_name),
        raw.replace_strict(
            distinct, pl.Series(numbers, dtype=pl.Float64), default=None
        ).alias(number_name),
    ]


def _check_key(key: Any) -> str:
    if not isinstance(key, str) or not key:
        msg = f"a tag key must be a non-empty str, not {key!r}"
        raise TracingError(msg)
    return key


def _value(value: Any) -> str:
    # As update_current_trace: tags are strings, other values are stored as str().
    return value if isinstance(value, str) else str(value)


def _no_tag(trace_id: str, key: str) -> TracingError:
    # MLflow's message for deleting a tag the trace does not have.
    return TracingError(f"No trace tag with key {key!r} for trace with ID {trace_id!r}")


def _retag(trace: Trace, key: str, value: str | None) -> Trace:
    tags = dict(trace.info.tags)
    if value is None:
        if key not in tags:
            raise _no_tag(trace.info.trace_id, key)
        del tags[key]
    else:
        tags[key] = value
    return Trace(attrs.evolve(trace.info, tags=tags), trace.data)


def frame_key(frame: TraceFrame, trace_id: str) -> int | None:
    """The row of ``frame`` holding trace ``trace_id``, ``None`` if none does."""
    if not isinstance(trace_id, str):
        return None
    rows = frame.traces.select(pl.arg_where(pl.col("trace_id") == trace_id))
    return None if rows.is_empty() else int(rows.item(0, 0))


def frame_with_tag(
    frame: TraceFrame, trace_id: str, key: str, value: str | None
) -> TraceFrame:
    """A new frame in which one trace's tag ``key`` is set (or deleted if ``None``).

    Raises:
        TraceNotFoundError: If the frame has no trace with this id.
        TracingError: For a bad key, or deleting a tag the trace does not have.
    """
    key = _check_key(key)
    row = frame_key(frame, trace_id)
    if row is None:
        msg = f"no trace with id {trace_id!r} in this frame"
        raise TraceNotFoundError(msg)
    traces = frame.traces_at(range(len(frame)))
    traces[row] = _retag(traces[row], key, None if value is None else _value(value))
    return TraceFrame.from_traces(traces)
