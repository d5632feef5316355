"""Witnesses: a filter built from a value a trace holds matches that trace.

The differential property (test_differential.py) cannot see a mistake that both
engines share, because it compares them with each other. These properties pin the
meaning from the data's side instead (docs/semantics.md): each value a generated
trace holds, written as an equality, must find the trace on both engines; the
trace's spans satisfy their own values as one span group; valid assessments are
found by name and value, also from another trace of their session.
"""

from __future__ import annotations

import json
import math

from hypothesis import example, given, note, settings
from hypothesis import strategies as st

from polartrace import Assessment, Trace, TraceData, TraceFrame, TraceInfo, parse_filter
from polartrace.bind.filter import Cond, Dynamic
from polartrace.catalogue.operators import parse_number
from polartrace.language.ast import (
    And,
    Comparison,
    Expr,
    Field,
    Literal,
    Number,
    Op,
    String,
    unparse,
)
from polartrace.model.trace import Span
from polartrace.testing import BASE_TIME_MS, trace_lists
from polartrace.values.json_values import canonical_text
from property_tests._support import ENGINES, examples, matching, span_facts

INDEX = st.integers(0, 11)


def _eq(prefix: str | None, key: str, value: Literal) -> Comparison:
    return Comparison(Field(prefix, key), Op.EQ, value)


def _assert_finds(frame: TraceFrame, trace_id: str, exprs: list[Expr]) -> None:
    for expr in exprs:
        text = unparse(expr)
        note(f"witness: {text}")
        for engine in ENGINES:
            assert trace_id in matching(frame, text, engine), (engine, text)


def _number_literals(value: object) -> list[Number]:
    """Number literals that ``= literal`` must match for a dynamic value."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [Number(value)] if math.isfinite(value) else []
    # A string against a number compares canonical texts: "3" = 3, "1e+20" = 1e20.
    number = parse_number(value) if isinstance(value, str) else None
    if number is not None and canonical_text(number) == value:
        return [Number(number)]
    return []


def _zero_padded(value: object) -> list[String]:
    """Numeric strings with a trailing zero (``'0.70'``, ``'3.0'``) for a number.

    A numeric value compares as a number with a numeric string literal
    (docs/semantics.md#dynamic-values): its text form is not what matches.
    """
    if not isinstance(value, int | float) or isinstance(value, bool):
        return []
    if not math.isfinite(value) or abs(value) >= 1e15:
        return []
    text = canonical_text(value)
    if text is None or "e" in text:
        return []
    return [String(f"{text}0" if "." in text else f"{text}.0")]


def _numeric_literals(value: object) -> list[Literal]:
    return [*_number_literals(value), *_zero_padded(value)]


def _trace(trace_id: str, **info: object) -> Trace:
    spans: list[Span] = info.pop("spans", [])  # type: ignore[assignment]
    meta = TraceInfo(trace_id=trace_id, request_time=BASE_TIME_MS, **info)  # type: ignore[arg-type]
    return Trace(meta, TraceData(spans))


@settings(max_examples=examples(0.5))
@given(traces=trace_lists(1, 6), index=INDEX)
def test_a_trace_matches_its_own_trace_fields(traces: list[Trace], index: int) -> None:
    trace = traces[index % len(traces)]
    info = trace.info
    exprs: list[Expr] = [
        _eq(None, "request_id", String(info.trace_id)),
        _eq(None, "status", String(info.state.value)),
        _eq(None, "timestamp_ms", Number(info.request_time)),
        _eq(
            None,
            "end_time_ms",
            Number(info.request_time + (info.execution_duration or 0)),
        ),
        Comparison(
            Field(None, "execution_time_ms"),
            Op.IS_NULL if info.execution_duration is None else Op.IS_NOT_NULL,
            None,
        ),
        Comparison(
            Field(None, "client_request_id"),
            Op.IS_NULL if info.client_request_id is None else Op.IS_NOT_NULL,
            None,
        ),
    ]
    if info.execution_duration is not None:
        exprs.append(_eq(None, "latency", Number(info.execution_duration)))
    if info.client_request_id is not None:
        exprs.append(_eq(None, "client_request_id", String(info.client_request_id)))
    for key, value in info.tags.items():
        if key == "mlflow.linkedPrompts":  # prompt values are name/version
            try:
                entries = json.loads(value)
            except ValueError:
                continue
            exprs += [
                _eq(None, "prompt", String(f"{e['name']}/{e['version']}"))
                for e in entries
            ]
        else:
            exprs.append(_eq("tags", key, String(value)))
    exprs += [_eq("metadata", k, String(v)) for k, v in info.trace_metadata.items()]
    _assert_finds(TraceFrame.from_traces(traces), info.trace_id, exprs)


_SPAN_1E20 = Span(
    name="llm",
    span_id="0000000000000001",
    otel_trace_id="0" * 32,
    start_time_ns=0,
    raw_attributes={"score": json.dumps("1e+20")},
)

_SPAN_07 = Span(
    name="llm",
    span_id="0000000000000001",
    otel_trace_id="0" * 32,
    start_time_ns=0,
    end_time_ns=1_234_567,
    raw_attributes={"temperature": "0.7"},
)


@example(traces=[_trace("tr-1", spans=[_SPAN_07])], index=0, pick=0).via(
    "span.attributes.temperature = '0.70' compares as a number, not as text"
)
@example(traces=[_trace("tr-1", spans=[_SPAN_1E20])], index=0, pick=0).via(
    "span.attributes.score = 1e+20 missed the string '1e+20' (bind's number text)"
)
@settings(max_examples=examples(0.5))
@given(traces=trace_lists(1, 6), index=INDEX, pick=INDEX)
def test_a_span_matches_its_own_values_as_one_group(
    traces: list[Trace], index: int, pick: int
) -> None:
    trace = traces[index % len(traces)]
    if not trace.data.spans:
        return
    span = trace.data.spans[pick % len(trace.data.spans)]
    group: list[Expr] = list(span_facts(span))
    singles: list[Expr] = [
        _eq("span", f"attributes.{key}", literal)
        for key, value in span.attributes.items()
        for literal in _numeric_literals(value)
    ]
    if span.name:  # a span's name is one of its text units
        singles.append(Comparison(Field("span", "content"), Op.LIKE, String(span.name)))
        singles.append(Comparison(Field(None, "text"), Op.LIKE, String(span.name)))
    _assert_finds(
        TraceFrame.from_traces(traces), trace.info.trace_id, [And(group), *singles]
    )


@example(
    traces=[_trace("tr-1", assessments=[Assessment(name="iss-1", kind="issue")])],
    index=0,
).via("both engines matched issue.id against the name ''")
@example(
    traces=[
        _trace(
            "tr-1",
            assessments=[Assessment(name="tone", kind="feedback", value="positive")],
        )
    ],
    index=0,
).via("feedback.tone = '\"positive\"' must find the string positive")
@example(
    traces=[
        _trace(
            "tr-1", assessments=[Assessment(name="score", kind="feedback", value=0.7)]
        )
    ],
    index=0,
).via("feedback.score = '0.70' compares as a number")
@settings(max_examples=examples(0.5))
@given(traces=trace_lists(1, 6), index=INDEX)
def test_valid_assessments_match_their_own_values(
    traces: list[Trace], index: int
) -> None:
    trace = traces[index % len(traces)]
    exprs: list[Expr] = []
    others = [
        t.info.trace_id
        for t in traces
        if t is not trace and t.info.trace_metadata.get("mlflow.trace.session")
    ]
    finders: dict[str, list[Expr]] = {}  # trace id: filters it must match
    for a in trace.info.assessments:
        if not a.is_valid:
            continue
        if a.kind == "issue":
            found: list[Expr] = [_eq("issue", "id", String(a.name))]
        else:
            found = [Comparison(Field(a.kind, a.name), Op.IS_NOT_NULL, None)]
            if (text := canonical_text(a.value)) is not None:
                found.append(_eq(a.kind, a.name, String(text)))
                found += [_eq(a.kind, a.name, n) for n in _number_literals(a.value)]
                found += [_eq(a.kind, a.name, n) for n in _zero_padded(a.value)]
            if isinstance(a.value, str):  # its JSON-quoted form, as MLflow stores it
                quoted = json.dumps(a.value, ensure_ascii=False)
                found.append(_eq(a.kind, a.name, String(quoted)))
        exprs += found
        # A session-scoped assessment applies to every trace of its session.
        for other in traces:
            if (
                other.info.trace_id in others
                and a.session_id is not None
                and (
                    other.info.trace_metadata.get("mlflow.trace.session")
                    == a.session_id
                )
            ):
                finders.setdefault(other.info.trace_id, []).extend(found)
    frame = TraceFrame.from_traces(traces)
    _assert_finds(frame, trace.info.trace_id, exprs)
    for trace_id, found in finders.items():
        _assert_finds(frame, trace_id, found)


NUMBERS = st.one_of(
    st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False, allow_infinity=False)
)


@example(1e20).via("bind wrote 100000000000000000000; the canonical text is 1e+20")
@given(NUMBERS)
def test_a_number_literal_binds_to_its_canonical_text(number: float) -> None:
    cond = parse_filter(f"feedback.x = {number!r}").root
    assert isinstance(cond, Cond)
    assert isinstance(cond.value, Dynamic)
    assert cond.value.text == canonical_text(number)
