"""Polars output built from the page table: key order, root spans, exact numbers.

tests/test_output.py checks that these rows equal, as JSON, the rows built from
``Trace`` objects; here each behaviour of the text path is pinned on its own
with the expected cells written out.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from polartrace import Trace, TraceFrame
from polartrace.frame.root_spans import dumps, root_texts
from polartrace.io.parquet import read_parquet, write_parquet
from polartrace.output import build as out
from polartrace.values.errors import TraceFormatError

TIME = "2024-01-01T00:00:00Z"
ROOT, CHILD = "AAAAAAAAAAE=", "AAAAAAAAAAI="


def _span(
    span_id: str, parent: str | None, inputs: str | None = None
) -> dict[str, Any]:
    attributes = {} if inputs is None else {"mlflow.spanInputs": inputs}
    return {
        "trace_id": "AAAAAAAAAAAAAAAAAAAAAA==",
        "span_id": span_id,
        "parent_span_id": parent,
        "name": "root" if parent is None else "child",
        "start_time_unix_nano": 1,
        "end_time_unix_nano": 2,
        "events": [],
        "status": {"code": "STATUS_CODE_OK", "message": ""},
        "attributes": attributes,
        "links": [],
    }


def _trace(
    trace_id: str,
    spans: Sequence[dict[str, Any]] = (),
    metadata: dict[str, str] | None = None,
) -> Trace:
    info = {"trace_id": trace_id, "request_time": TIME, "state": "OK"}
    if metadata:
        info["trace_metadata"] = metadata  # type: ignore[assignment]
    return Trace.from_dict({"info": info, "data": {"spans": list(spans)}})


def _frame(traces: Sequence[Trace], texts: Sequence[str] | None = None) -> TraceFrame:
    """The frame of ``traces`` as read from a file: tables plus JSON text only."""
    frame = TraceFrame.from_traces(traces)
    raw = pl.Series("json", texts or [t.to_json() for t in traces], dtype=pl.String)
    return TraceFrame(
        frame.traces, frame.spans, frame.assessments, frame.prompts, raw_json=raw
    )


def _polars(frame: TraceFrame, keys: list[int]) -> pl.DataFrame:
    table = out.build(frame, keys, "polars", True, None)
    assert isinstance(table, pl.DataFrame)
    return table


def test_metadata_keys_in_key_order_in_polars_and_own_order_in_pandas() -> None:
    # The frame's columns are meta:b, meta:a (first seen); the second trace
    # lists a first. MLflow's DataFrame cell keeps each trace's order; the
    # typed key/value list is in key order.
    traces = [
        _trace("tr-1", metadata={"b": "1", "a": "2"}),
        _trace("tr-2", metadata={"a": "3", "b": "4"}),
    ]
    got = _polars(_frame(traces), [0, 1])
    assert got["trace_metadata"].to_list() == [
        [{"key": "a", "value": "2"}, {"key": "b", "value": "1"}],
        [{"key": "a", "value": "3"}, {"key": "b", "value": "4"}],
    ]
    cells = out.build(_frame(traces), [0, 1], "pandas", True, None)
    assert [list(cell) for cell in cells["trace_metadata"]] == [["b", "a"], ["a", "b"]]


def test_text_of_another_spelling_is_decoded() -> None:
    trace = _trace("tr-1", [_span(ROOT, None, '"q"')], metadata={"b": "1", "a": "2"})
    compact = json.dumps(trace.to_dict(), separators=(",", ":"))
    got = _polars(_frame([trace], [compact]), [0])
    row = got.row(0, named=True)
    assert row["trace"] == compact
    assert row | {"trace": None, "spans": None} == {
        "trace_id": "tr-1",
        "trace": None,
        "client_request_id": None,
        "state": "OK",
        "request_time": dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        "execution_duration": None,
        "request": '"q"',
        "response": None,
        "trace_metadata": [{"key": "a", "value": "2"}, {"key": "b", "value": "1"}],
        "tags": [],
        "spans": None,
        "assessments": [],
    }
    [span] = row["spans"]
    assert (span["span_id"], span["parent_id"]) == ("0000000000000001", None)
    assert span["inputs"] == '"q"'


def test_info_member_holding_the_spans_mark_read_from_jsonl(tmp_path: Any) -> None:
    # A trace location holding a "state", then an info member holding the
    # spans mark: the cut once took that member for the spans and lost the tags.
    import polartrace

    trace = _trace("tr-1", [_span(ROOT, None, '"q"')])
    as_dict = trace.to_dict()
    info = dict(as_dict["info"])
    info.pop("trace_location", None)
    location = {"type": "MLFLOW_EXPERIMENT", "state": "X"}
    head = {"trace_id": info.pop("trace_id"), "trace_location": location}
    odd = head | {"data": {"spans": []}} | info | {"tags": {"k": "v"}}
    path = tmp_path / "odd.jsonl"
    path.write_text(json.dumps({"info": odd, "data": as_dict["data"]}) + "\n")
    frame = polartrace.read_traces(path)
    assert frame._objects is None  # the columnar reader's pages, not Trace objects
    got = polartrace.search_traces(frame, return_type="polars")
    assert isinstance(got, pl.DataFrame)
    assert got["tags"].to_list() == [[{"key": "k", "value": "v"}]]
    [[span]] = got["spans"].to_list()
    assert (span["span_id"], span["inputs"]) == ("0000000000000001", '"q"')


def test_root_span_after_its_children() -> None:
    trace = _trace("tr-1", [_span(CHILD, ROOT, '"child"'), _span(ROOT, None, '"root"')])
    got = _polars(_frame([trace]), [0])
    assert got["request"].to_list() == ['"root"']


def test_roots_of_many_traces_in_requested_order() -> None:
    traces = [
        _trace("tr-none"),
        _trace("tr-orphan", [_span(CHILD, ROOT, '"orphan"')]),
        _trace("tr-late", [_span(CHILD, ROOT, '"c"'), _span(ROOT, None, '"late"')]),
        _trace("tr-first", [_span(ROOT, None, '"first"'), _span(CHILD, ROOT)]),
    ]
    got = _polars(_frame(traces), [3, 2, 1, 0, 2])
    assert got["request"].to_list() == ['"first"', '"late"', None, None, '"late"']


def test_root_texts_of_spans_not_stored_in_key_order() -> None:
    traces = [
        _trace("tr-a", [_span(ROOT, None, '"a"')]),
        _trace("tr-b", [_span(CHILD, ROOT, '"c"'), _span(ROOT, None, '"b"')]),
    ]
    spans = TraceFrame.from_traces(traces).spans.reverse()
    keys = pl.Series([1, 0], dtype=pl.UInt32)
    assert root_texts(spans, keys) == (['"b"', '"a"'], [None, None])


@pytest.mark.parametrize(
    ("stored", "written"),
    [
        ('{"n": 123456789012345678901234567890}',
         '{"n": 123456789012345678901234567890}'),
        ("-9223372036854775809", "-9223372036854775809"),
        ("1e300", "1e+300"),
        ('"1e+5 apples"', '"1e+5 apples"'),
        ("NaN", "NaN"),
        ("[1.0, -0.0, 1e16]", "[1.0, -0.0, 1e+16]"),
        ('"caf\\u00e9 \\ud83d\\ude80"', '"caf\\u00e9 \\ud83d\\ude80"'),
        ("not json {", '"not json {"'),
        ("null", None),
    ],
    ids=["wide-int", "below-int64", "big-float", "e-plus-in-string", "nan",
         "floats", "unicode", "not-json", "null"],
)  # fmt: skip
def test_request_written_as_json_dumps_of_the_decoded_value(
    stored: str, written: str | None
) -> None:
    got = _polars(_frame([_trace("tr-1", [_span(ROOT, None, stored)])]), [0])
    assert got["request"].to_list() == [written]


@pytest.mark.parametrize(
    "value",
    [
        {"a": [1, 2.5, -0.0, 1e16, 1e-7, math.nan, math.inf, -math.inf]},
        [None, True, False, 2**70, -(2**70)],
        "é 🚀 \x7f \x00 \ud800",
        {"": {"nested": [[], {}]}},
        3.0,
        None,
    ],
    ids=["floats", "scalars", "string", "nested", "float", "null"],
)
def test_writer_equals_json_dumps(value: Any) -> None:
    assert dumps(value) == json.dumps(value)


# --- the page table in Parquet files ---------------------------------------------


def _dataset(tmp_path: Path) -> Path:
    """Two traces written to Parquet: one ``Trace.to_json`` text and one of another
    spelling (compact), which the page table keeps whole."""
    traces = [
        _trace("tr-1", [_span(ROOT, None, '"q1"')], metadata={"b": "1"}),
        _trace("tr-2", [_span(CHILD, ROOT), _span(ROOT, None, '{"x": "é"}')]),
    ]
    compact = json.dumps(traces[1].to_dict(), separators=(",", ":"))
    texts = [traces[0].to_json(), compact]
    write_parquet(_frame(traces, texts), tmp_path / "ds")
    return tmp_path / "ds"


def _json_part(path: Path) -> Path:
    return min((path / "json").glob("*.parquet"))


def test_parquet_keeps_the_page_table(tmp_path: Path) -> None:
    path = _dataset(tmp_path)
    stored = pl.read_parquet(_json_part(path))
    assert stored.columns == [
        "_key", "info_head", "info_tail", "spans", "json", "trace_metadata", "tags",
        "assessments", "request", "response",
    ]  # fmt: skip
    frame = read_parquet(path)
    trace = _trace("tr-1", [_span(ROOT, None, '"q1"')], metadata={"b": "1"})
    info = json.dumps(trace.to_dict()["info"])
    assert frame.pages.row(0) == (
        info,  # whole: without tags, the info holds no run of the three members
        None,
        json.dumps(trace.to_dict()["data"]["spans"]),
        None,  # the text is {"info": info, "data": {"spans": spans}}
        '{"b": "1"}',
        "{}",
        None,  # no assessments member
        '"q1"',
        None,
    )
    compact = frame.pages.row(1, named=True)
    assert compact["json"] == frame.json_at([1])[0]
    assert compact["json"].startswith('{"info":{"trace_id":"tr-2",')
    assert compact["request"] == '{"x": "\\u00e9"}'


def test_page_from_parquet_equals_page_of_the_frame_written(tmp_path: Path) -> None:
    path = _dataset(tmp_path)
    frame = read_parquet(path)
    got = _polars(frame, [1, 0])
    traces = [
        _trace("tr-1", [_span(ROOT, None, '"q1"')], metadata={"b": "1"}),
        _trace("tr-2", [_span(CHILD, ROOT), _span(ROOT, None, '{"x": "é"}')]),
    ]
    compact = json.dumps(traces[1].to_dict(), separators=(",", ":"))
    assert got.equals(_polars(_frame(traces, [traces[0].to_json(), compact]), [1, 0]))
    assert got["trace"].to_list() == [compact, traces[0].to_json()]
    assert got["trace_metadata"].to_list() == [[], [{"key": "b", "value": "1"}]]
    assert got["request"].to_list() == ['{"x": "\\u00e9"}', '"q1"']


def test_page_column_of_another_type_is_refused(tmp_path: Path) -> None:
    path = _dataset(tmp_path)
    part = _json_part(path)
    pl.read_parquet(part).with_columns(
        pl.col("tags").cast(pl.Categorical)
    ).write_parquet(part)
    message = "'tags' is of type Categorical.*format version 2"
    with pytest.raises(TraceFormatError, match=message):
        read_parquet(path)


def test_missing_page_column_is_refused(tmp_path: Path) -> None:
    path = _dataset(tmp_path)
    part = _json_part(path)
    pl.read_parquet(part).drop("spans").write_parquet(part)
    with pytest.raises(TraceFormatError, match="column 'spans' is missing"):
        read_parquet(path)


def test_pages_need_the_page_columns() -> None:
    frame = _frame([_trace("tr-1"), _trace("tr-2")])
    with pytest.raises(ValueError, match="pages need the columns"):
        TraceFrame(
            frame.traces,
            frame.spans,
            frame.assessments,
            frame.prompts,
            pages=frame.pages.drop("json"),
        )


def test_text_written_without_ascii_escapes_survives_parquet(tmp_path: Path) -> None:
    # "é" and "🚀" are one character each but two and four bytes.
    trace = _trace("tr-é", [_span(ROOT, None, '"q"')], metadata={"k": "café 🚀"})
    text = json.dumps(trace.to_dict(), ensure_ascii=False)
    write_parquet(_frame([trace], [text]), tmp_path / "ds")
    frame = read_parquet(tmp_path / "ds")
    got = _polars(frame, [0])
    assert got["trace"].to_list() == [text]
    assert got["trace_metadata"].to_list() == [[{"key": "k", "value": "café 🚀"}]]
    assert got["spans"].list.len().to_list() == [1]
