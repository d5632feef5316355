"""OpenAI autolog with the real ``openai`` client against a local stand-in server."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

openai = pytest.importorskip("openai")

import polartrace  # noqa: E402 - after the skip
from polartrace import get_last_active_trace_id, get_store, get_trace  # noqa: E402
from polartrace.model.trace import SpanStatusCode, Trace, TraceState  # noqa: E402
from polartrace.tracing.integrations._fake_openai_server import FakeOpenAIServer  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "What is MLflow?"},
]
ANSWER = "Stand-in answer to: What is MLflow?"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer() as running:
        yield running


@pytest.fixture(autouse=True)
def autolog() -> Iterator[None]:
    """Patch the client for one test, on an empty store; restore it afterwards."""
    get_store().clear()
    polartrace.openai.autolog()
    yield
    polartrace.openai.autolog(disable=True)
    get_store().clear()


@pytest.fixture
def client(server: FakeOpenAIServer) -> Any:
    return openai.OpenAI(base_url=server.base_url, api_key="test", max_retries=0)


@pytest.fixture
def async_client(server: FakeOpenAIServer) -> Any:
    return openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0)


def last() -> Trace:
    found = get_trace(get_last_active_trace_id() or "")
    assert found is not None
    return found


def test_chat_completion_becomes_a_chat_model_span(client: Any) -> None:
    response = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, temperature=0.2, max_tokens=50
    )
    assert response.choices[0].message.content == ANSWER
    t = last()
    (span,) = t.data.spans
    assert (span.name, span.span_type, span.parent_id) == (
        "Completions",
        "CHAT_MODEL",
        None,
    )
    assert span.inputs == {
        "model": "gpt-4o-mini",
        "messages": MESSAGES,
        "temperature": 0.2,
        "max_tokens": 50,
    }
    assert span.get_attribute("model") == "gpt-4o-mini"
    assert span.get_attribute("temperature") == 0.2
    assert span.get_attribute("max_tokens") == 50
    assert span.get_attribute("messages") is None
    assert span.get_attribute("mlflow.message.format") == "openai"
    assert span.outputs["choices"][0]["message"]["content"] == ANSWER
    assert span.outputs["object"] == "chat.completion"
    usage = {"input_tokens": 5, "output_tokens": 6, "total_tokens": 11}
    assert span.get_attribute("mlflow.chat.tokenUsage") == usage
    assert json.loads(t.info.trace_metadata["mlflow.trace.tokenUsage"]) == usage
    assert (t.info.request_preview, t.info.response_preview) == (
        "What is MLflow?",
        ANSWER,
    )
    assert t.info.trace_name == "Completions"


def test_calls_inside_a_traced_function_are_children(client: Any) -> None:
    @polartrace.trace(span_type="AGENT")
    def agent(question: str) -> str:
        for _ in range(2):
            client.chat.completions.create(
                model="gpt-4o-mini", messages=[{"role": "user", "content": question}]
            )
        return "done"

    agent("hi")
    t = last()
    root, first, second = t.data.spans
    assert [s.name for s in (first, second)] == ["Completions_1", "Completions_2"]
    assert first.parent_id == second.parent_id == root.span_id
    assert json.loads(t.info.trace_metadata["mlflow.trace.tokenUsage"]) == {
        "input_tokens": 2,
        "output_tokens": 8,
        "total_tokens": 10,
    }
    llm_calls = "span.type = 'CHAT_MODEL' AND span.attributes.model = 'gpt-4o-mini'"
    hits = polartrace.search_traces(filter_string=llm_calls, return_type="list")
    assert [h.info.trace_id for h in hits] == [t.info.trace_id]


def test_autolog_writes_the_model_and_provider_mlflow_writes(client: Any) -> None:
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    (span,) = last().data.spans
    assert span.get_attribute("mlflow.llm.model") == "gpt-4o-mini"
    assert span.get_attribute("mlflow.llm.provider") == "openai"
    frame = polartrace.TraceFrame.from_traces([last()])
    found = (
        "span.model = 'gpt-4o-mini' AND span.provider = 'openai' AND tokens.total = 11"
    )
    assert polartrace.count(frame, found) == 1


def test_stream_span_ends_when_the_stream_is_consumed(client: Any) -> None:
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    assert len(get_store()) == 0  # the span is still open
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert text == ANSWER
    (span,) = last().data.spans
    choice = span.outputs["choices"][0]
    assert (choice["message"]["role"], choice["message"]["content"]) == (
        "assistant",
        ANSWER,
    )
    assert choice["finish_reason"] == "stop"
    assert span.get_attribute("mlflow.chat.tokenUsage") == {
        "input_tokens": 5,
        "output_tokens": 6,
        "total_tokens": 11,
    }
    names = [e.name for e in span.events]
    assert names == [f"mlflow.chunk.item.{i}" for i in range(len(names))]
    assert len(names) == 9  # role chunk, 6 words, finish chunk, usage chunk
    assert json.loads(span.events[1].attributes["mlflow.chunk.value"])["choices"][0][
        "delta"
    ]["content"] == ("Stand-in")


def test_stream_closed_early_ends_the_span_with_what_was_read(client: Any) -> None:
    with client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True
    ) as stream:
        next(stream)
        next(stream)
    (span,) = last().data.spans
    assert span.status.code is SpanStatusCode.OK
    assert span.outputs["choices"][0]["message"]["content"] == "Stand-in"
    assert span.get_attribute("mlflow.chat.tokenUsage") is None


def test_api_error_marks_the_span_error_and_propagates(
    client: Any, server: FakeOpenAIServer
) -> None:
    too_long = [{"role": "user", "content": "x" * 2500}]
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model="gpt-4o-mini", messages=too_long)
    assert caught.value.code == "context_length_exceeded"
    t = last()
    (span,) = t.data.spans
    assert t.info.state is TraceState.ERROR
    assert span.status.code is SpanStatusCode.ERROR
    assert span.status.message.startswith("BadRequestError: Error code: 400")
    assert span.events[0].attributes["exception.type"] == "BadRequestError"


def test_async_create_and_async_stream(async_client: Any) -> None:
    async def main() -> str:
        await async_client.chat.completions.create(model="m", messages=MESSAGES)
        stream = await async_client.chat.completions.create(
            model="m", messages=MESSAGES, stream=True
        )
        return "".join([c.choices[0].delta.content or "" async for c in stream])

    assert asyncio.run(main()) == ANSWER
    plain, streamed = get_store().traces()
    for t in (plain, streamed):
        (span,) = t.data.spans
        assert (span.name, span.span_type) == ("AsyncCompletions", "CHAT_MODEL")
        assert span.outputs["choices"][0]["message"]["content"] == ANSWER
    assert "mlflow.chat.tokenUsage" in plain.data.spans[0].raw_attributes
    assert len(streamed.data.spans[0].events) == 8


def test_raw_response_calls_are_traced(client: Any) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=MESSAGES
    )
    assert raw.parse().choices[0].message.content == ANSWER
    span = last().data.spans[0]
    assert span.outputs["choices"][0]["message"]["content"] == ANSWER


def test_disable_restores_the_client(client: Any) -> None:
    from openai.resources.chat.completions import Completions

    patched = Completions.create
    polartrace.openai.autolog()  # idempotent: no double wrapping
    assert Completions.create is patched
    polartrace.openai.autolog(disable=True)
    assert Completions.create is not patched
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert len(get_store()) == 0


def test_quickstart_example_runs_and_finds_what_it_should() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},  # this checkout, not another
    )
    assert result.returncode == 0, result.stderr
    counts = {
        m["label"].strip(): (int(m["n"]), m["users"])
        for m in re.finditer(
            r"^(?P<label>[a-z0-9() ]+?) +(?P<n>\d+)  .*  -> (?P<users>.*)$",
            result.stdout,
            flags=re.MULTILINE,
        )
    }
    assert counts == {
        "ok": (2, "bob, alice"),
        "error": (1, "carol"),
        "last 5 minutes": (3, "carol, bob, alice"),
        "date range": (3, "carol, bob, alice"),
        "slow": (1, "bob"),
        "slow (latency)": (1, "bob"),
        "user alice": (1, "alice"),
        "production": (3, "carol, bob, alice"),
        "by trace name": (3, "carol, bob, alice"),
        "fast ok in prod": (1, "alice"),
        "llm calls": (3, "carol, bob, alice"),
        "helpful": (1, "alice"),
        "slowest first": (1, "bob"),
    }
    assert "saved 3 traces to JSONL; read back, 1 with status ERROR" in result.stdout
