"""Tracing writes model, token usage and, with prices, cost (tracing/prices.py).

The OpenAI calls go to the local stand-in server, whose token counts are word counts:
the prompt "Be brief. What is MLflow?" is 5 input tokens, the answer "Stand-in answer
to: What is MLflow?" 6 output tokens.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

import polartrace
from polartrace import get_store, search_spans, search_traces, start_span
from polartrace.tracing import ModelPrice, get_model_prices, set_model_prices
from polartrace.values.errors import TracingError

openai = pytest.importorskip("openai")

from polartrace.tracing.integrations._fake_openai_server import (  # noqa: E402
    FakeOpenAIServer,
)

MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is MLflow?"},
]
IN_TOKENS, OUT_TOKENS = 5, 6
MINI = {"input": 1.5e-7, "output": 6e-7}  # gpt-4o-mini, per token


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as running:
        yield running


@pytest.fixture(autouse=True)
def clean() -> Iterator[None]:
    """An empty store, autolog on and no prices; all undone afterwards."""
    get_store().clear()
    set_model_prices(None)
    polartrace.openai.autolog()
    yield
    polartrace.openai.autolog(disable=True)
    set_model_prices(None)
    get_store().clear()


@pytest.fixture
def client(server: FakeOpenAIServer) -> Any:
    return openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)


def _answer(client: Any, models: list[str]) -> list[str]:
    """One traced request that calls each model once."""

    @polartrace.trace(span_type="AGENT")
    def answer() -> list[str]:
        out = []
        for model in models:
            response = client.chat.completions.create(model=model, messages=MESSAGES)
            out.append(response.choices[0].message.content)
        return out

    return answer()


def _ids(filter_string: str, **kw: Any) -> list[str]:
    found = search_traces(filter_string=filter_string, return_type="list", **kw)
    return [t.info.trace_id for t in found]


def _store_ids() -> list[str]:
    return sorted(t.info.trace_id for t in get_store().traces())


def test_without_prices_there_is_no_cost(client: Any) -> None:
    _answer(client, ["gpt-4o-mini"])
    (trace_id,) = _store_ids()
    assert _ids("cost.total > 0") == []
    assert _ids("cost.total IS NULL") == [trace_id]
    assert _ids(f"tokens.total = {IN_TOKENS + OUT_TOKENS}") == [trace_id]
    assert _ids("span.model = 'gpt-4o-mini' AND span.provider = 'openai'") == [trace_id]
    trace = polartrace.get_trace(trace_id)
    assert trace is not None
    assert "mlflow.trace.cost" not in trace.info.trace_metadata
    assert json.loads(trace.info.trace_metadata["mlflow.trace.tokenUsage"]) == {
        "input_tokens": IN_TOKENS,
        "output_tokens": OUT_TOKENS,
        "total_tokens": IN_TOKENS + OUT_TOKENS,
    }
    assert all(s.get_attribute("mlflow.llm.cost") is None for s in trace.data.spans)


def test_prices_give_span_and_trace_cost(client: Any) -> None:
    set_model_prices({"gpt-4o-mini": MINI})
    _answer(client, ["gpt-4o-mini", "unpriced-model"])
    (trace_id,) = _store_ids()
    input_cost = IN_TOKENS * MINI["input"]
    output_cost = OUT_TOKENS * MINI["output"]
    expected = {
        "input_cost": input_cost,
        "output_cost": output_cost,
        "total_cost": input_cost + output_cost,
    }
    trace = polartrace.get_trace(trace_id)
    assert trace is not None
    llm = [s for s in trace.data.spans if s.span_type == "CHAT_MODEL"]
    assert [s.get_attribute("mlflow.llm.model") for s in llm] == [
        "gpt-4o-mini",
        "unpriced-model",
    ]
    assert [s.get_attribute("mlflow.llm.cost") for s in llm] == [expected, None]
    assert json.loads(trace.info.trace_metadata["mlflow.trace.cost"]) == expected
    # Both calls' tokens count; only the priced one costs.
    assert _ids(f"tokens.total = {2 * (IN_TOKENS + OUT_TOKENS)}") == [trace_id]
    assert _ids("cost.total > 0") == [trace_id]
    assert _ids(f"cost.total = {expected['total_cost']!r}") == [trace_id]
    assert _ids(f"cost.input = {input_cost!r} AND cost.output = {output_cost!r}") == [
        trace_id
    ]
    spans = search_spans(filter_string="span.cost.total > 0")
    assert spans["model"].to_list() == ["gpt-4o-mini"]
    assert spans["cost.total"].to_list() == [expected["total_cost"]]
    assert spans["tokens.total"].to_list() == [IN_TOKENS + OUT_TOKENS]


def test_costs_order_traces(client: Any) -> None:
    set_model_prices(
        {"cheap": {"input": 1e-7, "output": 1e-7}, "dear": ModelPrice(1e-5, 1e-5)}
    )
    _answer(client, ["cheap"])
    cheap = polartrace.get_last_active_trace_id()
    _answer(client, ["dear"])
    dear = polartrace.get_last_active_trace_id()
    _answer(client, ["free-model"])
    free = polartrace.get_last_active_trace_id()
    assert _ids("", order_by=["cost.total DESC"]) == [dear, cheap, free]
    assert _ids("cost.total > 0.0001") == [dear]


def test_sdk_spans_are_priced_by_their_model_and_usage() -> None:
    set_model_prices({"claude-3-5-haiku": ModelPrice.per_million(0.8, 4.0)})
    with start_span("agent", span_type="AGENT"):
        with start_span("call", span_type="LLM") as llm:
            llm.set_attribute("gen_ai.request.model", "claude-3-5-haiku")
            llm.set_attribute(
                "mlflow.chat.tokenUsage",
                {"input_tokens": 1000, "output_tokens": 250, "total_tokens": 1250},
            )
        with start_span("own", span_type="LLM") as own:
            own.set_attribute("mlflow.llm.model", "claude-3-5-haiku")
            own.set_attribute("mlflow.llm.cost", {"total_cost": 0.5})
            own.set_attribute("mlflow.chat.tokenUsage", {"input_tokens": 1})
    trace = polartrace.get_trace(polartrace.get_last_active_trace_id() or "")
    assert trace is not None
    call = next(s for s in trace.data.spans if s.name == "call")
    price = ModelPrice.per_million(0.8, 4.0)
    assert call.get_attribute("mlflow.llm.cost") == {
        "input_cost": 1000 * price.input,
        "output_cost": 250 * price.output,
        "total_cost": 1000 * price.input + 250 * price.output,
    }
    own_span = next(s for s in trace.data.spans if s.name == "own")
    assert own_span.get_attribute("mlflow.llm.cost") == {"total_cost": 0.5}
    assert json.loads(trace.info.trace_metadata["mlflow.trace.cost"]) == {
        "input_cost": 1000 * price.input,
        "output_cost": 250 * price.output,
        "total_cost": 1000 * price.input + 250 * price.output + 0.5,
    }


def test_a_span_without_token_counts_has_no_cost() -> None:
    set_model_prices({"m": {"input": 1e-6, "output": 1e-6}})
    with start_span("call", span_type="LLM") as llm:
        llm.set_attribute("mlflow.llm.model", "m")
    trace = polartrace.get_trace(polartrace.get_last_active_trace_id() or "")
    assert trace is not None
    assert trace.data.spans[0].get_attribute("mlflow.llm.cost") is None
    assert "mlflow.trace.cost" not in trace.info.trace_metadata


def test_litellm_spelling_and_the_table_copy() -> None:
    set_model_prices(
        {
            "gpt-4o": {
                "input_cost_per_token": 2.5e-6,
                "output_cost_per_token": 1e-5,
                "litellm_provider": "openai",
            }
        }
    )
    assert get_model_prices() == {"gpt-4o": ModelPrice(2.5e-6, 1e-5)}
    set_model_prices({})
    assert get_model_prices() == {}


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        ({"m": {"input": "1e-6", "output": 1e-6}}, "m.input: a price must be a number"),
        ({"m": {"input": 1e-6}}, "m: price without 'output'"),
        ({"m": {"output": -1.0, "input": 0.0}}, "m.output: a price must be finite"),
        ({"m": {"in": 1e-6}}, "m: price without 'input' and 'output'"),
        ({"m": 1e-6}, "m: expected a ModelPrice or a mapping, got float"),
        ({"": ModelPrice(0, 0)}, "a model name must be a non-empty string"),
        ([("m", 1)], "expected a mapping of model name to price, got list"),
    ],
)
def test_bad_prices_are_refused(prices: Any, message: str) -> None:
    with pytest.raises(TracingError, match=message):
        set_model_prices(prices)
    assert get_model_prices() == {}
