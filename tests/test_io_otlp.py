"""Reading OpenTelemetry OTLP JSON exports (``polartrace.io.otlp``)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from polartrace import Trace, TraceFormatError, TraceFrame, count, read_traces
from polartrace.io import detect_format, write_jsonl


def all_traces(frame: TraceFrame) -> list[Trace]:
    return frame.traces_at(range(len(frame)))


TRACE_HEX = "5b8efff798038103d269b633813fc60c"
ROOT, LLM, TOOL = "eee19b7ec3c1b174", "aaa19b7ec3c1b175", "bbb19b7ec3c1b176"


def _kv(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


def _otlp_span(
    span_id: str,
    parent: str | None,
    name: str,
    start: int,
    end: int | None,
    attrs: dict[str, Any],
    status: Any = 0,
    trace: str = TRACE_HEX,
) -> dict[str, Any]:
    span: dict[str, Any] = {
        "traceId": trace,
        "spanId": span_id,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": str(1_700_000_000_000_000_000 + start * 1_000_000),
        "attributes": [_kv(k, v) for k, v in attrs.items()],
        "status": {"code": status},
    }
    if parent:
        span["parentSpanId"] = parent
    if end is not None:
        span["endTimeUnixNano"] = str(1_700_000_000_000_000_000 + end * 1_000_000)
    return span


def otlp_document() -> dict[str, Any]:
    root = _otlp_span(
        ROOT,
        None,
        "agent",
        0,
        900,
        {
            "openinference.span.kind": "AGENT",
            "input.value": '{"q": "refund?"}',
            "input.mime_type": "application/json",
            "output.value": "Use the form.",
            "session.id": "s-9",
            "user.id": "dana",
        },
        status=1,
    )
    llm = _otlp_span(
        LLM,
        ROOT,
        "chat gpt-4o",
        100,
        800,
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.usage.input_tokens": 20,
            "gen_ai.usage.output_tokens": 5,
            "gen_ai.input.messages": '[{"role": "user", "content": "refund?"}]',
        },
    )
    tool = _otlp_span(
        base64_id(TOOL),
        base64_id(ROOT),
        "lookup",
        50,
        90,
        {
            "openinference.span.kind": "TOOL",
            "llm.token_count.prompt": 3,
            "llm.token_count.completion": 4,
            "temperature": 0.5,
        },
        status="STATUS_CODE_ERROR",
    )
    tool["traceId"] = base64_id(TRACE_HEX)  # protobuf JSON mapping: base64 ids
    tool["events"] = [
        {
            "name": "exception",
            "timeUnixNano": "1700000000060000000",
            "attributes": [_kv("exception.message", "boom")],
        }
    ]
    orphan = _otlp_span(
        "ccc19b7ec3c1b177",
        "ddd19b7ec3c1b178",
        "late",
        5,
        None,
        {},
        trace="0" * 31 + "1",
    )
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [_kv("service.name", "shop")]},
                "scopeSpans": [{"scope": {"name": "x"}, "spans": [root, llm]}],
            },
            {"scopeSpans": [{"spans": [tool, orphan]}]},
        ]
    }


def base64_id(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


@pytest.fixture
def otlp_file(tmp_path: Path) -> Path:
    path = tmp_path / "export.json"
    path.write_text(json.dumps(otlp_document()), encoding="utf-8")
    return path


def test_otlp_groups_spans_by_trace_id(otlp_file: Path) -> None:
    traces = all_traces(read_traces(otlp_file))
    assert [t.info.trace_id for t in traces] == [
        f"tr-{TRACE_HEX}",
        "tr-" + "0" * 31 + "1",
    ]
    assert [s.name for s in traces[0].data.spans] == ["agent", "lookup", "chat gpt-4o"]


def test_otlp_trace_info_from_root_span(otlp_file: Path) -> None:
    info = all_traces(read_traces(otlp_file))[0].info
    assert (info.state.value, info.request_time, info.execution_duration) == (
        "OK",
        1_700_000_000_000,
        900,
    )
    assert info.trace_name == "agent"
    assert info.request_preview == '{"q": "refund?"}'
    assert info.response_preview == "Use the form."
    assert info.trace_metadata["mlflow.trace.session"] == "s-9"
    assert info.trace_metadata["mlflow.trace.user"] == "dana"
    assert json.loads(info.trace_metadata["mlflow.trace.tokenUsage"]) == {
        "input_tokens": 23,
        "output_tokens": 9,
        "total_tokens": 32,
    }


def test_otlp_trace_without_root_is_in_progress(otlp_file: Path) -> None:
    info = all_traces(read_traces(otlp_file))[1].info
    assert (info.state.value, info.execution_duration) == ("IN_PROGRESS", None)


def test_otlp_maps_genai_conventions_to_mlflow_attributes(otlp_file: Path) -> None:
    root, tool, llm = all_traces(read_traces(otlp_file))[0].data.spans
    assert [root.span_type, tool.span_type, llm.span_type] == [
        "AGENT",
        "TOOL",
        "CHAT_MODEL",
    ]
    assert root.inputs == {"q": "refund?"}
    assert root.outputs == "Use the form."
    assert llm.inputs == [{"role": "user", "content": "refund?"}]
    assert llm.get_attribute("mlflow.llm.model") == "gpt-4o"
    assert llm.get_attribute("mlflow.chat.tokenUsage") == {
        "input_tokens": 20,
        "output_tokens": 5,
        "total_tokens": 25,
    }
    assert (tool.status.code.value, tool.events[0].attributes) == (
        "ERROR",
        {"exception.message": "boom"},
    )
    assert tool.parent_id == ROOT


def test_otlp_searches(otlp_file: Path) -> None:
    frame = read_traces(otlp_file)
    assert count(frame, "span.type = 'TOOL' AND span.status = 'ERROR'") == 1
    assert count(frame, "span.attributes.temperature > 0.4") == 1
    assert count(frame, "metadata.`mlflow.trace.user` = 'dana'") == 1
    assert count(frame, "text LIKE '%refund%'") == 1


def test_otlp_jsonl_reads_one_request_per_line(tmp_path: Path) -> None:
    doc = otlp_document()
    first, second = doc["resourceSpans"]
    path = tmp_path / "export.jsonl"
    lines = [json.dumps({"resourceSpans": [r]}) for r in (first, second)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert detect_format(path) == "otlp"
    traces = all_traces(read_traces(path))
    assert [len(t.data.spans) for t in traces] == [3, 1]


def test_otlp_bad_span_id_names_file_and_span(tmp_path: Path) -> None:
    doc = otlp_document()
    doc["resourceSpans"][0]["scopeSpans"][0]["spans"][1]["spanId"] = "xyz"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(TraceFormatError, match="not a valid 8-byte id") as info:
        read_traces(path)
    assert info.value.source == str(path)
    assert info.value.location == "resourceSpans[0].scopeSpans[0].spans[1].spanId"


def test_otlp_jsonl_bad_line_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"resourceSpans": []}\n{"resourceSpans": [\n', encoding="utf-8")
    with pytest.raises(TraceFormatError, match="invalid JSON") as info:
        read_traces(path)
    assert info.value.location == "line 2"


def test_otlp_empty_export_gives_an_empty_frame(tmp_path: Path) -> None:
    path = tmp_path / "empty.json"
    path.write_text('{"resourceSpans": []}', encoding="utf-8")
    assert len(read_traces(path)) == 0


def test_otlp_round_trips_through_jsonl(tmp_path: Path, otlp_file: Path) -> None:
    original = read_traces(otlp_file)
    write_jsonl(original, tmp_path / "t.jsonl")
    assert all_traces(read_traces(tmp_path / "t.jsonl")) == all_traces(original)
