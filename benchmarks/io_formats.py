"""Load time of ``read_traces`` per format, for N generated traces (default 20,000).

Writes the same generated traces in every format polartrace reads, then times
``read_traces`` on each (best of ``--repeat`` runs, fresh process state aside):

    python benchmarks/io_formats.py --traces 20000

It then compares the JSONL reader with Polars' own ``pl.read_ndjson`` (a plain
inference read) and with the line-by-line path on the same file, in one run so that
the ratio holds on a busy machine (the target, docs/performance.md#targets: within
1.5x of ``read_ndjson``). Pass ``--jsonl FILE`` to compare on an existing file only:

    python benchmarks/io_formats.py --jsonl benchmarks/data/traces-100k-seed0-g2.jsonl

The MLflow database is written with plain SQL into a copy of the MLflow-made fixture
database (same schema, MLflow's own rows removed); the MLflow file store and OTLP
exports are written by small converters here. Files go to ``benchmarks/data/``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from benchmarks import mlflow_store
from polartrace import Trace, TraceFrame, read_traces
from polartrace.generate import generate_jsonl_lines
from polartrace.io import iter_jsonl, write_jsonl, write_parquet

ROOT = Path(__file__).resolve().parent
FIXTURE_DB = ROOT.parent / "tests" / "fixtures" / "mlflow" / "mlflow.db"


def write_mlflow_db(traces: list[Trace], path: Path) -> None:
    shutil.copy(FIXTURE_DB, path)
    con = sqlite3.connect(path)
    for table in (
        "spans",
        "assessments",
        "trace_tags",
        "trace_request_metadata",
        "trace_info",
    ):
        con.execute(f"DELETE FROM {table}")
    for t in traces:
        i = t.info
        name = i.tags.get("mlflow.traceName")
        con.execute(
            "INSERT INTO trace_info (request_id, experiment_id, timestamp_ms, "
            "execution_time_ms, status, client_request_id, request_preview, "
            "response_preview, trace_name) VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?)",
            (
                i.trace_id,
                i.request_time,
                i.execution_duration,
                i.state.value,
                i.client_request_id,
                i.request_preview,
                i.response_preview,
                name,
            ),
        )
        tags = {**i.tags, "mlflow.trace.spansLocation": "TRACKING_STORE"}
        con.executemany(
            "INSERT INTO trace_tags (key, value, request_id) VALUES (?, ?, ?)",
            [(k, v, i.trace_id) for k, v in tags.items() if k != "mlflow.traceName"],
        )
        con.executemany(
            "INSERT INTO trace_request_metadata (key, value, request_id) "
            "VALUES (?, ?, ?)",
            [(k, v, i.trace_id) for k, v in i.trace_metadata.items()],
        )
        for a in i.assessments:
            d = a.to_dict()
            body = d.get("feedback") or d.get("expectation") or {}
            con.execute(
                "INSERT INTO assessments (assessment_id, trace_id, name, "
                "assessment_type, value, error, created_timestamp, "
                "last_updated_timestamp, source_type, source_id, rationale, "
                "overrides, valid) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    a.assessment_id,
                    i.trace_id,
                    a.name,
                    a.kind.value,
                    json.dumps(a.value),
                    json.dumps(body["error"]) if "error" in body else None,
                    a.create_time_ms or 0,
                    a.last_update_time_ms or 0,
                    a.source.source_type if a.source else "CODE",
                    a.source.source_id if a.source else None,
                    a.rationale,
                    a.overrides,
                    a.is_valid,
                ),
            )
        con.executemany(mlflow_store.SPANS_SQL, mlflow_store.span_rows_of(t, 1))
    con.commit()
    con.close()


def write_mlflow_files(traces: list[Trace], root: Path) -> None:
    for t in traces:
        d = t.to_dict()
        info = d["info"]
        trace_dir = root / "1" / "traces" / t.info.trace_id
        for folder, values in (
            ("tags", info.pop("tags", {})),
            ("request_metadata", info.pop("trace_metadata", {})),
        ):
            (trace_dir / folder).mkdir(parents=True)
            for key, value in values.items():
                (trace_dir / folder / key).write_text(value, encoding="utf-8")
        assessments = info.pop("assessments", [])
        if assessments:
            (trace_dir / "assessments").mkdir()
        for a in assessments:
            text = yaml.safe_dump(a)
            (trace_dir / "assessments" / f"{a['assessment_id']}.yaml").write_text(text)
        (trace_dir / "trace_info.yaml").write_text(
            yaml.safe_dump(info), encoding="utf-8"
        )
        (trace_dir / "artifacts").mkdir()
        (trace_dir / "artifacts" / "traces.json").write_text(json.dumps(d["data"]))


def _any_value(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    return {"stringValue": value if isinstance(value, str) else json.dumps(value)}


def write_otlp(traces: list[Trace], path: Path) -> None:
    spans = []
    for t in traces:
        for s in t.data.spans:
            span = {
                "traceId": s.otel_trace_id,
                "spanId": s.span_id,
                "name": s.name,
                "startTimeUnixNano": str(s.start_time_ns),
                "attributes": [
                    {"key": k, "value": _any_value(v)} for k, v in s.attributes.items()
                ],
                "status": {
                    "code": {"UNSET": 0, "OK": 1, "ERROR": 2}[s.status.code.value]
                },
            }
            if s.parent_id:
                span["parentSpanId"] = s.parent_id
            if s.end_time_ns is not None:
                span["endTimeUnixNano"] = str(s.end_time_ns)
            spans.append(span)
    doc = {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}
    path.write_text(json.dumps(doc), encoding="utf-8")


def compare_jsonl(path: Path, repeat: int, *, line_path: bool = True) -> None:
    """Time read_traces, the line-by-line path and pl.read_ndjson on one file.

    The three are interleaved round by round and the best of each is kept, so a
    burst of load on a shared machine hits all of them alike.
    """
    readers: dict[str, Any] = {
        "read_traces (columnar)": lambda: read_traces(path),
        "pl.read_ndjson": lambda: pl.read_ndjson(path),
    }
    if line_path:
        readers["line by line (before)"] = lambda: TraceFrame.from_traces(
            list(iter_jsonl(path))
        )
    best = dict.fromkeys(readers, float("inf"))
    for _ in range(repeat):
        for name, read in readers.items():
            start = time.perf_counter()
            read()
            best[name] = min(best[name], time.perf_counter() - start)
    size = path.stat().st_size / 1e6
    print(f"JSONL {path.name} ({size:,.0f} MB), best of {repeat}:")
    for name, seconds in best.items():
        print(f"  {name:24s} {seconds:7.2f} s")
    ndjson = best["pl.read_ndjson"]
    print(
        f"  ratio read_traces / pl.read_ndjson: {best[next(iter(best))] / ndjson:.2f}"
    )
    if line_path:
        before = best["line by line (before)"]
        print(f"  ratio line by line / pl.read_ndjson: {before / ndjson:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jsonl", type=Path, help="only compare JSONL readers on FILE")
    parser.add_argument(
        "--no-line-path", action="store_true", help="skip the line-by-line reader"
    )
    args = parser.parse_args()
    if args.jsonl is not None:
        compare_jsonl(args.jsonl, args.repeat, line_path=not args.no_line_path)
        return
    out = ROOT / "data" / f"io-formats-{args.traces}"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    lines = list(generate_jsonl_lines(args.traces, seed=0))
    traces = [Trace.from_json(line) for line in lines]
    frame = TraceFrame.from_traces(traces)
    sources = {
        "jsonl": out / "t.jsonl",
        "jsonl.gz": out / "t.jsonl.gz",
        "json": out / "t.json",
        "parquet": out / "t.parquet",
        "parquet by day": out / "t-by-day.parquet",
        "mlflow-db (sqlite)": out / "mlflow.db",
        "mlflow-files": out / "mlruns",
        "otlp json": out / "otlp.json",
    }
    write_jsonl(frame, sources["jsonl"])
    write_jsonl(frame, sources["jsonl.gz"])
    sources["json"].write_text("[" + ",".join(lines) + "]", encoding="utf-8")
    write_parquet(frame, sources["parquet"])
    write_parquet(frame, sources["parquet by day"], partition_by_day=True)
    write_mlflow_db(traces, sources["mlflow-db (sqlite)"])
    write_mlflow_files(traces, sources["mlflow-files"])
    write_otlp(traces, sources["otlp json"])
    print(f"read_traces, {args.traces:,} generated traces, best of {args.repeat}:")
    for name, path in sources.items():
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            loaded = read_traces(path)
            best = min(best, time.perf_counter() - start)
        # OTLP has no way to write a trace without spans (in-progress ones).
        expected = (
            sum(1 for t in traces if t.data.spans) if "otlp" in name else len(traces)
        )
        assert len(loaded) == expected, name
        size = (
            sum(
                f.stat().st_size
                for f in ([path] if path.is_file() else path.rglob("*"))
                if f.is_file()
            )
            / 1e6
        )
        print(
            f"  {name:20s} {best:7.2f} s  {args.traces / best:9,.0f} traces/s  "
            f"{size:7.1f} MB"
        )
    compare_jsonl(sources["jsonl"], args.repeat, line_path=not args.no_line_path)


if __name__ == "__main__":
    main()
