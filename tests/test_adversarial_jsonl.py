"""Adversarial JSONL files read column by column (issue 18): the columnar reader
answers as the line parser does, or leaves the file to it.

Lines are generated (`polartrace.generate`) so that the columnar reader takes the
file, then one line is changed: the tests check that the answer is the line
parser's, and that the columnar reader took the file where it should.
"""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from polartrace import TraceFrame, scan_traces, search_traces, write_parquet
from polartrace.api.search import Engine
from polartrace.generate import write_jsonl
from polartrace.io._columnar import read_jsonl_columnar
from polartrace.io.jsonl import iter_jsonl, read_jsonl
from polartrace.io.parquet import read_parquet
from polartrace.values.errors import TraceFormatError

_REPO = Path(__file__).resolve().parent.parent
_V1 = _REPO / "tests" / "fixtures" / "parquet-v1" / "oracle"


def _lines(tmp_path: Path, n: int = 4) -> list[dict[str, Any]]:
    file = tmp_path / "generated.jsonl"
    write_jsonl(file, n, seed=18)
    return [json.loads(line) for line in file.read_text().splitlines()]


def _write(tmp_path: Path, traces: list[Any], name: str = "t.jsonl") -> Path:
    file = tmp_path / name
    file.write_text("".join(json.dumps(t) + "\n" for t in traces), encoding="utf-8")
    return file


def _ids(found: Any) -> list[str]:
    return [t.info.trace_id for t in found]


# --- 3: a NUL in a tag, metadata or attribute key ------------------------------------


@pytest.mark.parametrize(
    ("where", "filter_string"),
    [
        ("tags", "tags.a = 'v'"),
        ("trace_metadata", "metadata.a = 'v'"),
        ("attributes", "span.attributes.a = 'v'"),
    ],
)
def test_key_with_nul_is_kept_whole(
    tmp_path: Path, where: str, filter_string: str, engine: Engine
) -> None:
    traces = _lines(tmp_path)
    # A copy of the first trace whose only new key is the NUL one: Arrow names its
    # column "a" (a key first seen beside others would be noticed).
    target = copy.deepcopy(traces[0])
    target["info"]["trace_id"] = "tr-nul"
    traces.append(target)
    if where == "attributes":
        target["data"]["spans"][0]["attributes"]["a\u0000b"] = json.dumps("v")
    else:
        target["info"][where]["a\u0000b"] = "v"
    file = _write(tmp_path, traces)
    frame = read_jsonl(file)
    assert search_traces(frame, filter_string, return_type="list", engine=engine) == []
    exact = TraceFrame.from_traces(list(iter_jsonl(file)))
    assert frame.traces.columns == exact.traces.columns
    assert frame.spans.columns == exact.spans.columns


def test_nul_in_a_value_is_read_column_by_column(tmp_path: Path) -> None:
    traces = _lines(tmp_path)
    traces[1]["info"]["tags"]["note"] = "a\u0000b"
    file = _write(tmp_path, traces)
    assert read_jsonl_columnar(file) is not None
    found = search_traces(
        read_jsonl(file), "tags.note = 'a\u0000b'", return_type="list"
    )
    assert _ids(found) == [traces[1]["info"]["trace_id"]]


# --- 8: nesting deep enough to overflow a native parser's stack ----------------------

_DEEP_READ = """
import sys
from polartrace.io import read_traces
from polartrace.io.jsonl import read_jsonl
from polartrace.values.errors import TraceFormatError
for read in (read_traces, read_jsonl):
    try:
        read(sys.argv[1])
    except TraceFormatError as exc:
        print(exc.source == sys.argv[1], exc.location, exc.message)
"""


@pytest.mark.parametrize("where", ["attribute", "info", "event"])
def test_line_nested_1200_deep_is_a_format_error_naming_the_line(
    tmp_path: Path, where: str
) -> None:
    traces = _lines(tmp_path)
    marker = "__deep__"
    if where == "attribute":
        traces[2]["data"]["spans"][0]["attributes"]["deep"] = marker
    elif where == "info":
        traces[2]["info"]["extra"] = marker
    else:
        traces[2]["data"]["spans"][0]["events"] = [{"name": "e", "attributes": {}}]
        traces[2]["data"]["spans"][0]["events"][0]["attributes"]["deep"] = marker
    file = _write(tmp_path, traces)
    # Written by hand: json.dumps itself cannot write 1,200 levels.
    text = file.read_text().replace(json.dumps(marker), "[" * 1200 + "]" * 1200)
    file.write_text(text)
    # In a subprocess: a crash inside a native reader fails this test, not pytest.
    done = subprocess.run(
        [sys.executable, "-c", _DEEP_READ, str(file)],
        capture_output=True,
        text=True,
        cwd=_REPO,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # Both readers: the file, the line, the bound (too deep for a JSON path).
    assert (
        done.stdout.splitlines()
        == ["True line 3 JSON nested deeper than 100 levels"] * 2
    )


def test_line_at_the_nesting_bound_is_read_column_by_column(tmp_path: Path) -> None:
    traces = _lines(tmp_path)
    # An attribute text is a string: its own nesting is not the line's.
    traces[2]["data"]["spans"][0]["attributes"]["deep"] = "[" * 1200 + "]" * 1200
    file = _write(tmp_path, traces)
    assert read_jsonl_columnar(file) is not None
    frame = read_jsonl(file)
    exact = TraceFrame.from_traces(list(iter_jsonl(file)))
    assert frame.spans["raw:deep"].to_list() == exact.spans["raw:deep"].to_list()


# --- 9: a trace without data --------------------------------------------------------


@pytest.mark.parametrize("data", ["absent", "null", "empty", "null spans"])
@pytest.mark.parametrize("return_type", ["pandas", "list", "polars", "arrow"])
def test_trace_without_data_has_no_spans_in_every_output(
    tmp_path: Path, data: str, return_type: str
) -> None:
    traces = _lines(tmp_path, 3)
    bare = traces[1]
    if data == "absent":
        del bare["data"]
    else:
        bare["data"] = {"null": None, "empty": {}, "null spans": {"spans": None}}[data]
    file = _write(tmp_path, traces)
    dataset = tmp_path / "ds"
    write_parquet(read_jsonl(file), dataset)
    trace_id = bare["info"]["trace_id"]
    for source in (read_jsonl(file), read_parquet(dataset), scan_traces(dataset)):
        found = search_traces(
            source,
            f"trace.request_id = '{trace_id}'",
            return_type=return_type,  # type: ignore[arg-type]
        )
        assert len(found) == 1
        if return_type == "list":
            assert found[0].data.spans == ()
        elif return_type == "pandas":
            row = found.iloc[0]
            assert (row["spans"], row["request"], row["response"]) == ([], None, None)
            assert json.loads(row["trace"]) == bare
        else:
            row = (found if return_type == "polars" else _polars(found)).row(
                0, named=True
            )
            assert (row["spans"], row["request"]) == ([], None)  # typed: no structs
            assert json.loads(row["trace"]) == bare


def _polars(table: Any) -> Any:
    import polars as pl

    return pl.from_arrow(table)


# --- 6: non-canonical input: the cells do not depend on the builder -----------------


def _non_canonical(tmp_path: Path) -> list[str]:
    traces = _lines(tmp_path, 3)
    first = json.dumps(traces[0], ensure_ascii=False)  # raw UTF-8, no \u escapes
    second = json.dumps(traces[1], separators=(",", ":"))  # compact
    third = dict(reversed(list(traces[2].items())))  # data before info
    third["info"] = dict(reversed(list(third["info"].items())))
    third_text = json.dumps(third).replace(", ", " ,  ")
    return [first, second, third_text]


_NESTED = ("trace", "spans", "assessments", "trace_metadata", "tags", "request")


def test_non_canonical_lines_give_the_same_cells_from_every_builder(
    tmp_path: Path,
) -> None:
    texts = _non_canonical(tmp_path)
    file = tmp_path / "t.jsonl"
    file.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    objects = TraceFrame.from_traces(list(iter_jsonl(file)))
    dataset = tmp_path / "ds"
    write_parquet(read_jsonl(file), dataset)
    sources = {
        "objects": objects,
        "jsonl": read_jsonl(file),
        "parquet": read_parquet(dataset),
        "lazy": scan_traces(dataset),
    }
    order = ["timestamp_ms ASC"]
    pandas = {name: search_traces(s, order_by=order) for name, s in sources.items()}
    polars = {
        name: search_traces(s, order_by=order, return_type="polars")
        for name, s in sources.items()
    }
    for name in sources:
        for column in _NESTED:
            if column == "trace":  # each keeps its text: equal as JSON
                got = [json.loads(t) for t in pandas[name][column]]
                want = [json.loads(t) for t in pandas["objects"][column]]
            else:
                got = list(pandas[name][column])
                want = list(pandas["objects"][column])
            assert got == want, (name, column)
            assert [_json(v) for v in polars[name][column]] == [
                _json(v) for v in polars["objects"][column]
            ], (name, column)


def _json(value: Any) -> Any:
    """A polars cell as a plain value: JSON text decoded, typed cells as Python."""
    if isinstance(value, str):
        return json.loads(value)
    return value.to_list() if hasattr(value, "to_list") else value


# --- datasets written before the LLM columns ----------------------------------------


@pytest.mark.parametrize(
    ("filter_string", "order_by"),
    [
        ("span.model = 'gpt-4o'", None),
        ("tokens.total > 10", None),
        ("cost.total > 0", None),
        (None, ["tokens.total DESC"]),
        ("sum(span.tokens.input) > 1", None),
    ],
)
def test_scanned_dataset_without_llm_columns_names_the_field_and_the_fix(
    filter_string: str | None, order_by: list[str] | None
) -> None:
    with pytest.raises(TraceFormatError, match="convert its source again") as info:
        search_traces(
            scan_traces(_V1),
            filter_string=filter_string,
            order_by=order_by,
            return_type="list",
        )
    assert info.value.source == str(_V1)
    assert "LLM columns" in info.value.message
    # Other fields read as ever, and read_parquet derives the LLM columns.
    assert len(search_traces(scan_traces(_V1), "status = 'OK'", return_type="list"))
    found = search_traces(
        read_parquet(_V1),
        filter_string=filter_string,
        order_by=order_by,
        return_type="list",
    )
    assert isinstance(found, list)


# --- the run of metadata, assessments and tags, cut where it may mislead ------------

_FEEDBACK = {
    "assessment_id": "a-1",
    "assessment_name": "tone",
    "trace_id": "tr-x",
    "source": {"source_type": "HUMAN", "source_id": "ann"},
    "create_time": "2025-01-01T00:00:00Z",
    "last_update_time": "2025-01-01T00:00:00Z",
    "feedback": {"value": {"n": 12345678901234567890, "tags": {"x": "}"}}},
    "metadata": {"a": "1", "tags": "t", "assessments": "a"},
    "valid": True,
}


@pytest.mark.parametrize(
    "change",
    [
        "metadata key tags",
        "metadata key assessments",
        "assessment with tags",
        "brace in a tag",
        "run inside trace_location",
        "tags before metadata",
    ],
)
def test_misleading_runs_give_the_cells_of_the_objects(
    tmp_path: Path, change: str
) -> None:
    traces = _lines(tmp_path, 3)
    info = traces[1]["info"]
    if change == "metadata key tags":
        del info["assessments"]
        info["trace_metadata"]["tags"] = "x"
    elif change == "metadata key assessments":
        info["trace_metadata"]["assessments"] = "[]"
    elif change == "assessment with tags":
        info["assessments"] = [_FEEDBACK]
    elif change == "brace in a tag":
        info["tags"]["a"] = '{"b": "}"}'
    elif change == "run inside trace_location":
        info["trace_location"]["trace_metadata"] = {"a": "x"}
        info["trace_location"]["tags"] = {"b": "y"}
    else:
        metadata = info.pop("trace_metadata")
        info["trace_metadata"] = metadata
    file = _write(tmp_path, traces)
    lines = file.read_text().splitlines()
    assert read_jsonl_columnar(file) is not None
    frame = read_jsonl(file)
    assert frame.json_at(range(3)) == lines
    objects = TraceFrame.from_traces(list(iter_jsonl(file)))
    assert frame.assessments.equals(objects.assessments)
    order = ["timestamp_ms ASC"]
    got = search_traces(frame, order_by=order)
    want = search_traces(objects, order_by=order)
    for column in ("trace_metadata", "tags", "assessments"):
        assert list(got[column]) == list(want[column]), column
    # Typed cells (key/value lists, assessment structs): equal to the objects' own.
    got_polars = search_traces(frame, order_by=order, return_type="polars")
    want_polars = search_traces(objects, order_by=order, return_type="polars")
    for column in ("trace_metadata", "tags", "assessments"):
        assert got_polars[column].to_list() == want_polars[column].to_list(), column
