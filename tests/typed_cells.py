"""What a typed Polars page holds, written from MLflow's pandas cells of the same page.

`expected_rows` reads each pandas row (MLflow's decoded cells) through the model
(`Span.from_dict`, `Assessment.from_dict`) and writes the typed page's cells in
plain Python; `typed_rows` reads a typed Polars page into the same plain form:
times and durations as integers (ms for the trace, ns for spans), key/value lists
as dicts (their keys checked ascending), JSON text decoded where MLflow's cell is
decoded. Tests compare the two, so a typed page is checked against the JSON page
of the same search, not against the code that built it.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import polars as pl

from polartrace.catalogue.fields import LLM_SPAN_SPECS
from polartrace.model.assessment import Assessment
from polartrace.model.span import Span
from polartrace.values.conventions import SPAN_INPUTS, SPAN_OUTPUTS

__all__ = ["expected_rows", "typed_rows"]


def _plain(dtype: Any) -> pl.DataType:
    """``dtype`` with every datetime and duration an Int64 (its stored integer)."""
    if isinstance(dtype, pl.Datetime | pl.Duration):
        return pl.Int64()
    if isinstance(dtype, pl.List):
        return pl.List(_plain(dtype.inner))
    if isinstance(dtype, pl.Struct):
        return pl.Struct({f.name: _plain(f.dtype) for f in dtype.fields})
    return dtype  # type: ignore[no-any-return]


def _kv(entries: list[dict[str, str]]) -> dict[str, str]:
    keys = [entry["key"] for entry in entries]
    assert keys == sorted(keys), f"keys not ascending: {keys}"
    return {entry["key"]: entry["value"] for entry in entries}


def typed_rows(table: pl.DataFrame) -> list[dict[str, Any]]:
    """The rows of a typed page in plain Python (see the module docstring)."""
    plain = table.cast({name: _plain(dtype) for name, dtype in table.schema.items()})
    rows = plain.to_dicts()
    for row in rows:
        row["trace"] = json.loads(row["trace"])
        row["trace_metadata"] = _kv(row["trace_metadata"])
        row["tags"] = _kv(row["tags"])
        for span in row["spans"]:
            span["attributes"] = _kv(span["attributes"])
            span["events"] = json.loads(span["events"])
        for assessment in row["assessments"]:
            assessment["metadata"] = _kv(assessment["metadata"])
    return rows


def _span(cell: dict[str, Any]) -> dict[str, Any]:
    span = Span.from_dict(cell)
    raw = span.raw_attributes
    start, end = span.start_time_ns, span.end_time_ns
    row: dict[str, Any] = {
        "span_id": span.span_id,
        "parent_id": span.parent_id,
        "name": span.name,
        "type": span.span_type,
        "status": span.status.code.value,
        "start_time": start,
        "end_time": end,
        "duration": None if end is None else end - start,
        "inputs": raw.get(SPAN_INPUTS),
        "outputs": raw.get(SPAN_OUTPUTS),
        "attributes": {
            k: v for k, v in raw.items() if k not in (SPAN_INPUTS, SPAN_OUTPUTS)
        },
        "events": [event.to_dict() for event in span.events],
    }
    for spec in LLM_SPAN_SPECS:
        assert spec.read_span is not None
        row[spec.name.removeprefix("span.")] = spec.read_span(span)
    return row


def _assessment(cell: dict[str, Any]) -> dict[str, Any]:
    a = Assessment.from_dict(cell)
    source, error = a.source, a.error
    return {
        "assessment_id": a.assessment_id,
        "name": a.name,
        "kind": a.kind.value,
        "value": None if a.value is None else json.dumps(a.value),
        "span_id": a.span_id,
        "source_type": None if source is None else source.source_type,
        "source_id": None if source is None else source.source_id,
        "create_time": a.create_time_ms,
        "last_update_time": a.last_update_time_ms,
        "rationale": a.rationale,
        "error_code": None if error is None else error.error_code,
        "error_message": None if error is None else error.error_message,
        "metadata": dict(a.metadata),
        "overrides": a.overrides,
        "valid": a.is_valid,
    }


def _text(value: Any) -> str | None:
    return None if value is None or pd.isna(value) else str(value)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def expected_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The typed page's rows in plain Python, from MLflow's pandas cells."""
    # pandas infers its string column for request/response when every value is a
    # string or missing; a missing value there reads NaN.
    missing = {name: frame[name].dtype != object for name in ("request", "response")}
    rows = []
    for cells in frame.to_dict("records"):
        for name, strings in missing.items():
            if strings and pd.isna(cells[name]):
                cells[name] = None
        duration = cells["execution_duration"]
        rows.append(
            {
                "trace_id": cells["trace_id"],
                "trace": json.loads(cells["trace"]),
                "client_request_id": _text(cells["client_request_id"]),
                "state": cells["state"],
                "request_time": int(cells["request_time"]),
                "execution_duration": None if pd.isna(duration) else int(duration),
                "request": _json(cells["request"]),
                "response": _json(cells["response"]),
                "trace_metadata": dict(cells["trace_metadata"]),
                "tags": dict(cells["tags"]),
                "spans": [_span(cell) for cell in cells["spans"]],
                "assessments": [_assessment(cell) for cell in cells["assessments"]],
            }
        )
    return rows
