"""MLflow's trace-archive shape as a DataFrame of trace rows.

MLflow's Databricks trace archive (a Delta view, one row per trace) has the columns
``trace_id``, ``client_request_id``, ``request_time`` (a timestamp), ``state``,
``execution_duration_ms``, ``request``, ``response``, ``trace_metadata`` and ``tags``
(string maps), ``trace_location`` (a struct naming the experiment), ``assessments``
and ``spans`` (arrays of structs; a span has ``span_id``, ``parent_id``,
``start_time``, ``end_time``, ``status_code``, ``status_message``, ``name``,
``attributes`` (a map of JSON texts) and ``events``). `read_archive` turns each row
into MLflow's trace JSON, reads it as a polartrace `Trace` (so every MLflow
convention applies as for any other source) and writes the row shape of
`polartrace.spark.layout`, partition by partition.

Rows are first grouped by session (``mlflow.trace.session``), so a session-scoped
assessment reaches every trace of its session, as in memory. What the archive does
not keep cannot be restored: its times are microseconds (nanoseconds are cut), and an
assessment value is a string, read as JSON when it parses (``"0.8"`` is 0.8, ``"yes"``
stays a string).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from polartrace.frame.trace_frame import TraceFrame
from polartrace.model.trace import Trace
from polartrace.spark.layout import KEY, rows_from_frame, spark_ddl
from polartrace.values.conventions import SESSION_KEY, TRACE_STATES, truncate_preview

__all__ = ["read_archive", "trace_from_archive"]

_NS = 1_000_000_000


def _utc(value: dt.datetime) -> dt.datetime:
    # Arrow batches carry the time zone; a naive time is read as UTC.
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def _iso(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        text = _utc(value).astimezone(dt.UTC).isoformat(timespec="milliseconds")
        return text.replace("+00:00", "Z")
    return str(value)


def _ns(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        delta = _utc(value) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return (delta.days * 86_400 + delta.seconds) * _NS + delta.microseconds * 1000
    return int(str(value))


def _pairs(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    return dict(value) if not isinstance(value, dict) else value


def _decoded(text: Any) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def _state(value: Any) -> str:
    text = str(value or "")
    if text in TRACE_STATES:
        return text
    return {"STATUS_CODE_OK": "OK", "STATUS_CODE_ERROR": "ERROR"}.get(
        text, "IN_PROGRESS"
    )


def _otel_id(value: Any, size: int) -> Any:
    """An id as MLflow's JSON writes it (base64 of its bytes), from hex if need be."""
    text = str(value or "")
    hex_text = text.removeprefix("tr-")
    if len(hex_text) == 2 * size:
        try:
            return base64.b64encode(bytes.fromhex(hex_text)).decode("ascii")
        except ValueError:
            pass
    return value


def _span(span: dict[str, Any], trace_id: str) -> dict[str, Any]:
    events = [
        {
            "name": event.get("name"),
            "time_unix_nano": _ns(event.get("timestamp")),
            "attributes": _decoded(event.get("attributes")) or {},
        }
        for event in span.get("events") or ()
    ]
    code = span.get("status_code") or "STATUS_CODE_UNSET"
    if code in ("OK", "ERROR", "UNSET"):
        code = f"STATUS_CODE_{code}"
    return {
        "trace_id": _otel_id(span.get("trace_id") or trace_id, 16),
        "span_id": _otel_id(span.get("span_id"), 8),
        "parent_span_id": _otel_id(span.get("parent_id"), 8) or None,
        "name": span.get("name"),
        "start_time_unix_nano": _ns(span.get("start_time")),
        "end_time_unix_nano": _ns(span.get("end_time")),
        "events": events,
        "status": {"code": code, "message": span.get("status_message") or ""},
        "attributes": _pairs(span.get("attributes")),
    }


def _assessment(item: dict[str, Any], trace_id: str) -> dict[str, Any]:
    found: dict[str, Any] = {
        "assessment_id": item.get("assessment_id"),
        "assessment_name": item.get("name"),
        "trace_id": item.get("trace_id") or trace_id,
        "source": item.get("source") or {"source_type": "HUMAN", "source_id": ""},
        "create_time": _iso(item.get("create_time")),
        "last_update_time": _iso(item.get("last_update_time")),
    }
    for kind in ("feedback", "expectation"):
        part = item.get(kind)
        if part is not None:
            found[kind] = {k: v for k, v in part.items() if v is not None}
            if "value" in found[kind]:
                found[kind]["value"] = _decoded(found[kind]["value"])
    for name in ("rationale", "span_id"):
        if item.get(name) is not None:
            found[name] = item[name]
    if item.get("metadata"):
        found["metadata"] = _pairs(item["metadata"])
    return found


def trace_from_archive(row: dict[str, Any]) -> Trace:
    """One archive row (as ``pyarrow``'s ``to_pylist`` gives it) as a `Trace`."""
    trace_id = str(row["trace_id"])
    location = row.get("trace_location") or {}
    experiment = (location.get("mlflow_experiment") or {}).get("experiment_id")
    info: dict[str, Any] = {
        "trace_id": trace_id,
        "client_request_id": row.get("client_request_id"),
        "trace_location": {
            "type": "MLFLOW_EXPERIMENT",
            "mlflow_experiment": {"experiment_id": experiment or "0"},
        },
        "request_time": _iso(row.get("request_time")),
        "state": _state(row.get("state")),
        "trace_metadata": _pairs(row.get("trace_metadata")),
        "tags": _pairs(row.get("tags")),
        "assessments": [_assessment(a, trace_id) for a in row.get("assessments") or ()],
    }
    duration = row.get("execution_duration_ms")
    if duration is not None:
        info["execution_duration_ms"] = int(duration)
    for name, preview in (
        ("request", "request_preview"),
        ("response", "response_preview"),
    ):
        if row.get(name) is not None:
            info[preview] = truncate_preview(str(row[name]))
    spans = [_span(s, trace_id) for s in row.get("spans") or ()]
    return Trace.from_dict({"info": info, "data": {"spans": spans}})


def _archive_partition(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    rows = [row for batch in batches for row in batch.to_pylist()]
    if not rows:
        return
    frame = TraceFrame.from_traces(trace_from_archive(row) for row in rows)
    table = rows_from_frame(frame)
    keys = pa.array([row[KEY] for row in rows], pa.int64())
    yield from table.set_column(0, KEY, keys).to_batches()


def read_archive(df: DataFrame, *, partitions: int | None = None) -> DataFrame:
    """MLflow's trace-archive rows as a DataFrame of trace rows.

    Args:
        df: One row per trace in MLflow's archive shape.
        partitions: How many partitions the result has (default: ``df``'s).

    Returns:
        The rows in polartrace's shape; ``_key`` numbers the archive's rows.
    """
    count = partitions or df.rdd.getNumPartitions()
    session = F.try_element_at(F.col("trace_metadata"), F.lit(SESSION_KEY))
    keyed = df.withColumn(KEY, F.monotonically_increasing_id())
    grouped = keyed.repartition(count, F.coalesce(session, F.col("trace_id")))
    return grouped.mapInArrow(_archive_partition, spark_ddl())
