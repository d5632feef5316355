"""Build search results in the shape the caller asked for, for returned rows only.

``pandas`` mirrors ``mlflow.search_traces``: twelve columns in MLflow's order with
MLflow's cell types (docs/semantics.md#result-columns). ``polars`` and ``arrow`` carry
the same columns typed for speed: ids and times come straight from the frame's
columns, and the nested columns (metadata, tags, spans, assessments) are JSON text.

Frames that keep each trace's MLflow JSON text instead of ``Trace`` objects (frames
read from files) build their rows from that text without making a ``Trace``:

* pandas: one orjson decode per row gives every nested cell, read straight from
  the Arrow buffer of the texts (the collector is paused meanwhile: the cells are
  thousands of fresh containers, none of them cyclic, and generational
  collections over them cost as much as the decoding). The ``trace`` column and
  the flat columns go from Arrow to pandas without a Python object per row.
  Where orjson would read a text differently from ``json`` (integers beyond 64
  bits, ``NaN``, lone surrogates), ``json`` reads it, so the cells are exactly
  those of the ``Trace`` path;
* polars / arrow: no decoding of the trace for the usual text. ``trace`` is the
  text itself; ``trace_metadata``, ``tags``, ``assessments`` and ``spans`` are
  cut out of it (`polartrace.frame.cut`), so their keys keep each trace's own order
  as in MLflow's cells; ids and times are gathered from the trace table;
  ``request``/``response`` are written from the root span's stored attribute
  (`polartrace.frame.root_spans`; each distinct text decoded and written once). A
  text of another shape is decoded whole. A page is about a hundred rows, for
  which plain Python over the rows and a handful of Polars calls cost less than
  vectorised plans (each Polars call costs tens of microseconds whatever its
  size).

Polars/arrow JSON text equals, as JSON, ``json.dumps`` of the pandas cell, and
equals it as text for traces written by ``Trace.to_json``.
"""

from __future__ import annotations

import gc
import itertools
import json
import operator
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import attrs
import orjson
import polars as pl

from polartrace.frame.cut import OFFSETS, at, cut
from polartrace.frame.root_spans import root_texts
from polartrace.frame.trace_frame import TraceFrame
from polartrace.model.trace import Trace, TraceData
from polartrace.values.conventions import SPAN_INPUTS, SPAN_OUTPUTS, root_span
from polartrace.values.errors import TraceFormatError
from polartrace.values.json_values import decode_attribute_fast, holds_wide_float

if TYPE_CHECKING:  # pyarrow loads with the pandas output that uses it
    import pyarrow as pa

__all__ = ["COLUMNS", "build", "json_frame"]

#: MLflow's DataFrame columns, in MLflow's order.
COLUMNS = (
    "trace_id",
    "trace",
    "client_request_id",
    "state",
    "request_time",
    "execution_duration",
    "request",
    "response",
    "trace_metadata",
    "tags",
    "spans",
    "assessments",
)

_POLARS_SCHEMA: dict[str, pl.DataType] = {
    "trace_id": pl.String(),
    "trace": pl.String(),
    "client_request_id": pl.String(),
    "state": pl.String(),
    "request_time": pl.Int64(),
    "execution_duration": pl.Int64(),
    "request": pl.String(),
    "response": pl.String(),
    "trace_metadata": pl.String(),
    "tags": pl.String(),
    "spans": pl.String(),
    "assessments": pl.String(),
}
_FLAT = ("trace_id", "client_request_id", "state", "request_time", "execution_duration")


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Build many fresh containers without the cycle collector running over them.

    Pausing alone only defers the work: the objects made meanwhile are all in the
    youngest generation, and the first allocation after re-enabling collects it,
    a pass over millions of cells, a large share of the build. The cells are
    acyclic, so they are moved to the oldest generation untraversed instead
    (``freeze`` then ``unfreeze``; skipped if the program froze objects itself,
    which ``unfreeze`` would release). Young objects of the caller's move with
    them: a cycle among those is found by the next full collection, not the
    next young one.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if not gc.get_freeze_count():
            gc.freeze()
            gc.unfreeze()
        if enabled:
            gc.enable()


def _without_spans(trace: Trace) -> Trace:
    return attrs.evolve(trace, data=TraceData(spans=()))


# --- rows from Trace objects -------------------------------------------------------


def _rows(traces: Sequence[Trace]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
    for trace in traces:
        info, as_dict = trace.info, trace.to_dict()
        columns["trace_id"].append(info.trace_id)
        columns["trace"].append(json.dumps(as_dict))
        columns["client_request_id"].append(info.client_request_id)
        columns["state"].append(info.state.value)
        columns["request_time"].append(info.request_time)
        columns["execution_duration"].append(info.execution_duration)
        columns["request"].append(trace.data.request)
        columns["response"].append(trace.data.response)
        columns["trace_metadata"].append(dict(info.trace_metadata))
        columns["tags"].append(dict(info.tags))
        columns["spans"].append(as_dict["data"]["spans"])
        columns["assessments"].append(as_dict["info"].get("assessments", []))
    return columns


# --- rows from MLflow JSON text ----------------------------------------------------

_events = operator.methodcaller("get", "events")
_links = operator.methodcaller("get", "links")
_VALUE_KINDS = ("feedback", "expectation")


def _narrow_assessment(assessment: Any) -> bool:
    """Whether an assessment dict holds no wide float.

    In MLflow's shape only ``feedback.value`` and ``expectation.value`` hold
    numbers; any other shape is walked whole.
    """
    if type(assessment) is not dict:
        return not holds_wide_float(assessment)
    for kind in _VALUE_KINDS:
        part = assessment.get(kind)
        if part is not None:
            if type(part) is not dict:
                return not holds_wide_float(part)
            if holds_wide_float(part.get("value")):
                return False
    return True


def _narrow_trace(trace: Any, locations: list[Any]) -> bool:
    """Whether a decoded ``Trace.to_json`` text holds no wide float.

    Frames keep the text ``Trace.to_json`` writes, where span attributes, status,
    metadata and tags are strings, and span times and the execution duration
    are the frame's Int64 values. Bare numbers of any width can only be in span
    events and links, the trace location and assessment values: only those are
    looked at (walking every value would cost as much as the decoding).
    ``locations`` holds trace locations already found narrow: they repeat.
    """
    try:
        info, spans = trace["info"], trace["data"]["spans"]
        location = info.get("trace_location")
        if location is not None and location not in locations:
            if holds_wide_float(location):
                return False
            locations.append(location)
        assessments = info.get("assessments") or ()
        if not all(map(_narrow_assessment, assessments)):
            return False
        if any(map(_events, spans)) and any(map(holds_wide_float, map(_events, spans))):
            return False
        return not (
            any(map(_links, spans)) and any(map(holds_wide_float, map(_links, spans)))
        )
    except (TypeError, KeyError, AttributeError):  # not the shape of Trace.to_json
        return not holds_wide_float(trace)


def _loads(text: str | memoryview, locations: list[Any]) -> Any:
    """``json.loads(text)`` of a trace, decoded by orjson when it agrees.

    orjson is about twice as fast here. It rejects what json accepts beyond the
    standard (``NaN``, ``Infinity``, lone surrogates, ``1e400``), and reads
    integers wider than 64 bits as floats; json reads those texts.
    """
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    else:
        if _narrow_trace(value, locations):
            return value
    return json.loads(bytes(text) if isinstance(text, memoryview) else text)


def _root_io(spans: list[Any]) -> tuple[Any, Any]:
    """The root span's decoded inputs and outputs (as ``TraceData.request``)."""
    root = root_span(spans, _parent_of)
    if root is None:
        return None, None
    attributes = root.get("attributes") or {}
    inputs, outputs = attributes.get(SPAN_INPUTS), attributes.get(SPAN_OUTPUTS)
    return (
        None if inputs is None else decode_attribute_fast(inputs),
        None if outputs is None else decode_attribute_fast(outputs),
    )


def _parent_of(span: dict[str, Any]) -> str | None:
    # Null, or OTLP's "" for no parent, as the span reader reads it.
    return span.get("parent_span_id") or None


def _info_times(frame: TraceFrame, keys: Sequence[int]) -> pl.DataFrame | None:
    """The flat columns of ``keys`` from the trace table, if it holds those rows."""
    raw = frame._raw_json
    if not keys or raw is None or frame.traces.height != len(raw):
        return None
    return frame.traces[list(keys)].select(
        "trace_id",
        "client_request_id",
        pl.col("state").cast(pl.String),
        "request_time",
        "execution_duration",
    )


def _texts(frame: TraceFrame, keys: Sequence[int]) -> pa.LargeStringArray:
    """The JSON text of ``keys`` as one Arrow array (no Python string per row)."""
    import pyarrow as pa

    assert frame._raw_json is not None
    rows = pl.Series(keys, dtype=pl.Int64)
    gathered = frame._raw_json.gather(rows).to_arrow(
        compat_level=pl.CompatLevel.oldest()
    )
    if isinstance(gathered, pa.ChunkedArray):
        gathered = gathered.combine_chunks()
    return gathered.cast(pa.large_string())


def _views(texts: pa.LargeStringArray) -> list[memoryview]:
    """A UTF-8 view of each text, without copying (orjson reads them directly)."""
    _, offsets, data = texts.buffers()
    assert offsets is not None
    assert data is not None
    bounds = memoryview(offsets).cast("q")[texts.offset : texts.offset + len(texts) + 1]
    view = memoryview(data)
    return [view[a:b] for a, b in itertools.pairwise(bounds)]


def _cells(trace: Any, include_spans: bool) -> tuple[Any, ...]:
    """One decoded trace's info and nested cells, taken while its objects are hot.

    ``(info, trace_metadata, tags, assessments, spans, request, response)``.
    """
    info, spans = trace["info"], trace["data"]["spans"]
    request, response = _root_io(spans) if include_spans else (None, None)
    return (
        info,
        info.get("trace_metadata", {}),
        info.get("tags", {}),
        info.get("assessments", []),
        spans,
        request,
        response,
    )


def _json_rows(
    frame: TraceFrame,
    keys: Sequence[int],
    include_spans: bool,
    texts: pa.LargeStringArray | None = None,
    flat: pl.DataFrame | None = None,
) -> dict[str, list[Any]]:
    """Python columns from the JSON text of ``keys`` (one decode per row).

    With ``texts`` (the rows' text as Arrow) and spans included, ``trace`` is left
    out: it is the texts. With ``flat`` (`_info_times`) the flat columns are left
    out: they are in ``flat``. Each row's cells are taken right after it is
    decoded (`_cells`), then split into columns in C (``zip``): passes over all
    the decoded rows, one per column, would read every decoded object back from
    memory once per column.
    """
    from polartrace.model.timestamps import parse_timestamp_ms

    rows: Sequence[str | memoryview] = (
        frame.json_at(keys) if texts is None else _views(texts)
    )
    columns: dict[str, list[Any]] = {}
    locations: list[Any] = []
    with _collector_paused():
        cells = [_cells(_loads(text, locations), include_spans) for text in rows]
        infos, metadata, tags, assessments, spans, request, response = (
            (list(column) for column in zip(*cells, strict=True))
            if cells
            else ([] for _ in range(7))
        )
        del cells
        columns["request"] = request  # all None without spans (`_cells`)
        columns["response"] = response
        if include_spans:
            if texts is None:
                columns["trace"] = list(rows)
        else:
            dumps = json.dumps
            spans = [[] for _ in infos]
            columns["trace"] = [
                dumps({"info": info, "data": {"spans": []}}) for info in infos
            ]
        if flat is None:
            columns["trace_id"] = [info["trace_id"] for info in infos]
            columns["client_request_id"] = [
                info.get("client_request_id") for info in infos
            ]
            columns["state"] = [info["state"] for info in infos]
            columns["request_time"] = [
                parse_timestamp_ms(info["request_time"]) for info in infos
            ]
            columns["execution_duration"] = [
                info.get("execution_duration_ms") for info in infos
            ]
        columns["trace_metadata"] = metadata
        columns["tags"] = tags
        columns["spans"] = spans
        columns["assessments"] = assessments
    return {name: columns[name] for name in COLUMNS if name in columns}


# --- pandas ------------------------------------------------------------------------


def _pandas(columns: dict[str, Any], n: int, token: str | None) -> Any:
    import pandas as pd

    if not n:
        frame = pd.DataFrame({name: pd.Series([], dtype=object) for name in COLUMNS})
    else:
        frame = pd.DataFrame(columns, columns=list(COLUMNS), copy=False)
    frame.attrs["next_page_token"] = token
    return frame


def _pandas_column(values: pl.Series | pa.Array) -> Any:
    """``values`` as pandas infers the column from their Python list, without the list.

    Arrow strings become pandas' Arrow-backed ``str`` column as they are (no Python
    string per row); all-null columns stay ``object`` as inference leaves them.
    """
    import pandas as pd
    import pyarrow as pa

    nulls = values.null_count if isinstance(values, pa.Array) else values.null_count()
    if nulls == len(values):
        return pd.Series([None] * len(values), dtype=object)
    return values.to_pandas()


def _pandas_from_json(
    frame: TraceFrame, keys: Sequence[int], include_spans: bool, token: str | None
) -> Any:
    """MLflow's twelve pandas columns from the JSON text of ``keys``.

    One orjson decode per row gives the nested cells; the texts themselves (the
    ``trace`` column) and the flat columns go from Arrow to pandas without a
    Python object per row.
    """
    import numpy as np
    import pandas as pd

    flat = _info_times(frame, keys)
    texts = _texts(frame, keys)
    columns: dict[str, Any] = _json_rows(frame, keys, include_spans, texts, flat)
    if include_spans:
        columns["trace"] = _pandas_column(texts)
    if flat is not None:
        for name in _FLAT:
            columns[name] = _pandas_column(flat[name])
    for name in ("trace_metadata", "tags", "spans", "assessments"):
        # Always dicts or lists: pandas would infer object after a pass over them.
        values = np.fromiter(columns[name], dtype=object, count=len(keys))
        columns[name] = pd.Series(values, dtype=object, copy=False)
    return _pandas(columns, len(keys), token)


# --- polars ------------------------------------------------------------------------


def _polars(traces: Sequence[Trace]) -> pl.DataFrame:
    columns = _rows(traces)
    for name in ("request", "response"):
        columns[name] = [None if v is None else json.dumps(v) for v in columns[name]]
    for name in ("trace_metadata", "tags", "spans", "assessments"):
        columns[name] = [json.dumps(v) for v in columns[name]]
    return pl.DataFrame(columns, schema=_POLARS_SCHEMA)


def _decoded_parts(text: str) -> tuple[str, str, str, str]:
    """`cut` of a text of another shape: decoded, and the parts written back."""
    d = json.loads(text)
    info = d["info"]
    return (
        json.dumps(info.get("trace_metadata", {})),
        json.dumps(info.get("tags", {})),
        json.dumps(info.get("assessments", [])),
        json.dumps(d["data"]["spans"]),
    )


def _parts(
    frame: TraceFrame, rows: pl.Series, texts: list[str], kept: pl.DataFrame | None
) -> list[tuple[str, str, str, str]]:
    """The metadata, tags, assessments and spans text of each of ``texts``.

    Sliced at the offsets a file kept (``kept``, `polartrace.frame.cut.at`) where it
    kept them, otherwise cut out (`polartrace.frame.cut.cut`) or, for a text of
    another shape, decoded and written back.

    Raises:
        TraceFormatError: If kept offsets do not fit their text (a damaged file).
    """
    if kept is None:
        return [cut(text) or _decoded_parts(text) for text in texts]
    out = []
    # Seven lists zipped: a third of the cost of ``rows()`` for a page.
    found_rows = zip(
        *(kept.get_column(name).to_list() for name in OFFSETS), strict=True
    )
    for row, text, found in zip(rows.to_list(), texts, found_rows, strict=True):
        if found[-1] is None:  # a text `cut` did not take when it was written
            out.append(cut(text) or _decoded_parts(text))
            continue
        parts = at(text, found)
        if parts is None:
            msg = (
                f"the kept offsets {found} do not fit the JSON text of trace "
                f"{frame.traces['trace_id'][row]!r}; the file is damaged: write it "
                "again from its traces"
            )
            raise TraceFormatError(msg, location=f"json row {row}")
        out.append(parts)
    return out


def _polars_from_json(
    frame: TraceFrame, keys: Sequence[int], include_spans: bool
) -> pl.DataFrame:
    """MLflow's twelve columns from the JSON text of ``keys``, typed for Polars.

    The nested parts are cut out of each text (`cut`), the flat columns gathered
    from the trace table, the request and response written from the root spans'
    stored attributes (`root_texts`); where a file kept the parts' offsets and
    the request and response beside the texts, the page slices and gathers them
    instead (`_parts`).
    """
    raw = frame._raw_json
    assert raw is not None
    if not keys or frame.traces.height != len(raw):  # JSON text only (a lazy page)
        return _polars_columns(_json_rows(frame, keys, include_spans))
    rows = pl.Series("_key", keys, dtype=pl.UInt32)
    flat = frame.traces[rows, list(_FLAT)]
    gathered = raw.gather(rows)
    texts = gathered.to_list()
    kept = None if frame._json_parts is None else frame._json_parts[rows]
    with _collector_paused():
        parts = _parts(frame, rows, texts, kept)
        metadata, tags, assessments, spans = (
            list(part) for part in zip(*parts, strict=True)
        )
        request: pl.Series | list[str | None]
        response: pl.Series | list[str | None]
        if include_spans:
            request, response = (
                root_texts(frame.spans, rows)
                if kept is None
                else (kept["request"], kept["response"])
            )
            trace: pl.Series | list[str] = gathered  # the kept texts themselves
        else:
            trace = [_strip_spans(text) for text in texts]
            spans = ["[]"] * len(keys)
            request = response = [None] * len(keys)
    nested = {
        "request": request,
        "response": response,
        "trace_metadata": metadata,
        "tags": tags,
        "spans": spans,
        "assessments": assessments,
    }
    # One frame of named Series: cheaper than a dict of lists cast to a schema.
    columns = {
        "trace": trace
        if isinstance(trace, pl.Series)
        else pl.Series(trace, dtype=pl.String),
        "state": flat["state"].cast(pl.String),
        **{name: flat[name] for name in _FLAT if name != "state"},
        **{name: pl.Series(values, dtype=pl.String) for name, values in nested.items()},
    }
    return pl.DataFrame([columns[name].alias(name) for name in COLUMNS])


def _strip_spans(text: str) -> str:
    d = json.loads(text)
    return json.dumps({"info": d["info"], "data": {"spans": []}})


def _polars_columns(columns: dict[str, list[Any]]) -> pl.DataFrame:
    for name in ("request", "response"):
        columns[name] = [None if v is None else json.dumps(v) for v in columns[name]]
    for name in ("trace_metadata", "tags", "spans", "assessments"):
        columns[name] = [json.dumps(v) for v in columns[name]]
    return pl.DataFrame(columns, schema=_POLARS_SCHEMA)


def json_frame(texts: pl.Series) -> TraceFrame:
    """A frame of a page's MLflow JSON texts alone (rows ``0..n-1``), to build from.

    A scanned dataset's page arrives as its texts: the flat cells then come from
    the text, as the trace table of the page is not read.
    """
    empty = TraceFrame.from_traces([])
    tables = (empty.traces, empty.spans, empty.assessments, empty.prompts)
    return TraceFrame(*tables, raw_json=texts)


def build(
    frame: TraceFrame,
    keys: Sequence[int],
    return_type: str,
    include_spans: bool,
    token: str | None,
) -> Any:
    """Build the result for the rows ``keys`` of ``frame``, in that order."""
    keys = list(keys)
    if return_type == "list" or frame._raw_json is None:
        traces = frame.traces_at(keys)
        if not include_spans:
            traces = [_without_spans(t) for t in traces]
        if return_type == "list":
            from polartrace.output.paged import PagedList

            return PagedList(traces, token)
        if return_type == "pandas":
            return _pandas(_rows(traces), len(traces), token)
        table = _polars(traces)
    elif return_type == "pandas":
        if not keys:
            return _pandas({}, 0, token)
        return _pandas_from_json(frame, keys, include_spans, token)
    else:
        table = _polars_from_json(frame, keys, include_spans)
    if return_type == "polars":
        return table
    arrow = table.to_arrow()
    if token is not None:
        arrow = arrow.replace_schema_metadata({"next_page_token": token})
    return arrow
