"""In-process tracing: decorator, spans, trace info, assessments, the default store."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import inspect
import json
import re
import threading
from collections.abc import AsyncIterator, Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import polartrace
from polartrace import (
    TracingError,
    TracingWarning,
    get_current_active_span,
    get_last_active_trace_id,
    get_store,
    get_trace,
    log_expectation,
    log_feedback,
    override_feedback,
    search_traces,
    start_span,
    start_span_no_context,
    trace,
    update_current_trace,
)
from polartrace.model.trace import (
    AssessmentError,
    AssessmentSource,
    Span,
    SpanStatusCode,
    Trace,
    TraceState,
)
from polartrace.tracing.encode import dump_value
from polartrace.tracing.sdk import TraceNotFoundError, TraceStore

TRACE_ID = re.compile(r"tr-[0-9a-f]{32}")
HEX16 = re.compile(r"[0-9a-f]{16}")
ASSESSMENT_ID = re.compile(r"a-[0-9a-f]{32}")


@pytest.fixture(autouse=True)
def clean_store() -> Iterator[None]:
    """Every test starts and ends with an empty default store and no active span."""
    get_store().clear()
    assert get_current_active_span() is None
    yield
    get_store().clear()


def last() -> Trace:
    trace_id = get_last_active_trace_id()
    assert trace_id is not None
    found = get_trace(trace_id)
    assert found is not None
    return found


def by_name(t: Trace) -> dict[str, Span]:
    return {span.name: span for span in t.data.spans}


# --- the decorator ------------------------------------------------------------


def test_bare_decorator_records_bound_arguments_and_result() -> None:
    @trace
    def add(x: int, y: int = 1) -> int:
        return x + y

    assert add(2) == 3
    (span,) = last().data.spans
    assert span.name == "add"
    assert span.raw_attributes["mlflow.spanInputs"] == '{"x": 2, "y": 1}'
    assert span.raw_attributes["mlflow.spanOutputs"] == "3"
    assert span.raw_attributes["mlflow.spanType"] == '"UNKNOWN"'
    assert span.raw_attributes["mlflow.spanFunctionName"] == '"add"'
    assert span.status.code is SpanStatusCode.OK


def test_span_attributes_are_written_in_mlflow_order() -> None:
    with start_span("root", span_type="CHAIN") as root:
        root.set_inputs({"q": 1})
        with start_span("child", span_type="TOOL"):
            pass
        root.set_outputs(2)
    parent, child = last().data.spans
    assert list(parent.raw_attributes) == [
        "mlflow.spanStartTimeNs",
        "mlflow.experimentId",
        "mlflow.traceRequestId",
        "mlflow.spanType",
        "mlflow.spanInputs",
        "mlflow.spanOutputs",
        "mlflow.spanLogLevel",
    ]
    assert parent.raw_attributes["mlflow.spanStartTimeNs"] == str(parent.start_time_ns)
    assert parent.raw_attributes["mlflow.traceRequestId"] == f'"{root.trace_id}"'
    assert parent.raw_attributes["mlflow.spanLogLevel"] == "10"  # CHAIN: DEBUG
    assert list(child.raw_attributes) == [
        "mlflow.spanStartTimeNs",
        "mlflow.traceRequestId",
        "mlflow.spanType",
        "mlflow.spanLogLevel",
    ]
    assert child.raw_attributes["mlflow.spanLogLevel"] == "20"  # TOOL: INFO


def test_wrappers_keep_the_function_identity() -> None:
    async def coro() -> None:
        return None

    def gen() -> Iterator[int]:
        yield 1

    cases: list[tuple[Callable[[], Any], Callable[[Any], bool]]] = [
        (coro, inspect.iscoroutinefunction),
        (gen, inspect.isgeneratorfunction),
    ]
    for fn, check in cases:
        wrapped = trace(fn)
        assert wrapped.__name__ == fn.__name__
        assert wrapped.__wrapped__ is fn  # type: ignore[attr-defined]
        assert check(wrapped)


def test_decorator_arguments_set_name_type_and_attributes() -> None:
    @trace(name="retrieve_docs", span_type="RETRIEVER", attributes={"k": 3})
    def retrieve(query: str) -> list[str]:
        return [query.upper()]

    assert retrieve("q") == ["Q"]
    (span,) = last().data.spans
    assert (span.name, span.span_type) == ("retrieve_docs", "RETRIEVER")
    assert span.get_attribute("k") == 3
    assert span.raw_attributes["mlflow.spanLogLevel"] == "20"  # INFO for retrievers


def test_function_wrapped_without_decorator_syntax() -> None:
    traced = trace(sorted)
    assert traced([3, 1]) == [1, 3]
    assert last().data.spans[0].name == "sorted"


def test_self_and_cls_are_not_inputs() -> None:
    class Agent:
        @trace
        def run(self, question: str) -> str:
            return question

        @classmethod
        @trace
        def build(cls, size: int) -> int:
            return size

    Agent().run("hi")
    assert last().data.spans[0].inputs == {"question": "hi"}
    Agent.build(2)
    assert last().data.spans[0].inputs == {"size": 2}


def test_star_arguments_are_recorded_by_parameter_name() -> None:
    @trace
    def f(*args: int, **kwargs: int) -> None:
        return None

    f(1, 2, z=3)
    span = last().data.spans[0]
    assert span.inputs == {"args": [1, 2], "kwargs": {"z": 3}}
    assert span.raw_attributes["mlflow.spanOutputs"] == "null"


def test_async_function_is_traced() -> None:
    @trace(span_type="AGENT")
    async def answer(question: str) -> str:
        await asyncio.sleep(0)
        return question[::-1]

    assert asyncio.run(answer("abc")) == "cba"
    (span,) = last().data.spans
    assert (span.name, span.span_type, span.inputs, span.outputs) == (
        "answer",
        "AGENT",
        {"question": "abc"},
        "cba",
    )


def test_nested_calls_become_children_of_the_calling_span() -> None:
    @trace
    def leaf(n: int) -> int:
        return n

    @trace
    def middle(n: int) -> int:
        return leaf(n) + 1

    @trace
    def root(n: int) -> int:
        return middle(n) + leaf(n)

    root(1)
    t = last()
    spans = t.data.spans
    assert [s.name for s in spans] == ["root", "middle", "leaf_1", "leaf_2"]
    root_span, middle_span, leaf1, leaf2 = spans
    assert root_span.parent_id is None
    assert middle_span.parent_id == root_span.span_id
    assert leaf1.parent_id == middle_span.span_id
    assert leaf2.parent_id == root_span.span_id
    assert {s.otel_trace_id for s in spans} == {t.info.trace_id[3:]}
    assert {s.trace_id for s in spans} == {t.info.trace_id}
    assert all(HEX16.fullmatch(s.span_id) for s in spans)


# --- trace info ---------------------------------------------------------------


def test_trace_info_follows_the_root_span() -> None:
    with start_span("pipeline", span_type="CHAIN") as root:
        root.set_inputs({"question": "Why?"})
        with start_span("step"):
            pass
        root.set_outputs({"answer": "Because."})
    t = last()
    info, span = t.info, t.data.spans[0]
    assert TRACE_ID.fullmatch(info.trace_id)
    assert info.trace_id == "tr-" + span.otel_trace_id == root.trace_id
    assert info.state is TraceState.OK
    assert info.request_time == span.start_time_ns // 1_000_000
    assert span.end_time_ns is not None
    assert info.execution_duration == (span.end_time_ns - span.start_time_ns) // 10**6
    assert info.tags == {"mlflow.traceName": "pipeline"}
    assert info.request_preview == '{"question": "Why?"}'
    assert info.response_preview == '{"answer": "Because."}'
    metadata = info.trace_metadata
    assert metadata["mlflow.traceInputs"] == '{"question": "Why?"}'
    assert metadata["mlflow.traceOutputs"] == '{"answer": "Because."}'
    assert metadata["mlflow.trace_schema.version"] == "3"
    assert metadata["mlflow.source.type"] == "LOCAL"
    assert "mlflow.user" in metadata
    stats = json.loads(metadata["mlflow.trace.sizeStats"])
    assert stats["num_spans"] == 2
    assert metadata["mlflow.trace.sizeBytes"] == str(stats["total_size_bytes"])
    assert info.experiment_id == "0"
    assert span.get_attribute("mlflow.experimentId") == "0"


def test_previews_are_truncated_like_mlflow() -> None:
    with start_span("long") as span:
        span.set_inputs("x" * 2000)
    info = last().info
    assert info.request_preview == '"' + "x" * 996 + "..."
    assert len(info.trace_metadata["mlflow.traceInputs"]) == 250
    assert info.trace_metadata["mlflow.traceInputs"].endswith("x...")
    assert info.response_preview is None  # no outputs: left out, as protobuf does
    assert info.trace_metadata["mlflow.traceOutputs"] == ""


def test_chat_previews_show_the_last_message_text() -> None:
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "What is MLflow?"},
    ]
    response = {"choices": [{"message": {"role": "assistant", "content": "A tool."}}]}
    with start_span("chat") as span:
        span.set_inputs({"messages": messages})
        span.set_outputs(response)
    info = last().info
    assert (info.request_preview, info.response_preview) == (
        "What is MLflow?",
        "A tool.",
    )


def test_token_usage_is_summed_over_llm_spans_without_double_counting() -> None:
    usage = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15}
    with start_span("agent"):
        with start_span("llm_a", span_type="LLM") as a:
            a.set_attribute("mlflow.chat.tokenUsage", usage)
        with start_span("wrapper", span_type="CHAT_MODEL") as w:
            w.set_attribute("mlflow.chat.tokenUsage", usage)
            with start_span("inner", span_type="LLM") as inner:  # the same call
                inner.set_attribute("mlflow.chat.tokenUsage", usage)
    metadata = last().info.trace_metadata
    assert json.loads(metadata["mlflow.trace.tokenUsage"]) == {
        "input_tokens": 20,
        "output_tokens": 10,
        "total_tokens": 30,
    }


def test_no_token_usage_metadata_without_usage() -> None:
    with start_span("plain"):
        pass
    assert "mlflow.trace.tokenUsage" not in last().info.trace_metadata


# --- exceptions ---------------------------------------------------------------


def test_exception_marks_span_and_trace_error_and_propagates_unchanged() -> None:
    boom = ValueError("boom")

    @trace
    def fail() -> None:
        raise boom

    with pytest.raises(ValueError, match=r"^boom$") as caught:
        fail()
    assert caught.value is boom
    t = last()
    (span,) = t.data.spans
    assert t.info.state is TraceState.ERROR
    assert span.status.code is SpanStatusCode.ERROR
    assert span.status.message == "ValueError: boom"
    assert "mlflow.spanOutputs" not in span.raw_attributes
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "ValueError"
    assert event.attributes["exception.message"] == "boom"
    assert event.attributes["exception.stacktrace"].startswith("Traceback")
    assert "ValueError: boom" in event.attributes["exception.stacktrace"]


def test_child_error_caught_by_parent_leaves_trace_ok() -> None:
    @trace
    def flaky() -> None:
        msg = "k"
        raise KeyError(msg)

    @trace
    def robust() -> str:
        try:
            flaky()
        except KeyError:
            return "fallback"
        return "ok"

    assert robust() == "fallback"
    t = last()
    assert t.info.state is TraceState.OK
    assert by_name(t)["flaky"].status.code is SpanStatusCode.ERROR
    assert by_name(t)["robust"].status.code is SpanStatusCode.OK


def test_start_span_block_records_exception() -> None:
    def run() -> None:
        with start_span("block"):
            msg = "bad"
            raise RuntimeError(msg)

    with pytest.raises(RuntimeError, match="bad"):
        run()
    assert last().data.spans[0].status.message == "RuntimeError: bad"


# --- values that JSON cannot hold ---------------------------------------------


class Unprintable:
    def __str__(self) -> str:
        msg = "no str"
        raise RuntimeError(msg)

    def __repr__(self) -> str:
        return "<Unprintable>"


@dataclasses.dataclass
class Doc:
    id: int
    text: str


def test_non_json_values_never_break_the_traced_function() -> None:
    cyclic: list[Any] = [1]
    cyclic.append(cyclic)

    @trace
    def odd(a: Any, b: Any, c: Any, d: Any) -> Any:
        return Unprintable()

    odd(Doc(1, "x"), {(1, 2): "tuple key"}, cyclic, {1, 2})
    span = last().data.spans[0]
    assert span.inputs == {
        "a": {"id": 1, "text": "x"},
        "b": {"(1, 2)": "tuple key"},
        "c": "[1, [...]]",
        "d": "{1, 2}",
    }
    assert span.outputs == "<Unprintable>"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        pytest.param({"q": "Ünï"}, '{"q": "Ünï"}', id="non-ascii-kept"),
        pytest.param(Doc(1, "a"), '{"id": 1, "text": "a"}', id="dataclass"),
        pytest.param({1, 2}, '"{1, 2}"', id="set-as-str"),
        pytest.param({(1,): 2, "k": 3}, '{"(1,)": 2, "k": 3}', id="tuple-key-as-str"),
        pytest.param([{(1,): 2}], '"[{(1,): 2}]"', id="list-falls-back-whole"),
        pytest.param(Unprintable(), '"<Unprintable>"', id="failing-str-repr"),
        pytest.param(float("nan"), "NaN", id="nan-like-json-dumps"),
    ],
)
def test_dump_value(value: Any, text: str) -> None:
    assert dump_value(value) == text


# --- generators ---------------------------------------------------------------


def test_generator_span_covers_the_iteration_and_records_items() -> None:
    @trace
    def child(x: int) -> int:
        return x

    @trace(span_type="PARSER")
    def numbers(n: int) -> Iterator[int]:
        for i in range(n):
            yield child(i)

    gen = numbers(3)
    assert len(get_store()) == 0
    assert list(gen) == [0, 1, 2]
    t = last()
    spans = by_name(t)
    root = spans["numbers"]
    assert root.outputs == [0, 1, 2]
    assert root.inputs == {"n": 3}
    assert [e.name for e in root.events] == [f"mlflow.chunk.item.{i}" for i in range(3)]
    assert root.events[1].attributes == {"mlflow.chunk.value": "1"}
    assert {spans[f"child_{i}"].parent_id for i in (1, 2, 3)} == {root.span_id}


def test_generator_closed_early_keeps_what_was_consumed() -> None:
    @trace
    def forever() -> Iterator[int]:
        i = 0
        while True:
            yield i
            i += 1

    for item in forever():
        if item == 2:
            break
    span = last().data.spans[0]
    assert span.outputs == [0, 1, 2]
    assert span.status.code is SpanStatusCode.OK


def test_generator_exception_marks_error_and_propagates() -> None:
    @trace
    def broken() -> Iterator[int]:
        yield 1
        msg = "midway"
        raise ValueError(msg)

    gen = broken()
    assert next(gen) == 1
    with pytest.raises(ValueError, match="midway"):
        next(gen)
    t = last()
    assert t.info.state is TraceState.ERROR
    assert t.data.spans[0].events[-1].name == "exception"


def test_generator_send_return_value_and_reducer() -> None:
    @trace(output_reducer=lambda items: "".join(items))
    def echo() -> Generator[str, str, None]:
        received = yield "a"
        yield str(received)

    gen = echo()
    assert next(gen) == "a"
    assert gen.send("b") == "b"
    with pytest.raises(StopIteration):
        next(gen)
    assert last().data.spans[0].outputs == "ab"


def test_async_generator_is_traced() -> None:
    @trace
    async def tokens(text: str) -> AsyncIterator[str]:
        for word in text.split():
            await asyncio.sleep(0)
            yield word

    async def consume() -> list[str]:
        return [w async for w in tokens("a b c")]

    assert asyncio.run(consume()) == ["a", "b", "c"]
    span = last().data.spans[0]
    assert (span.inputs, span.outputs) == ({"text": "a b c"}, ["a", "b", "c"])


# --- live spans ---------------------------------------------------------------


def test_live_span_setters() -> None:
    with start_span("manual", span_type="TOOL", attributes={"a": 1}) as span:
        assert get_current_active_span() is span
        span.set_inputs({"x": 1})
        span.set_attribute("model", "gpt-4o-mini")
        span.set_attributes({"temperature": 0.7, "tags": ["a", "b"]})
        span.add_event("cache_miss", {"key": "k1", "obj": {"n": 1}}, timestamp_ns=5)
        span.set_outputs("done")
        assert span.inputs == {"x": 1}
        assert span.outputs == "done"
    assert get_current_active_span() is None
    s = last().data.spans[0]
    assert s.raw_attributes["model"] == '"gpt-4o-mini"'
    assert s.raw_attributes["temperature"] == "0.7"
    assert s.get_attribute("tags") == ["a", "b"]
    assert s.get_attribute("a") == 1
    (event,) = s.events
    assert (event.name, event.timestamp_ns) == ("cache_miss", 5)
    assert event.attributes == {"key": "k1", "obj": '{"n": 1}'}


def test_set_status_error_is_kept_at_end() -> None:
    with start_span("judged") as span:
        span.set_status("ERROR", "wrong answer")
    t = last()
    assert t.data.spans[0].status.message == "wrong answer"
    assert t.info.state is TraceState.ERROR


def test_set_status_rejects_unknown_codes() -> None:
    with start_span("s") as span, pytest.raises(TracingError, match="'MAYBE'"):
        span.set_status("MAYBE")


def test_setting_attributes_after_end_warns_and_is_ignored() -> None:
    with start_span("done") as span:
        pass
    with pytest.warns(TracingWarning, match="has ended"):
        span.set_attribute("late", 1)
    assert "late" not in last().data.spans[0].raw_attributes


def test_child_ending_after_its_root_republishes_the_trace() -> None:
    with start_span("root") as root:
        child = start_span_no_context("stream", "LLM", parent=root)
    assert get_trace(root.trace_id) is not None
    log_feedback(trace_id=root.trace_id, name="ok", value=True)
    child.end(outputs="late")
    t = get_trace(root.trace_id)
    assert t is not None
    assert by_name(t)["stream"].outputs == "late"
    assert [a.name for a in t.info.assessments] == ["ok"]


def test_a_failure_to_record_never_reaches_the_traced_code(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(live: object) -> Trace:
        msg = "internal"
        raise RuntimeError(msg)

    monkeypatch.setattr("polartrace.tracing.live._build", broken)

    @trace
    def f() -> int:
        return 7

    with pytest.warns(TracingWarning, match=r"could not record trace tr-.*internal"):
        assert f() == 7
    assert len(get_store()) == 0


# --- update_current_trace -----------------------------------------------------


def test_update_current_trace_sets_tags_metadata_and_fields() -> None:
    @trace
    def handler() -> str:
        update_current_trace(
            tags={"environment": "production", "n": 1},
            metadata={"mlflow.trace.user": "alice", "mlflow.trace.session": "s-1"},
            client_request_id="req-7",
            request_preview="custom request",
            response_preview="custom response",
        )
        return "ok"

    handler()
    info = last().info
    assert info.tags == {
        "mlflow.traceName": "handler",
        "environment": "production",
        "n": "1",
    }
    assert info.trace_metadata["mlflow.trace.user"] == "alice"
    assert info.session_id == "s-1"
    assert info.client_request_id == "req-7"
    assert (info.request_preview, info.response_preview) == (
        "custom request",
        "custom response",
    )


def test_update_current_trace_state_overrides_root_status() -> None:
    with start_span("s"):
        update_current_trace(state="ERROR")
    assert last().info.state is TraceState.ERROR


def test_update_current_trace_outside_a_trace_warns() -> None:
    with pytest.warns(TracingWarning, match="no active trace"):
        update_current_trace(tags={"a": "b"})
    assert len(get_store()) == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param(
            {"request_preview": 1}, "request_preview must be a str", id="preview"
        ),
        pytest.param(
            {"state": "IN_PROGRESS"}, "state must be 'OK' or 'ERROR'", id="state"
        ),
        pytest.param({"tags": ["a"]}, "tags must be a dict", id="tags"),
    ],
)
def test_update_current_trace_rejects_bad_arguments(
    kwargs: dict[str, Any], message: str
) -> None:
    with start_span("s"), pytest.raises(TracingError, match=message):
        update_current_trace(**kwargs)


# --- contexts, threads and tasks ----------------------------------------------


def test_new_thread_starts_outside_any_span() -> None:
    seen: list[Any] = []

    @trace
    def in_thread() -> None:
        seen.append(get_current_active_span())

    def run() -> None:
        seen.append(get_current_active_span())
        in_thread()

    with start_span("main") as main:
        worker = threading.Thread(target=run)
        worker.start()
        worker.join()
    assert seen[0] is None
    assert seen[1].trace_id != main.trace_id
    assert len(get_store()) == 2


def test_asyncio_task_inherits_the_span_active_at_creation() -> None:
    @trace
    async def step(i: int) -> int:
        await asyncio.sleep(0)
        return i

    async def main() -> str:
        with start_span("fan_out") as root:
            await asyncio.gather(*(asyncio.create_task(step(i)) for i in range(3)))
        return root.trace_id

    trace_id = asyncio.run(main())
    t = get_trace(trace_id)
    assert t is not None
    root = by_name(t)["fan_out"]
    assert sorted(s.name for s in t.data.spans) == [
        "fan_out",
        "step_1",
        "step_2",
        "step_3",
    ]
    assert all(s.parent_id == root.span_id for s in t.data.spans if s is not root)


def test_context_copied_into_a_worker_thread_keeps_the_parent() -> None:
    @trace
    def job(i: int) -> int:
        return i

    with start_span("batch") as batch, ThreadPoolExecutor(4) as pool:
        futures = [
            pool.submit(contextvars.copy_context().run, job, i) for i in range(4)
        ]
        assert [f.result() for f in futures] == [0, 1, 2, 3]
    t = get_trace(batch.trace_id)
    assert t is not None
    root, *jobs = t.data.spans
    assert len(jobs) == 4
    assert {j.parent_id for j in jobs} == {root.span_id}
    assert len(get_store()) == 1


def test_last_active_trace_id_per_thread() -> None:
    with start_span("main") as main:
        pass
    other: list[str | None] = []

    def work() -> None:
        other.append(get_last_active_trace_id(thread_local=True))
        with start_span("worker"):
            pass

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    assert other == [None]
    assert get_last_active_trace_id(thread_local=True) == main.trace_id
    assert get_last_active_trace_id() != main.trace_id  # the worker's, process-wide


def check_traces(expected: dict[str, tuple[int, int]]) -> None:
    """Every stored trace: 1 root + 2 children, one trace id, inputs of its own call."""
    traces = get_store().traces()
    assert len(traces) == len(expected)
    for t in traces:
        root, *children = t.data.spans
        assert root.parent_id is None
        assert [c.name for c in children] == ["work_1", "work_2"]
        assert all(c.parent_id == root.span_id for c in children)
        assert {s.trace_id for s in t.data.spans} == {t.info.trace_id}
        assert {s.otel_trace_id for s in t.data.spans} == {t.info.trace_id[3:]}
        worker, item = root.inputs["worker"], root.inputs["item"]
        assert expected[t.info.trace_id] == (worker, item)
        assert [c.inputs for c in children] == [
            {"worker": worker, "item": item, "part": part} for part in (0, 1)
        ]


@trace
def work(worker: int, item: int, part: int) -> int:
    return worker * 1000 + item * 10 + part


def test_sixteen_threads_trace_concurrently_without_loss_or_mixing() -> None:
    expected: dict[str, tuple[int, int]] = {}
    lock = threading.Lock()
    barrier = threading.Barrier(16)

    @trace
    def request(worker: int, item: int) -> int:
        return work(worker, item, 0) + work(worker, item, 1)

    def run(worker: int) -> None:
        barrier.wait()
        for item in range(50):
            request(worker, item)
            trace_id = get_last_active_trace_id(thread_local=True)
            assert trace_id is not None
            with lock:
                expected[trace_id] = (worker, item)

    threads = [threading.Thread(target=run, args=(w,)) for w in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(expected) == 800
    check_traces(expected)
    assert (
        search_traces(filter_string="status = 'OK'", return_type="polars").height == 800
    )


def test_hundred_asyncio_tasks_trace_concurrently_without_loss_or_mixing() -> None:
    @trace
    async def awork(worker: int, item: int, part: int) -> int:
        await asyncio.sleep(0)
        return part

    async def request(worker: int, item: int) -> str:
        with start_span("request") as span:
            span.set_inputs({"worker": worker, "item": item})
            await asyncio.sleep(0)
            await awork(worker, item, 0)
            await asyncio.sleep(0)
            await awork(worker, item, 1)
        return span.trace_id

    async def main() -> dict[str, tuple[int, int]]:
        ids = await asyncio.gather(*(request(w, 0) for w in range(100)))
        return {trace_id: (w, 0) for w, trace_id in enumerate(ids)}

    expected = asyncio.run(main())
    assert len(expected) == 100
    traces = get_store().traces()
    assert len(traces) == 100
    for t in traces:
        assert [s.name for s in t.data.spans] == ["request", "awork_1", "awork_2"]
        root, *children = t.data.spans
        worker = root.inputs["worker"]
        assert expected[t.info.trace_id] == (worker, 0)
        assert all(c.parent_id == root.span_id for c in children)
        assert [c.inputs["part"] for c in children] == [0, 1]
        assert {c.inputs["worker"] for c in children} == {worker}
        assert {s.trace_id for s in t.data.spans} == {t.info.trace_id}


# --- the default store and search ---------------------------------------------


def test_search_without_traces_reads_the_default_store() -> None:
    @trace
    def ok() -> int:
        return 1

    @trace
    def bad() -> None:
        msg = "x"
        raise ValueError(msg)

    ok()
    with pytest.raises(ValueError, match="x"):
        bad()
    errors = search_traces(filter_string="status = 'ERROR'", return_type="list")
    assert [t.info.trace_name for t in errors] == ["bad"]
    assert polartrace.count(None, "tags.`mlflow.traceName` = 'ok'") == 1


def test_store_frame_is_cached_until_the_next_trace() -> None:
    with start_span("a"):
        pass
    store = get_store()
    frame = store.to_frame()
    assert store.to_frame() is frame
    with start_span("b"):
        pass
    assert store.to_frame() is not frame
    assert search_traces(filter_string="name = 'b'", return_type="polars").height == 1


def test_store_get_clear_and_iterate() -> None:
    with start_span("a") as span:
        pass
    store = get_store()
    assert span.trace_id in store
    assert [t.info.trace_id for t in store] == [span.trace_id]
    assert store.get_trace("tr-missing") is None
    store.clear()
    assert len(store) == 0
    assert get_trace(span.trace_id) is None


def test_store_add_rejects_non_traces() -> None:
    with pytest.raises(TypeError, match="expected a polartrace Trace, not dict"):
        TraceStore().add({})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name", ["traces.jsonl", "traces.jsonl.gz"], ids=["plain", "gzip"]
)
def test_save_and_read_back_round_trip(tmp_path: Path, name: str) -> None:
    @trace(span_type="CHAIN")
    def pipeline(q: str) -> dict[str, str]:
        update_current_trace(tags={"environment": "production"})
        return {"answer": q}

    pipeline("Ünïcode?")
    log_feedback(trace_id=get_last_active_trace_id() or "", name="helpful", value="yes")
    path = tmp_path / name
    assert get_store().save(path) == 1
    original = get_store().traces()[0]
    frame = polartrace.read_traces(path)
    assert frame.traces_at([0])[0].to_dict() == original.to_dict()
    hits = search_traces(
        frame,
        "tags.environment = 'production' AND feedback.helpful = 'yes'",
        return_type="list",
    )
    assert [t.info.trace_id for t in hits] == [original.info.trace_id]
    fresh = TraceStore()
    assert fresh.load(path) == 1
    assert fresh.traces()[0].to_dict() == original.to_dict()


# --- assessments --------------------------------------------------------------


def test_log_feedback_fields() -> None:
    with start_span("answer") as span:
        pass
    fb = log_feedback(
        trace_id=span.trace_id,
        name="relevance",
        value=0.9,
        rationale="on topic",
        metadata={"judge": "v1", "n": 2},
        source=AssessmentSource("LLM_JUDGE", "gpt-judge"),
    )
    assert ASSESSMENT_ID.fullmatch(fb.assessment_id or "")
    assert (fb.trace_id, fb.value, fb.valid, fb.rationale) == (
        span.trace_id,
        0.9,
        True,
        "on topic",
    )
    assert fb.metadata == {"judge": "v1", "n": "2"}
    assert fb.create_time_ms == fb.last_update_time_ms
    assert fb.source == AssessmentSource("LLM_JUDGE", "gpt-judge")
    stored = get_trace(span.trace_id)
    assert stored is not None
    assert stored.info.assessments == (fb,)
    assert polartrace.count(None, "feedback.relevance > 0.5") == 1


def test_feedback_defaults_and_error_only_feedback() -> None:
    with start_span("answer") as span:
        pass
    fb = log_feedback(trace_id=span.trace_id, value=True)
    assert (fb.name, fb.source) == ("feedback", AssessmentSource("CODE", "default"))
    err = log_feedback(trace_id=span.trace_id, name="judge", error=Exception("boom"))
    assert err.value is None
    assert err.error == AssessmentError(
        "Exception", "boom", "Exception('boom')Exception: boom"
    )
    assert polartrace.count(None, "feedback.judge IS NOT NULL") == 1


def test_override_feedback_invalidates_the_old_one() -> None:
    with start_span("answer") as span:
        pass
    old = log_feedback(trace_id=span.trace_id, name="tone", value="rude")
    assert polartrace.count(None, "feedback.tone = 'rude'") == 1
    new = override_feedback(
        trace_id=span.trace_id, assessment_id=old.assessment_id or "", value="polite"
    )
    assert (new.name, new.overrides, new.valid) == ("tone", old.assessment_id, True)
    stored = get_trace(span.trace_id)
    assert stored is not None
    first, second = stored.info.assessments
    assert (first.assessment_id, first.valid) == (old.assessment_id, False)
    assert second == new
    assert polartrace.count(None, "feedback.tone = 'rude'") == 0
    assert polartrace.count(None, "feedback.tone = 'polite'") == 1


def test_override_rejects_unknown_ids_and_expectations() -> None:
    with start_span("answer") as span:
        pass
    exp = log_expectation(trace_id=span.trace_id, name="expected", value={"a": [1]})
    with pytest.raises(TracingError, match="is an expectation, not a feedback"):
        override_feedback(
            trace_id=span.trace_id, assessment_id=exp.assessment_id or "", value=1
        )
    with pytest.raises(TracingError, match="no assessment with id 'a-nope'"):
        override_feedback(trace_id=span.trace_id, assessment_id="a-nope", value=1)


def test_assessments_on_unknown_traces_or_without_value_are_errors() -> None:
    with pytest.raises(TraceNotFoundError, match="tr-unknown"):
        log_feedback(trace_id="tr-unknown", value=1)
    with pytest.raises(TracingError, match="needs a value or an error"):
        log_feedback(trace_id="tr-unknown")
    with pytest.raises(TracingError, match="needs a value"):
        log_expectation(trace_id="tr-unknown", name="e", value=None)


def test_feedback_logged_while_the_trace_runs_is_published_with_it() -> None:
    @trace
    def handler() -> None:
        span = get_current_active_span()
        assert span is not None
        log_feedback(trace_id=span.trace_id, name="inline", value=1)

    handler()
    assert [a.name for a in last().info.assessments] == ["inline"]


def test_session_scoped_feedback_applies_to_every_trace_of_the_session() -> None:
    ids = []
    for turn in range(3):
        with start_span("turn") as span:
            session = "s-1" if turn < 2 else "s-2"
            update_current_trace(metadata={"mlflow.trace.session": session})
        ids.append(span.trace_id)
    log_feedback(
        trace_id=ids[0],
        name="session_quality",
        value="good",
        metadata={"mlflow.trace.session": "s-1"},
    )
    hits = search_traces(
        filter_string="feedback.session_quality = 'good'", return_type="list"
    )
    assert sorted(t.info.trace_id for t in hits) == sorted(ids[:2])
