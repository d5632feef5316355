"""Four fixed, hand-built traces for doctests: `example_traces`.

They need no Hypothesis draw, so documentation examples show the same rows on
every run.
"""

from __future__ import annotations

import json
from typing import Any

from polartrace.model.trace import (
    Assessment,
    Span,
    SpanEvent,
    SpanStatus,
    Trace,
    TraceData,
    TraceInfo,
)
from polartrace.testing._vocab import (
    BASE_TIME_MS,
)
from polartrace.values.conventions import SESSION_KEY


def _example_span(number: int, name: str, offset_ms: int, ms: int, **kw: Any) -> Span:
    attributes: dict[str, Any] = kw.pop("attributes")
    start = (BASE_TIME_MS + offset_ms) * 1_000_000
    return Span(
        name=name,
        span_id=f"{number:016x}",
        otel_trace_id=f"{number // 10:032x}",
        start_time_ns=start,
        end_time_ns=start + ms * 1_000_000,
        raw_attributes={key: json.dumps(value) for key, value in attributes.items()},
        **kw,
    )


def _example(
    number: int, state: str, offset_ms: int, ms: int | None, **kw: Any
) -> Trace:
    spans: list[Span] = kw.pop("spans", [])
    info = TraceInfo(
        trace_id=f"tr-{number:032x}",
        request_time=BASE_TIME_MS + offset_ms,
        state=state,
        execution_duration=ms,
        **kw,
    )
    return Trace(info, TraceData(spans))


def example_traces() -> list[Trace]:
    """Return four small hand-built traces, the same on every call, for doctests.

    ``tr-…01`` is an OK ``chat_pipeline`` trace in production (a CHAIN root and a
    RETRIEVER span with a ``model`` attribute, a ``correctness`` feedback);
    ``tr-…02`` is the one ERROR trace (an LLM span that failed with an
    ``exception`` event); ``tr-…03`` is an OK ``Summarize`` trace with non-ASCII
    text in session ``s1``; ``tr-…04`` is IN_PROGRESS: no duration, no spans.

    Returns:
        A new list of four traces, in that order.

    Example:
        >>> [t.info.state.value for t in example_traces()]
        ['OK', 'ERROR', 'OK', 'IN_PROGRESS']
        >>> from polartrace import search_traces
        >>> rows = search_traces(
        ...     example_traces(), "span.type = 'RETRIEVER'", return_type="list"
        ... )
        >>> [t.info.trace_id[-2:] for t in rows]
        ['01']
    """
    question = {"q": "What is MLflow?"}
    chain = {"mlflow.spanType": "CHAIN", "mlflow.spanInputs": question}
    failure = SpanEvent(
        "exception",
        (BASE_TIME_MS + 2000) * 1_000_000,
        {"exception.message": "timeout"},
    )
    return [
        _example(
            1, "OK", 0, 150,
            tags={"mlflow.traceName": "chat_pipeline", "environment": "production"},
            request_preview=json.dumps(question),
            assessments=[Assessment(name="correctness", kind="feedback", value=True)],
            spans=[
                _example_span(
                    10, "chat_pipeline", 0, 150, attributes=chain,
                ),
                _example_span(
                    11, "retriever", 1, 50, parent_id=f"{10:016x}",
                    attributes={"mlflow.spanType": "RETRIEVER", "model": "gpt-4"},
                ),
            ],
        ),
        _example(
            2, "ERROR", 1000, 2500,
            tags={"mlflow.traceName": "chat_pipeline", "environment": "staging"},
            spans=[
                _example_span(
                    20, "llm", 1000, 2500, status=SpanStatus("ERROR", "timeout"),
                    events=[failure], attributes={"mlflow.spanType": "LLM"},
                ),
            ],
        ),
        _example(
            3, "OK", 2000, 50,
            tags={"mlflow.traceName": "Summarize"},
            trace_metadata={SESSION_KEY: "s1"},
            assessments=[
                Assessment(name="expected_answer", kind="expectation", value="Résumé")
            ],
            spans=[
                _example_span(
                    30, "Summarize", 2000, 50,
                    attributes={"mlflow.spanInputs": "Ünïcode café"},
                ),
            ],
        ),
        _example(4, "IN_PROGRESS", 500, None, tags={"environment": "dev"}),
    ]  # fmt: skip
