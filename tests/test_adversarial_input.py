"""Adversarial trace data: every defect is a TraceFormatError naming where it is.

Each case was found by mutating valid input (issue 18); the data is built here so
that the file and the line or JSON path the error names are known.
"""

from __future__ import annotations

import base64
import copy
import gzip
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from polartrace import Trace, TraceFrame, scan_traces, search_traces, write_parquet
from polartrace.io.jsonl import iter_jsonl, read_json, read_jsonl
from polartrace.plan.paging import decode_page_token, page_fingerprint
from polartrace.values.errors import (
    PageTokenError,
    SearchArgumentError,
    TraceFormatError,
)
from polartrace.values.nesting import MAX_DEPTH, check_nesting

from .conftest import ORACLE

GOOD: list[dict[str, Any]] = [row["trace"] for row in ORACLE]


def _nested(levels: int) -> Any:
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


def _with(index: int, path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    trace = copy.deepcopy(GOOD[index])
    target = trace
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return trace


def _jsonl(tmp_path: Path, traces: list[dict[str, Any]], name: str = "t.jsonl") -> Path:
    file = tmp_path / name
    file.write_text("".join(json.dumps(t) + "\n" for t in traces), encoding="utf-8")
    return file


# --- integers beyond 64 bits and times beyond year 9999 ---------------------------


@pytest.mark.parametrize(
    ("path", "value", "location", "message"),
    [
        pytest.param(
            ("info", "execution_duration_ms"),
            2**70,
            "info.execution_duration_ms",
            "does not fit in 64 bits",
            id="duration-beyond-int64",
        ),
        pytest.param(
            ("info", "request_time"),
            2**70,
            "info.request_time",
            "outside the years 1-9999",
            id="request-time-beyond-int64",
        ),
        pytest.param(
            ("info", "request_time"),
            300_000_000_000_000,
            "info.request_time",
            "outside the years 1-9999",
            id="request-time-past-9999",
        ),
        pytest.param(
            ("info", "request_time"),
            -62_135_596_800_001,
            "info.request_time",
            "outside the years 1-9999",
            id="request-time-before-year-1",
        ),
    ],
)
def test_out_of_range_integer_is_refused_at_read_time(
    tmp_path: Path, path: tuple[str, ...], value: int, location: str, message: str
) -> None:
    file = _jsonl(tmp_path, [GOOD[0], GOOD[1], _with(2, path, value)])
    with pytest.raises(TraceFormatError, match=message) as info:
        read_jsonl(file)
    assert info.value.source == str(file)
    assert info.value.location == f"line 3, {location}"


def test_span_time_beyond_int64_is_refused_by_the_model() -> None:
    trace = copy.deepcopy(GOOD[0])
    trace["data"]["spans"][0]["end_time_unix_nano"] = 2**63
    with pytest.raises(TraceFormatError, match="does not fit in 64 bits") as info:
        Trace.from_dict(trace)
    assert info.value.location == "data.spans[0].end_time_unix_nano"


def test_last_millisecond_of_year_9999_is_accepted() -> None:
    trace = Trace.from_dict(_with(0, ("info", "request_time"), 253_402_300_799_999))
    assert trace.to_dict()["info"]["request_time"] == "9999-12-31T23:59:59.999Z"


# --- nesting ----------------------------------------------------------------------


def test_nesting_at_the_bound_is_accepted() -> None:
    check_nesting(_nested(MAX_DEPTH))


def test_nesting_past_the_bound_names_the_path() -> None:
    with pytest.raises(TraceFormatError, match="nested deeper than 100") as info:
        check_nesting({"a": _nested(MAX_DEPTH)}, "line 4")
    assert info.value.location == "line 4, a[0][0][0][0]..."


@pytest.mark.parametrize(
    "levels", [pytest.param(150, id="past-bound"), pytest.param(1200, id="past-stack")]
)
def test_jsonl_line_nested_too_deeply_names_the_line(
    tmp_path: Path, levels: int
) -> None:
    # Written by hand: json.dumps itself cannot write 1,200 levels.
    deep = json.dumps(_with(1, ("data", "unknown"), 0))
    deep = deep.replace('"unknown": 0', '"unknown": ' + "[" * levels + "]" * levels)
    file = tmp_path / "t.jsonl"
    file.write_text(json.dumps(GOOD[0]) + "\n" + deep + "\n", encoding="utf-8")
    readers: list[Callable[[Path], object]] = [lambda f: list(iter_jsonl(f))]
    if levels < 800:  # deeper lines crash Arrow's JSON reader (see docs/io.md)
        readers.append(read_jsonl)
    for read in readers:
        with pytest.raises(TraceFormatError, match="nested deeper than 100") as info:
            read(file)
        assert info.value.source == str(file)
        assert info.value.location is not None
        assert info.value.location.startswith("line 2")


def test_json_document_nested_too_deeply_names_the_file(tmp_path: Path) -> None:
    file = tmp_path / "t.json"
    file.write_text("[" * 1200 + "]" * 1200, encoding="utf-8")
    with pytest.raises(TraceFormatError, match="nested deeper than 100") as info:
        read_json(file)
    assert info.value.source == str(file)


def test_from_json_nested_too_deeply_is_a_format_error() -> None:
    with pytest.raises(TraceFormatError, match="nested deeper than 100"):
        Trace.from_json('{"info": ' + "[" * 1200 + "]" * 1200 + "}")


def test_deep_assessment_value_is_refused_by_the_model() -> None:
    trace = copy.deepcopy(GOOD[0])
    trace["info"]["assessments"] = [
        {
            "assessment_name": "deep",
            "feedback": {"value": _nested(300)},
            "create_time": "2023-11-14T22:13:20Z",
        }
    ]
    with pytest.raises(TraceFormatError, match="nested deeper than 100") as info:
        Trace.from_dict(trace)
    assert info.value.location is not None
    assert info.value.location.startswith("info.assessments[0].feedback.value")


# --- bytes that are not UTF-8 -------------------------------------------------------


@pytest.mark.parametrize("name", [pytest.param("t.jsonl", id="plain"), "t.jsonl.gz"])
def test_non_utf8_byte_names_the_line_and_column(tmp_path: Path, name: str) -> None:
    lines = [json.dumps(GOOD[0]).encode(), b'{"info": {"trace_id": "tr-\xff"}}']
    data = b"\n".join(lines) + b"\n"
    file = tmp_path / name
    file.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    with pytest.raises(TraceFormatError, match="byte 0xff at column 27") as info:
        read_jsonl(file)
    assert info.value.source == str(file)
    assert info.value.location == "line 2"


# --- page tokens --------------------------------------------------------------------


def _token(payload: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


@pytest.mark.parametrize(
    "offset",
    [
        pytest.param(2**63, id="beyond-int64"),
        pytest.param(2**53 + 1, id="beyond-exact-json"),
        pytest.param(0, id="zero"),
        pytest.param(1.5, id="float"),
    ],
)
def test_page_token_with_offset_out_of_range_is_refused(offset: Any) -> None:
    fingerprint = page_fingerprint(None, None)
    token = _token({"offset": offset, "search": fingerprint})
    with pytest.raises(PageTokenError, match="bad offset"):
        decode_page_token(token, fingerprint)


def test_search_with_huge_offset_token_is_a_page_token_error(engine: str) -> None:
    frame = TraceFrame.from_traces([Trace.from_dict(t) for t in GOOD])
    token = _token({"offset": 2**63, "search": page_fingerprint(None, None)})
    with pytest.raises(PageTokenError, match="bad offset"):
        search_traces(frame, page_token=token, engine=engine)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "token",
    [
        pytest.param(_token(_nested(200)), id="nested"),
        pytest.param("A" * 5000, id="long"),
    ],
)
def test_page_token_that_is_no_polartrace_token_is_refused(token: str) -> None:
    with pytest.raises(PageTokenError, match="invalid page token"):
        decode_page_token(token, page_fingerprint(None, None))


# --- experiment_ids as a bare string ---------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda lazy: lazy.search(experiment_ids="12"), id="search"),
        pytest.param(lambda lazy: lazy.count(experiment_ids="12"), id="count"),
    ],
)
def test_lazy_engine_refuses_experiment_ids_as_a_string(
    tmp_path: Path, call: Callable[[Any], object]
) -> None:
    write_parquet([Trace.from_dict(t) for t in GOOD], tmp_path / "ds")
    with pytest.raises(SearchArgumentError, match=r"experiment_ids=\['12'\]"):
        call(scan_traces(tmp_path / "ds"))
