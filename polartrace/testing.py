r"""Hypothesis strategies for polartrace: traces, filters and ``order_by`` lists.

Like ``polars.testing.parametric``, this module is public so that code built on
polartrace can be property-tested with the data that proves polartrace's Polars
engine equal to its reference evaluator (``property_tests/``, ``docs/testing.md``).

It needs Hypothesis, a development dependency (``pip install 'polartrace[dev]'`` or
``pip install hypothesis``): importing it without Hypothesis raises ``ImportError``
saying so. Nothing else in polartrace imports it.

Everything is drawn from one small shared vocabulary (a handful of tag keys and
values, span names, attribute values, assessment names, times a few hundred
milliseconds apart), and :func:`filters` draws field names and literals from the
same vocabulary, so generated filters often match some traces and miss others.
Fields and operators come from the field catalogue (``polartrace.fields.FIELDS``):
a new field or operator is covered without touching this module.

Texts are chosen where Python and Rust agree (see docs/testing.md): no string ends
with a newline (Python's ``$`` also matches before one, Rust's does not), and every
character lower-cases the same in Python 3.11 and in Polars (Polars knows newer
Unicode versions). RLIKE patterns use a common regex subset: literals, ``.``, ``^``,
``$``, classes such as ``[a-z]``, ``\d``, ``* + ?``, groups and alternation.

Strategies are built once (module constants, or cached per field and operator):
Hypothesis validates every new strategy object, and building them inside draws
made generation an order of magnitude slower.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
import re
from collections.abc import Sequence
from typing import Any, Final

try:
    from hypothesis import assume
    from hypothesis import strategies as st
except ImportError as exc:  # pragma: no cover - depends on the environment
    _MSG = "polartrace.testing needs Hypothesis: pip install 'polartrace[dev]'"
    raise ImportError(_MSG) from exc

from polartrace import ast
from polartrace._json import canonical_text
from polartrace.ast import Op
from polartrace.bind import bind_order_by
from polartrace.fields import (
    FIELDS,
    ORDER_KEYS,
    PREFIXES,
    RESERVED_KEYS,
    SPAN_STATUS_VALUES,
    STATE_VALUES,
    FieldSpec,
    Prefix,
    ValueType,
)
from polartrace.model import (
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
from polartrace.operators import OPERATORS, Base

__all__ = [
    "BASE_TIME_MS",
    "comparisons",
    "example_traces",
    "filter_strings",
    "filters",
    "order_by_lists",
    "trace_lists",
    "traces",
]

# --- the shared vocabulary -----------------------------------------------------------

#: Request times are this (2023-11-14T22:13:20Z) plus a few seconds at most.
BASE_TIME_MS: Final = 1_700_000_000_000
_TIMES: Final = tuple(BASE_TIME_MS + ms for ms in (0, 0, 500, 1000, 1000, 2000, 60_000))
_DURATIONS: Final = (0, 50, 150, 150, 1000, 2500)
_ISO_TIMES: Final = (
    "2023-11-14", "2023-11-14T22:13:20Z", "2023-11-14T22:13:20.500Z",
    "2023-11-14 22:13:21", "2023-11-14T23:13:22+01:00", "2023-11-15",
)  # fmt: skip
# Fixed pseudo-random ids, so that id filters (request_id LIKE 'tr-9e%') can hit.
_TRACE_IDS: Final = tuple(
    f"tr-{i * 0x9E3779B97F4A7C15F39CC0605CEDC835 % 2**128:032x}" for i in range(1, 25)
)
_CLIENT_IDS: Final = ("req-1", "req-2", "REQ-1", "req_1", "")
_TRACE_NAMES: Final = ("chat_pipeline", "rag.query", "Summarize", "chat", "Ünï name")
_TAG_KEYS: Final = ("environment", "team", "my key", "env.region", "a-b")
_TAG_VALUES: Final = (
    "production", "Production", "staging", "dev", "", "a%b_c", "it's", "İstanbul",
    "ünï", "us-east-1", "100%", "line\nbreak", 'say "hi"',
)  # fmt: skip
_META_KEYS: Final = ("mlflow.trace.user", "weird.key-1", "mlflow.trace.tokenUsage")
_META_VALUES: Final = ("alice", "bob", "Älice", "", '{"input_tokens": 3}', "production")
_SESSIONS: Final = ("s1", "s2")
_RUNS: Final = ("run-1", "run-2", "RUN-1")
_PROMPTS: Final = (("qa", "1"), ("qa", "2"), ("summarize", "3"))
_SPAN_NAMES: Final = (
    "root", "retriever", "Retriever", "llm", "tool_call", "embed", "parse ü",
)  # fmt: skip
_SPAN_TYPES: Final = ("LLM", "CHAIN", "TOOL", "RETRIEVER", "custom type")
_SPAN_NS: Final = (0, 1_000_000, 2_500_000, 150_000_000, 1_000_000_000)
_ATTR_KEYS: Final = ("model", "temperature", "dims", "flag", "score", "mlflow.chat.x")
#: Decoded attribute values: strings, numbers, booleans, null, lists and objects.
_VALUES: Final[tuple[Any, ...]] = (
    "gpt-4", "GPT-4", "3", "3.0", "true", "", "ünï", "a%b_c", "1e+20", 0, 1, 3, 3.0,
    0.7, -1, -0.5, 1536, 2.5, 1e20, 2**53 + 1, True, False, None, [1, "a"], [],
    {"k": "v"}, {"k": [1.0, "é"]},
)  # fmt: skip
#: Attribute text that is not JSON: MLflow reads it back as the string itself.
_RAW_ATTRIBUTES: Final = ("LLM", "plain text")
_TEXTS: Final = (
    "What is MLflow?", "refund policy", "Ünïcode café", 'say "hi" 100%',
    "line one\nline two", "42", "\u0391\u03a3 \u03c3", "emoji 😀", "it's", "",
)  # fmt: skip
_EVENT_NAMES: Final = ("exception", "retry", "token")
_ASSESSMENT_NAMES: Final = ("correctness", "relevance", "tone", "judge", "my.metric")
_ASSESSMENT_VALUES: Final[tuple[Any, ...]] = (
    True, False, 0, 1, 3, 3.0, 0.5, 0.75, "positive", "Positive", "3", "", [1, 2],
    ["a", "b"], {"k": "v"}, None,
)  # fmt: skip
_ISSUE_IDS: Final = ("iss-1", "iss-2")
_MISSES: Final = ("zzz", "nope")  # strings no generated trace holds


def _texts_of(values: Sequence[Any]) -> tuple[str, ...]:
    texts = (canonical_text(value) for value in values)
    return tuple(dict.fromkeys(text for text in texts if text is not None))


def _numbers_of(values: Sequence[Any]) -> tuple[int | float, ...]:
    return tuple(
        v for v in values if isinstance(v, int | float) and not isinstance(v, bool)
    )


_DYNAMIC_WORDS: Final = (
    *_texts_of(_VALUES), *_texts_of(_ASSESSMENT_VALUES), '"positive"', "1e3", "0.50",
)  # fmt: skip
_FULL_TEXT_WORDS: Final = (
    *_TEXTS[:-1], *_SPAN_NAMES, *_EVENT_NAMES, "gpt-4", "ünï", "3", "true", "1536",
)  # fmt: skip
#: String literals by field (catalogue name); patterns are cut from the same words.
_WORDS: Final[dict[str, tuple[str, ...]]] = {
    "status": tuple(STATE_VALUES),
    "request_id": _TRACE_IDS[:8],
    "client_request_id": _CLIENT_IDS,
    "name": _TRACE_NAMES,
    "run_id": _RUNS,
    "prompt": ("qa/1", "qa/2", "summarize/3", "qa/3"),
    "text": _FULL_TEXT_WORDS,
    "tags.<key>": _TAG_VALUES,
    "metadata.<key>": (*_META_VALUES, *_SESSIONS, *_RUNS),
    "span.name": _SPAN_NAMES,
    "span.type": (*_SPAN_TYPES, "UNKNOWN"),
    "span.status": tuple(SPAN_STATUS_VALUES),
    "span.content": _FULL_TEXT_WORDS,
    "span.attributes.<key>": _DYNAMIC_WORDS,
    "feedback.<name>": _DYNAMIC_WORDS,
    "expectation.<name>": _DYNAMIC_WORDS,
    "issue.id": _ISSUE_IDS,
}
#: Number literals by field; equal to stored values, or just beside them.
_NUMBERS: Final[dict[str, tuple[int | float, ...]]] = {
    "timestamp_ms": (*_TIMES, BASE_TIME_MS - 1, BASE_TIME_MS + 999.5),
    "end_time_ms": (*_TIMES, BASE_TIME_MS + 150, BASE_TIME_MS + 2500, 1.7e12),
    "execution_time_ms": (*_DURATIONS, 149, 151, 0.5, -1),
    "span.duration_ms": (*(ns / 1e6 for ns in _SPAN_NS), 2, 149.5),
    "span.attributes.<key>": (*_numbers_of(_VALUES), 0.69, 2),
    "feedback.<name>": (*_numbers_of(_ASSESSMENT_VALUES), 0.6, 4),
    "expectation.<name>": (*_numbers_of(_ASSESSMENT_VALUES), 0.6, 4),
}
#: Keys of keyed fields; reserved keys resolve to other fields (tags.mlflow.traceName).
_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "tags.<key>": (*_TAG_KEYS, "mlflow.traceName", "mlflow.linkedPrompts", "missing"),
    "metadata.<key>": (*_META_KEYS, "mlflow.trace.session", "mlflow.sourceRun", "x"),
    "span.attributes.<key>": (*_ATTR_KEYS, "mlflow.spanType", "mlflow.spanInputs"),
    "feedback.<name>": (*_ASSESSMENT_NAMES, "missing"),
    "expectation.<name>": (*_ASSESSMENT_NAMES, "missing"),
}
# Written spellings of each prefix, in catalogue order (deterministic for replay).
_SPELLINGS: Final = {
    prefix: tuple(word for word, p in PREFIXES.items() if p is prefix and word)
    for prefix in Prefix
}
_OP_ORDER: Final = list(Op)

# --- traces --------------------------------------------------------------------------


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
# Composite values are sampled whole, one choice each: every choice costs Hypothesis
# about 0.1 ms, and a list of twelve traces takes over a thousand of them.
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
_META_KEYS_ALL: Final = ("mlflow.trace.session", "mlflow.sourceRun", *_META_KEYS)
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
        metadata={} if session is None else {"mlflow.trace.session": session},
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
        raw_attributes=raw | extra,
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


# --- filters -------------------------------------------------------------------------

_REGEX_CLASSES: Final = ("[a-z]", "[A-Z]", "[0-9]", "\\d", "[^a-z]", ".")


def _regex_literal(char: str) -> str:
    # \xHH reads the same in Rust's regex crate and Python's re; letters and
    # digits (any script) stand for themselves in both.
    if char.isascii() and not char.isalnum():
        return f"\\x{ord(char):02x}"
    return char


@st.composite
def _cut(draw: st.DrawFn, words: tuple[str, ...]) -> tuple[str, int, int]:
    """A word and the bounds of a piece of it."""
    word = draw(st.sampled_from(words))
    start = draw(st.integers(0, len(word)))
    return word, start, draw(st.integers(start, len(word)))


@st.composite
def _regexes(draw: st.DrawFn, words: tuple[str, ...]) -> str:
    """A regex from the common subset that matches a piece of a word, or nearly."""
    word, start, end = draw(_cut(words))
    atoms = [_regex_literal(char) for char in word[start:end]]
    if atoms:
        positions = st.integers(0, len(atoms) - 1)
        for index in draw(st.sets(positions, max_size=2)):
            atoms[index] = draw(st.sampled_from(_REGEX_CLASSES))
        for index in draw(st.sets(positions, max_size=1)):
            atoms[index] += draw(st.sampled_from(("?", "*", "+")))
    body = "".join(atoms)
    if draw(st.integers(0, 4)) == 0:  # a group with an alternative
        other, lo, hi = draw(_cut(words))
        alternative = "".join(_regex_literal(c) for c in other[lo:hi]) or "x"
        body = f"({body or 'y'}|{alternative})" + draw(st.sampled_from(("", "?", "+")))
    if start == 0 and draw(st.booleans()):
        body = "^" + body
    if end == len(word) and draw(st.booleans()):
        body += "$"
    return body


@st.composite
def _like_patterns(draw: st.DrawFn, words: tuple[str, ...], fold: bool) -> str:
    """A LIKE pattern that matches a word, or nearly; case-changed when ``fold``."""
    word, start, end = draw(_cut(words))
    core = list(word[start:end])
    if core:
        for index in draw(st.sets(st.integers(0, len(core) - 1), max_size=2)):
            core[index] = draw(st.sampled_from(("_", "%")))
    lead = "%" if start > 0 else draw(st.sampled_from(("", "%")))
    trail = "%" if end < len(word) else draw(st.sampled_from(("", "%")))
    pattern = lead + "".join(core) + trail
    if fold:
        pattern = draw(st.sampled_from((pattern, pattern.upper(), pattern.swapcase())))
    return pattern


_CLOSED_SETS: Final = (ValueType.STATE, ValueType.SPAN_STATUS, ValueType.PROMPT)
_Extra = st.SearchStrategy[str] | None


def _scalar(spec: FieldSpec, op: Op, extra: _Extra) -> st.SearchStrategy[ast.Literal]:
    """One literal that ``spec`` accepts with ``op``."""
    vtype = spec.value_type
    numbers = st.sampled_from(_NUMBERS.get(spec.name, (0, 1))).map(ast.Number)
    if extra is not None:
        integers = st.integers(-(2**63), 2**63 - 1)
        finite = st.floats(allow_nan=False, allow_infinity=False)
        numbers = st.one_of(numbers, integers.map(ast.Number), finite.map(ast.Number))
    if vtype in (ValueType.TIME, ValueType.NUMBER):
        spelt = numbers.map(lambda number: ast.String(repr(number.value)))
        if vtype is ValueType.TIME:
            spelt = st.one_of(spelt, st.sampled_from(_ISO_TIMES).map(ast.String))
        return st.one_of(numbers, spelt)
    words = _WORDS[spec.name]
    # States, span statuses and prompts must be spelt right: no misses there.
    strings = st.sampled_from(words if vtype in _CLOSED_SETS else (*words, *_MISSES))
    if extra is not None:
        strings = st.one_of(strings, extra)
    if vtype is ValueType.DYNAMIC:
        if OPERATORS[op].ordering:
            return numbers
        return st.one_of(numbers, strings.map(ast.String))
    return strings.map(ast.String)


def _bad_value(spec: FieldSpec, op: Op) -> st.SearchStrategy[ast.Literal]:
    """A literal the binder rejects for ``spec`` and ``op`` (mostly)."""
    vtype, base = spec.value_type, OPERATORS[op].base
    if base is Base.RLIKE:
        return st.sampled_from(("(", "a{2,1}", "(?<=a)b", "[z-a]")).map(ast.String)
    if OPERATORS[op].pattern:
        return st.just(ast.Number(1))
    if vtype in (ValueType.TIME, ValueType.NUMBER):
        return st.sampled_from(("soon", "2023-02-30", "1 000")).map(ast.String)
    if vtype is ValueType.DYNAMIC:  # ordering operators need a number literal
        return st.just(ast.String("3"))
    if vtype in (ValueType.STATE, ValueType.SPAN_STATUS):
        return st.sampled_from(("ok", "FAILED", "")).map(ast.String)
    if vtype is ValueType.PROMPT:
        return st.sampled_from(("qa", "a/b/c", "/1")).map(ast.String)
    return st.just(ast.Number(1))


@functools.cache
def _value(
    spec: FieldSpec, op: Op, extra: _Extra, bad: bool
) -> st.SearchStrategy[ast.Value | None]:
    """The right-hand side of ``spec op ...``: a literal, a list, or ``None``."""
    if op in (Op.IS_NULL, Op.IS_NOT_NULL):
        return st.none()
    if op in (Op.IN, Op.NOT_IN):
        items = st.lists(_scalar(spec, op, extra), min_size=1, max_size=3)
        if bad:
            items = st.tuples(items, _bad_value(spec, op)).map(lambda p: [*p[0], p[1]])
        return items.map(ast.ValueList)
    if bad:
        return _bad_value(spec, op)
    if not OPERATORS[op].pattern:
        return _scalar(spec, op, extra)
    words = _WORDS.get(spec.name) or tuple(map(str, _NUMBERS.get(spec.name, (0,))))
    words = (*words, *_MISSES)
    base = OPERATORS[op].base
    patterns = (
        _regexes(words)
        if base is Base.RLIKE
        else _like_patterns(words, fold=base is Base.ILIKE)
    )
    if extra is not None:
        patterns = st.one_of(patterns, extra)
    return patterns.map(ast.String)


def _quotable(key: str) -> bool:
    # unparse quotes a key with a quote character it does not contain.
    return bool(key) and not set("`'\"") <= set(key)


@functools.cache
def _written(
    spec: FieldSpec, extra: _Extra
) -> st.SearchStrategy[tuple[ast.Field, FieldSpec]]:
    """Spellings of ``spec`` as users write it, with the field each resolves to."""
    spellings = _SPELLINGS[spec.prefix]
    if spec.prefix is Prefix.ATTRIBUTE:
        names = (spec.name, *spec.aliases)
        written = [ast.Field(p, n) for p in (None, *spellings) for n in names]
        # Reserved keys spell the same field: tags.`mlflow.traceName` is name.
        for (prefix, key), target in RESERVED_KEYS.items():
            if target is spec:
                written += [ast.Field(p, key) for p in _SPELLINGS[prefix]]
        # Mapped, not sampled as pairs: a FieldSpec in a strategy's repr is huge.
        return st.sampled_from(written).map(lambda field: (field, spec))
    if not spec.keyed:  # span.name, issue.id: the key is the field's own name
        key = spec.name.partition(".")[2]
        fields = [ast.Field(prefix, key) for prefix in spellings]
        return st.sampled_from(fields).map(lambda field: (field, spec))
    keys = st.sampled_from(_KEYS[spec.name])
    if extra is not None:
        keys = st.one_of(keys, extra.filter(_quotable))
    lead = "attributes." if spec.prefix is Prefix.SPAN else ""

    def field(pair: tuple[str, str]) -> tuple[ast.Field, FieldSpec]:
        prefix, key = pair
        return ast.Field(prefix, lead + key), RESERVED_KEYS.get(
            (spec.prefix, key), spec
        )

    return st.tuples(st.sampled_from(spellings), keys).map(field)


@functools.cache
def _operators(
    spec: FieldSpec, only: tuple[Op, ...] | None
) -> st.SearchStrategy[Op] | None:
    # Sorted: frozenset order depends on the hash seed, which would break replay.
    ops = [op for op in _OP_ORDER if op in spec.ops and (only is None or op in only)]
    return st.sampled_from(ops) if ops else None


@functools.cache
def _rejected(spec: FieldSpec) -> st.SearchStrategy[Op] | None:
    ops = [op for op in _OP_ORDER if op not in spec.ops]
    return st.sampled_from(ops) if ops else None  # dynamic fields take every op


_BY_NAME: Final = {spec.name: spec for spec in FIELDS}


@st.composite
def _comparisons(
    draw: st.DrawFn,
    names: tuple[str, ...],
    only: tuple[Op, ...] | None,
    errors: bool,
    extra: _Extra,
) -> ast.Comparison:
    field, spec = draw(_written(_BY_NAME[draw(st.sampled_from(names))], extra))
    rejected = _rejected(spec)
    if errors and rejected is not None and draw(st.integers(0, 15)) == 0:
        op = draw(rejected)
        return ast.Comparison(field, op, draw(_value(spec, op, extra, bad=False)))
    operators = _operators(spec, only)
    # Only a reserved key can leave nothing here (tags.`mlflow.linkedPrompts` is
    # prompt, which takes = and IN): such draws are rejected.
    assume(operators is not None)
    assert operators is not None  # for type checkers
    op = draw(operators)
    bad = (
        errors
        and op not in (Op.IS_NULL, Op.IS_NOT_NULL)
        and draw(st.integers(0, 15)) == 0
    )
    return ast.Comparison(field, op, draw(_value(spec, op, extra, bad)))


_FILTERABLE: Final = tuple(spec for spec in FIELDS if spec.ops)


def comparisons(
    *,
    fields: Sequence[FieldSpec] = _FILTERABLE,
    ops: Sequence[Op] | None = None,
    errors: bool = False,
    text: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[ast.Comparison]:
    """Generate one comparison on a catalogue field with an operator it accepts.

    The field is spelt in any accepted way (prefix spellings, aliases, reserved
    tag and metadata keys) and the literal suits the field and operator: states,
    ISO-8601 dates and numeric strings, ``name/version`` prompts, LIKE patterns with
    ``%`` and ``_``, regexes from the common Rust/Python subset, ``IN`` lists, or no
    value for ``IS [NOT] NULL``. Values and keys come from the vocabulary of
    :func:`traces`.

    Args:
        fields: Catalogue entries to draw from (default: every filterable field).
        ops: Only these operators (default: every operator the field accepts).
        errors: Now and then draw an operator the field rejects or a literal the
            binder rejects, for tests that expect filter errors.
        text: Extra strings for literals, patterns and keys (for example
            ``st.text()``), for syntax tests that need more than the vocabulary.

    Returns:
        A strategy of :class:`polartrace.ast.Comparison` nodes.

    Example:
        >>> from hypothesis import find
        >>> from polartrace.ast import unparse
        >>> from polartrace.fields import FIELDS
        >>> latency = next(f for f in FIELDS if f.name == "execution_time_ms")
        >>> unparse(find(comparisons(fields=[latency], ops=[Op.IS_NULL]), bool))
        'execution_time_ms IS NULL'
    """
    only = None if ops is None else tuple(ops)
    return _comparisons(tuple(spec.name for spec in fields), only, errors, text)


def filters(
    *,
    max_leaves: int = 5,
    fields: Sequence[FieldSpec] = _FILTERABLE,
    errors: bool = False,
    text: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[ast.Expr]:
    """Generate filter syntax trees: comparisons joined by AND, OR, NOT and nesting.

    Leaves come from :func:`comparisons`; ``And`` and ``Or`` nodes have two or
    three operands, and any node may be negated or nested (parentheses are
    implied by the tree; :func:`polartrace.ast.unparse` writes them). Span
    comparisons in one AND-chain form one span group, so trees with several of them
    test the same-span rule.

    Args:
        max_leaves: At most about this many comparisons per tree.
        fields: Catalogue entries to draw comparisons from.
        errors: Sometimes draw comparisons that the binder rejects.
        text: Extra strings for literals and keys (see :func:`comparisons`).

    Returns:
        A strategy of :data:`polartrace.ast.Expr` trees.

    Example:
        >>> from hypothesis import given, settings
        >>> from polartrace import parse_filter
        >>> from polartrace.ast import unparse
        >>> @given(filters())
        ... @settings(max_examples=10)
        ... def test_generated_filters_bind(tree):
        ...     parse_filter(unparse(tree))  # raises if the binder rejects it
        >>> test_generated_filters_bind()
    """
    leaves = comparisons(fields=fields, errors=errors, text=text)

    def extend(children: st.SearchStrategy[ast.Expr]) -> st.SearchStrategy[ast.Expr]:
        operands = st.lists(children, min_size=2, max_size=3)
        return st.one_of(
            operands.map(ast.And), operands.map(ast.Or), children.map(ast.Not)
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


def filter_strings(**kwargs: Any) -> st.SearchStrategy[str]:
    """Generate filter text: :func:`filters` written out by ``ast.unparse``.

    Args:
        **kwargs: Passed to :func:`filters`.

    Returns:
        A strategy of filter strings.

    Example:
        >>> from hypothesis import find
        >>> find(filter_strings(), lambda s: s.startswith("status ="))
        "status = 'STATE_UNSPECIFIED'"
    """
    return filters(**kwargs).map(ast.unparse)


# --- order_by ------------------------------------------------------------------------

_BARE_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*\Z")


def _order_fields() -> tuple[str, ...]:
    def quoted(key: str) -> str:
        return key if _BARE_KEY.match(key) else f"`{key}`"

    tags = (f"tags.{quoted(key)}" for key in _KEYS["tags.<key>"])
    metadata = (f"metadata.{quoted(key)}" for key in _KEYS["metadata.<key>"])
    return (*ORDER_KEYS, *tags, *metadata)


def _identity(entry: str) -> Any:
    return bind_order_by([entry])[0].identity


_ORDER_BY = st.one_of(
    st.none(),
    st.lists(
        st.tuples(
            st.sampled_from(_order_fields()),
            st.sampled_from(("", " ASC", " DESC", " asc", " Desc")),
        ).map("".join),
        max_size=3,
        unique_by=_identity,
    ),
)


def order_by_lists() -> st.SearchStrategy[list[str] | None]:
    """Generate ``order_by`` arguments: ``None`` or lists of up to three keys.

    Keys are the orderable attributes (aliases included) and tags and metadata from
    the vocabulary of :func:`traces`, each with no direction, ``ASC`` or ``DESC``
    in any case. No two entries name the same key (also through an alias), so
    every list is valid.

    Returns:
        A strategy of ``None`` or lists of strings.

    Example:
        >>> from hypothesis import find
        >>> find(order_by_lists(), lambda keys: bool(keys))
        ['status']
    """
    return _ORDER_BY


# --- fixed examples ------------------------------------------------------------------


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
            trace_metadata={"mlflow.trace.session": "s1"},
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
