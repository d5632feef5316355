"""Damaged MLflow databases, file stores and OTLP files: clear errors, no hangs."""

from __future__ import annotations

import copy
import json
import os
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from polartrace.io.artifacts import read_mlflow_files
from polartrace.io.mlflow_db import read_mlflow_db_traces
from polartrace.io.otlp import read_otlp_traces, traces_from_otlp
from polartrace.values.errors import SearchArgumentError, TraceFormatError

FIXTURES = Path(__file__).parent / "fixtures" / "mlflow"
DB = FIXTURES / "mlflow.db"
LATEST = "tr-dcb4d189967f2fe63c51473f9ee11fa8"  # the last trace_info row by time
FIRST = "tr-8505c8dc1836f643d87ab33b3308a7b4"  # the first

pytestmark = pytest.mark.filterwarnings("ignore:trace tr-.*loaded without spans")


# --- MLflow database --------------------------------------------------------------


def test_percent_in_a_file_name_is_not_read_as_an_escape(tmp_path: Path) -> None:
    shutil.copy(DB, tmp_path / "prodA.db")
    (tmp_path / "prod%41.db").write_bytes(b"")
    with pytest.raises(TraceFormatError, match="no such table: trace_info") as info:
        read_mlflow_db_traces(str(tmp_path / "prod%41.db"))
    assert info.value.source == str(tmp_path / "prod%41.db")


def test_hash_in_a_file_name_reads_that_file_and_creates_nothing(
    tmp_path: Path,
) -> None:
    shutil.copy(DB, tmp_path / "x#y.db")
    traces = read_mlflow_db_traces(str(tmp_path / "x#y.db"))
    assert traces[0].info.trace_id == FIRST
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x#y.db"]


@pytest.mark.parametrize(
    ("ids", "message"),
    [
        pytest.param("12", "must be a list of ids, got str '12'", id="bare-string"),
        pytest.param(["1; DROP TABLE spans"], "'1; DROP TABLE spans'", id="injection"),
        pytest.param(["1) OR (1=1"], r"'1\) OR \(1=1'", id="or-injection"),
        pytest.param([None], "None is not", id="null"),
    ],
)
def test_bad_experiment_ids_are_refused(ids: Any, message: str) -> None:
    with pytest.raises(SearchArgumentError, match=message):
        read_mlflow_db_traces(str(DB), experiment_ids=ids)


def _damaged(tmp_path: Path, sql: str, *params: Any) -> str:
    copy_ = tmp_path / "mlflow.db"
    shutil.copy(DB, copy_)
    with sqlite3.connect(copy_) as con:
        con.execute(sql, params)
    con.close()
    return str(copy_)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        pytest.param("bad", "expected an integer, got 'bad'", id="text"),
        pytest.param(b"\x00", r"expected an integer, got b'\\x00'", id="blob"),
        pytest.param(1.5, "expected an integer, got 1.5", id="fraction"),
    ],
)
def test_bad_timestamp_names_its_own_trace(
    tmp_path: Path, value: Any, message: str
) -> None:
    db = _damaged(
        tmp_path,
        "UPDATE trace_info SET timestamp_ms = ? WHERE request_id = ?",
        value,
        LATEST,
    )
    with pytest.raises(TraceFormatError, match=message) as info:
        read_mlflow_db_traces(db)
    assert info.value.location == f"trace {LATEST}, trace_info.timestamp_ms"


def test_timestamp_past_year_9999_names_its_trace(tmp_path: Path) -> None:
    db = _damaged(
        tmp_path,
        "UPDATE trace_info SET timestamp_ms = ? WHERE request_id = ?",
        300_000_000_000_000,
        LATEST,
    )
    with pytest.raises(TraceFormatError, match="outside the years 1-9999") as info:
        read_mlflow_db_traces(db)
    assert info.value.location == f"trace {LATEST}, info.request_time"


def test_bad_token_count_names_the_trace_and_column(tmp_path: Path) -> None:
    db = _damaged(
        tmp_path,
        "UPDATE trace_info SET input_tokens = 'many' WHERE request_id = ?",
        LATEST,
    )
    with pytest.raises(TraceFormatError, match="got 'many'") as info:
        read_mlflow_db_traces(db)
    assert info.value.location == f"trace {LATEST}, trace_info.input_tokens"


def test_span_content_nested_too_deeply_names_the_trace(tmp_path: Path) -> None:
    db = _damaged(
        tmp_path,
        "UPDATE spans SET content = ? WHERE trace_id = ?",
        "[" * 1200 + "]" * 1200,
        LATEST,
    )
    with pytest.raises(TraceFormatError, match="nested deeper than 100") as info:
        read_mlflow_db_traces(db)
    assert info.value.location == f"spans[{LATEST}]"


def test_missing_driver_names_the_package_to_install() -> None:
    pytest.importorskip("sqlalchemy")
    url = "postgresql://user@localhost:1/mlflow"
    with pytest.raises(TraceFormatError) as info:
        read_mlflow_db_traces(url)
    if "is not installed" not in info.value.message:
        pytest.skip("a PostgreSQL driver is installed")
    assert info.value.source == url
    assert "is not installed: pip install " in info.value.message
    assert "psycopg" in info.value.message


# --- MLflow file store ------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Path:
    root = tmp_path / "mlruns"
    shutil.copytree(FIXTURES / "mlruns", root)
    return root


def _tag_file(store: Path) -> Path:
    return sorted(store.glob("*/traces/*/tags/*"))[0]


def test_tag_linked_to_dev_zero_is_refused(store: Path) -> None:
    tag = _tag_file(store)
    tag.unlink()
    tag.symlink_to("/dev/zero")
    with pytest.raises(TraceFormatError, match="outside the store") as info:
        read_mlflow_files(store)
    assert info.value.source == str(tag)


def test_tag_that_is_a_fifo_is_refused_without_blocking(store: Path) -> None:
    tag = _tag_file(store)
    tag.unlink()
    os.mkfifo(tag)
    with pytest.raises(TraceFormatError, match="not a regular file") as info:
        read_mlflow_files(store)
    assert info.value.source == str(tag)


def test_tag_linked_outside_the_store_is_not_read(store: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cr3t", encoding="utf-8")
    tag = _tag_file(store)
    tag.unlink()
    tag.symlink_to(secret)
    with pytest.raises(TraceFormatError, match="outside the store") as info:
        read_mlflow_files(store)
    assert "s3cr3t" not in str(info.value)


def test_tag_larger_than_the_bound_is_refused(store: Path) -> None:
    tag = _tag_file(store)
    tag.write_bytes(b"x" * ((1 << 20) + 1))
    with pytest.raises(TraceFormatError, match="larger than 1,048,576 bytes"):
        read_mlflow_files(store)


def test_span_artifact_linked_to_dev_zero_is_refused(store: Path) -> None:
    spans = sorted(store.glob("*/traces/*/artifacts/traces.json"))[0]
    spans.unlink()
    spans.symlink_to("/dev/zero")
    with pytest.raises(TraceFormatError, match="outside the store") as info:
        read_mlflow_files(store)
    assert info.value.source == str(spans)


_BOMB = (
    'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]\n'
    "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
    "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
    "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
    "f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
    "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n"
    "h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n"
)


def test_yaml_alias_bomb_is_refused(store: Path) -> None:
    info_file = sorted(store.glob("*/traces/*/trace_info.yaml"))[0]
    info_file.write_text(info_file.read_text(encoding="utf-8") + _BOMB, "utf-8")
    with pytest.raises(TraceFormatError, match="YAML aliases are not allowed") as info:
        read_mlflow_files(store)
    assert info.value.source == str(info_file)


# --- OTLP -------------------------------------------------------------------------

_TRACE = "5b8efff798038103d269b633813fc60c"


def _span(span_id: str, parent: str = "", **extra: Any) -> dict[str, Any]:
    return {
        "traceId": _TRACE,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": "step",
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000500000000",
        **extra,
    }


def _doc(*spans: dict[str, Any]) -> dict[str, Any]:
    return {"resourceSpans": [{"scopeSpans": [{"spans": list(spans)}]}]}


_SPAN0 = "resourceSpans[0].scopeSpans[0].spans[0]"


@pytest.mark.parametrize(
    ("mutate", "location", "message"),
    [
        pytest.param(
            lambda d: d["resourceSpans"].__setitem__(0, 1),
            "resourceSpans[0]",
            "expected an object, got int",
            id="resource-not-object",
        ),
        pytest.param(
            lambda d: d["resourceSpans"][0].__setitem__("scopeSpans", 1),
            "resourceSpans[0].scopeSpans",
            "expected an array, got int",
            id="scopes-not-array",
        ),
        pytest.param(
            lambda d: d["resourceSpans"][0]["scopeSpans"][0].__setitem__("spans", 7),
            "resourceSpans[0].scopeSpans[0].spans",
            "expected an array, got int",
            id="spans-not-array",
        ),
        pytest.param(
            lambda d: _first(d).__setitem__("status", {"code": -1}),
            f"{_SPAN0}.status.code",
            "unknown status code -1",
            id="status-code-negative",
        ),
        pytest.param(
            lambda d: _first(d).__setitem__("startTimeUnixNano", "soon"),
            f"{_SPAN0}.startTimeUnixNano",
            "expected an integer, got 'soon'",
            id="start-not-integer",
        ),
        pytest.param(
            lambda d: _first(d).__setitem__("endTimeUnixNano", str(2**70)),
            f"{_SPAN0}.endTimeUnixNano",
            "expected an integer",
            id="end-beyond-64-bits",
        ),
        pytest.param(
            lambda d: _first(d).__setitem__(
                "attributes", [{"key": "n", "value": {"intValue": "x"}}]
            ),
            f"{_SPAN0}.attributes[0].value.intValue",
            "expected an integer, got 'x'",
            id="int-value-text",
        ),
        pytest.param(
            lambda d: _first(d).__setitem__(
                "attributes", [{"key": "n", "value": {"doubleValue": []}}]
            ),
            f"{_SPAN0}.attributes[0].value.doubleValue",
            r"expected a number, got \[\]",
            id="double-value-array",
        ),
        pytest.param(
            lambda d: _first(d).__setitem__(
                "attributes", [{"key": "n", "value": {"arrayValue": 3}}]
            ),
            f"{_SPAN0}.attributes[0].value.arrayValue",
            "expected an object, got int",
            id="array-value-not-object",
        ),
        pytest.param(
            lambda d: _first(d).__setitem__("events", [{"name": 5}]),
            f"{_SPAN0}.events[0].name",
            "expected a str, got 5",
            id="event-name-not-text",
        ),
    ],
)
def test_malformed_otlp_names_the_json_path(
    mutate: Any, location: str, message: str
) -> None:
    doc = copy.deepcopy(_doc(_span("eee19b7ec3c1b174")))
    mutate(doc)
    with pytest.raises(TraceFormatError, match=message) as info:
        traces_from_otlp([doc], source="otlp.json")
    assert info.value.source == "otlp.json"
    assert info.value.location == location


def test_otlp_token_count_as_text_is_a_null_count() -> None:
    # A count that is not a valid one is absent (docs/fields.md#llm-fields),
    # in OTLP as in MLflow JSON: the trace reads, without a token usage.
    doc = _doc(_span("eee19b7ec3c1b174"))
    _first(doc)["attributes"] = [
        {"key": "llm.token_count.prompt", "value": {"stringValue": "x"}}
    ]
    (trace,) = traces_from_otlp([doc], source="otlp.json")
    assert "mlflow.chat.tokenUsage" not in trace.data.spans[0].raw_attributes
    assert "mlflow.trace.tokenUsage" not in trace.info.trace_metadata


def _first(doc: dict[str, Any]) -> dict[str, Any]:
    span: dict[str, Any] = doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]
    return span


@pytest.mark.parametrize(
    ("spans", "loop"),
    [
        pytest.param(
            [_span("aaaaaaaaaaaaaaaa", "aaaaaaaaaaaaaaaa")],
            "aaaaaaaaaaaaaaaa -> aaaaaaaaaaaaaaaa",
            id="own-parent",
        ),
        pytest.param(
            [
                _span("aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"),
                _span("bbbbbbbbbbbbbbbb", "cccccccccccccccc"),
                _span("cccccccccccccccc", "bbbbbbbbbbbbbbbb"),
            ],
            "bbbbbbbbbbbbbbbb -> cccccccccccccccc -> bbbbbbbbbbbbbbbb",
            id="two-span-loop",
        ),
    ],
)
def test_parent_cycle_is_refused(spans: list[dict[str, Any]], loop: str) -> None:
    with pytest.raises(TraceFormatError, match=f"form a cycle: {loop}") as info:
        traces_from_otlp([_doc(*spans)], source="otlp.json")
    assert info.value.location == f"trace {_TRACE}, parentSpanId"


def test_parent_outside_the_trace_is_no_cycle() -> None:
    spans = [
        _span("aaaaaaaaaaaaaaaa", "dddddddddddddddd"),
        _span("bbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaa"),
    ]
    (trace,) = traces_from_otlp([_doc(*spans)])
    assert trace.info.trace_id == f"tr-{_TRACE}"
    assert trace.info.state.value == "IN_PROGRESS"


def test_otlp_line_nested_too_deeply_names_the_line(tmp_path: Path) -> None:
    file = tmp_path / "otlp.jsonl"
    good = json.dumps(_doc(_span("eee19b7ec3c1b174")))
    file.write_text(good + "\n" + "[" * 1200 + "]" * 1200 + "\n", encoding="utf-8")
    with pytest.raises(TraceFormatError, match="nested deeper than 100") as info:
        read_otlp_traces(file)
    assert info.value.location == "line 2"
