"""Build search results in the shape the caller asked for, for returned rows only.

``pandas`` mirrors ``mlflow.search_traces``: twelve columns in MLflow's order with
MLflow's cell types (mlflow-filter-spec.md section 11). ``polars`` and ``arrow`` carry
the same columns typed for speed: ids and times come straight from the frame's
columns, and the nested columns (metadata, tags, spans, assessments) are JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs
import polars as pl

from polartrace.frame import TraceFrame
from polartrace.model import Trace, TraceData

__all__ = ["COLUMNS", "build"]

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


def _without_spans(trace: Trace) -> Trace:
    return attrs.evolve(trace, data=TraceData(spans=()))


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


def _pandas(traces: Sequence[Trace], token: str | None) -> Any:
    import pandas as pd

    columns = _rows(traces)
    if not traces:
        frame = pd.DataFrame({name: pd.Series([], dtype=object) for name in COLUMNS})
    else:
        frame = pd.DataFrame(columns, columns=list(COLUMNS))
    frame.attrs["next_page_token"] = token
    return frame


def _polars(traces: Sequence[Trace]) -> pl.DataFrame:
    columns = _rows(traces)
    for name in ("request", "response"):
        columns[name] = [None if v is None else json.dumps(v) for v in columns[name]]
    for name in ("trace_metadata", "tags", "spans", "assessments"):
        columns[name] = [json.dumps(v) for v in columns[name]]
    return pl.DataFrame(columns, schema=_POLARS_SCHEMA)


def build(
    frame: TraceFrame,
    keys: Sequence[int],
    return_type: str,
    include_spans: bool,
    token: str | None,
) -> Any:
    """Build the result for the rows ``keys`` of ``frame``, in that order."""
    traces = frame.traces_at(keys)
    if not include_spans:
        traces = [_without_spans(t) for t in traces]
    if return_type == "list":
        from polartrace.search import PagedList

        return PagedList(traces, token)
    if return_type == "pandas":
        return _pandas(traces, token)
    table = _polars(traces)
    if return_type == "polars":
        return table
    arrow = table.to_arrow()
    if token is not None:
        arrow = arrow.replace_schema_metadata({"next_page_token": token})
    return arrow
