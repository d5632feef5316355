"""Reading MLflow's own stores: the tracking database and the file store.

The fixtures under ``tests/fixtures/mlflow`` were made by MLflow 3.17 itself
(``make_fixtures.py``); ``*-expected.jsonl`` is what ``mlflow.get_trace`` returned for
each trace, so these tests check polartrace against MLflow without installing it.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import attrs
import pytest

from polartrace import Trace, TraceFormatError, TraceFrame, read_traces, search_traces

FIXTURES = Path(__file__).parent / "fixtures" / "mlflow"
DB = FIXTURES / "mlflow.db"
FIRST = "tr-8505c8dc1836f643d87ab33b3308a7b4"  # session s-1, five assessments
SECOND = "tr-2d79e9e2ac271423e167ae32c12b6f1f"  # session s-1, spans in an artifact
FAILED = "tr-7fa915185995362c276ad44a0066c3f6"  # ERROR, error-only feedback
OTHER = "tr-dcb4d189967f2fe63c51473f9ee11fa8"  # experiment 2


def ids(result: Any) -> list[str]:
    return [t.info.trace_id for t in result]


def all_traces(frame: TraceFrame) -> list[Trace]:
    return frame.traces_at(range(len(frame)))


def expected(name: str) -> dict[str, Trace]:
    with (FIXTURES / name).open(encoding="utf-8") as handle:
        return {t.info.trace_id: t for t in map(Trace.from_json, handle)}


def by_id(traces: list[Trace]) -> list[Trace]:
    """Assessments sorted by id: MLflow's file store lists them in directory order."""
    return [
        attrs.evolve(
            t,
            info=attrs.evolve(
                t.info,
                assessments=sorted(
                    t.info.assessments, key=lambda a: a.assessment_id or ""
                ),
            ),
        )
        for t in traces
    ]


# --- MLflow tracking database ---------------------------------------------------------


@pytest.mark.parametrize("source", [str(DB), f"sqlite:///{DB}"], ids=["path", "url"])
def test_mlflow_db_reads_what_mlflow_reads(source: str) -> None:
    frame = read_traces(source)
    mlflow = expected("db-expected.jsonl")
    assert [t.info.trace_id for t in all_traces(frame)] == [
        FIRST,
        SECOND,
        FAILED,
        OTHER,
    ]
    assert all_traces(frame) == [mlflow[t] for t in (FIRST, SECOND, FAILED, OTHER)]


def test_mlflow_db_through_sqlalchemy_url() -> None:
    pytest.importorskip("sqlalchemy")
    frame = read_traces(f"sqlite+pysqlite:///{DB}")
    assert len(frame) == 4


def test_mlflow_db_restores_promoted_metadata_and_artifact_spans() -> None:
    traces = {t.info.trace_id: t for t in all_traces(read_traces(DB))}
    first = traces[FIRST].info.trace_metadata
    assert first["mlflow.trace.session"] == "s-1"
    assert json.loads(first["mlflow.trace.tokenUsage"]) == {
        "input_tokens": 12,
        "output_tokens": 30,
        "total_tokens": 42,
    }
    assert traces[SECOND].info.tags["mlflow.trace.spansLocation"] == "ARTIFACT_REPO"
    assert [s.name for s in traces[SECOND].data.spans] == [
        "support_agent",
        "retrieve",
        "llm",
    ]


@pytest.mark.parametrize(
    ("text", "expected_ids"),
    [
        pytest.param(
            "feedback.session_quality >= 4", [SECOND, FIRST], id="session-scoped"
        ),
        pytest.param("feedback.relevance > 0.5", [SECOND, FIRST], id="override-counts"),
        pytest.param(
            "feedback.relevance IS NOT NULL",
            [FAILED, SECOND, FIRST],
            id="error-only-exists",
        ),
        pytest.param(
            "span.type = 'LLM' AND span.status = 'ERROR'", [FAILED], id="span"
        ),
        pytest.param("tags.triage = 'needs look'", [FAILED], id="tag"),
        pytest.param("client_request_id = 'req-001'", [FIRST], id="client-id"),
    ],
)
def test_mlflow_db_searches(text: str, expected_ids: list[str]) -> None:
    assert ids(search_traces(DB, text, return_type="list")) == expected_ids


def test_mlflow_db_experiment_filter() -> None:
    from polartrace.io.mlflow_db import read_mlflow_db

    assert [
        t.info.trace_id
        for t in all_traces(read_mlflow_db(str(DB), experiment_ids=["2"]))
    ] == [OTHER]


def _db_copy(tmp_path: Path, sql: str) -> Path:
    copy = tmp_path / "mlflow.db"
    shutil.copy(DB, copy)
    shutil.copytree(FIXTURES / "artifacts", tmp_path / "artifacts")
    with sqlite3.connect(copy) as con:
        con.execute(sql)
    return copy


def test_mlflow_db_corrupt_span_names_the_trace(tmp_path: Path) -> None:
    db = _db_copy(
        tmp_path, f"UPDATE spans SET content = '{{oops' WHERE trace_id = '{FAILED}'"
    )
    with pytest.raises(TraceFormatError, match="invalid JSON") as info:
        read_traces(db)
    assert (info.value.source, info.value.location) == (str(db), f"spans[{FAILED}]")


def test_mlflow_db_invalid_state_names_the_trace(tmp_path: Path) -> None:
    db = _db_copy(
        tmp_path, f"UPDATE trace_info SET status = 'DONE' WHERE request_id = '{OTHER}'"
    )
    with pytest.raises(TraceFormatError, match="unknown state 'DONE'") as info:
        read_traces(db)
    assert info.value.location == f"trace {OTHER}, info.state"


def test_mlflow_db_without_trace_tables_is_an_error(tmp_path: Path) -> None:
    db = tmp_path / "other.db"
    sqlite3.connect(db).close()
    with pytest.raises(TraceFormatError, match="trace_info") as info:
        read_traces(db)
    assert info.value.location == "trace_info"


def test_mlflow_db_missing_artifact_warns_and_keeps_the_trace(tmp_path: Path) -> None:
    db = _db_copy(tmp_path, "SELECT 1")
    shutil.rmtree(tmp_path / "artifacts")
    with pytest.warns(
        UserWarning, match=f"trace {SECOND}: spans are in artifact storage"
    ):
        frame = read_traces(db)
    assert [len(t.data.spans) for t in all_traces(frame)] == [3, 0, 3, 3]


# --- MLflow file store ----------------------------------------------------------------


def test_mlflow_files_read_what_mlflow_reads() -> None:
    frame = read_traces(FIXTURES / "mlruns")
    mlflow = expected("files-expected.jsonl")
    got = by_id(all_traces(frame))
    # MLflow's file store drops ``valid`` from expectations when it reads them back;
    # the YAML on disk says ``valid: true``, which is what polartrace keeps.
    want = by_id([mlflow[t.info.trace_id] for t in got])
    for ours, theirs in zip(got, want, strict=True):
        assert [a.is_valid for a in ours.info.assessments] == [
            a.is_valid for a in theirs.info.assessments
        ]
        fixed = [
            attrs.evolve(a, valid=b.valid)
            for a, b in zip(ours.info.assessments, theirs.info.assessments, strict=True)
        ]
        assert (
            attrs.evolve(ours, info=attrs.evolve(ours.info, assessments=fixed))
            == theirs
        )


def test_mlflow_files_one_trace_directory(tmp_path: Path) -> None:
    trace_dir = next((FIXTURES / "mlruns").glob("*/traces/*"))
    assert [t.info.trace_id for t in all_traces(read_traces(trace_dir))] == [
        trace_dir.name
    ]


def test_mlflow_files_bad_assessment_names_the_file(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "mlruns", tmp_path / "mlruns")
    bad = next((tmp_path / "mlruns").glob("*/traces/*/assessments/*.yaml"))
    bad.write_text("assessment_name: x\n", encoding="utf-8")
    with pytest.raises(TraceFormatError, match="expected one of feedback") as info:
        read_traces(tmp_path / "mlruns")
    assert info.value.source == str(bad)


def test_mlflow_files_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "mlruns", tmp_path / "mlruns")
    bad = next((tmp_path / "mlruns").glob("*/traces/*/trace_info.yaml"))
    bad.write_text("trace_id: [unclosed\n", encoding="utf-8")
    with pytest.raises(TraceFormatError, match="invalid YAML") as info:
        read_traces(tmp_path / "mlruns")
    assert info.value.source == str(bad)


def test_mlflow_files_corrupt_span_artifact_names_the_file(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES / "mlruns", tmp_path / "mlruns")
    bad = next((tmp_path / "mlruns").glob("*/traces/*/artifacts/traces.json"))
    bad.write_text('{"spans": [', encoding="utf-8")
    with pytest.raises(TraceFormatError, match="invalid JSON at line 1") as info:
        read_traces(tmp_path / "mlruns")
    assert info.value.source == str(bad)
