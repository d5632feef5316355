"""Session-scoped assessments in a Parquet dataset written in several parts.

`DatasetWriter` stores each part's assessment table as that part's frame built it,
so a session-scoped assessment is expanded within its own part only; readers expand
it over the whole dataset (`polartrace.frame.session_scope`). Every result here is
pinned, and equals the in-memory frame built from the same traces, for
`read_traces` and `scan_traces`.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

import polartrace
from polartrace import Trace, TraceFrame, TraceInfo
from polartrace.io.parquet import DatasetWriter
from polartrace.model.assessment import Assessment

SESSION = "mlflow.trace.session"


def _trace(tid: str, user: str, session: str | None, *assessments: Assessment) -> Trace:
    meta = {"mlflow.trace.user": user}
    if session is not None:
        meta[SESSION] = session
    number = int(tid.split("-")[1])
    return Trace(
        TraceInfo(
            trace_id=tid,
            request_time=1_700_000_000_000 + number * 3_600_000,
            state="OK",
            trace_metadata=meta,
            assessments=assessments,
        )
    )


def _feedback(name: str, value: object, session: str | None = None) -> Assessment:
    meta = {} if session is None else {SESSION: session}
    return Assessment(name=name, kind="feedback", value=value, metadata=meta)


def _expectation(name: str, value: object, session: str) -> Assessment:
    return Assessment(
        name=name, kind="expectation", value=value, metadata={SESSION: session}
    )


#: Three parts. Session S spans all three; its session-scoped feedback `tone` and
#: `score` are logged in part 1 (already expanded to tr-2 there), its expectation
#: `answer` in part 3. Session T's feedback is logged on tr-5 (not in T) in part 2,
#: and T's traces are in parts 1 and 3. tr-4 holds a trace-scoped `score` equal in
#: name to S's session-scoped one.
PARTS: list[list[Trace]] = [
    [
        _trace(
            "tr-1",
            "alice",
            "S",
            _feedback("tone", "ok", "S"),
            _feedback("score", 4, "S"),
        ),
        _trace("tr-2", "bob", "S"),
        _trace("tr-3", "erin", "T"),
    ],
    [
        _trace("tr-4", "carol", "S", _feedback("score", 2)),
        _trace("tr-5", "dave", None, _feedback("score", 1, "T")),
    ],
    [
        _trace("tr-6", "carol", "T"),
        _trace("tr-7", "frank", "S", _expectation("answer", 10, "S")),
        _trace("tr-8", "gina", None),
    ],
]
ALL = [t for part in PARTS for t in part]


def _write(path: Path, *, partition_by_day: bool = False) -> Path:
    with DatasetWriter(path, partition_by_day=partition_by_day) as writer:
        for part in PARTS:
            writer.write(TraceFrame.from_traces(part))
    return path


@pytest.fixture(params=[False, True], ids=["flat", "by-day"])
def dataset(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    return _write(tmp_path / "ds", partition_by_day=request.param)


def _ids(traces: object, filter_string: str) -> list[str]:
    found = polartrace.search_traces(
        traces, filter_string, order_by=["request_id"], return_type="polars"
    )
    ids: list[str] = found["trace_id"].to_list()
    return ids


CASES = [
    ("feedback.tone = 'ok' AND user = 'carol'", ["tr-4"]),
    ("feedback.tone = 'ok'", ["tr-1", "tr-2", "tr-4", "tr-7"]),
    ("feedback.score = 1", ["tr-3", "tr-5", "tr-6"]),
    ("feedback.score = 2", ["tr-4"]),
    ("feedback.score > 3", ["tr-1", "tr-2", "tr-4", "tr-7"]),
    ("expectation.answer = 10", ["tr-1", "tr-2", "tr-4", "tr-7"]),
    ("expectation.answer IS NULL", ["tr-3", "tr-5", "tr-6", "tr-8"]),
    ("feedback.tone IS NULL AND feedback.score IS NOT NULL", ["tr-3", "tr-5", "tr-6"]),
]


@pytest.mark.parametrize(("filter_string", "expected"), CASES)
def test_search_and_count_match_memory(
    dataset: Path, filter_string: str, expected: list[str]
) -> None:
    memory = TraceFrame.from_traces(ALL)
    assert _ids(memory, filter_string) == expected
    for source in (polartrace.read_traces(dataset), polartrace.scan_traces(dataset)):
        assert _ids(source, filter_string) == expected
        assert polartrace.count(source, filter_string) == len(expected)


def test_assessment_table_is_memory_s(dataset: Path) -> None:
    """The read frame's rows: each applying assessment once, none twice."""
    memory = TraceFrame.from_traces(ALL).assessments
    read = polartrace.read_traces(dataset).assessments
    columns = ["_key", "kind", "name", "text", "number"]

    def rows(table: pl.DataFrame) -> list[tuple[object, ...]]:
        cast = table.select(pl.col(c).cast(pl.String) for c in columns)
        return sorted(cast.rows(), key=lambda r: tuple(str(v) for v in r))

    assert rows(read) == rows(memory)
    # tr-2 gets tone and score once each, although part 1 expanded them already.
    assert read.filter(pl.col("_key") == 1).height == 3


def test_metrics_match_memory(dataset: Path) -> None:
    specs = ["avg(feedback.score)", "count", "avg(expectation.answer)"]

    def table(traces: object) -> list[tuple[object, ...]]:
        found = polartrace.metrics(
            traces, metrics=specs, group_by=["user"], return_type="polars"
        )
        rows: list[tuple[object, ...]] = found.sort("user").rows()
        return rows

    expected = table(TraceFrame.from_traces(ALL))
    assert table(polartrace.read_traces(dataset)) == expected
    assert table(polartrace.scan_traces(dataset).collect()) == expected
    carol = next(row for row in expected if row[0] == "carol")
    # carol's traces: tr-4 (S's 4, its own 2, S's answer 10) and tr-6 (T's 1).
    assert carol[1:] == (pytest.approx(7 / 3), 2, 10.0)


def test_assessment_rows_match_memory(dataset: Path) -> None:
    def rows(traces: object) -> list[tuple[object, ...]]:
        found = polartrace.search_assessments(
            traces, "user = 'carol' OR user = 'bob'", order_by=["request_id"]
        )
        picked = found.select("trace_id", "name", "value", "session")
        rows: list[tuple[object, ...]] = picked.rows()
        return rows

    expected = rows(TraceFrame.from_traces(ALL))
    assert expected == [
        ("tr-2", "tone", '"ok"', "S"),
        ("tr-2", "score", "4", "S"),
        ("tr-2", "answer", "10", "S"),
        ("tr-4", "tone", '"ok"', "S"),
        ("tr-4", "score", "4", "S"),
        ("tr-4", "score", "2", None),
        ("tr-4", "answer", "10", "S"),
        ("tr-6", "score", "1", "T"),
    ]
    assert rows(polartrace.read_traces(dataset)) == expected
    assert rows(polartrace.scan_traces(dataset)) == expected


def test_columns_match_memory(dataset: Path) -> None:
    def values(traces: object) -> list[tuple[object, ...]]:
        found = polartrace.search_traces(
            traces,
            order_by=["request_id"],
            columns=["feedback.score", "expectation.answer"],
            return_type="polars",
        )
        picked = found.select("trace_id", "feedback.score", "expectation.answer")
        rows: list[tuple[object, ...]] = picked.rows()
        return rows

    expected = values(TraceFrame.from_traces(ALL))
    assert expected[3] == ("tr-4", 3.0, 10.0)
    assert values(polartrace.read_traces(dataset)) == expected
    assert values(polartrace.scan_traces(dataset)) == expected


def test_one_part_reads_as_before(tmp_path: Path) -> None:
    path = tmp_path / "one"
    polartrace.write_parquet(ALL, path)
    memory = TraceFrame.from_traces(ALL)
    for filter_string, expected in CASES:
        assert _ids(polartrace.read_traces(path), filter_string) == expected
        assert _ids(memory, filter_string) == expected


def test_missing_part_drops_its_owner(tmp_path: Path) -> None:
    """Without part 1's files, S's tone and score are gone from every part."""
    path = _write(tmp_path / "ds")
    for table in ("traces", "spans", "assessments", "prompts", "json"):
        (path / table / "part-00000.parquet").unlink()
    read = polartrace.read_traces(path)
    scanned = polartrace.scan_traces(path)
    for source in (read, scanned):
        assert _ids(source, "feedback.tone = 'ok'") == []
        assert _ids(source, "feedback.score = 1") == ["tr-5", "tr-6"]
        assert _ids(source, "expectation.answer = 10") == ["tr-4", "tr-7"]


V1 = Path(__file__).parent / "fixtures" / "parquet-v1"
ORACLE = Path(__file__).parent / "fixtures" / "conformance" / "oracle-traces.jsonl"


@pytest.mark.parametrize("name", ["oracle", "other-layout", "by-day"])
def test_version_1_datasets_expand_sessions_across_parts(name: str) -> None:
    """`by-day` was written in two parts that split session s1 (tr-7e2…, tr-48a…)."""
    lines = ORACLE.read_text(encoding="utf-8").splitlines()
    traces = [Trace.from_dict(json.loads(line)["trace"]) for line in lines]
    built = TraceFrame.from_traces(traces)
    expected = [
        "tr-48a3400cfc68eb1f6eef00340787b3ee",
        "tr-7e2ff8e30e3b463a1d82b69bab55f58d",
    ]
    text = "feedback.session_quality IS NOT NULL"
    assert _ids(built, text) == expected
    read = polartrace.read_traces(V1 / name)
    assert _ids(read, text) == expected
    assert _ids(polartrace.scan_traces(V1 / name), text) == expected
    columns = ["_key", "kind", "name", "text", "number"]

    def rows(frame: TraceFrame) -> list[tuple[object, ...]]:
        table = frame.assessments.select(pl.col(c).cast(pl.String) for c in columns)
        return sorted(table.rows(), key=repr)

    assert rows(read) == rows(built)


def test_rows_of_removed_last_trace_files_are_dropped(tmp_path: Path) -> None:
    # The traces and json files of the last part are gone; its span and assessment
    # rows stay on disk with keys past the remaining traces, and are not read.
    from polartrace.generate import generate_jsonl_lines
    from polartrace.io.parquet import table_files

    traces = [Trace.from_json(line) for line in generate_jsonl_lines(60, seed=4)]
    path = tmp_path / "ds"
    with DatasetWriter(path) as writer:
        writer.write(TraceFrame.from_traces(traces[:30]))
        writer.write(TraceFrame.from_traces(traces[30:]))
    for table in ("traces", "json"):
        table_files(path, table)[1].unlink()
    frame = polartrace.read_traces(path)
    memory = TraceFrame.from_traces(traces[:30])
    assert len(frame) == 30
    assert frame.spans["_key"].max() == 29
    for text in ("span.type = 'LLM'", "feedback.relevance IS NOT NULL", ""):
        assert polartrace.count(frame, text) == polartrace.count(memory, text)
    spans = polartrace.metrics(frame, level="span", return_type="polars")
    assert (
        spans.rows()
        == polartrace.metrics(memory, level="span", return_type="polars").rows()
    )
