"""Readers and writers of ``polartrace.io``: detection, JSON/JSONL, Parquet, round trips
for every format, and lazy scans. MLflow stores: ``test_io_mlflow.py``; OTLP:
``test_io_otlp.py``.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from polartrace import (
    SearchArgumentError,
    Trace,
    TraceFormatError,
    TraceFrame,
    count,
    search_traces,
)
from polartrace.api.lazy import LazyTraceFrame, scan_traces
from polartrace.generate import generate_jsonl_lines
from polartrace.io import (
    DatasetWriter,
    detect_format,
    iter_jsonl,
    read_traces,
    write_jsonl,
    write_parquet,
)

FIXTURES = Path(__file__).parent / "fixtures" / "mlflow"
DB = FIXTURES / "mlflow.db"

FILTERS = [
    "status = 'ERROR'",
    "execution_time_ms > 2500 AND tags.environment = 'production'",
    "span.name = 'retriever'",
    "span.type = 'LLM' AND span.status = 'ERROR'",
    "feedback.relevance > 0.5",
    "feedback.relevance IS NULL",
    "text LIKE '%refund%'",
    "span.content ILIKE '%REFUND%' OR NOT name LIKE '%_agent'",
    "expectation.expected_facts IS NOT NULL",
    "prompt = 'translate-prompt/3'",
]


def ids(result: Any) -> list[str]:
    return [t.info.trace_id for t in result]


def all_traces(frame: TraceFrame) -> list[Trace]:
    return frame.traces_at(range(len(frame)))


@pytest.fixture(scope="module")
def generated() -> list[Trace]:
    return [Trace.from_json(line) for line in generate_jsonl_lines(400, seed=1)]


@pytest.fixture(scope="module")
def frame(generated: list[Trace]) -> TraceFrame:
    return TraceFrame.from_traces(generated)


# --- detection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "fmt"),
    [
        pytest.param("a.jsonl", '{"info": {}}\n', "jsonl", id="jsonl"),
        pytest.param("a.ndjson", "", "jsonl", id="ndjson"),
        pytest.param("a.json", '[{"info": {}}]', "json", id="json"),
        pytest.param("a.json", '{\n  "resourceSpans": []}', "otlp", id="otlp-json"),
        pytest.param("a.jsonl", '{"resourceSpans": []}\n', "otlp", id="otlp-jsonl"),
        pytest.param("a.sqlite", "", "mlflow-db", id="sqlite-file"),
    ],
)
def test_detect_format_reads_extension_and_first_key(
    tmp_path: Path, name: str, content: str, fmt: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert detect_format(path) == fmt


def test_detect_format_reads_gzip_content(tmp_path: Path) -> None:
    path = tmp_path / "otlp.json.gz"
    path.write_bytes(gzip.compress(b'{"resourceSpans": []}'))
    assert detect_format(path) == "otlp"


def test_detect_format_knows_directories_and_urls(tmp_path: Path) -> None:
    write_parquet([], tmp_path / "ds")
    assert detect_format(tmp_path / "ds") == "parquet"
    assert detect_format(FIXTURES / "mlruns") == "mlflow-files"
    assert detect_format(f"sqlite:///{DB}") == "mlflow-db"
    assert detect_format("postgresql+psycopg://u@h/db") == "mlflow-db"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda p: p / "missing.jsonl", "no such file", id="missing"),
        pytest.param(
            lambda p: (p / "x.csv").touch() or p / "x.csv",
            "from its name",
            id="unknown-extension",
        ),
        pytest.param(
            lambda p: (p / "d").mkdir() or p / "d",
            "directory holds no trace files",
            id="empty-dir",
        ),
    ],
)
def test_detect_format_errors_name_the_source(
    tmp_path: Path, make: Any, message: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(TraceFormatError, match=message) as info:
        read_traces(path)
    assert info.value.source == str(path)


def test_a_lone_span_artifact_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "traces.json"
    path.write_text('{"spans": []}', encoding="utf-8")
    with pytest.raises(TraceFormatError, match="MLflow span artifact"):
        read_traces(path)


def test_unknown_format_argument_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError, match="unknown format 'xml'"):
        read_traces(tmp_path, format="xml")


# --- JSON and JSONL -------------------------------------------------------------------


def test_empty_jsonl_gives_an_empty_frame_with_the_full_schema(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n", encoding="utf-8")
    frame = read_traces(path)
    empty = TraceFrame.from_traces([])
    assert len(frame) == 0
    assert frame.traces.schema == empty.traces.schema
    assert frame.spans.schema == empty.spans.schema


def test_corrupt_jsonl_line_names_file_and_line(tmp_path: Path) -> None:
    lines = list(generate_jsonl_lines(3, seed=2))
    path = tmp_path / "bad.jsonl"
    path.write_text(lines[0] + "\n" + lines[1][:50] + "\n" + lines[2] + "\n")
    with pytest.raises(TraceFormatError, match="invalid JSON") as info:
        read_traces(path)
    assert (info.value.source, info.value.location) == (str(path), "line 2")


def test_invalid_trace_in_jsonl_names_line_and_json_path(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"info": {"trace_id": "tr-1"}}\n', encoding="utf-8")
    with pytest.raises(TraceFormatError) as info:
        read_traces(path)
    assert info.value.location == "line 1, info.request_time"


def test_truncated_gzip_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl.gz"
    write_jsonl(
        [Trace.from_json(line) for line in generate_jsonl_lines(50, seed=3)], path
    )
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(TraceFormatError, match="truncated gzip") as info:
        read_traces(path)
    assert info.value.source == str(path)


def test_json_list_error_names_the_trace_index(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    good = json.loads(next(generate_jsonl_lines(1, seed=4)))
    path.write_text(json.dumps([good, {"info": {"trace_id": 5}}]), encoding="utf-8")
    with pytest.raises(TraceFormatError) as info:
        read_traces(path)
    assert info.value.location is not None
    assert info.value.location.startswith("trace 1, info")


def test_write_jsonl_gzip_is_deterministic(
    tmp_path: Path, generated: list[Trace]
) -> None:
    write_jsonl(generated[:20], tmp_path / "a.jsonl.gz")
    write_jsonl(generated[:20], tmp_path / "b.jsonl.gz")
    assert (tmp_path / "a.jsonl.gz").read_bytes() == (
        tmp_path / "b.jsonl.gz"
    ).read_bytes()
    assert [t.to_json() for t in iter_jsonl(tmp_path / "a.jsonl.gz")] == [
        t.to_json() for t in generated[:20]
    ]


def test_write_jsonl_rejects_other_objects_and_leaves_no_file(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="item 0 is a dict"):
        write_jsonl([{"info": {}}], tmp_path / "x.jsonl")  # type: ignore[list-item]
    assert list(tmp_path.iterdir()) == []


# --- round trips ----------------------------------------------------------------------


def _write(frame: TraceFrame, path: Path, kind: str) -> Path:
    if kind.startswith("jsonl"):
        write_jsonl(frame, path)
    else:
        write_parquet(frame, path, partition_by_day=kind == "parquet-by-day")
    return path


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        pytest.param("jsonl", "t.jsonl", id="jsonl"),
        pytest.param("jsonl-gz", "t.jsonl.gz", id="jsonl-gz"),
        pytest.param("parquet", "ds", id="parquet"),
        pytest.param("parquet-by-day", "ds", id="parquet-by-day"),
    ],
)
def test_round_trip_keeps_traces_and_search_results(
    tmp_path: Path, frame: TraceFrame, generated: list[Trace], kind: str, name: str
) -> None:
    first = read_traces(_write(frame, tmp_path / name, kind))
    again = read_traces(_write(first, tmp_path / ("2" + name), kind))
    assert all_traces(first) == generated
    assert all_traces(again) == generated
    for text in FILTERS:
        assert ids(search_traces(again, text, return_type="list")) == ids(
            search_traces(frame, text, return_type="list")
        ), text


@pytest.mark.parametrize("by_day", [False, True], ids=["parquet", "parquet-by-day"])
def test_parquet_pages_from_stored_page_table_equal_pages_from_objects(
    tmp_path: Path, frame: TraceFrame, by_day: bool
) -> None:
    # The writer stores the frame's page table; pages read it back.
    write_parquet(frame, tmp_path / "ds", partition_by_day=by_day)
    read = read_traces(tmp_path / "ds")
    assert read._objects is None
    assert read.pages.equals(frame.pages)
    for text in FILTERS[:4]:
        got = search_traces(read, text, max_results=50, return_type="polars")
        want = search_traces(frame, text, max_results=50, return_type="polars")
        assert got.equals(want), text
        assert got.height > 0, text


@pytest.mark.parametrize(
    "source",
    [
        pytest.param(DB, id="mlflow-db"),
        pytest.param(FIXTURES / "mlruns", id="mlflow-files"),
    ],
)
@pytest.mark.parametrize("kind", ["jsonl", "parquet"])
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_read_only_formats_round_trip_through_writers(
    tmp_path: Path, source: Path, kind: str
) -> None:
    original = read_traces(source)
    copy = read_traces(_write(original, tmp_path / f"out.{kind}", kind))
    assert all_traces(copy) == all_traces(original)
    assert ids(
        search_traces(copy, "feedback.relevance > 0.5", return_type="list")
    ) == ids(search_traces(original, "feedback.relevance > 0.5", return_type="list"))


# --- Parquet layout -------------------------------------------------------------------


def test_parquet_dataset_has_manifest_and_one_directory_per_table(
    tmp_path: Path, frame: TraceFrame
) -> None:
    write_parquet(frame, tmp_path / "ds", partition_by_day=True)
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    assert manifest["format"] == "polartrace-parquet"
    assert manifest["version"] == 2
    assert manifest["traces"] == 400
    days = sorted(p.name for p in (tmp_path / "ds" / "traces").iterdir())
    assert days[0] == "day=2025-01-01"
    assert len(days) == 30


def test_dataset_writer_keeps_keys_unique_across_parts(
    tmp_path: Path, generated: list[Trace]
) -> None:
    with DatasetWriter(tmp_path / "ds") as writer:
        writer.write(TraceFrame.from_traces(generated[:150]))
        writer.write(TraceFrame.from_traces(generated[150:]))
    back = read_traces(tmp_path / "ds")
    assert all_traces(back) == generated
    assert back.traces["_key"].to_list() == list(range(400))
    assert back.spans["_span"].to_list() == list(range(back.spans.height))


def _tagged(traces: list[Trace], environment: str) -> list[Trace]:
    out = []
    for trace in traces:
        d = trace.to_dict()
        d["info"]["tags"] = {**d["info"]["tags"], "env": environment}
        out.append(Trace.from_dict(d))
    return out


def test_parts_from_frames_with_different_dictionaries_read_and_scan_together(
    tmp_path: Path, generated: list[Trace]
) -> None:
    # Each frame stores a low-cardinality column as an Enum of its own values;
    # Polars concatenates no two different Enums. Parts are written with the
    # dictionary as a Categorical, and a whole read narrows it again.
    first, second = _tagged(generated[:150], "blue"), _tagged(generated[150:], "red")
    with DatasetWriter(tmp_path / "ds") as writer:
        writer.write(TraceFrame.from_traces(first))
        writer.write(TraceFrame.from_traces(second))
    stored = pl.read_parquet_schema(tmp_path / "ds" / "traces" / "part-00000.parquet")
    assert stored["tag:env"] == pl.Categorical
    back = read_traces(tmp_path / "ds")
    assert back.traces.schema["tag:env"] == pl.Enum(["blue", "red"])
    assert (
        back.spans.schema["name"]
        == TraceFrame.from_traces(generated).spans.schema["name"]
    )
    whole = TraceFrame.from_traces(first + second)
    lazy = scan_traces(tmp_path / "ds")
    env_filters = ["tags.env = 'red'", "tags.env IN ('blue')", "tags.env LIKE 'bl%'"]
    for f in [*FILTERS, *env_filters]:
        expected = ids(search_traces(whole, f, return_type="list"))
        assert ids(search_traces(back, f, return_type="list")) == expected, f
        assert lazy.count(f) == len(expected), f
    assert count(back, "tags.env = 'red'") == 250


def test_parquet_refuses_to_overwrite_a_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(TraceFormatError, match="not empty"):
        write_parquet([], tmp_path)
    assert (tmp_path / "notes.txt").exists()


def test_parquet_overwrite_never_replaces_a_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(TraceFormatError) as info:
        write_parquet([], tmp_path, overwrite=True)
    assert info.value.message == (
        "directory is not empty and not a polartrace dataset; only a polartrace "
        "dataset is ever replaced"
    )
    assert (tmp_path / "notes.txt").exists()


def test_parquet_overwrite_replaces_a_dataset(
    tmp_path: Path, generated: list[Trace]
) -> None:
    write_parquet(generated[:10], tmp_path / "ds")
    with pytest.raises(TraceFormatError, match="overwrite=True"):
        write_parquet(generated[:3], tmp_path / "ds")
    write_parquet(generated[:3], tmp_path / "ds", overwrite=True)
    assert all_traces(read_traces(tmp_path / "ds")) == generated[:3]


def test_parquet_does_not_store_derived_span_columns(
    tmp_path: Path, generated: list[Trace]
) -> None:
    frame = TraceFrame.from_traces(generated[:50])
    count(frame, "span.attributes.`mlflow.spanType` = 'LLM'")  # derives attr:/num:
    write_parquet(frame, tmp_path / "ds")
    names = pl.read_parquet_schema(next((tmp_path / "ds" / "spans").glob("*.parquet")))
    assert not [n for n in names if n.startswith(("attr:", "num:"))]


def test_parquet_newer_version_is_refused(tmp_path: Path) -> None:
    write_parquet([], tmp_path / "ds")
    manifest = tmp_path / "ds" / "manifest.json"
    manifest.write_text(json.dumps({"format": "polartrace-parquet", "version": 99}))
    with pytest.raises(TraceFormatError, match="version 99 is not supported") as info:
        read_traces(tmp_path / "ds")
    assert info.value.location == "manifest.json"


@pytest.mark.parametrize("version", [0, -1, "2", 2.0, None], ids=repr)
def test_parquet_version_that_is_no_version_is_refused(
    tmp_path: Path, version: object
) -> None:
    write_parquet([], tmp_path / "ds")
    manifest = tmp_path / "ds" / "manifest.json"
    text = json.dumps({"format": "polartrace-parquet", "version": version})
    manifest.write_text(text)
    with pytest.raises(TraceFormatError, match=f"version {version!r} is not supported"):
        read_traces(tmp_path / "ds")


def test_corrupt_parquet_file_is_named(tmp_path: Path, generated: list[Trace]) -> None:
    write_parquet(generated[:5], tmp_path / "ds")
    part = next((tmp_path / "ds" / "spans").glob("*.parquet"))
    part.write_bytes(part.read_bytes()[:100])
    with pytest.raises(TraceFormatError, match="cannot read Parquet") as info:
        read_traces(tmp_path / "ds")
    assert info.value.source == str(part)


def test_empty_parquet_dataset_reads_back_empty(tmp_path: Path) -> None:
    write_parquet([], tmp_path / "ds")
    frame = read_traces(tmp_path / "ds")
    assert len(frame) == 0
    assert frame.traces.schema == TraceFrame.from_traces([]).traces.schema


# --- lazy scans -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def lazy(tmp_path_factory: pytest.TempPathFactory, frame: TraceFrame) -> LazyTraceFrame:
    path = tmp_path_factory.mktemp("lazy") / "ds"
    write_parquet(frame, path, partition_by_day=True)
    return LazyTraceFrame(path, batch_rows=97)  # many small batches on purpose


@pytest.mark.parametrize(
    "text", [*FILTERS, "", "NOT feedback.tone IS NULL AND status = 'OK'"]
)
def test_lazy_count_equals_eager_count(
    lazy: LazyTraceFrame, frame: TraceFrame, text: str
) -> None:
    assert lazy.count(text) == count(frame, text)


def test_lazy_search_pages_like_eager_search(
    lazy: LazyTraceFrame, frame: TraceFrame
) -> None:
    args: dict[str, Any] = {
        "order_by": ["execution_time_ms DESC"],
        "max_results": 7,
        "return_type": "list",
    }
    ours, theirs = (
        lazy.search("status = 'OK'", **args),
        search_traces(frame, "status = 'OK'", **args),
    )
    assert list(ours) == list(theirs)
    assert ours.token == theirs.token
    ours = lazy.search("status = 'OK'", page_token=ours.token, **args)
    theirs = search_traces(frame, "status = 'OK'", page_token=theirs.token, **args)
    assert list(ours) == list(theirs)


def test_lazy_search_of_no_rows_has_no_next_page(lazy: LazyTraceFrame) -> None:
    page = lazy.search("status = 'OK'", max_results=0, return_type="list")
    assert list(page) == []
    assert page.token is None


def test_lazy_search_returns_polars_rows(lazy: LazyTraceFrame) -> None:
    table = lazy.search("span.name = 'retriever'", max_results=3, return_type="polars")
    assert table.columns[:2] == ["trace_id", "trace"]
    assert table.height == 3


def test_search_traces_given_a_lazy_frame_runs_its_streaming_search(
    lazy: LazyTraceFrame, frame: TraceFrame
) -> None:
    args: dict[str, Any] = {"max_results": 7, "return_type": "list"}
    ours = search_traces(lazy, "span.name = 'retriever'", **args)
    theirs = search_traces(frame, "span.name = 'retriever'", **args)
    assert list(ours) == list(theirs)
    assert ours.token == theirs.token


def test_count_given_a_lazy_frame_counts_it(
    lazy: LazyTraceFrame, frame: TraceFrame
) -> None:
    assert count(lazy, "status = 'OK'") == count(frame, "status = 'OK'")


def test_reference_engine_refuses_a_lazy_frame(lazy: LazyTraceFrame) -> None:
    with pytest.raises(
        SearchArgumentError,
        match=r"^a scanned dataset searches with the polars engine; \.collect\(\) it",
    ):
        search_traces(lazy, "status = 'OK'", engine="reference")


def test_scan_traces_needs_a_dataset(tmp_path: Path) -> None:
    with pytest.raises(TraceFormatError, match="not a polartrace Parquet dataset"):
        scan_traces(tmp_path)


def test_lazy_collect_and_len(lazy: LazyTraceFrame, generated: list[Trace]) -> None:
    assert len(lazy) == 400
    assert all_traces(lazy.collect()) == generated
