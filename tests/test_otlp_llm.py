"""The OTLP reader and an MLflow JSON trace agree on the LLM fields.

The same span attributes (GenAI, OpenInference, both in conflict, bad values, none)
read from an OTLP export and from an MLflow JSON trace give the same ``span.model``,
``span.provider``, ``span.tokens.*`` and ``span.cost.*`` and the same trace totals:
the reader derives MLflow's attributes by the table of `polartrace.values.llm`
(docs/fields.md#llm-fields), which the frame then reads first. The values are
pinned too, so a change of precedence shows here.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from polartrace import count, read_traces, search_spans, search_traces
from polartrace.frame.trace_frame import TraceFrame
from polartrace.io import write_jsonl
from polartrace.model.span import Span
from polartrace.model.trace import Trace, TraceData, TraceInfo, TraceState
from polartrace.values.llm import SPAN_FIELDS

_BASE_NS = 1_700_000_000_000_000_000

#: Per case: the LLM span's attributes, as OTLP values (int, float, str).
CASES: dict[str, dict[str, Any]] = {
    "genai": {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06",
        "gen_ai.provider.name": "openai",
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.output_tokens": 30,
        "gen_ai.usage.cache_read.input_tokens": 100,
        "gen_ai.usage.reasoning.output_tokens": 7,
    },
    "openinference": {
        "openinference.span.kind": "LLM",
        "llm.model_name": "claude-3-5-haiku",
        "llm.provider": "anthropic",
        "llm.token_count.prompt": 50,
        "llm.token_count.completion": 10,
        "llm.token_count.total": 61,
        "llm.token_count.prompt_details.cache_write": 40,
        "llm.cost.prompt": 0.25,
        "llm.cost.completion": 0.5,
        "llm.cost.total": 0.75,
    },
    "conflict": {
        "llm.model_name": "from-openinference",
        "gen_ai.request.model": "from-genai",
        "llm.token_count.prompt": 10,
        "gen_ai.usage.input_tokens": 12,
        "llm.token_count.completion": 4,
        "gen_ai.usage.output_tokens": 3,
    },
    "bad": {
        "gen_ai.usage.input_tokens": "12",
        "llm.token_count.prompt": 9,
        "gen_ai.usage.output_tokens": 2.5,
        "llm.token_count.completion": -1,
        "llm.cost.total": "0.5",
        "llm.model_name": 7,
    },
    "plain": {"openinference.span.kind": "TOOL", "tool.name": "lookup"},
}

#: The span fields the conventions write (time to first token only GenAI does).
_FIELDS = tuple(f.name for f in SPAN_FIELDS if f.name != "time_to_first_token_ms")
#: The LLM span's fields per case, in `_FIELDS` order.
_NONE3 = (None, None, None)
EXPECTED: dict[str, tuple[Any, ...]] = {
    "genai": ("gpt-4o-2024-08-06", "openai", 120, 30, 150, 100, None, 7, *_NONE3),
    "openinference": (
        *("claude-3-5-haiku", "anthropic", 50, 10, 61, None, 40, None),
        *(0.25, 0.5, 0.75),
    ),
    "conflict": ("from-genai", None, 12, 3, 15, None, None, None, *_NONE3),
    "bad": (None, None, 9, None, None, None, None, None, *_NONE3),
    "plain": (None,) * 11,
}


#: The trace id of each case.
_NAMES = {f"tr-{case + 1:032x}": name for case, name in enumerate(CASES)}


def _hex(case: int, span: int) -> tuple[str, str]:
    return f"{case + 1:032x}", f"{case + 1:08x}{span + 1:08x}"


def _kv(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


def _root_attributes(name: str) -> dict[str, Any]:
    return {"session.id": f"s-{name}", "user.id": f"u-{name}"}


def _otlp() -> dict[str, Any]:
    spans = []
    for case, (name, attrs) in enumerate(CASES.items()):
        trace, root = _hex(case, 0)
        _, child = _hex(case, 1)
        for span_id, parent, attributes in (
            (root, None, _root_attributes(name)),
            (child, root, attrs),
        ):
            span = {
                "traceId": trace,
                "spanId": span_id,
                "name": name,
                "startTimeUnixNano": str(_BASE_NS + case),
                "endTimeUnixNano": str(_BASE_NS + case + 1_000_000),
                "attributes": [_kv(k, v) for k, v in attributes.items()],
            }
            if parent is not None:
                span["parentSpanId"] = parent
            spans.append(span)
    return {"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}


def _mlflow() -> list[Trace]:
    traces = []
    for case, (name, attrs) in enumerate(CASES.items()):
        trace, root = _hex(case, 0)
        _, child = _hex(case, 1)
        spans = [
            Span(
                name=name,
                span_id=span_id,
                otel_trace_id=trace,
                start_time_ns=_BASE_NS + case,
                end_time_ns=_BASE_NS + case + 1_000_000,
                parent_id=parent,
                raw_attributes={k: json.dumps(v) for k, v in attributes.items()},
            )
            for span_id, parent, attributes in (
                (root, None, _root_attributes(name)),
                (child, root, attrs),
            )
        ]
        info = TraceInfo(
            trace_id=f"tr-{trace}",
            request_time=_BASE_NS // 1_000_000,
            state=TraceState.OK,
            execution_duration=1,
        )
        traces.append(Trace(info, TraceData(spans)))
    return traces


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> dict[str, TraceFrame]:
    folder = tmp_path_factory.mktemp("otlp_llm")
    otlp = Path(folder) / "export.otlp.json"
    otlp.write_text(json.dumps(_otlp()))
    jsonl = Path(folder) / "mlflow.jsonl"
    write_jsonl(_mlflow(), jsonl)
    return {"otlp": read_traces(otlp), "json": read_traces(jsonl)}


def _llm_rows(frame: TraceFrame) -> dict[str, tuple[Any, ...]]:
    table = search_spans(frame, order_by=["span.name"], max_results=100)
    assert isinstance(table, pl.DataFrame)
    children = table.filter(pl.col("parent_id").is_not_null())
    return {row[0]: row[1:] for row in children.select("name", *_FIELDS).iter_rows()}


@pytest.mark.parametrize("source", ["otlp", "json"])
def test_span_fields_are_pinned(frames: dict[str, TraceFrame], source: str) -> None:
    assert _llm_rows(frames[source]) == EXPECTED


def test_otlp_and_json_give_the_same_span_fields(
    frames: dict[str, TraceFrame],
) -> None:
    assert _llm_rows(frames["otlp"]) == _llm_rows(frames["json"])


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("tokens.total = 150", ["genai"]),
        ("tokens.total = 61", ["openinference"]),
        ("tokens.total = 15", ["conflict"]),
        ("tokens.input = 9 AND tokens.output IS NULL", ["bad"]),
        ("tokens.total IS NULL", ["bad", "plain"]),
        ("tokens.cache_read = 100 AND tokens.reasoning = 7", ["genai"]),
        ("tokens.cache_write = 40", ["openinference"]),
        ("cost.total = 0.75 AND cost.input = 0.25", ["openinference"]),
        ("cost.total IS NULL", ["bad", "conflict", "genai", "plain"]),
        ("span.model = 'gpt-4o-2024-08-06'", ["genai"]),
        ("models = 'from-genai'", ["conflict"]),
        ("session = 's-genai' AND user = 'u-genai'", ["genai"]),
        ("span.attributes.`session.id` = 's-bad'", ["bad"]),
        ("span.attributes.`user.id` = 'u-plain'", ["plain"]),
    ],
)
def test_trace_fields_agree(
    frames: dict[str, TraceFrame], filter_string: str, expected: list[str]
) -> None:
    for source, frame in frames.items():
        if source == "json" and filter_string.startswith("session ="):
            # OpenInference's session.id and user.id are span attributes; only
            # the OTLP reader turns them into the trace's session and user.
            assert count(frame, filter_string) == 0
            continue
        found = search_traces(frame, filter_string, return_type="list")
        names = sorted(_NAMES[t.info.trace_id] for t in found)
        assert names == expected, source


def test_otlp_metadata_holds_the_members_some_span_has(
    frames: dict[str, TraceFrame],
) -> None:
    traces = {
        t.data.spans[0].name: t.info.trace_metadata
        for t in frames["otlp"].traces_at(range(len(frames["otlp"])))
    }
    assert json.loads(traces["genai"]["mlflow.trace.tokenUsage"]) == {
        "input_tokens": 120,
        "output_tokens": 30,
        "total_tokens": 150,
    }
    assert json.loads(traces["openinference"]["mlflow.trace.cost"]) == {
        "input_cost": 0.25,
        "output_cost": 0.5,
        "total_cost": 0.75,
    }
    assert json.loads(traces["bad"]["mlflow.trace.tokenUsage"]) == {"input_tokens": 9}
    assert "mlflow.trace.cost" not in traces["genai"]
    assert "mlflow.trace.tokenUsage" not in traces["plain"]
    assert traces["genai"]["mlflow.trace.session"] == "s-genai"
    assert traces["genai"]["mlflow.trace.user"] == "u-genai"
