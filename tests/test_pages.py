"""The page table: every build path gives the page of ``TraceFrame.from_traces``.

A frame built from objects, read from JSONL (columnar reader), read from a version-2
Parquet dataset and read from the version-1 fixtures (tests/fixtures/parquet-v1,
written by the version-1 writer) give the same result pages, cell by cell: text
cells equal as JSON, every other cell equal.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest

from polartrace import Trace, TraceFrame, read_traces, search_traces
from polartrace.api.lazy import LazyTraceFrame, scan_traces
from polartrace.frame.pages import PAGE_COLUMNS, from_texts, from_traces, whole_texts
from polartrace.io.jsonl import write_jsonl
from polartrace.io.parquet import read_parquet, write_parquet
from polartrace.values.errors import TraceFormatError
from tests.conftest import LABELS
from tests.typed_cells import typed_rows

V1 = Path(__file__).parent / "fixtures" / "parquet-v1"
FILTERS = (None, "status = 'OK'", "span.type = 'LLM'")


def _cells(table: pl.DataFrame) -> list[dict[str, object]]:
    rows = typed_rows(table)
    for row in rows:
        for name in ("request", "response"):
            text = row[name]
            row[name] = None if text is None else json.loads(str(text))
    return rows


def _page(
    frame: TraceFrame | LazyTraceFrame, text: str | None, include_spans: bool
) -> pl.DataFrame:
    page = search_traces(
        frame,
        text,
        return_type="polars",
        include_spans=include_spans,
        max_results=4,
    )
    assert isinstance(page, pl.DataFrame)
    return page


def _assert_pages_equal(
    frame: TraceFrame | LazyTraceFrame, objects: TraceFrame
) -> None:
    for text in FILTERS:
        for include_spans in (True, False):
            got = _page(frame, text, include_spans)
            want = _page(objects, text, include_spans)
            assert got.schema == want.schema
            assert got.height == want.height > 0, text
            assert _cells(got) == _cells(want), (text, include_spans)


def test_page_from_jsonl_equals_page_from_objects(
    tmp_path: Path, oracle_traces: list[Trace], oracle_frame: TraceFrame
) -> None:
    write_jsonl(oracle_traces, tmp_path / "t.jsonl")
    frame = read_traces(tmp_path / "t.jsonl")
    assert frame._objects is None  # the columnar reader's page table
    _assert_pages_equal(frame, oracle_frame)


def test_jsonl_reader_splits_the_info_as_the_objects_do(
    tmp_path: Path, oracle_traces: list[Trace], oracle_frame: TraceFrame
) -> None:
    write_jsonl(oracle_traces, tmp_path / "t.jsonl")
    frame = read_traces(tmp_path / "t.jsonl")
    assert frame._objects is None
    assert frame.pages.equals(oracle_frame.pages)
    assert frame.pages["info_tail"].null_count() == 0


def test_jsonl_reader_does_not_split_at_a_nested_run(tmp_path: Path) -> None:
    # The first run of the three keys is inside trace_location: a cut there would
    # make the cells that nested object's members.
    nested = '"trace_metadata": {"a": "x"}, "tags": {"b": "y"}'
    info = (
        '{"trace_id": "tr-1", "trace_location": {' + nested + "}, "
        '"request_time": "2024-01-01T00:00:00Z", "state": "OK", '
        '"trace_metadata": {"a": "1"}, "tags": {"b": "2"}}'
    )
    line = '{"info": ' + info + ', "data": {"spans": []}}'
    (tmp_path / "t.jsonl").write_text(line + "\n" + line.replace("tr-1", "tr-2"))
    frame = read_traces(tmp_path / "t.jsonl")
    assert frame._objects is None
    assert frame.json_at([0, 1]) == [line, line.replace("tr-1", "tr-2")]
    page = search_traces(frame, order_by=["trace_id"], return_type="polars")
    assert page["trace_metadata"].to_list() == [[{"key": "a", "value": "1"}]] * 2
    assert page["tags"].to_list() == [[{"key": "b", "value": "2"}]] * 2


def test_page_from_parquet_equals_page_from_objects(
    tmp_path: Path, oracle_traces: list[Trace], oracle_frame: TraceFrame
) -> None:
    write_parquet(oracle_traces, tmp_path / "ds")
    _assert_pages_equal(read_parquet(tmp_path / "ds"), oracle_frame)
    _assert_pages_equal(scan_traces(tmp_path / "ds"), oracle_frame)


@pytest.mark.parametrize("name", ["oracle", "other-layout", "by-day"])
def test_page_from_version_1_dataset_equals_page_from_objects(
    name: str, oracle_frame: TraceFrame
) -> None:
    frame = read_parquet(V1 / name)
    _assert_pages_equal(frame, oracle_frame)
    _assert_pages_equal(scan_traces(V1 / name), oracle_frame)


def test_version_1_dataset_keeps_each_text_whole(oracle_traces: list[Trace]) -> None:
    frame = read_parquet(V1 / "other-layout")
    texts = frame.json_at(range(len(frame)))
    assert texts[0].startswith('{"info":{"execution_duration_ms":')
    assert [Trace.from_json(t) for t in texts] == oracle_traces
    # The texts of `Trace.to_json` are their two parts put together.
    assert read_parquet(V1 / "oracle").pages["json"].null_count() == 6


def test_version_1_dataset_reads_as_the_frame_of_its_traces(
    oracle_frame: TraceFrame,
) -> None:
    frame = read_parquet(V1 / "oracle")
    assert frame.pages.equals(oracle_frame.pages)
    assert frame.traces.equals(oracle_frame.traces)


def test_version_1_dataset_without_its_text_column_is_refused(tmp_path: Path) -> None:
    shutil.copytree(V1 / "oracle", tmp_path / "ds")
    part = tmp_path / "ds" / "json" / "part-00000.parquet"
    pl.read_parquet(part).drop("json").write_parquet(part)
    message = "column 'json' is missing.*format version 1"
    with pytest.raises(TraceFormatError, match=message):
        read_parquet(tmp_path / "ds")


def test_future_version_is_refused_naming_it(tmp_path: Path) -> None:
    shutil.copytree(V1 / "oracle", tmp_path / "ds")
    manifest = tmp_path / "ds" / "manifest.json"
    manifest.write_text(json.dumps({"format": "polartrace-parquet", "version": 3}))
    message = (
        r"format version 3 is not supported \(this polartrace reads up to version 2\)"
    )
    with pytest.raises(TraceFormatError, match=message):
        read_parquet(tmp_path / "ds")
    with pytest.raises(TraceFormatError, match=message):
        scan_traces(tmp_path / "ds")


def test_pages_from_texts_equal_pages_from_objects(oracle_traces: list[Trace]) -> None:
    texts = [trace.to_json() for trace in oracle_traces]
    assert from_texts(texts).equals(from_traces(oracle_traces))


def _dumped(value: object) -> str | None:
    return None if value is None else json.dumps(value)


@pytest.mark.parametrize("label", ["T1", "T4"])
def test_page_row_of_a_trace(oracle_traces: list[Trace], label: str) -> None:
    (trace,) = [t for t in oracle_traces if t.info.trace_id == LABELS[label]]
    row = from_traces([trace]).row(0, named=True)
    d = trace.to_dict()
    info = json.dumps(d["info"])
    assessments = d["info"].get("assessments")
    run = (
        '"trace_metadata": '
        + json.dumps(d["info"]["trace_metadata"])
        + ("" if assessments is None else ', "assessments": ' + json.dumps(assessments))
        + ', "tags": '
        + json.dumps(d["info"]["tags"])
    )
    assert tuple(row) == PAGE_COLUMNS
    assert row == {
        # The info text without the three members, which have their own columns.
        "info_head": info[: info.index(run)],
        "info_tail": info[info.index(run) + len(run) :],
        "spans": json.dumps(d["data"]["spans"]),
        "json": None,
        "trace_metadata": json.dumps(d["info"]["trace_metadata"]),
        "tags": json.dumps(d["info"]["tags"]),
        "assessments": None if assessments is None else json.dumps(assessments),
        "request": _dumped(trace.data.request),
        "response": _dumped(trace.data.response),
    }
    assert row["info_head"].endswith(f'"state": "{trace.info.state.value}", ')


def test_info_without_the_run_of_members_is_kept_whole() -> None:
    info = {"trace_id": "tr-1", "tags": {"a": "b"}, "trace_metadata": {}}
    text = json.dumps({"info": info, "data": {"spans": []}})
    row = from_texts([text]).row(0, named=True)
    assert (row["info_head"], row["info_tail"], row["json"]) == (
        json.dumps(info),
        None,
        None,
    )
    assert (row["trace_metadata"], row["tags"], row["assessments"]) == (
        "{}",
        '{"a": "b"}',
        None,
    )
    assert whole_texts(from_texts([text])).to_list() == [text]


def test_text_of_another_layout_is_kept_whole() -> None:
    text = (
        '{"data": {"spans": []}, "info": {"trace_id": "tr-1", '
        '"request_time": "2024-01-01T00:00:00Z", "state": "OK"}}'
    )
    pages = from_texts([text])
    assert pages.row(0, named=True) | {"info_head": None} == {
        "info_head": None,
        "info_tail": None,
        "spans": "[]",
        "json": text,
        "trace_metadata": "{}",
        "tags": "{}",
        "assessments": None,
        "request": None,
        "response": None,
    }
    frame = TraceFrame.from_traces([Trace.from_json(text)])
    assert TraceFrame(
        frame.traces, frame.spans, frame.assessments, frame.prompts, pages=pages
    ).json_at([0]) == [text]
