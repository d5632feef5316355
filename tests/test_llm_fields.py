"""The LLM fields on hand-built traces: each convention, precedence, bad input.

docs/fields.md#llm-fields is the specification. Every search runs on both engines
(the ``engine`` fixture), on a frame read back from JSONL column by column, and on the
lazy engine over a Parquet dataset.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from polartrace import Trace, TraceFrame, count, search_traces
from polartrace.api.lazy import scan_traces
from polartrace.api.search import Engine
from polartrace.io import read_traces, write_jsonl, write_parquet
from polartrace.model.span import Span
from polartrace.model.trace import TraceData, TraceInfo, TraceState

MLFLOW = "tr-00000000000000000000000000000a01"  # mlflow.chat.tokenUsage, cost, model
GENAI = "tr-00000000000000000000000000000a02"  # gen_ai.* only
OPENINF = "tr-00000000000000000000000000000a03"  # llm.* only
CONFLICT = "tr-00000000000000000000000000000a04"  # MLflow 10 vs GenAI 12 input tokens
NESTED = "tr-00000000000000000000000000000a05"  # parent and child both report
META = "tr-00000000000000000000000000000a06"  # trace metadata wins over spans
BAD = "tr-00000000000000000000000000000a07"  # strings, floats, negatives, non-objects
PLAIN = "tr-00000000000000000000000000000a08"  # no LLM attributes at all


def _span(index: int, attributes: dict[str, Any], parent: int | None = None) -> Span:
    raw = {k: json.dumps(v) for k, v in attributes.items()}
    return Span(
        name=f"s{index}",
        span_id=f"{index:016x}",
        otel_trace_id="0" * 32,
        start_time_ns=1_700_000_000_000_000_000 + index,
        end_time_ns=1_700_000_000_000_000_000 + index + 6_000_000_000 * (index % 2),
        parent_id=None if parent is None else f"{parent:016x}",
        raw_attributes=raw,
    )


def _trace(
    trace_id: str,
    spans: list[Span],
    metadata: dict[str, str] | None = None,
    at: int = 0,
) -> Trace:
    info = TraceInfo(
        trace_id=trace_id,
        request_time=1_700_000_000_000 + at,
        state=TraceState.OK,
        execution_duration=10,
        trace_metadata={"mlflow.trace.user": "alice", **(metadata or {})},
    )
    return Trace(info, TraceData(spans))


def _usage(**counts: Any) -> dict[str, Any]:
    return counts


TRACES = [
    _trace(MLFLOW, [
        _span(1, {"mlflow.spanType": "LLM", "mlflow.llm.model": "gpt-4o",
                  "mlflow.llm.provider": "openai",
                  "mlflow.chat.tokenUsage": _usage(input_tokens=100, output_tokens=20,
                                                   total_tokens=120),
                  "mlflow.llm.cost": {"input_cost": 0.25, "output_cost": 0.5,
                                      "total_cost": 0.75}}),
    ], at=1),
    _trace(GENAI, [
        _span(1, {"gen_ai.request.model": "gpt-4o-mini", "gen_ai.system": "openai",
                  "gen_ai.usage.input_tokens": 30, "gen_ai.usage.output_tokens": 5,
                  "gen_ai.usage.cache_read.input_tokens": 8,
                  "gen_ai.usage.reasoning.output_tokens": 2,
                  "gen_ai.response.time_to_first_chunk": 0.25}),
    ], at=2),
    _trace(OPENINF, [
        _span(1, {"llm.model_name": "claude-3-5", "llm.provider": "anthropic",
                  "llm.token_count.prompt": 7, "llm.token_count.completion": 3,
                  "llm.token_count.total": 10, "llm.cost.total": 1.5,
                  "llm.token_count.prompt_details.cache_write": 4}),
    ], at=3),
    _trace(CONFLICT, [
        _span(1, {"mlflow.chat.tokenUsage": _usage(input_tokens=10),
                  "gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 6,
                  "mlflow.llm.model": "gpt-4o", "gen_ai.response.model": "other"}),
    ], at=4),
    _trace(NESTED, [
        _span(1, {"mlflow.chat.tokenUsage": _usage(input_tokens=50, total_tokens=50)}),
        _span(2, {"gen_ai.usage.input_tokens": 50}, parent=1),
        _span(3, {"llm.token_count.prompt": 5, "llm.token_count.total": 5}),
    ], at=5),
    _trace(META, [
        _span(1, {"mlflow.chat.tokenUsage": _usage(input_tokens=1, total_tokens=1),
                  "mlflow.llm.cost": {"total_cost": 0.5}}),
    ], metadata={"mlflow.trace.tokenUsage": json.dumps(_usage(input_tokens=900,
                                                             total_tokens=950)),
                 "mlflow.trace.cost": json.dumps({"total_cost": 2.0}),
                 "mlflow.trace.user": "bob"}, at=6),
    _trace(BAD, [
        _span(1, {"mlflow.chat.tokenUsage": _usage(input_tokens="12", output_tokens=2.0,
                                                   total_tokens=-5),
                  "mlflow.llm.cost": [0.5], "mlflow.llm.model": 42,
                  "gen_ai.usage.output_tokens": True}),
        _span(2, {"mlflow.chat.tokenUsage": "not an object",
                  "llm.token_count.total": 12.5}),
    ], at=7),
    _trace(PLAIN, [_span(1, {"mlflow.spanType": "CHAIN"})], at=8),
]  # fmt: skip


@pytest.fixture(scope="module")
def frame() -> TraceFrame:
    return TraceFrame.from_traces(TRACES)


@pytest.fixture(scope="module")
def jsonl_frame(tmp_path_factory: pytest.TempPathFactory) -> TraceFrame:
    path = tmp_path_factory.mktemp("llm") / "llm.jsonl"
    write_jsonl(TRACES, path)
    return read_traces(path)


def _ids(frame: Any, text: str, engine: Engine = "polars", **kw: Any) -> list[str]:
    found = search_traces(frame, text, return_type="list", engine=engine, **kw)
    return sorted(t.info.trace_id for t in found)


CASES = [
    pytest.param("span.model = 'gpt-4o'", [MLFLOW, CONFLICT], id="model-mlflow"),
    pytest.param("span.model = 'gpt-4o-mini'", [GENAI], id="model-genai-request"),
    pytest.param("span.model = 'claude-3-5'", [OPENINF], id="model-openinference"),
    pytest.param("span.model = 'other'", [], id="model-mlflow-wins"),
    pytest.param("span.provider IN ('openai')", [MLFLOW, GENAI], id="provider"),
    pytest.param("span.tokens.input = 10", [CONFLICT], id="conflict-mlflow-wins"),
    pytest.param("span.tokens.input = 12", [], id="conflict-genai-loses"),
    pytest.param("span.tokens.output = 6", [CONFLICT], id="member-falls-through"),
    pytest.param("span.tokens.total = 35", [GENAI], id="total-is-input-plus-output"),
    pytest.param("span.tokens.cache_read = 8", [GENAI], id="cache-read-genai"),
    pytest.param("span.tokens.cache_write = 4", [OPENINF], id="cache-write-oi"),
    pytest.param("span.tokens.reasoning > 1", [GENAI], id="reasoning"),
    pytest.param("span.time_to_first_token_ms = 250", [GENAI], id="ttft-ms"),
    pytest.param("span.cost.total >= 0.75", [MLFLOW, OPENINF], id="span-cost"),
    pytest.param("tokens.input = 50", [], id="nested-child-not-counted"),
    pytest.param("tokens.input = 55", [NESTED], id="nested-sum-of-counted"),
    pytest.param("tokens.total = 55", [NESTED], id="nested-total"),
    pytest.param("tokens.input = 900", [META], id="metadata-wins"),
    pytest.param("tokens.output IS NULL", [BAD, META, NESTED, PLAIN], id="no-output"),
    pytest.param("tokens.cache_read = 8", [GENAI], id="trace-cache-read"),
    pytest.param("cost.total > 1", [META, OPENINF], id="trace-cost"),
    pytest.param("cost.total IN (0.75, 2)", [MLFLOW, META], id="cost-in"),
    pytest.param("tokens.input IS NULL", [BAD, PLAIN], id="bad-input-is-null"),
    pytest.param("span.tokens.total IS NULL AND span.name = 's2'", [BAD, NESTED],
                 id="bad-total-is-null"),
    pytest.param("span.model IS NULL AND span.name = 's1'",
                 [BAD, META, NESTED, PLAIN], id="bad-model-is-null"),
    pytest.param("models = 'gpt-4o'", [CONFLICT, MLFLOW], id="models-any"),
    pytest.param("models != 'gpt-4o'", [GENAI, OPENINF], id="models-none-matches"),
    pytest.param("models IS NULL", [BAD, META, NESTED, PLAIN], id="models-none"),
    pytest.param("models LIKE 'gpt%'", [CONFLICT, GENAI, MLFLOW], id="models-like"),
    pytest.param("user = 'bob'", [META], id="user"),
    pytest.param("session IS NULL AND user = 'alice'",
                 [BAD, CONFLICT, GENAI, MLFLOW, NESTED, OPENINF, PLAIN], id="session"),
    pytest.param("metadata.`mlflow.trace.tokenUsage` LIKE '%900%'", [META],
                 id="mlflow-string-filter-unchanged"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_llm_field_filters(
    frame: TraceFrame, engine: Engine, text: str, expected: list[str]
) -> None:
    assert _ids(frame, text, engine) == sorted(expected)


@pytest.mark.parametrize(("text", "expected"), CASES)
def test_llm_fields_read_from_jsonl_column_by_column(
    jsonl_frame: TraceFrame, text: str, expected: list[str]
) -> None:
    assert _ids(jsonl_frame, text) == sorted(expected)


def test_llm_fields_in_the_lazy_engine(frame: TraceFrame, tmp_path: Path) -> None:
    write_parquet(frame, tmp_path / "ds")
    lazy = scan_traces(tmp_path / "ds")
    for param in CASES:
        text, expected = param.values
        assert isinstance(text, str)
        assert isinstance(expected, list)
        assert lazy.count(text) == len(expected), text
    back = read_traces(tmp_path / "ds", format="parquet")
    assert count(back, "tokens.total = 55") == 1


def test_order_by_cost_descending(frame: TraceFrame, engine: Engine) -> None:
    found = search_traces(
        frame, "cost.total IS NOT NULL", order_by=["cost.total DESC"],
        return_type="list", engine=engine,
    )  # fmt: skip
    assert [t.info.trace_id for t in found] == [META, OPENINF, MLFLOW]


def test_order_by_tokens_puts_nulls_last(frame: TraceFrame, engine: Engine) -> None:
    found = search_traces(
        frame, order_by=["tokens.input ASC"], return_type="list", engine=engine
    )
    assert [t.info.trace_id for t in found] == [
        OPENINF, CONFLICT, GENAI, NESTED, MLFLOW, META, PLAIN, BAD
    ]  # fmt: skip


def test_frames_from_objects_and_jsonl_hold_the_same_columns(
    frame: TraceFrame, jsonl_frame: TraceFrame
) -> None:
    columns = ["model", "provider", "tokens.input", "tokens.total", "cost.total"]
    assert frame.spans.select(columns).equals(jsonl_frame.spans.select(columns))
    assert frame.traces.select("tokens.total", "cost.total").equals(
        jsonl_frame.traces.select("tokens.total", "cost.total")
    )
    assert frame.spans.schema["tokens.input"] == pl.Int64
    assert frame.traces.schema["cost.total"] == pl.Float64


def test_a_parent_cycle_counts_no_span(engine: Engine) -> None:
    cycle = _trace(
        "tr-00000000000000000000000000000c01",
        [
            _span(1, {"gen_ai.usage.input_tokens": 4}, parent=2),
            _span(2, {"llm.token_count.total": 9}, parent=1),
            _span(3, {"gen_ai.usage.input_tokens": 1}),
        ],
    )
    frame = TraceFrame.from_traces([cycle])
    assert _ids(frame, "tokens.input = 1", engine) == [cycle.info.trace_id]
