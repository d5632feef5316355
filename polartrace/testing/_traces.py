"""Strategies for traces: `traces` and `trace_lists`.

Every field is drawn from the shared vocabulary; composite values are sampled whole
(one Hypothesis choice each) because a list of twelve traces would otherwise take
thousands of choices.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Sequence
from typing import Any, Final

from hypothesis import strategies as st

from polartrace.catalogue.fields import (
    SPAN_STATUS_VALUES,
)
from polartrace.model.trace import (
    Assessment,
    AssessmentError,
    AssessmentSource,
    Span,
    SpanEvent,
    SpanStatus,
    Trace,
    TraceData,
    TraceInfo,
    TraceState,
)
from polartrace.testing._vocab import (
    _ASSESSMENT_NAMES,
    _ASSESSMENT_VALUES,
    _ATTR_KEYS,
    _CLIENT_IDS,
    _COSTS,
    _COUNTS,
    _DURATIONS,
    _EVENT_NAMES,
    _ISSUE_IDS,
    _META_KEYS,
    _META_VALUES,
    _MODELS,
    _NAMES_BAD,
    _PROMPTS,
    _PROVIDERS,
    _RAW_ATTRIBUTES,
    _RUNS,
    _SESSIONS,
    _SPAN_NAMES,
    _SPAN_NS,
    _SPAN_TYPES,
    _TAG_KEYS,
    _TAG_VALUES,
    _TEXTS,
    _TIMES,
    _TRACE_IDS,
    _TRACE_NAMES,
    _VALUES,
    BASE_TIME_MS,
)
from polartrace.values.conventions import SESSION_KEY, SOURCE_RUN_KEY


def _one_of_or_none(values: Sequence[Any]) -> st.SearchStrategy[Any]:
    return st.sampled_from((*values, None))


def _mostly_absent(values: Sequence[Any]) -> st.SearchStrategy[Any]:
    # None (absent) two times in three; shrinks to absent. One choice per key is
    # far cheaper than st.dictionaries, which rejects repeated keys.
    return st.sampled_from((None,) * (2 * len(values)) + tuple(values))


def _keyed(
    keys: Sequence[str], values: Sequence[st.SearchStrategy[Any]]
) -> st.SearchStrategy[dict[str, Any]]:
    """A strategy of dicts: each key present when its value strategy gives non-None."""
    return st.tuples(*values).map(
        lambda drawn: {k: v for k, v in zip(keys, drawn, strict=True) if v is not None}
    )


_TEXT = st.sampled_from(_TEXTS)
# Composite values are sampled whole, one choice each: every choice has a cost in
# Hypothesis, and a list of twelve traces built field by field would take over a
# thousand of them.
_PAYLOADS: Final[tuple[Any, ...]] = (
    *_TEXTS,
    *({"q": text} for text in _TEXTS),
    ["What is MLflow?", 2, "emoji 😀"],
    {"messages": [{"role": "user", "content": "Ünïcode café"}]},
    {"q": {"nested": ["refund policy", None, 42, True]}},
)
_PAYLOAD = st.sampled_from(_PAYLOADS).map(copy.deepcopy)
_RAW_VALUES: Final = (
    *(json.dumps(value) for value in _VALUES),
    *(json.dumps(value, ensure_ascii=False) for value in _VALUES[6:7]),
    *_RAW_ATTRIBUTES,
)
_EVENT_ATTRIBUTES: Final[tuple[dict[str, Any], ...]] = (
    {},
    {"exception.message": "timeout", "exception.type": "TimeoutError"},
    {"attempt": 2, "detail": [1, "a"]},
    {"exception.message": "Ünïcode café", "detail": None, "score": 0.7},
    {"detail": {"k": [1.0, "é"]}, "ok": False},
)
_EVENT = st.tuples(
    st.sampled_from(_EVENT_NAMES),
    st.sampled_from(_SPAN_NS),
    st.sampled_from(_EVENT_ATTRIBUTES).map(copy.deepcopy),
)
_COUNT = _mostly_absent(_COUNTS)
_COST = _mostly_absent(_COSTS)
# A usage or cost attribute: a JSON object of some members, or JSON that is not one.
_USAGE = st.one_of(
    _keyed(
        ("input_tokens", "output_tokens", "total_tokens", "cache_read_input_tokens"),
        [_COUNT] * 4,
    ).map(json.dumps),
    st.sampled_from(("[1, 2]", "12", '"{\\"input_tokens\\": 3}"', "not json")),
)
_LLM_COST = st.one_of(
    _keyed(("input_cost", "output_cost", "total_cost"), [_COST] * 3).map(json.dumps),
    st.sampled_from(("[0.5]", "0.5")),
)
_LLM_KEYS: Final = (
    "mlflow.chat.tokenUsage", "mlflow.llm.cost", "mlflow.llm.model",
    "mlflow.llm.provider", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
    "gen_ai.usage.cache_read.input_tokens", "gen_ai.request.model",
    "gen_ai.response.model", "gen_ai.provider.name", "llm.token_count.prompt",
    "llm.token_count.completion", "llm.token_count.total", "llm.model_name",
    "llm.cost.total", "gen_ai.response.time_to_first_chunk",
)  # fmt: skip
_JSON_COUNT = _COUNT.map(lambda v: None if v is None else json.dumps(v))
_JSON_COST = _COST.map(lambda v: None if v is None else json.dumps(v))
_JSON_NAME = _mostly_absent(_NAMES_BAD).map(
    lambda v: None if v is None else json.dumps(v)
)
#: LLM attributes under each convention, often several at once and disagreeing.
_LLM = st.one_of(
    st.just({}),
    _keyed(
        _LLM_KEYS,
        [
            st.one_of(st.none(), st.none(), _USAGE),
            st.one_of(st.none(), st.none(), _LLM_COST),
            _JSON_NAME,
            _mostly_absent(_PROVIDERS).map(lambda v: v and json.dumps(v)),
            _JSON_COUNT,
            _JSON_COUNT,
            _JSON_COUNT,
            _mostly_absent(_MODELS).map(lambda v: v and json.dumps(v)),
            _JSON_NAME,
            _mostly_absent(_PROVIDERS).map(lambda v: v and json.dumps(v)),
            _JSON_COUNT,
            _JSON_COUNT,
            _JSON_COUNT,
            _JSON_NAME,
            _JSON_COST,
            _mostly_absent([0.25, 0.5, -1]).map(lambda v: v and json.dumps(v)),
        ],
    ),
)

_SPAN = st.tuples(
    st.sampled_from(_SPAN_NAMES),
    st.sampled_from(_SPAN_NS[:3]),  # start, after the request time
    _one_of_or_none(_SPAN_NS),  # length; None: unfinished
    _one_of_or_none(_SPAN_TYPES),  # None: no mlflow.spanType, i.e. UNKNOWN
    st.one_of(st.none(), _PAYLOAD),  # inputs
    st.one_of(st.none(), _PAYLOAD),  # outputs
    st.booleans(),  # write inputs and outputs ASCII-escaped
    _keyed(_ATTR_KEYS, [_mostly_absent(_RAW_VALUES)] * len(_ATTR_KEYS)),
    st.sampled_from(
        [
            SpanStatus(code, message)
            for code in SPAN_STATUS_VALUES
            for message in ("", "x")
        ]
    ),
    st.lists(_EVENT, max_size=2),
    _LLM,
)
_ASSESSMENT = st.tuples(
    st.one_of(
        st.tuples(
            st.sampled_from(("feedback", "expectation")),
            st.sampled_from(_ASSESSMENT_NAMES),
            st.sampled_from(_ASSESSMENT_VALUES).map(copy.deepcopy),
        ),
        st.tuples(
            st.just("issue"),
            st.sampled_from(_ISSUE_IDS),
            st.sampled_from((None, True, False)),
        ),
    ),
    st.booleans(),  # a null feedback is error-only
    _one_of_or_none(_SESSIONS),  # session scope
    st.booleans(),  # has an assessment id
    st.booleans(),  # names its trace
    _one_of_or_none(
        [AssessmentSource("HUMAN", "tester"), AssessmentSource("LLM_JUDGE", "judge-1")]
    ),
    _one_of_or_none(_TIMES),  # create time
    st.one_of(st.none(), _TEXT),  # rationale
    st.booleans(),  # overrides another assessment
    st.sampled_from((None, None, True, False)),  # valid; False: overridden
)


_LINKED_PROMPTS: Final = (
    *(
        json.dumps([{"name": name, "version": version} for name, version in pairs])
        for pairs in ((), _PROMPTS[:1], _PROMPTS[:2], _PROMPTS[1:], _PROMPTS[2:])
    ),
    "not json",
)
_TAG_KEYS_ALL: Final = ("mlflow.traceName", "mlflow.linkedPrompts", *_TAG_KEYS)
_TAGS = _keyed(
    _TAG_KEYS_ALL,
    [
        _one_of_or_none(_TRACE_NAMES),
        _mostly_absent(_LINKED_PROMPTS),
        *[_mostly_absent(_TAG_VALUES)] * len(_TAG_KEYS),
    ],
)
_META_KEYS_ALL: Final = (SESSION_KEY, SOURCE_RUN_KEY, *_META_KEYS)
_METADATA = _keyed(
    _META_KEYS_ALL,
    [
        _one_of_or_none(_SESSIONS),
        _mostly_absent(_RUNS),
        *[_mostly_absent(_META_VALUES)] * len(_META_KEYS),
    ],
)
_INFO = st.tuples(
    st.sampled_from(TraceState),
    _one_of_or_none(_DURATIONS),  # always None for IN_PROGRESS
    st.one_of(
        st.sampled_from(_TIMES), st.integers(BASE_TIME_MS - 5000, BASE_TIME_MS + 9000)
    ),
    _one_of_or_none(_CLIENT_IDS),
    st.booleans(),  # has an experiment location
    st.one_of(st.none(), _TEXT),  # request preview
    st.one_of(st.none(), _TEXT),  # response preview
    _METADATA,
    _TAGS,
)
_TRACE_ID = st.one_of(
    st.sampled_from(_TRACE_IDS),
    st.integers(0, 2**128 - 1).map(lambda n: f"tr-{n:032x}"),
)


def _assessment(parts: tuple[Any, ...], trace_id: str) -> Assessment:
    (kind, name, value), failed, session, has_id, named, source, created = parts[:7]
    rationale, overrides, valid = parts[7:]
    error = None
    if kind == "feedback" and value is None and failed:
        error = AssessmentError("JUDGE_ERROR", "the judge failed")
    return Assessment(
        name=name,
        kind=kind,
        value=value,
        assessment_id=f"a-{name}" if has_id else None,
        trace_id=trace_id if named else None,
        source=source,
        create_time_ms=created,
        error=error,
        rationale=rationale,
        metadata={} if session is None else {SESSION_KEY: session},
        overrides="a-overridden" if overrides else None,
        valid=valid,
    )


def _span(
    parts: tuple[Any, ...], index: int, parent: str | None, otel: str, ms: int
) -> Span:
    name, offset, length, span_type, inputs, outputs, ascii_, extra, status = parts[:9]
    raw: dict[str, str] = {}
    if span_type is not None:
        raw["mlflow.spanType"] = json.dumps(span_type)
    for key, payload in (
        ("mlflow.spanInputs", inputs),
        ("mlflow.spanOutputs", outputs),
    ):
        if payload is not None:
            raw[key] = json.dumps(payload, ensure_ascii=ascii_)
    start = ms * 1_000_000 + offset
    return Span(
        name=name,
        span_id=f"{index + 1:016x}",
        otel_trace_id=otel,
        start_time_ns=start,
        end_time_ns=None if length is None else start + length,
        parent_id=parent,
        status=status,
        raw_attributes=raw | extra | parts[10],
        events=[SpanEvent(n, start + at, attrs) for n, at, attrs in parts[9]],
    )


def _draw_trace(
    draw: st.DrawFn, trace_id: str, max_spans: int, max_assessments: int
) -> Trace:
    state, duration, request_time, client, located, request, response, meta, tags = (
        draw(_INFO)
    )
    location = {
        "type": "MLFLOW_EXPERIMENT",
        "mlflow_experiment": {"experiment_id": "1"},
    }
    otel = hashlib.md5(trace_id.encode(), usedforsecurity=False).hexdigest()
    spans: list[Span] = []
    for index in range(draw(st.integers(0, max_spans))):
        # A parent among the earlier spans (shrinks towards the first); index: none.
        pick = draw(st.integers(0, index))
        parent = spans[pick].span_id if pick < index else None
        spans.append(_span(draw(_SPAN), index, parent, otel, request_time))
    assessments = draw(st.lists(_ASSESSMENT, max_size=max_assessments))
    info = TraceInfo(
        trace_id=trace_id,
        request_time=request_time,
        state=state,
        execution_duration=None if state is TraceState.IN_PROGRESS else duration,
        client_request_id=client,
        trace_location=location if located else None,
        request_preview=request,
        response_preview=response,
        trace_metadata=meta,
        tags=tags,
        assessments=[_assessment(parts, trace_id) for parts in assessments],
    )
    return Trace(info, TraceData(spans))


@st.composite
def _traces(
    draw: st.DrawFn,
    trace_ids: st.SearchStrategy[str],
    max_spans: int,
    max_assessments: int,
) -> Trace:
    return _draw_trace(draw, draw(trace_ids), max_spans, max_assessments)


def traces(
    *,
    trace_ids: st.SearchStrategy[str] | None = None,
    max_spans: int = 6,
    max_assessments: int = 4,
) -> st.SearchStrategy[Trace]:
    """Generate ``Trace`` objects from the shared vocabulary.

    States include ``IN_PROGRESS`` (its duration is null) and ``STATE_UNSPECIFIED``;
    request times lie a few seconds apart so that ties occur; client ids, trace
    names (``mlflow.traceName``), linked prompts (``mlflow.linkedPrompts``), runs
    (``mlflow.sourceRun``) and sessions (``mlflow.trace.session``) are sometimes
    absent. Spans have names, types, statuses (OK, ERROR, UNSET), parent links,
    JSON attributes of every kind (and some text that is not JSON), unicode inputs
    and outputs, and events. Assessments are feedback, expectations and issue links
    with boolean, numeric, string, list, object and null values, some error-only,
    overridden (``valid=False``) or scoped to a session.

    Args:
        trace_ids: Where trace ids come from (default: a small fixed set of
            ``tr-`` ids, plus random ones).
        max_spans: At most this many spans per trace.
        max_assessments: At most this many assessments per trace.

    Returns:
        A strategy of traces.

    Example:
        >>> from hypothesis import given, settings
        >>> @given(traces())
        ... @settings(max_examples=10)
        ... def test_in_progress_traces_have_no_duration(trace):
        ...     if trace.info.state == "IN_PROGRESS":
        ...         assert trace.info.execution_duration is None
        >>> test_in_progress_traces_have_no_duration()
    """
    ids = _TRACE_ID if trace_ids is None else trace_ids
    return _traces(ids, max_spans, max_assessments)


@st.composite
def _trace_lists(
    draw: st.DrawFn, min_size: int, max_size: int, max_spans: int, max_assessments: int
) -> list[Trace]:
    ids = draw(st.lists(_TRACE_ID, min_size=min_size, max_size=max_size, unique=True))
    return [_draw_trace(draw, trace_id, max_spans, max_assessments) for trace_id in ids]


def trace_lists(
    min_size: int = 0,
    max_size: int = 8,
    *,
    max_spans: int = 6,
    max_assessments: int = 4,
) -> st.SearchStrategy[list[Trace]]:
    """Generate lists of traces with unique trace ids (see :func:`traces`).

    Traces of one list share sessions, so session-scoped assessments of one trace
    apply to others.

    Args:
        min_size: At least this many traces.
        max_size: At most this many traces.
        max_spans: At most this many spans per trace.
        max_assessments: At most this many assessments per trace.

    Returns:
        A strategy of lists of traces.

    Example:
        >>> from hypothesis import given, settings
        >>> @given(trace_lists(2, 4))
        ... @settings(max_examples=10)
        ... def test_trace_ids_are_unique(traces):
        ...     assert len({t.info.trace_id for t in traces}) == len(traces)
        >>> test_trace_ids_are_unique()
    """
    return _trace_lists(min_size, max_size, max_spans, max_assessments)
