"""Read an MLflow 3 tracking database (SQLite file or SQLAlchemy URL) without MLflow.

MLflow's SQL store keeps a trace in several tables: ``trace_info`` (one row per trace,
with the trace name, session id and token usage promoted to columns),
``trace_tags`` and ``trace_request_metadata`` (key/value rows), ``assessments`` (value,
error and metadata as JSON text) and ``spans`` (one row per span, ``content`` holding
the span's MLflow JSON). Traces logged before span storage moved into the database
(tag ``mlflow.trace.spansLocation`` = ``ARTIFACT_REPO``) keep their spans in a
``traces.json`` artifact at ``mlflow.artifactLocation``.

Each table is read with one query into a Polars frame and grouped by trace there;
traces are then assembled exactly as MLflow's ``SqlTraceInfo.to_mlflow_entity`` does
(promoted columns back into metadata, the name back into the tags, root spans first
and then by start time), so the result equals ``mlflow.get_trace(id)``.
"""

from __future__ import annotations

import json
import sqlite3
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

import polars as pl

from polartrace.frame.trace_frame import TraceFrame
from polartrace.io.jsonl import load_json
from polartrace.model.trace import Trace
from polartrace.values.conventions import (
    ARTIFACT_LOCATION_TAG,
    COST_KEY,
    SESSION_KEY,
    SPANS_LOCATION_TAG,
    TOKEN_USAGE_KEY,
    TRACE_NAME_TAG,
)
from polartrace.values.errors import TraceFormatError

__all__ = ["is_database_url", "read_mlflow_db", "read_mlflow_db_traces"]

_URL_SCHEMES: Final = ("sqlite", "postgresql", "postgres", "mysql", "mssql", "oracle")
_TOKENS: Final = (
    "input_tokens",
    "output_tokens",
    "total_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
    "cache_creation_input_tokens_above_1hr",
)
_COSTS: Final = ("input_cost", "output_cost", "total_cost")


def is_database_url(text: str) -> bool:
    """Whether ``text`` is an SQLAlchemy-style database URL (``sqlite:///x.db``)."""
    scheme, sep, _ = text.partition("://")
    return bool(sep) and scheme.split("+")[0].lower() in _URL_SCHEMES


@contextmanager
def _connect(source: str) -> Iterator[Any]:
    """Yield a DB-API/SQLAlchemy connection for a path or URL; errors name it."""
    if not is_database_url(source) or source.startswith("sqlite:///"):
        path = (
            Path(source.removeprefix("sqlite:///")) if "://" in source else Path(source)
        )
        if not path.is_file():
            msg = "no such database file"
            raise TraceFormatError(msg, source=source)
        try:
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        except sqlite3.Error as exc:
            msg = f"cannot open database: {exc}"
            raise TraceFormatError(msg, source=source) from exc
        try:
            yield con
        finally:
            con.close()
        return
    try:
        import sqlalchemy
    except ImportError as exc:
        msg = "a database URL needs SQLAlchemy: pip install 'sqlalchemy>=2'"
        raise TraceFormatError(msg, source=source) from exc
    try:
        engine = sqlalchemy.create_engine(source)
        with engine.connect() as sa_con:
            yield sa_con
    except sqlalchemy.exc.SQLAlchemyError as exc:
        msg = f"cannot open database: {exc}"
        raise TraceFormatError(msg, source=source) from exc


def _sqlite_directory(source: str) -> Path | None:
    """The directory of a SQLite database: relative artifact paths start there."""
    if "://" not in source:
        return Path(source).parent
    scheme, _, rest = source.partition("://")
    if scheme.split("+")[0].lower() == "sqlite" and rest.startswith("/"):
        return Path(rest[1:].split("?")[0]).parent
    return None


def _query(con: Any, sql: str, source: str, table: str) -> pl.DataFrame:
    try:
        return pl.read_database(sql, con, infer_schema_length=None)
    except Exception as exc:  # driver errors have no common base class
        msg = f"cannot read MLflow table {table!r}: {exc}"
        raise TraceFormatError(msg, source=source, location=table) from exc


def _grouped(df: pl.DataFrame, key: str, *columns: str) -> dict[str, list[Any]]:
    """``{trace id: [(col1, col2, ...), ...]}`` for a long table, in row order."""
    if df.is_empty():
        return {}
    agg = df.group_by(key, maintain_order=True).agg(pl.struct(columns).alias("rows"))
    return {
        trace_id: [tuple(row.values()) for row in rows]
        for trace_id, rows in agg.iter_rows()
    }


def _load_json_text(text: str | None, source: str, where: str) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"invalid JSON: {exc.msg}"
        raise TraceFormatError(msg, source=source, location=where) from exc


def _assessment(row: dict[str, Any], source: str) -> dict[str, Any]:
    where = f"assessments[{row['assessment_id']}]"
    kind = row["assessment_type"]
    value = _load_json_text(row["value"], source, where + ".value")
    out: dict[str, Any] = {
        "assessment_id": row["assessment_id"],
        "assessment_name": row["name"],
        "trace_id": row["trace_id"],
        "source": {"source_type": row["source_type"], "source_id": row["source_id"]},
        "create_time": row["created_timestamp"],
        "last_update_time": row["last_updated_timestamp"],
    }
    if row.get("span_id"):
        out["span_id"] = row["span_id"]
    if kind == "feedback":
        out["feedback"] = {"value": value}
        if (
            error := _load_json_text(row["error"], source, where + ".error")
        ) is not None:
            out["feedback"]["error"] = error
    elif kind == "expectation":
        out["expectation"] = {"value": value}
    elif kind == "issue":
        out["issue"] = {}
    else:
        msg = f"unknown assessment type {kind!r}"
        raise TraceFormatError(msg, source=source, location=where)
    for key in ("rationale", "overrides", "run_id"):
        if row.get(key) is not None:
            out[key] = row[key]
    meta = _load_json_text(row.get("assessment_metadata"), source, where + ".metadata")
    if meta:
        out["metadata"] = meta
    out["valid"] = bool(row["valid"])
    return out


def _promoted(row: dict[str, Any]) -> dict[str, str]:
    """Metadata MLflow stores in ``trace_info`` columns, as its reader rebuilds it."""
    out: dict[str, str] = {}
    if row.get("session_id") is not None:
        out[SESSION_KEY] = row["session_id"]
    tokens = {k: int(row[k]) for k in _TOKENS if row.get(k) is not None}
    if tokens:
        out[TOKEN_USAGE_KEY] = json.dumps(tokens)
    cost = {k: row[k] for k in _COSTS if row.get(k) is not None}
    if cost:
        out[COST_KEY] = json.dumps(cost)
    return out


def _artifact_spans(tags: dict[str, str], base: Path | None, trace_id: str) -> Any:
    location = tags.get(ARTIFACT_LOCATION_TAG, "")
    path = Path(location.removeprefix("file://"))
    if not path.is_absolute() and base is not None:
        path = base / path
    file = path / "traces.json"
    if "://" in location.removeprefix("file://") or not file.is_file():
        warnings.warn(
            f"trace {trace_id}: spans are in artifact storage polartrace cannot "
            f"read ({location or 'no artifact location'}); loaded without spans",
            stacklevel=4,
        )
        return []
    data = load_json(file)
    return data.get("spans", []) if isinstance(data, dict) else []


def read_mlflow_db_traces(
    source: str, *, experiment_ids: list[str] | None = None
) -> list[Trace]:
    """Read every trace of an MLflow tracking database as ``Trace`` objects.

    Args:
        source: A SQLite file path, ``sqlite:///path``, or any SQLAlchemy URL
            (``postgresql://...``; needs the ``mlflow-db`` extra).
        experiment_ids: Only these experiments (default: all).

    Returns:
        The traces ordered by request time, then trace id.

    Raises:
        TraceFormatError: If the database cannot be opened, lacks MLflow's trace
            tables, or holds a record that is not a valid trace.
    """
    base = _sqlite_directory(source)
    where = ""
    if experiment_ids is not None:
        ids = ", ".join(str(int(e)) for e in experiment_ids)
        where = f" WHERE experiment_id IN ({ids})"
    with _connect(source) as con:
        info = _query(con, f"SELECT * FROM trace_info{where}", source, "trace_info")
        info = info.sort("timestamp_ms", "request_id")
        tags = _grouped(
            _query(
                con,
                "SELECT request_id, key, value FROM trace_tags",
                source,
                "trace_tags",
            ),
            "request_id",
            "key",
            "value",
        )
        meta = _grouped(
            _query(
                con,
                "SELECT request_id, key, value FROM trace_request_metadata",
                source,
                "trace_request_metadata",
            ),
            "request_id",
            "key",
            "value",
        )
        assessments = _query(con, "SELECT * FROM assessments", source, "assessments")
        spans = _query(
            con,
            "SELECT trace_id, content FROM spans "
            "ORDER BY trace_id, parent_span_id IS NOT NULL, start_time_unix_nano",
            source,
            "spans",
        )
    by_trace = _grouped(spans, "trace_id", "content")
    assessed = {
        trace_id: [dict(zip(assessments.columns, r, strict=True)) for r in rows]
        for trace_id, rows in _grouped(
            assessments, "trace_id", *assessments.columns
        ).items()
    }
    traces = []
    for row in info.iter_rows(named=True):
        trace_id = row["request_id"]
        tag_map = {k: v for k, v in tags.get(trace_id, ()) if k != TRACE_NAME_TAG}
        if row.get("trace_name") is not None:
            tag_map[TRACE_NAME_TAG] = row["trace_name"]
        elif (name := dict(tags.get(trace_id, ())).get(TRACE_NAME_TAG)) is not None:
            tag_map[TRACE_NAME_TAG] = (
                name  # databases from before the trace_name column
            )
        metadata = dict(meta.get(trace_id, ())) | _promoted(row)
        if tag_map.get(SPANS_LOCATION_TAG, "TRACKING_STORE") == "TRACKING_STORE":
            span_dicts = [
                _load_json_text(c, source, f"spans[{trace_id}]")
                for (c,) in by_trace.get(trace_id, ())
                if c  # MLflow clears the content of archived spans
            ]
        else:
            span_dicts = _artifact_spans(tag_map, base, trace_id)
        info_dict: dict[str, Any] = {
            "trace_id": trace_id,
            "client_request_id": row["client_request_id"],
            "trace_location": {
                "type": "MLFLOW_EXPERIMENT",
                "mlflow_experiment": {"experiment_id": str(row["experiment_id"])},
            },
            "request_time": row["timestamp_ms"],
            "state": row["status"],
            "trace_metadata": metadata,
            "assessments": [_assessment(a, source) for a in assessed.get(trace_id, ())],
            "tags": tag_map,
            "request_preview": row["request_preview"],
            "response_preview": row["response_preview"],
            "execution_duration_ms": row["execution_time_ms"],
        }
        info_dict = {k: v for k, v in info_dict.items() if v is not None}
        try:
            traces.append(
                Trace.from_dict({"info": info_dict, "data": {"spans": span_dicts}})
            )
        except TraceFormatError as exc:
            loc = f"trace {trace_id}" + (f", {exc.location}" if exc.location else "")
            raise TraceFormatError(exc.message, source=source, location=loc) from exc
    return traces


def read_mlflow_db(
    source: str, *, experiment_ids: list[str] | None = None
) -> TraceFrame:
    """Read an MLflow tracking database into a frame (see `read_mlflow_db_traces`).

    Example:
        >>> read_mlflow_db("no/such.db")
        Traceback (most recent call last):
        ...
        polartrace.values.errors.TraceFormatError: no/such.db: no such database file
    """
    return TraceFrame.from_traces(
        read_mlflow_db_traces(source, experiment_ids=experiment_ids)
    )
