"""The columnar JSONL reader builds exactly the frame the line-by-line reader builds.

``TraceFrame.from_traces(list(iter_jsonl(path)))`` is the definition; every case
compares all four tables (values, dtypes, column order) with it, and says whether
the columnar path should take the file or hand it back to the line parser.
"""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas.testing as pd_testing
import pytest
from polars.testing import assert_frame_equal

from polartrace import TraceFormatError, TraceFrame, search_traces
from polartrace.api.search import ReturnType
from polartrace.generate import generate_jsonl_lines
from polartrace.io import iter_jsonl, read_traces
from polartrace.io._columnar import read_jsonl_columnar

from .conftest import ORACLE

TABLES = ("traces", "spans", "assessments", "prompts")
ROOT_ID = "AAAAAAAAAAE="  # span id 0000000000000001
CHILD_ID = "AAAAAAAAAAI="
OTEL_ID = "AAAAAAAAAAAAAAAAAAAAAQ=="


def _span(span_id: str, parent: str | None, name: str, **extra: Any) -> dict[str, Any]:
    span: dict[str, Any] = {
        "trace_id": OTEL_ID,
        "span_id": span_id,
        "parent_span_id": parent,
        "name": name,
        "start_time_unix_nano": 1_700_000_000_000_000_000,
        "end_time_unix_nano": 1_700_000_000_250_000_000,
        "events": [],
        "status": {"code": "STATUS_CODE_OK", "message": ""},
        "attributes": {"mlflow.spanType": '"CHAIN"', "mlflow.spanInputs": '{"q": 1}'},
        "links": [],
    }
    return span | extra


def _trace(number: int, **info: Any) -> dict[str, Any]:
    base = {
        "trace_id": f"tr-{number}",
        "request_time": "2023-11-14T22:13:20.500Z",
        "state": "OK",
        "trace_metadata": {"mlflow.user": "ann"},
        "tags": {"env": "prod"},
        "execution_duration_ms": 250,
    }
    spans = [_span(ROOT_ID, None, "root"), _span(CHILD_ID, ROOT_ID, "child")]
    return {"info": base | info, "data": {"spans": spans}}


def _write(path: Path, traces: list[Any], **dumps: Any) -> Path:
    text = "".join(json.dumps(t, **dumps) + "\n" for t in traces)
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode("utf-8")))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def assert_same_frame(path: Path, *, columnar: bool | None = True) -> TraceFrame:
    """Check ``read_traces(path)`` against the line-by-line definition.

    ``columnar`` says which path should read the file (``None``: either).
    """
    expected = TraceFrame.from_traces(list(iter_jsonl(path)))
    if columnar is not None:
        assert (read_jsonl_columnar(path) is not None) is columnar
    actual = read_traces(path)
    for table in TABLES:
        assert_frame_equal(
            getattr(actual, table), getattr(expected, table), categorical_as_str=False
        )
    assert actual.traces_at(range(len(actual))) == expected.traces_at(
        range(len(expected))
    )
    return actual


# --- files the columnar path reads ---------------------------------------------------


def test_oracle_traces_build_the_same_frame(tmp_path: Path) -> None:
    path = _write(tmp_path / "oracle.jsonl", [row["trace"] for row in ORACLE])
    assert_same_frame(path)


@pytest.mark.parametrize(
    ("name", "count", "seed"),
    [
        pytest.param("g.jsonl", 300, 7, id="plain"),
        pytest.param("g.jsonl.gz", 120, 8, id="gzip"),
        pytest.param("g.ndjson", 1, 9, id="one-trace"),
    ],
)
def test_generated_traces_build_the_same_frame(
    tmp_path: Path, name: str, count: int, seed: int
) -> None:
    lines = list(generate_jsonl_lines(count, seed=seed))
    path = _write(tmp_path / name, [json.loads(line) for line in lines])
    frame = assert_same_frame(path)
    assert frame.json_at([count - 1]) == [lines[-1]]


def _no_tags(t: dict[str, Any]) -> None:
    del t["info"]["tags"], t["info"]["trace_metadata"]


def _empty_spans(t: dict[str, Any]) -> None:
    t["data"]["spans"] = []


def _no_data(t: dict[str, Any]) -> None:
    del t["data"]


def _no_optional_fields(t: dict[str, Any]) -> None:
    t["info"] = {
        "trace_id": t["info"]["trace_id"],
        "request_time": "2024-01-01T00:00:00Z",
    }
    for span in t["data"]["spans"]:
        for key in ("end_time_unix_nano", "events", "status", "attributes", "links"):
            del span[key]


def _otlp_parent(t: dict[str, Any]) -> None:
    t["data"]["spans"][0]["parent_span_id"] = ""
    del t["data"]["spans"][1]["parent_span_id"]


def _unicode(t: dict[str, Any]) -> None:
    t["info"]["tags"] = {"clé": "été ☃", "emoji": "😀"}
    t["data"]["spans"][1]["name"] = "récupération 😀"
    t["data"]["spans"][1]["attributes"]["ключ"] = '"значение \\u00e9"'


def _states(t: dict[str, Any]) -> None:
    number = int(t["info"]["trace_id"][3:])
    t["info"]["state"] = ["", "TRACE_STATUS_UNSPECIFIED", None, "ERROR"][number % 4]
    t["data"]["spans"][1]["status"] = [
        {"code": "ERROR", "message": "boom"},
        {"message": "no code"},
        None,
        {"code": "STATUS_CODE_UNSET"},
    ][number % 4]


def _span_types(t: dict[str, Any]) -> None:
    number = int(t["info"]["trace_id"][3:])
    attributes = t["data"]["spans"][1]["attributes"]
    attributes["mlflow.spanType"] = ["null", "3", "LLM", '"TOOL"', "[1]"][number % 5]


def _big_numbers(t: dict[str, Any]) -> None:
    t["data"]["spans"][0]["attributes"] |= {
        "big": "1e16",
        "huge": "12345678901234567890",
    }
    t["info"]["assessments"] = [
        {"assessment_name": "score", "feedback": {"value": 1e16}},
        {"assessment_name": "count", "feedback": {"value": 10**16}},
        {"assessment_name": "ratio", "feedback": {"value": 3.0}},
        {"assessment_name": "nested", "expectation": {"value": [1.0, {"k": 2e20}]}},
    ]


def _times(t: dict[str, Any]) -> None:
    number = int(t["info"]["trace_id"][3:])
    t["info"]["request_time"] = [
        "2023-11-14T23:13:20.123456789+01:00",
        "2023-11-14t22:13:20.9999z",
        "2023-11-14T22:13:20-05:30",
        "1969-12-31T23:59:59.999Z",
    ][number % 4]


def _string_events(t: dict[str, Any]) -> None:
    event = {
        "name": "exception",
        "time_unix_nano": 1_700_000_000_100_000_000,
        "attributes": {"exception.message": "Bad ☃", "exception.type": "ValueError"},
    }
    t["data"]["spans"][1]["events"] = [event, {"name": "retry", "time_unix_nano": 5}]


def _late_keys(t: dict[str, Any]) -> None:
    # Keys first seen in a later row, several in one row, in an order of their own.
    number = int(t["info"]["trace_id"][3:])
    if number == 2:
        t["info"]["tags"] = {"zeta": "1", "env": "dev", "alpha": "2"}
        t["data"]["spans"][1]["attributes"] = {"z": '"1"', "a": '"2"', "m": '"3"'}
    if number == 3:
        t["info"]["tags"] = {"alpha": "3", "beta": "4"}


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(_no_tags, id="no-tags-or-metadata"),
        pytest.param(_empty_spans, id="empty-spans"),
        pytest.param(_no_data, id="no-data"),
        pytest.param(_no_optional_fields, id="missing-optional-fields"),
        pytest.param(_otlp_parent, id="empty-and-missing-parent-ids"),
        pytest.param(_unicode, id="unicode"),
        pytest.param(_states, id="states-and-status-codes"),
        pytest.param(_span_types, id="span-types-of-any-json"),
        pytest.param(_big_numbers, id="numbers-from-1e16"),
        pytest.param(_times, id="time-zones-and-fractions"),
        pytest.param(_string_events, id="span-events"),
        pytest.param(_late_keys, id="first-appearance-order"),
    ],
)
def test_edge_cases_build_the_same_frame(
    tmp_path: Path, change: Callable[[dict[str, Any]], None]
) -> None:
    traces = [_trace(number) for number in range(5)]
    for trace in traces:
        change(trace)
    assert_same_frame(_write(tmp_path / "t.jsonl", traces))


def test_unescaped_unicode_builds_the_same_frame(tmp_path: Path) -> None:
    traces = [_trace(1), _trace(2)]
    for trace in traces:
        _unicode(trace)
    assert_same_frame(_write(tmp_path / "t.jsonl", traces, ensure_ascii=False))


def test_lone_carriage_returns_end_lines_as_for_the_line_parser(
    tmp_path: Path,
) -> None:
    # Python reads text with universal newlines; Arrow would end a row there too.
    path = tmp_path / "t.jsonl"
    lines = [json.dumps(_trace(number)) for number in range(3)]
    path.write_bytes(("\r".join(lines) + "\r\n").encode())
    frame = assert_same_frame(path, columnar=False)
    assert len(frame) == 3


def test_compact_lines_build_the_same_frame(tmp_path: Path) -> None:
    traces = [_trace(1), _trace(2)]
    assert_same_frame(_write(tmp_path / "t.jsonl", traces, separators=(",", ":")))


def test_data_before_info_builds_the_same_frame(tmp_path: Path) -> None:
    traces = [{"data": t["data"], "info": t["info"]} for t in (_trace(1), _trace(2))]
    assert_same_frame(_write(tmp_path / "t.jsonl", traces))


def test_first_appearance_order_of_keys(tmp_path: Path) -> None:
    traces = [_trace(number) for number in range(5)]
    for trace in traces:
        _late_keys(trace)
    frame = read_traces(_write(tmp_path / "t.jsonl", traces))
    assert frame.tag_keys == ["env", "zeta", "alpha", "beta"]
    raw = [c for c in frame.spans.columns if c.startswith("raw:")]
    assert raw == [
        "raw:mlflow.spanType",
        "raw:mlflow.spanInputs",
        "raw:z",
        "raw:a",
        "raw:m",
    ]


def test_blank_lines_and_crlf_build_the_same_frame(tmp_path: Path) -> None:
    lines = [json.dumps(_trace(number)) for number in range(3)]
    path = tmp_path / "t.jsonl"
    path.write_bytes(
        ("\n" + lines[0] + "\r\n  \n\n" + lines[1] + "\n" + lines[2]).encode()
    )
    frame = assert_same_frame(path)
    assert frame.json_at([0, 2]) == [lines[0], lines[2]]


def test_sessions_and_overridden_assessments(tmp_path: Path) -> None:
    traces = [_trace(number) for number in range(4)]
    for trace in traces[:3]:
        trace["info"]["trace_metadata"]["mlflow.trace.session"] = "s-1"
    session = {"mlflow.trace.session": "s-1"}
    traces[1]["info"]["assessments"] = [
        {"assessment_name": "mood", "feedback": {"value": "good"}, "metadata": session},
        {"assessment_name": "mood", "feedback": {"value": "bad"}, "valid": False},
        {"assessment_name": "answer", "expectation": {"value": "42"}, "overrides": "a"},
    ]
    frame = assert_same_frame(_write(tmp_path / "t.jsonl", traces))
    assert frame.assessments["_key"].to_list() == [0, 1, 2, 1]


# --- files handed back to the line parser, with the same result --------------------


def _integer_time(t: dict[str, Any]) -> None:
    t["info"]["request_time"] = 1_700_000_000_500


def _extreme_times(t: dict[str, Any]) -> None:
    t["data"]["spans"][0]["start_time_unix_nano"] = -(2**63) + 1


def _typed_event_attributes(t: dict[str, Any]) -> None:
    event = {"name": "e", "time_unix_nano": 1, "attributes": {"n": 5.0, "x": None}}
    t["data"]["spans"][0]["events"] = [event]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(_integer_time, id="integer-request-time"),
        pytest.param(_extreme_times, id="times-near-the-int64-limits"),
        pytest.param(_typed_event_attributes, id="typed-event-attributes"),
    ],
)
def test_unusual_shapes_fall_back_to_the_same_frame(
    tmp_path: Path, change: Callable[[dict[str, Any]], None]
) -> None:
    traces = [_trace(number) for number in range(3)]
    change(traces[1])
    assert_same_frame(_write(tmp_path / "t.jsonl", traces), columnar=False)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param('"env": "prod"', '"env": "a", "x": "1", "env": "b"', id="tag"),
        pytest.param(
            '"mlflow.spanType"', '"k": "1", "k": "2", "mlflow.spanType"', id="attr"
        ),
    ],
)
def test_duplicate_keys_keep_the_last_value(tmp_path: Path, old: str, new: str) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps(_trace(1)).replace(old, new, 1) + "\n", encoding="utf-8")
    assert_same_frame(path, columnar=None)


# --- corrupt files: the error names the file and the line --------------------------


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(t: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = t
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[last] = value

    return change


@pytest.mark.parametrize(
    ("change", "message", "where"),
    [
        pytest.param(
            _set("info.trace_id", 5),
            "expected a string",
            "info.trace_id",
            id="id-number",
        ),
        pytest.param(
            _set("info.tags", {"env": None}),
            "expected a string",
            "info.tags",
            id="null-tag",
        ),
        pytest.param(
            _set("info.trace_metadata", {"k": 1}),
            "expected a string",
            "info.trace_metadata",
            id="number-metadata",
        ),
        pytest.param(
            _set("data.spans.1.attributes", {"k": 0.5}),
            "JSON-encoded text",
            "data.spans[1].attributes",
            id="number-attribute",
        ),
        pytest.param(
            _set("data.spans.1.attributes", {"k": None}),
            "JSON-encoded text",
            "data.spans[1].attributes",
            id="null-attribute",
        ),
        pytest.param(
            _set("info.request_time", "yesterday"),
            "not an RFC 3339 timestamp",
            "info.request_time",
            id="bad-time",
        ),
        pytest.param(
            _set("info.state", "DONE"), "unknown state", "info.state", id="bad-state"
        ),
        pytest.param(
            _set("data.spans.0.name", None),
            "required key",
            "data.spans[0].name",
            id="no-span-name",
        ),
        pytest.param(
            _set("data.spans.0.start_time_unix_nano", "1"),
            "expected an integer",
            "data.spans[0].start_time_unix_nano",
            id="string-start-time",
        ),
        pytest.param(
            _set("info.execution_duration_ms", 2.5),
            "expected an integer",
            "info.execution_duration_ms",
            id="float-duration",
        ),
        pytest.param(
            _set("data.spans.1.status", {"code": None}),
            "unknown status code",
            "data.spans[1].status.code",
            id="null-status-code",
        ),
        pytest.param(
            _set("data.spans.1.span_id", "not base64"),
            "not valid base64",
            "data.spans[1].span_id",
            id="bad-span-id",
        ),
        pytest.param(
            _set("info.assessments", [{"assessment_name": "x"}]),
            "expected one of feedback",
            "info.assessments[0]",
            id="bad-assessment",
        ),
    ],
)
def test_a_bad_record_names_the_file_and_line(
    tmp_path: Path, change: Callable[[dict[str, Any]], None], message: str, where: str
) -> None:
    traces = [_trace(number) for number in range(3)]
    bad = copy.deepcopy(traces[1])
    change(bad)
    path = tmp_path / "bad.jsonl"
    lines = [json.dumps(t) for t in (traces[0], bad, traces[2])]
    path.write_text(lines[0] + "\n\n" + lines[1] + "\n" + lines[2] + "\n")
    with pytest.raises(TraceFormatError, match=message) as info:
        read_traces(path)
    assert info.value.source == str(path)
    assert info.value.location is not None
    assert info.value.location.startswith(f"line 3, {where}")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param('{"info": ', "invalid JSON", id="truncated"),
        pytest.param("[1, 2]", "expected a trace object", id="array"),
        pytest.param("null", "expected a trace object", id="null"),
        pytest.param(
            '{"info": null, "data": {"spans": []}}', "required", id="null-info"
        ),
        pytest.param('{"data": {"spans": []}, "info": null}', "required", id="no-info"),
        pytest.param(
            '{"info": 5, "data": {"spans": []}}',
            "expected an object",
            id="number-info",
        ),
    ],
)
def test_a_line_that_is_no_trace_names_the_line(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.jsonl.gz"
    good = json.dumps(_trace(1))
    path.write_bytes(gzip.compress(f"{good}\n{text}\n{good}\n".encode()))
    with pytest.raises(TraceFormatError, match=message) as info:
        read_traces(path)
    assert info.value.source == str(path)
    assert info.value.location is not None
    assert info.value.location.startswith("line 2")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        pytest.param('"env": "prod"', '"env": "a\\ud800b"', id="tag"),
        pytest.param('"{\\"q\\": 1}"', '"\\udc00"', id="attribute"),
        pytest.param('"name": "child"', '"name": "\\ud83d\\ude00 \\ud800"', id="name"),
    ],
)
def test_lone_surrogates_are_left_to_the_line_parser(
    tmp_path: Path, old: str, new: str
) -> None:
    # Arrow and Polars hold UTF-8 only; Python's json keeps a lone surrogate.
    path = tmp_path / "t.jsonl"
    line = json.dumps(_trace(1))
    assert old in line
    path.write_text(line.replace(old, new, 1) + "\n", encoding="utf-8")
    assert read_jsonl_columnar(path) is None


@pytest.mark.parametrize(
    ("old", "new", "where"),
    [
        pytest.param('"env": "prod"', '"env": "a\\ud800b"', "info.tags.env", id="tag"),
        pytest.param(
            '"{\\"q\\": 1}"',
            '"\\udc00"',
            "data.spans[0].attributes['mlflow.spanInputs']",
            id="attribute",
        ),
        pytest.param(
            '"name": "child"',
            '"name": "\\ud83d\\ude00 \\ud800"',
            "data.spans[1].name",
            id="name",
        ),
    ],
)
def test_lone_surrogates_are_an_error_naming_file_line_and_field(
    tmp_path: Path, old: str, new: str, where: str
) -> None:
    # No UTF-8 column can hold them; the line parser says where they are.
    path = tmp_path / "t.jsonl"
    good = json.dumps(_trace(0))
    path.write_text(good + "\n" + json.dumps(_trace(1)).replace(old, new, 1) + "\n")
    with pytest.raises(TraceFormatError) as info:
        read_traces(path)
    assert info.value.source == str(path)
    assert info.value.location == f"line 2, {where}"
    assert "lone surrogate" in info.value.message


@pytest.mark.parametrize("return_type", ["pandas", "polars"])
def test_search_output_matches_a_frame_of_objects(
    tmp_path: Path, return_type: ReturnType
) -> None:
    # Output rows are built from the kept line text instead of Trace objects.
    lines = list(generate_jsonl_lines(80, seed=11))
    path = _write(tmp_path / "t.jsonl", [json.loads(line) for line in lines])
    columnar = read_traces(path)
    objects = TraceFrame.from_traces(list(iter_jsonl(path)))
    for text in (None, "status = 'ERROR'", "span.type = 'LLM'"):
        got = search_traces(columnar, text, return_type=return_type, max_results=30)
        want = search_traces(objects, text, return_type=return_type, max_results=30)
        if return_type == "pandas":
            pd_testing.assert_frame_equal(got, want)
            continue
        # The typed cells are equal; request and response as JSON.
        texts = ["request", "response"]
        assert_frame_equal(got.drop(texts), want.drop(texts))
        for name in texts:
            have = [None if v is None else json.loads(v) for v in got[name]]
            assert have == [None if v is None else json.loads(v) for v in want[name]]


@pytest.mark.parametrize("return_type", ["pandas", "polars"])
def test_output_of_lines_with_info_keys_in_another_order(
    tmp_path: Path, return_type: ReturnType
) -> None:
    # Output is cut from the kept line text; a line whose info keys another writer
    # ordered differently must give the same cells (once the tags were cut on to
    # the end of the metadata when other keys came between them).
    import random

    rng = random.Random(5)
    traces = [json.loads(line) for line in generate_jsonl_lines(400, seed=12)]
    for trace in traces:
        items = list(trace["info"].items())
        rng.shuffle(items)
        trace["info"] = dict(items)
    path = _write(tmp_path / "t.jsonl", traces)
    columnar = read_traces(path)
    objects = TraceFrame.from_traces(list(iter_jsonl(path)))
    for text in (None, "status = 'ERROR'", "span.type = 'LLM'"):
        got = search_traces(columnar, text, return_type=return_type)
        want = search_traces(objects, text, return_type=return_type)
        # JSON text is compared as JSON: the kept line keeps its own key order.
        texts = ["trace"]
        if return_type == "polars":  # the typed cells are equal; these as JSON
            texts += ["request", "response"]
        for name in texts:
            have = [None if v is None else json.loads(v) for v in got[name]]
            assert have == [None if v is None else json.loads(v) for v in want[name]]
        if return_type == "pandas":
            pd_testing.assert_frame_equal(
                got.drop(columns=texts), want.drop(columns=texts)
            )
        else:
            assert_frame_equal(got.drop(texts), want.drop(texts))
