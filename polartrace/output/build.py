"""Build search results in the shape the caller asked for, for returned rows only.

``pandas`` mirrors ``mlflow.search_traces``: twelve columns in MLflow's order with
MLflow's cell types (docs/semantics.md#result-columns). ``polars`` and ``arrow``
carry the same columns typed (`polartrace.output.typed`): datetimes, durations,
key/value lists and lists of span and assessment structs.

A page reads the frame's page table (`polartrace.frame.pages`), which every reader
fills once per trace (a frame of ``Trace`` objects writes the page's rows alone,
`TraceFrame.page_rows`). pandas: one orjson decode of each row's info and spans
text gives every nested cell, read straight from the Arrow buffers (the collector
is paused meanwhile: the cells are thousands of fresh containers, none of them
cyclic, and generational collections over them cost as much as the decoding). The
``trace`` column and the flat columns go from Arrow to pandas without a Python
object per row. Where orjson would read a text differently from ``json``
(integers beyond 64 bits, ``NaN``, lone surrogates), ``json`` reads it, so the
cells are exactly those of the ``Trace`` path. A frame that keeps its ``Trace``
objects builds pandas rows from them.
"""

from __future__ import annotations

import gc
import itertools
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

import attrs
import polars as pl

from polartrace.frame.pages import (
    INFO_TEXT,
    TRACE_TEXT,
    load_info,
    load_spans,
    root_io,
)
from polartrace.frame.trace_frame import TraceFrame
from polartrace.model.timestamps import parse_timestamp_ms
from polartrace.model.trace import Trace, TraceData
from polartrace.output.typed import to_arrow, typed_page
from polartrace.values.conventions import RESULT_COLUMNS

if TYPE_CHECKING:  # pyarrow loads with the pandas output that uses it
    import pyarrow as pa

__all__ = ["COLUMNS", "build", "page_frame"]

#: MLflow's DataFrame columns, in MLflow's order.
COLUMNS: Final = RESULT_COLUMNS

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


# --- rows from the page table ------------------------------------------------------


def _page(frame: TraceFrame, rows: pl.Series) -> pl.DataFrame:
    """The page table's rows for a page: the one gather a page makes."""
    return frame.page_rows(rows)


def _flat_rows(frame: TraceFrame, rows: pl.Series) -> pl.DataFrame | None:
    """The flat columns of ``rows`` from the trace table, if it holds those rows.

    A frame of page rows alone (a lazy page) has none; its flat columns are read
    from the decoded info objects (`_flat_from_infos`).
    """
    if frame.traces.height != frame.page_count:
        return None
    return frame.traces[rows].select(
        "trace_id",
        "client_request_id",
        pl.col("state").cast(pl.String),
        "request_time",
        "execution_duration",
    )


def _flat_from_infos(infos: list[Any]) -> dict[str, list[Any]]:
    return {
        "trace_id": [info["trace_id"] for info in infos],
        "client_request_id": [info.get("client_request_id") for info in infos],
        "state": [info["state"] for info in infos],
        "request_time": [parse_timestamp_ms(info["request_time"]) for info in infos],
        "execution_duration": [info.get("execution_duration_ms") for info in infos],
    }


def _arrow_texts(column: pl.Series) -> pa.LargeStringArray:
    """``column`` as one Arrow array (no Python string per row)."""
    import pyarrow as pa

    gathered = column.to_arrow(compat_level=pl.CompatLevel.oldest())
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


def _pandas_from_pages(
    frame: TraceFrame, keys: Sequence[int], include_spans: bool, token: str | None
) -> Any:
    """MLflow's twelve pandas columns from the page table rows of ``keys``.

    One orjson decode of each row's info and spans text gives the nested cells,
    read straight from the Arrow buffers; the ``trace`` column and the flat
    columns go from Arrow to pandas without a Python object per row.
    """
    import numpy as np
    import pandas as pd

    rows = pl.Series("_key", keys, dtype=pl.UInt32)
    page = _page(frame, rows)
    flat = _flat_rows(frame, rows)
    info_texts = _arrow_texts(page.select(INFO_TEXT).to_series())
    span_texts = _arrow_texts(page["spans"]) if include_spans else None
    columns: dict[str, Any] = {}
    locations: list[Any] = []
    with _collector_paused():
        infos = [load_info(text, locations) for text in _views(info_texts)]
        if span_texts is None:
            spans: list[Any] = [[] for _ in infos]
            ends: list[tuple[Any, Any]] = [(None, None)] * len(infos)
        else:
            spans = [load_spans(text) for text in _views(span_texts)]
            ends = [root_io(of_trace) for of_trace in spans]
        columns["request"] = [request for request, _ in ends]
        columns["response"] = [response for _, response in ends]
        columns["trace_metadata"] = [info.get("trace_metadata", {}) for info in infos]
        columns["tags"] = [info.get("tags", {}) for info in infos]
        columns["assessments"] = [info.get("assessments", []) for info in infos]
        columns["spans"] = spans
        if span_texts is None:
            dumps = json.dumps
            columns["trace"] = [
                dumps({"info": info, "data": {"spans": []}}) for info in infos
            ]
        if flat is None:
            columns.update(_flat_from_infos(infos))
    if span_texts is not None:
        columns["trace"] = _pandas_column(
            _arrow_texts(page.select(TRACE_TEXT).to_series())
        )
    if flat is not None:
        for name in _FLAT:
            columns[name] = _pandas_column(flat[name])
    for name in ("trace_metadata", "tags", "spans", "assessments"):
        # Always dicts or lists: pandas would infer object after a pass over them.
        values = np.fromiter(columns[name], dtype=object, count=len(keys))
        columns[name] = pd.Series(values, dtype=object, copy=False)
    return _pandas(columns, len(keys), token)


def page_frame(pages: pl.DataFrame) -> TraceFrame:
    """A frame of a page's page table rows alone (rows ``0..n-1``), to build from.

    A scanned dataset's page arrives as its page table rows: the flat cells then
    come from the info text, as the trace table of the page is not read.
    """
    empty = TraceFrame.from_traces([])
    tables = (empty.traces, empty.spans, empty.assessments, empty.prompts)
    return TraceFrame(*tables, pages=pages)


def build(
    frame: TraceFrame,
    keys: Sequence[int],
    return_type: str,
    include_spans: bool,
    token: str | None,
) -> Any:
    """Build the result for the rows ``keys`` of ``frame``, in that order."""
    keys = list(keys)
    from_objects = return_type == "pandas" and frame._objects is not None
    if return_type == "list" or from_objects:
        traces = frame.traces_at(keys)
        if not include_spans:
            traces = [_without_spans(t) for t in traces]
        if return_type == "list":
            from polartrace.output.paged import PagedList

            return PagedList(traces, token)
        return _pandas(_rows(traces), len(traces), token)
    if return_type == "pandas":
        if not keys:
            return _pandas({}, 0, token)
        return _pandas_from_pages(frame, keys, include_spans, token)
    table = typed_page(frame, keys, include_spans)
    if return_type == "polars":
        return table
    arrow = to_arrow(table)
    if token is not None:
        arrow = arrow.replace_schema_metadata({"next_page_token": token})
    return arrow
