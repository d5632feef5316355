"""MLflow's conventions, defined once (``polartrace.values.conventions``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import polars as pl
import pytest

from polartrace import get_last_active_trace_id, get_store, get_trace, start_span
from polartrace.frame.root_spans import root_texts
from polartrace.frame.trace_frame import TraceFrame
from polartrace.io.otlp import traces_from_otlp
from polartrace.model.trace import Span, Trace, TraceData, TraceInfo
from polartrace.values.conventions import (
    PREVIEW_MAX_CHARS,
    root_span,
    token_usage,
    truncate_preview,
)

TRACE_HEX = "5b8efff798038103d269b633813fc60c"
ROOT, CHILD, GRANDCHILD = "eee19b7ec3c1b174", "aaa19b7ec3c1b175", "bbb19b7ec3c1b176"
ABSENT = "ddd19b7ec3c1b178"


# --- previews ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("é" * 1000, "é" * 1000, id="at-the-limit"),
        pytest.param("é" * 1001, "é" * 997 + "...", id="one-over"),
        pytest.param("🙂" * 2000, "🙂" * 997 + "...", id="four-byte-characters"),
        pytest.param("", "", id="empty"),
        pytest.param(None, "", id="none"),
    ],
)
def test_a_preview_is_cut_by_characters_with_an_ellipsis(
    text: str | None, expected: str
) -> None:
    assert PREVIEW_MAX_CHARS == 1000
    assert truncate_preview(text) == expected


@pytest.fixture
def clean_store() -> Iterator[None]:
    get_store().clear()
    yield
    get_store().clear()


@pytest.mark.usefixtures("clean_store")
def test_a_captured_multibyte_preview_is_cut_at_the_limit() -> None:
    with start_span("long") as span:
        span.set_inputs("ü" * 2000)
    trace_id = get_last_active_trace_id()
    assert trace_id is not None
    found = get_trace(trace_id)
    assert found is not None
    # The stored input is the JSON text '"üüü..."': the quote is its first character.
    assert found.info.request_preview == '"' + "ü" * 996 + "..."


def _kv(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    return {"key": key, "value": {"stringValue": value}}


def _otlp(span_id: str, parent: str | None, attrs: dict[str, Any]) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": TRACE_HEX,
        "spanId": span_id,
        "name": span_id[:3],
        "startTimeUnixNano": "1700000000000000000",
        "endTimeUnixNano": "1700000000500000000",
        "attributes": [_kv(k, v) for k, v in attrs.items()],
    }
    if parent is not None:
        span["parentSpanId"] = parent
    return span


def _read_otlp(*spans: dict[str, Any]) -> Trace:
    doc = {"resourceSpans": [{"scopeSpans": [{"spans": list(spans)}]}]}
    (trace,) = traces_from_otlp([doc])
    return trace


def test_an_otlp_multibyte_preview_is_cut_like_mlflow() -> None:
    trace = _read_otlp(_otlp(ROOT, None, {"input.value": "ß" * 1500}))
    assert trace.info.request_preview == "ß" * 997 + "..."


# --- the root span -----------------------------------------------------------------


def _span(span_id: str, parent: str | None, inputs: str) -> Span:
    return Span(
        name=span_id[:3],
        span_id=span_id,
        otel_trace_id=TRACE_HEX,
        start_time_ns=0,
        parent_id=parent,
        raw_attributes={"mlflow.spanInputs": json.dumps(inputs)},
    )


def _trace(*spans: Span) -> Trace:
    return Trace(TraceInfo(trace_id="tr-1", request_time=0), TraceData(spans))


def test_an_orphan_span_is_not_the_root() -> None:
    orphan, root = _span(CHILD, ABSENT, "orphan"), _span(ROOT, None, "root")
    assert root_span([orphan, root], lambda s: s.parent_id) is root
    assert _trace(orphan, root).data.root_span is root
    assert _trace(orphan, root).data.request == "root"


def test_a_trace_of_orphans_has_no_root() -> None:
    orphan = _span(CHILD, ABSENT, "orphan")
    assert _trace(orphan).data.root_span is None
    assert _trace(orphan).data.request is None


def test_the_frame_finds_the_same_root_past_an_orphan() -> None:
    traces = [
        _trace(_span(CHILD, ABSENT, "orphan"), _span(ROOT, None, "root")),
        _trace(_span(CHILD, ABSENT, "orphan")),
    ]
    frame = TraceFrame.from_traces(traces)
    requests, _ = root_texts(frame.spans, pl.Series([0, 1], dtype=pl.UInt32))
    assert requests == ['"root"', None]


def test_an_otlp_trace_whose_only_span_is_an_orphan_is_in_progress() -> None:
    trace = _read_otlp(_otlp(CHILD, ABSENT, {}))
    assert trace.info.state.value == "IN_PROGRESS"
    assert trace.info.trace_name is None


# --- token usage -------------------------------------------------------------------

USAGE = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}


@pytest.mark.parametrize(
    ("spans", "expected"),
    [
        pytest.param(
            [("r", None, None), ("a", "r", USAGE), ("b", "r", USAGE)],
            {"input_tokens": 20, "output_tokens": 10, "total_tokens": 30},
            id="siblings-add-up",
        ),
        pytest.param(
            [("r", None, USAGE), ("m", "r", None), ("g", "m", USAGE)],
            {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
            id="an-ancestor-already-counts-a-grandchild",
        ),
        pytest.param(
            [("r", None, USAGE), ("o", "absent", USAGE)],
            {"input_tokens": 20, "output_tokens": 10, "total_tokens": 30},
            id="an-orphan-starts-its-own-subtree",
        ),
        pytest.param(
            [("r", None, {"input_tokens": 3, "output_tokens": "4", "x": 1})],
            {"input_tokens": 3, "output_tokens": 0, "total_tokens": 0},
            id="non-integer-and-unknown-counts-add-nothing",
        ),
        pytest.param(
            [("r", None, {"input_tokens": True})],
            {"input_tokens": 0, "output_tokens": 0, "total_tokens": 0},
            id="a-boolean-is-no-count",
        ),
        pytest.param([("r", None, None), ("a", "r", "10")], None, id="no-usage"),
        pytest.param(
            [("a", "b", USAGE), ("b", "a", USAGE)], None, id="a-parent-cycle-is-no-tree"
        ),
    ],
)
def test_token_usage_counts_each_call_once(
    spans: list[tuple[str, str | None, Any]], expected: dict[str, int] | None
) -> None:
    assert token_usage(spans) == expected


@pytest.mark.usefixtures("clean_store")
def test_captured_token_usage_skips_a_grandchild_of_a_reporting_span() -> None:
    with start_span("agent") as agent:
        agent.set_attribute("mlflow.chat.tokenUsage", USAGE)
        with start_span("chain"), start_span("llm") as llm:
            llm.set_attribute("mlflow.chat.tokenUsage", USAGE)
    trace_id = get_last_active_trace_id()
    assert trace_id is not None
    found = get_trace(trace_id)
    assert found is not None
    assert json.loads(found.info.trace_metadata["mlflow.trace.tokenUsage"]) == USAGE


def test_otlp_token_usage_follows_the_same_rule() -> None:
    trace = _read_otlp(
        _otlp(ROOT, None, {"gen_ai.usage.input_tokens": 10}),
        _otlp(CHILD, ROOT, {}),
        _otlp(GRANDCHILD, CHILD, {"gen_ai.usage.input_tokens": 7}),
    )
    usage = json.loads(trace.info.trace_metadata["mlflow.trace.tokenUsage"])
    # Only the members some counted span reports: no output count is no total,
    # as the trace fields read from the spans alone (docs/fields.md#llm-fields).
    assert usage == {"input_tokens": 10}
