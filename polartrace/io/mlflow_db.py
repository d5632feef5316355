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
import os
import re
import sqlite3
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

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
from polartrace.values.errors import SearchArgumentError, TraceFormatError
from polartrace.values.nesting import loads

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
# SQLAlchemy's default DB-API module of each dialect, and the package holding it.
_EXPERIMENT_ID: Final = re.compile(r"[0-9]{1,18}")
_DRIVERS: Final = {
    "psycopg2": "psycopg2-binary",
    "psycopg": "'psycopg[binary]'",
    "MySQLdb": "mysqlclient",
    "pymysql": "PyMySQL",
    "pyodbc": "pyodbc",
    "cx_Oracle": "cx_Oracle",
    "oracledb": "oracledb",
}


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
        # Quoted, so that '%41' or '#' in a file name is not read as URI syntax;
        # read-only, so that nothing is ever created.
        uri = f"file:{quote(os.fspath(path.resolve()))}?mode=ro"
        try:
            con = sqlite3.connect(uri, uri=True)
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
        msg = "a database URL needs SQLAlchemy: pip install 'polartrace[mlflow-db]'"
        raise TraceFormatError(msg, source=source) from exc
    try:
        engine = sqlalchemy.create_engine(source)
        sa_con = engine.connect()
    except ImportError as exc:  # the dialect's DB-API driver is not installed
        module = exc.name or "the driver"
        package = _DRIVERS.get(module, module)
        msg = f"the database driver {module!r} is not installed: pip install {package}"
        raise TraceFormatError(msg, source=source) from exc
    except sqlalchemy.exc.SQLAlchemyError as exc:
        msg = f"cannot open database: {exc}"
        raise TraceFormatError(msg, source=source) from exc
    try:
        yield sa_con
    finally:
        sa_con.close()
        engine.dispose()


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


def _rows(con: Any, sql: str, source: str, table: str) -> list[dict[str, Any]]:
    """Rows as the driver returns them: one bad cell must not retype its column.

    Polars gives a column one type, so a single text cell in SQLite's (untyped)
    integer column would turn every row's value into text and the error would
    name the first trace instead of the bad one.
    """
    try:
        if isinstance(con, sqlite3.Connection):
            cursor = con.execute(sql)
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        else:
            result = con.exec_driver_sql(sql)
            names, rows = list(result.keys()), result.fetchall()
    except Exception as exc:  # driver errors have no common base class
        msg = f"cannot read MLflow table {table!r}: {exc}"
        raise TraceFormatError(msg, source=source, location=table) from exc
    return [dict(zip(names, row, strict=True)) for row in rows]


def _integer(row: dict[str, Any], column: str, source: str, *, null: bool) -> Any:
    """The integer in ``row[column]`` (an integral REAL is one), else an error."""
    value = row.get(column)
    if value is None and null:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    where = f"trace {row.get('request_id')}, trace_info.{column}"
    msg = f"expected an integer, got {value!r}"
    raise TraceFormatError(msg, source=source, location=where)


def _checked_info(row: dict[str, Any], source: str) -> dict[str, Any]:
    """A ``trace_info`` row whose typed columns hold their types."""
    if not isinstance(row.get("request_id"), str):
        msg = f"expected a text trace id, got {row.get('request_id')!r}"
        raise TraceFormatError(msg, source=source, location="trace_info.request_id")
    out = dict(row)
    out["timestamp_ms"] = _integer(row, "timestamp_ms", source, null=False)
    for column in ("execution_time_ms", *_TOKENS):
        out[column] = _integer(row, column, source, null=True)
    return out


def _experiment_filter(experiment_ids: Any) -> str:
    """The SQL condition of an ``experiment_ids`` argument, checked first."""
    if experiment_ids is None:
        return ""
    if isinstance(experiment_ids, str | bytes) or not hasattr(
        experiment_ids, "__iter__"
    ):
        msg = (
            f"experiment_ids must be a list of ids, got "
            f"{type(experiment_ids).__name__} {experiment_ids!r}"
        )
        raise SearchArgumentError(msg)
    ids = []
    for item in experiment_ids:
        text = (
            str(item) if isinstance(item, int) and not isinstance(item, bool) else item
        )
        # MLflow's SQL store numbers experiments: anything else is no id of it.
        if not isinstance(text, str) or not _EXPERIMENT_ID.fullmatch(text):
            msg = f"experiment id {item!r} is not an MLflow database id (digits only)"
            raise SearchArgumentError(msg)
        ids.append(text)
    return f" WHERE experiment_id IN ({', '.join(ids) or 'NULL'})"


def _load_json_text(text: str | None, source: str, where: str) -> Any:
    if text is None:
        return None
    try:
        return loads(text, where)
    except json.JSONDecodeError as exc:
        msg = f"invalid JSON: {exc.msg}"
        raise TraceFormatError(msg, source=source, location=where) from exc
    except TraceFormatError as exc:  # nested too deeply
        raise TraceFormatError(exc.message, source=source, location=where) from exc


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
    tokens = {k: row[k] for k in _TOKENS if row.get(k) is not None}
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
        experiment_ids: Only these experiments (default: all): a list of ids, each
            digits only as MLflow's SQL store numbers experiments.

    Returns:
        The traces ordered by request time, then trace id.

    Raises:
        TraceFormatError: If the database cannot be opened, lacks MLflow's trace
            tables, or holds a record that is not a valid trace (naming the trace
            and the column).
        SearchArgumentError: If ``experiment_ids`` is a bare string or holds an id
            that is not digits.
    """
    base = _sqlite_directory(source)
    where = _experiment_filter(experiment_ids)
    with _connect(source) as con:
        info = [
            _checked_info(row, source)
            for row in _rows(
                con, f"SELECT * FROM trace_info{where}", source, "trace_info"
            )
        ]
        info.sort(key=lambda row: (row["timestamp_ms"], row["request_id"]))
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
    for row in info:
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
