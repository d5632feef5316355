"""MLflow's own ``search_traces`` on a SQLite tracking store holding the same traces.

Logging 100k traces through MLflow's APIs takes hours, so the store is built the way
MLflow's ``SqlAlchemyStore.start_trace`` and ``log_spans`` would fill it, in bulk:
MLflow creates the schema and the experiment (``MlflowClient`` on
``sqlite:///...``), then ``sqlite3.executemany`` inserts the rows of
``trace_info``, ``trace_tags``, ``trace_request_metadata``, ``assessments`` and
``spans``, using MLflow's own helpers for the derived columns
(``analytics_columns_from_metadata``, ``assessment_aggregate``) and its
promotion rules (trace name to ``trace_info.trace_name``; session, token usage and
cost metadata to columns; ``mlflow.trace.infoFinalized`` set). ``check_store``
reads a sample back with ``MlflowClient.get_trace`` and compares it with the source
JSON, so a mistake in the mapping fails the run instead of skewing it.

The store is cached next to the JSONL file (``mlflow-<n>-seed<s>.db``).
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.data import DATA, label, log
from polartrace.model.trace import Trace

os.environ.setdefault("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
_PROMOTED = ("mlflow.trace.session", "mlflow.trace.tokenUsage", "mlflow.trace.cost")
_BATCH = 5_000
#: The ``trace_info`` columns MLflow fills from the session, token-usage and cost
#: metadata (``analytics_columns_from_metadata``) and reads those keys back from.
_ANALYTICS = (
    "session_id", "input_tokens", "output_tokens", "total_tokens",
    "cache_read_input_tokens", "cache_creation_input_tokens",
    "cache_creation_input_tokens_above_1hr", "input_cost", "output_cost",
    "total_cost",
)  # fmt: skip


def store_path(n: int, seed: int = 0) -> Path:
    """Where the store of ``n`` traces lives."""
    return DATA / f"mlflow-{label(n)}-seed{seed}.db"


def _rows(
    trace: Trace, experiment_id: int
) -> tuple[tuple[Any, ...], list[Any], list[Any], list[Any], list[Any]]:
    from mlflow.store.tracking.utils.trace_analytics import (
        analytics_columns_from_metadata,
        assessment_aggregate,
    )

    info = trace.info
    tid = info.trace_id
    metadata = dict(info.trace_metadata)
    analytics = analytics_columns_from_metadata(metadata)
    for key in _PROMOTED:
        metadata.pop(key, None)
    metadata["mlflow.trace.infoFinalized"] = "true"
    tags = {k: v for k, v in info.tags.items() if k != "mlflow.traceName"}
    trace_row = (
        tid,
        experiment_id,
        info.request_time,
        info.execution_duration,
        info.state.value,
        info.client_request_id,
        info.request_preview,
        info.response_preview,
        0,
        info.tags.get("mlflow.traceName"),
        *(analytics.get(column) for column in _ANALYTICS),
    )
    tag_rows = [(k, v, tid) for k, v in tags.items()]
    meta_rows = [(k, v, tid) for k, v in sorted(metadata.items())]
    assessment_rows = []
    for a in info.assessments:
        d = a.to_dict()
        body = d.get("feedback") or d.get("expectation") or {}
        value = a.value
        error = body.get("error") if "feedback" in d else None
        aggregate, numeric = assessment_aggregate(value)
        assessment_rows.append((
            a.assessment_id, tid, a.name, a.kind.value, json.dumps(value),
            json.dumps(error) if error else None,
            a.create_time_ms, a.last_update_time_ms,
            a.source.source_type if a.source else "CODE",
            a.source.source_id if a.source else None,
            a.run_id, a.span_id, a.rationale, a.overrides,
            a.valid is not False,
            json.dumps(a.metadata) if a.metadata else None,
            experiment_id, info.request_time, aggregate, numeric,
        ))  # fmt: skip
    span_rows = span_rows_of(trace, experiment_id)
    return trace_row, tag_rows, meta_rows, assessment_rows, span_rows


def span_rows_of(trace: Trace, experiment_id: int) -> list[tuple[Any, ...]]:
    """The rows of MLflow's ``spans`` table for ``trace`` (``_SQL["spans"]`` order).

    ``content`` is the span JSON as MLflow writes it (non-ASCII kept).
    """
    return [
        (
            trace.info.trace_id,
            experiment_id,
            s.span_id,
            s.parent_id,
            s.name,
            s.span_type,
            s.status.code.value,
            s.start_time_ns,
            s.end_time_ns,
            json.dumps(s.to_dict(), ensure_ascii=False),
        )
        for s in trace.data.spans
    ]


SPANS_SQL = (
    "INSERT INTO spans (trace_id, experiment_id, span_id, parent_span_id, "
    "name, type, status, start_time_unix_nano, end_time_unix_nano, content) "
    "VALUES (?,?,?,?,?,?,?,?,?,?)"
)
_SQL = {
    "trace_info": "INSERT INTO trace_info (request_id, experiment_id, timestamp_ms, "
    "execution_time_ms, status, client_request_id, request_preview, response_preview, "
    f"db_payload_generation, trace_name, {', '.join(_ANALYTICS)}) "
    f"VALUES ({', '.join('?' * (10 + len(_ANALYTICS)))})",
    "trace_tags": "INSERT INTO trace_tags (key, value, request_id) VALUES (?,?,?)",
    "trace_request_metadata": "INSERT INTO trace_request_metadata (key, value, "
    "request_id) VALUES (?,?,?)",
    "assessments": "INSERT INTO assessments (assessment_id, trace_id, name, "
    "assessment_type, value, error, created_timestamp, last_updated_timestamp, "
    "source_type, source_id, run_id, span_id, rationale, overrides, valid, "
    "assessment_metadata, experiment_id, trace_timestamp_ms, aggregate_value, "
    "is_numeric_value) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "spans": SPANS_SQL,
}
# MLflow answers ``prompt = 'name/version'`` from this table, not from the
# ``mlflow.linkedPrompts`` tag; its ``link_prompts_to_trace`` writes these rows.
_LINK_SQL = (
    "INSERT OR IGNORE INTO entity_associations (association_id, source_type, "
    "source_id, destination_type, destination_id, created_time) "
    "VALUES (?, 'trace', ?, 'prompt_version', ?, 0)"
)


def _prompt_links(trace: Trace) -> list[tuple[str, str, str]]:
    from polartrace.catalogue.text_units import linked_prompts

    tid = trace.info.trace_id
    return [
        (f"{tid}:{prompt}"[:36], tid, prompt)
        for prompt in linked_prompts(trace.info.tags)
    ]


def link_prompts(path: Path, jsonl: Path) -> None:
    """Add the trace-to-prompt-version associations a store built earlier lacks."""
    con = sqlite3.connect(path)
    try:
        (have,) = con.execute(
            "SELECT count(*) FROM entity_associations "
            "WHERE destination_type = 'prompt_version'"
        ).fetchone()
        if have:
            return
        log(f"linking prompt versions to traces in {path.name}")
        rows = [row for line in _lines(jsonl) for row in _prompt_links(
            Trace.from_json(line)
        )]  # fmt: skip
        con.executemany(_LINK_SQL, rows)
        con.commit()
    finally:
        con.close()


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield line


def build_store(jsonl: Path, n: int, seed: int = 0) -> tuple[Path, str]:
    """Build (or reuse) the store of the traces in ``jsonl``.

    Returns:
        The database path and the experiment id holding the traces.
    """
    path = store_path(n, seed)
    marker = path.with_suffix(".ready")
    if path.exists() and marker.exists():
        link_prompts(path, jsonl)
        return path, marker.read_text().strip()
    path.unlink(missing_ok=True)
    from mlflow.tracking import MlflowClient

    start = time.perf_counter()
    client = MlflowClient(tracking_uri=f"sqlite:///{path}")
    experiment_id = client.create_experiment("polartrace-benchmark")
    exp = int(experiment_id)
    log(f"bulk-loading {n:,} traces into MLflow's SQLite store {path.name}")
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode = OFF")
    con.execute("PRAGMA synchronous = OFF")
    batches: dict[str, list[Any]] = {name: [] for name in _SQL}

    def flush() -> None:
        for name, rows in batches.items():
            if rows:
                con.executemany(_SQL[name], rows)
                rows.clear()
        con.commit()

    for i, line in enumerate(_lines(jsonl), start=1):
        trace_row, tags, meta, assessments, spans = _rows(Trace.from_json(line), exp)
        batches["trace_info"].append(trace_row)
        batches["trace_tags"].extend(tags)
        batches["trace_request_metadata"].extend(meta)
        batches["assessments"].extend(assessments)
        batches["spans"].extend(spans)
        if i % _BATCH == 0:
            flush()
        if i % 50_000 == 0:
            log(f"  {i:,} traces")
    flush()
    con.close()
    link_prompts(path, jsonl)
    con = sqlite3.connect(path)
    con.execute("ANALYZE")
    con.commit()
    con.close()
    check_store(path, experiment_id, jsonl)
    marker.write_text(experiment_id)
    log(f"MLflow store ready in {time.perf_counter() - start:.0f} s")
    return path, experiment_id


def _normalise(d: dict[str, Any]) -> dict[str, Any]:
    """Drop what MLflow rewrites on the way in (artifact location), for comparison."""
    info = dict(d["info"])
    info["tags"] = {
        k: v for k, v in info["tags"].items() if k != "mlflow.artifactLocation"
    }
    info["assessments"] = sorted(
        info.get("assessments", []), key=lambda a: a["assessment_id"]
    )
    return {"info": info, "data": d["data"]}


def check_store(path: Path, experiment_id: str, jsonl: Path, sample: int = 25) -> None:
    """Read ``sample`` traces back through MLflow; they must equal the source JSON.

    Raises:
        AssertionError: Naming the first trace that MLflow reads back differently.
    """
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{path}")
    lines = _lines(jsonl)
    for _, line in zip(range(sample), lines, strict=False):
        source = Trace.from_json(line)
        mine = Trace.from_dict(source.to_dict())
        got = client.get_trace(source.info.trace_id).to_dict()
        theirs = Trace.from_dict(got)
        if _normalise(mine.to_dict()) != _normalise(theirs.to_dict()):
            msg = f"MLflow reads {source.info.trace_id} back differently"
            raise AssertionError(msg)


class MlflowSearch:
    """``mlflow.search_traces`` on the store, as a user would call it."""

    def __init__(self, path: Path, experiment_id: str) -> None:
        import mlflow

        mlflow.set_tracking_uri(f"sqlite:///{path}")
        self.mlflow = mlflow
        self.experiment_id = experiment_id

    def search(
        self, filter_string: str, limit: int | None, return_type: str = "pandas"
    ) -> int:
        """Search (MLflow fetches 100 a page); return the row count."""
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = self.mlflow.search_traces(
                locations=[self.experiment_id],
                filter_string=filter_string,
                return_type=return_type,
                max_results=limit,
            )
        return len(result)
