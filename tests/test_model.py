"""The trace model: exact MLflow JSON round trip, accessors, value helpers, errors."""

from __future__ import annotations

import contextlib
import copy
import doctest
import json
import math
import re
from collections.abc import Callable
from typing import Any

import attrs
import pytest

import polartrace.model.span
import polartrace.model.trace
import polartrace.values.json_values
from polartrace.model.timestamps import format_timestamp_ms, parse_timestamp_ms
from polartrace.model.trace import (
    Assessment,
    AssessmentError,
    AssessmentKind,
    AssessmentSource,
    Span,
    SpanEvent,
    SpanStatus,
    SpanStatusCode,
    SpanType,
    Trace,
    TraceData,
    TraceInfo,
    TraceState,
)
from polartrace.values.errors import TraceFormatError
from polartrace.values.json_values import (
    LONG_INTEGER,
    canonical_text,
    decode_attribute,
    decode_attribute_fast,
    numeric_value,
    text_leaves,
)
from tests.conftest import load_jsonl

LINES = load_jsonl("oracle-traces.jsonl")
RAW = {line["label"]: line["trace"] for line in LINES}


def trace(label: str) -> Trace:
    return Trace.from_dict(RAW[label])


def span(label: str, name: str) -> Span:
    (found,) = trace(label).search_spans(name=name)
    return found


def assessment(label: str, name: str, *, valid: bool = True) -> Assessment:
    (found,) = [
        a
        for a in trace(label).info.assessments
        if a.name == name and a.is_valid is valid
    ]
    return found


# --- round trip ----------------------------------------------------------------------


@pytest.mark.parametrize("line", LINES, ids=[line["label"] for line in LINES])
def test_to_dict_writes_back_the_fixture_json_exactly(line: dict[str, Any]) -> None:
    loaded = Trace.from_dict(line["trace"])
    assert json.dumps(loaded.to_dict()) == json.dumps(line["trace"])


@pytest.mark.parametrize("line", LINES, ids=[line["label"] for line in LINES])
def test_to_json_is_the_text_mlflow_writes(line: dict[str, Any]) -> None:
    assert Trace.from_dict(line["trace"]).to_json() == json.dumps(line["trace"])


@pytest.mark.parametrize("line", LINES, ids=[line["label"] for line in LINES])
def test_from_json_reads_back_an_equal_trace(line: dict[str, Any]) -> None:
    loaded = Trace.from_dict(line["trace"])
    assert Trace.from_json(loaded.to_json(pretty=True)) == loaded


def test_reading_does_not_share_mappings_with_the_input() -> None:
    raw = copy.deepcopy(RAW["T1"])
    loaded = Trace.from_dict(raw)
    raw["info"]["tags"]["environment"] = "changed"
    raw["data"]["spans"][1]["attributes"]["model"] = '"changed"'
    assert loaded.info.tags["environment"] == "production"
    assert loaded.data.spans[1].attributes["model"] == "gpt-4"


def test_state_spelled_trace_status_unspecified_is_written_as_state_unspecified() -> (
    None
):
    raw = copy.deepcopy(RAW["T4"])
    raw["info"]["state"] = "TRACE_STATUS_UNSPECIFIED"
    loaded = Trace.from_dict(raw)
    assert loaded.info.state is TraceState.STATE_UNSPECIFIED
    assert loaded.to_dict()["info"]["state"] == "STATE_UNSPECIFIED"


def test_empty_maps_and_lists_are_left_out_as_protobuf_does() -> None:
    info = TraceInfo(trace_id="tr-1", request_time=0, tags={}, assessments=[])
    assert list(info.to_dict()) == ["trace_id", "request_time", "state"]


def test_issue_assessment_round_trips_after_valid() -> None:
    raw = {
        "assessment_id": "a-1",
        "assessment_name": "iss-123",
        "metadata": {"issue_name": "hallucination"},
        "valid": True,
        "issue": {"value": True},
    }
    loaded = Assessment.from_dict(raw)
    assert (loaded.kind, loaded.name, loaded.value) == ("issue", "iss-123", True)
    assert json.dumps(loaded.to_dict()) == json.dumps(raw)


def test_top_level_run_id_round_trips() -> None:
    raw = {"assessment_name": "x", "feedback": {"value": 1.0}, "run_id": "r-1"}
    loaded = Assessment.from_dict(raw)
    assert loaded.run_id == "r-1"
    assert loaded.to_dict() == raw


def test_run_id_falls_back_to_source_run_metadata() -> None:
    loaded = Assessment(
        name="x", kind="feedback", metadata={"mlflow.assessment.sourceRunId": "r-2"}
    )
    assert loaded.run_id == "r-2"
    assert "run_id" not in loaded.to_dict()


def test_deprecated_top_level_error_is_read_into_the_feedback() -> None:
    raw = {
        "assessment_name": "j",
        "feedback": {"value": None},
        "error": {"error_code": "E"},
    }
    loaded = Assessment.from_dict(raw)
    assert loaded.error == AssessmentError(error_code="E")
    assert loaded.to_dict()["feedback"] == {"value": None, "error": {"error_code": "E"}}


# --- times ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("2023-11-14T22:13:20Z", 1_700_000_000_000),
        ("2023-11-14T22:13:20.500Z", 1_700_000_000_500),
        ("2023-11-14T22:13:20.5Z", 1_700_000_000_500),
        ("2023-11-14T22:13:20.123456789Z", 1_700_000_000_123),
        ("2023-11-14T23:13:20+01:00", 1_700_000_000_000),
        ("2023-11-14T16:43:20.25-05:30", 1_700_000_000_250),
        ("2023-11-14t22:13:20z", 1_700_000_000_000),
        ("1969-12-31T23:59:59.9995Z", -1),
    ],
    ids=[
        "whole",
        "millis",
        "short-fraction",
        "nanos-floored",
        "plus-offset",
        "minus-offset",
        "lower-case",
        "before-epoch-floored",
    ],
)
def test_parse_timestamp_ms_reads_rfc3339(text: str, ms: int) -> None:
    assert parse_timestamp_ms(text) == ms


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (1_700_000_000_000, "2023-11-14T22:13:20Z"),
        (1_700_000_000_500, "2023-11-14T22:13:20.500Z"),
        (1_700_000_000_007, "2023-11-14T22:13:20.007Z"),
        (-1, "1969-12-31T23:59:59.999Z"),
    ],
    ids=["whole", "millis", "leading-zeros", "before-epoch"],
)
def test_format_timestamp_ms_writes_protobuf_json(ms: int, text: str) -> None:
    assert format_timestamp_ms(ms) == text


def test_integer_request_time_is_read_as_epoch_ms() -> None:
    raw = copy.deepcopy(RAW["T4"])
    raw["info"]["request_time"] = 1_700_000_000_500
    assert Trace.from_dict(raw).info.request_time == 1_700_000_000_500


def test_request_time_beyond_year_9999_fails_to_serialize() -> None:
    info = TraceInfo(trace_id="tr-1", request_time=10**15)
    with pytest.raises(TraceFormatError, match="outside the years") as caught:
        info.to_dict()
    assert caught.value.location == "info.request_time"


# --- accessors on the fixture traces -------------------------------------------------


def test_trace_info_accessors_of_t1() -> None:
    info = trace("T1").info
    assert info.trace_id == info.request_id == "tr-48a3400cfc68eb1f6eef00340787b3ee"
    assert info.request_time == info.timestamp_ms == 1_700_000_000_000
    assert info.execution_duration == info.execution_time_ms == 150
    assert info.end_time_ms == 1_700_000_000_150
    assert info.state is info.status is TraceState.OK
    assert info.client_request_id == "req-001"
    assert info.experiment_id == "1"
    assert info.trace_name == "chat_pipeline"
    assert info.session_id == "s1"
    assert (
        info.request_metadata["mlflow.sourceRun"] == "dd250784ed96453fa1d2925bc501601e"
    )
    assert info.request_preview == '{"question": "What is MLflow?"}'


def test_trace_info_accessors_of_t4_without_spans() -> None:
    loaded = trace("T4")
    info = loaded.info
    assert info.request_time == 1_700_000_000_500
    assert info.state is TraceState.IN_PROGRESS
    assert info.execution_duration is None
    assert info.end_time_ms == 1_700_000_000_500
    assert (info.client_request_id, info.trace_name, info.session_id) == (
        None,
        None,
        None,
    )
    assert (info.request_preview, info.response_preview) == (None, None)
    assert info.assessments == ()
    assert loaded.data.spans == ()
    assert (loaded.data.request, loaded.data.response) == (None, None)


def test_tags_keep_their_stored_order() -> None:
    assert list(trace("T6").info.tags) == [
        "mlflow.traceName",
        "quote",
        "name",
        "my key",
        "env.region",
        "mlflow.artifactLocation",
        "mlflow.trace.spansLocation",
    ]


def test_request_and_response_are_the_decoded_root_span_values() -> None:
    data = trace("T1").data
    assert data.request == {"question": "What is MLflow?"}
    assert data.response == {"answer": "MLflow is an open source platform"}


def test_response_is_none_when_the_root_span_has_no_outputs() -> None:
    assert trace("T2").data.response is None


def test_request_keeps_non_ascii_text() -> None:
    assert trace("T3").data.request == "plain string input with Ünïcode"


def test_span_accessors_of_t1_retriever() -> None:
    retriever = span("T1", "retriever")
    assert retriever.span_id == "9851c64a087f4a1e"
    assert retriever.parent_id == "ab2356c8b6dc8932"
    assert retriever.otel_trace_id == "48a3400cfc68eb1f6eef00340787b3ee"
    assert retriever.trace_id == retriever.request_id
    assert retriever.trace_id == "tr-48a3400cfc68eb1f6eef00340787b3ee"
    assert retriever.span_type == SpanType.RETRIEVER
    assert retriever.status == SpanStatus(SpanStatusCode.OK, "")
    assert retriever.start_time_ns == 1_700_000_000_001_000_000
    assert retriever.end_time_ns == 1_700_000_000_002_000_000
    assert retriever.duration_ms == 1.0
    assert retriever.inputs == {"query": "mlflow"}
    assert retriever.outputs == [{"doc": "d1"}]
    assert retriever.events == ()


def test_span_attributes_are_decoded_in_stored_order() -> None:
    retriever = span("T1", "retriever")
    retriever.get_attribute("temperature")  # a cached key must not move to the front
    assert list(retriever.attributes.items())[3:6] == [
        ("mlflow.spanInputs", {"query": "mlflow"}),
        ("model", "gpt-4"),
        ("temperature", 0.7),
    ]


def test_span_attributes_keep_json_types() -> None:
    embed = span("T6", "embed")
    assert (embed.get_attribute("dims"), embed.get_attribute("flag")) == (1536, True)


def test_root_span_has_no_parent() -> None:
    root = trace("T1").data.root_span
    assert root is not None
    assert (root.name, root.parent_id) == ("chat_pipeline", None)


def test_span_status_error_is_read() -> None:
    assert span("T2", "llm_call").status.code is SpanStatusCode.ERROR


def test_numeric_span_output_is_decoded() -> None:
    assert span("T3", "tool_call").outputs == 2


def test_decoding_cache_is_not_part_of_equality() -> None:
    used, fresh = span("T1", "retriever"), span("T1", "retriever")
    assert used.attributes
    assert used == fresh


def test_attribute_text_that_is_not_json_is_returned_raw() -> None:
    raw = Span(
        name="s",
        span_id="00" * 8,
        otel_trace_id="00" * 16,
        start_time_ns=0,
        raw_attributes={"mlflow.spanType": "LLM", "mlflow.spanInputs": "{oops"},
    )
    assert (raw.span_type, raw.inputs) == ("LLM", "{oops")


_FAST_TEXTS = [
    "123456789012345678901234567890",  # wider than 64 bits: orjson reads a float
    "-9223372036854775809",
    "18446744073709551616",
    "18446744073709551615",  # uint64 max: orjson's int, exact
    "9223372036854775808",
    '{"n": [1, {"deep": 123456789012345678901234567890}]}',
    '["123456789012345678901234567890"]',  # digits inside a string only
    "1e19",  # a wide float literal: a float either way
    "NaN",
    "Infinity",
    "1e400",
    '"\\ud800"',  # a lone surrogate: orjson rejects it, json reads it
    "-0",
    "-0.0",
    '{"a": 1, "a": 2}',
    "{oops",
    "",
    '"LLM"',
    '{"q": "caf\\u00e9", "k": [true, null, 2.5]}',
]


def _typed(value: Any) -> Any:
    """``value`` with each leaf's type beside it (``1 == 1.0``, but not as cells)."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, repr(value))


@pytest.mark.parametrize("text", _FAST_TEXTS)
def test_fast_attribute_decoding_is_exactly_json(text: str) -> None:
    expected = _typed(decode_attribute(text))
    assert _typed(decode_attribute_fast(text)) == expected
    # A caller that checked many texts at once passes the LONG_INTEGER flag.
    flag = re.search(LONG_INTEGER, text) is not None
    assert _typed(decode_attribute_fast(text, flag)) == expected


def test_span_without_type_attribute_is_unknown() -> None:
    bare = Span(name="s", span_id="00" * 8, otel_trace_id="00" * 16, start_time_ns=0)
    assert bare.span_type == "UNKNOWN"
    assert (bare.trace_id, bare.inputs, bare.duration_ms) == (None, None, None)


def test_unfinished_span_writes_null_end_time() -> None:
    bare = Span(name="s", span_id="00" * 8, otel_trace_id="00" * 16, start_time_ns=5)
    assert bare.to_dict()["end_time_unix_nano"] is None
    assert bare.to_dict()["parent_span_id"] is None


def test_span_events_round_trip_with_plain_attributes() -> None:
    event = {"name": "exception", "time_unix_nano": 7, "attributes": {"n": 1}}
    raw = copy.deepcopy(RAW["T1"]["data"]["spans"][0])
    raw["events"] = [event]
    loaded = Span.from_dict(raw)
    assert loaded.events == (SpanEvent("exception", 7, {"n": 1}),)
    assert loaded.events[0].timestamp == 7
    assert loaded.to_dict()["events"] == [event]


def test_feedback_values_keep_their_json_types() -> None:
    assert assessment("T1", "correctness").value is True
    assert assessment("T1", "relevance").value == 0.9
    assert assessment("T2", "relevance").value == 3.0
    assert assessment("T1", "tone").value == "positive"


def test_expectation_serialized_value_is_decoded() -> None:
    facts = assessment("T1", "expected_facts")
    assert (facts.kind, facts.value) == (AssessmentKind.EXPECTATION, ["a", "b"])
    assert assessment("T6", "expected_answer").value == {"k": "v"}


def test_error_only_feedback_has_no_value_and_an_error() -> None:
    judge = assessment("T3", "judge")
    assert judge.value is None
    assert judge.error == AssessmentError(
        "Exception", "boom", "Exception('boom')Exception: boom"
    )
    assert judge.source == AssessmentSource("LLM_JUDGE", "j")


def test_overridden_assessment_is_not_valid() -> None:
    old = assessment("T5", "tone", valid=False)
    new = assessment("T5", "tone")
    assert (old.valid, old.value) == (False, "neutral")
    assert (new.valid, new.overrides) == (True, "a-5cdaa5d7c0fb4f1fa892c5a81a46859a")


def test_missing_valid_flag_means_valid() -> None:
    assert Assessment(name="x", kind="feedback").is_valid is True


def test_session_scoped_assessment_has_a_session_id() -> None:
    assert assessment("T2", "session_quality").session_id == "s1"
    assert assessment("T2", "tone").session_id is None


def test_assessment_times_are_epoch_ms() -> None:
    first = assessment("T1", "correctness")
    assert first.create_time_ms == first.last_update_time_ms == 1_795_685_062_840


def test_assessment_keys_follow_protobuf_field_numbers() -> None:
    written = Assessment(
        name="n",
        kind="feedback",
        value=1,
        assessment_id="a-1",
        trace_id="tr-1",
        span_id="s",
        source=AssessmentSource("HUMAN", "me"),
        create_time_ms=0,
        last_update_time_ms=0,
        rationale="r",
        metadata={"k": "v"},
        overrides="a-0",
        valid=True,
    ).to_dict()
    assert list(written) == [
        "assessment_id",
        "assessment_name",
        "trace_id",
        "span_id",
        "source",
        "create_time",
        "last_update_time",
        "feedback",
        "rationale",
        "metadata",
        "overrides",
        "valid",
    ]


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("MLflow", {"value": "MLflow"}),
        (2.0, {"value": 2.0}),
        (False, {"value": False}),
        (
            ["a", "b"],
            {
                "serialized_value": {
                    "serialization_format": "JSON_FORMAT",
                    "value": '["a", "b"]',
                }
            },
        ),
    ],
    ids=["string", "number", "boolean", "list"],
)
def test_expectation_is_written_as_mlflow_does(value: Any, written: Any) -> None:
    expectation = Assessment(name="e", kind="expectation", value=value)
    assert expectation.to_dict()["expectation"] == written


# --- construction --------------------------------------------------------------------


def test_keyword_constructors_convert_strings_to_enums() -> None:
    info = TraceInfo(trace_id="tr-1", request_time=0, state="ERROR")
    assert info.state is TraceState.ERROR
    assert SpanStatus("OK").code is SpanStatusCode.OK
    assert Assessment(name="x", kind="issue").kind is AssessmentKind.ISSUE


def test_models_are_frozen() -> None:
    info = TraceInfo(trace_id="tr-1", request_time=0)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        info.trace_id = "tr-2"  # type: ignore[misc]


def test_constructed_trace_writes_mlflow_json() -> None:
    root = Span(
        name="root",
        span_id="0000000000000001",
        otel_trace_id="000000000000000000000000000000ab",
        start_time_ns=1,
        end_time_ns=2,
        status=SpanStatus("OK"),
        raw_attributes={"mlflow.spanType": '"CHAIN"'},
    )
    built = Trace(TraceInfo(trace_id="tr-x", request_time=0), TraceData([root]))
    assert built.to_dict()["data"]["spans"][0]["span_id"] == "AAAAAAAAAAE="
    assert built.to_dict()["data"]["spans"][0]["status"]["code"] == "STATUS_CODE_OK"
    assert Trace.from_dict(built.to_dict()) == built


# --- search_spans --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("criteria", "names"),
    [
        ({"span_type": SpanType.LLM}, ["llm_call"]),
        ({"name": "retriever"}, ["retriever"]),
        ({"name": re.compile("_")}, ["chat_pipeline", "llm_call"]),
        ({"span_id": "20f2b37bd71414ef"}, ["llm_call"]),
        ({"span_type": SpanType.LLM, "name": "retriever"}, []),
        ({}, ["chat_pipeline", "retriever", "llm_call"]),
    ],
    ids=["type", "name", "pattern-searches", "span-id", "all-criteria", "none"],
)
def test_search_spans(criteria: dict[str, Any], names: list[str]) -> None:
    assert [s.name for s in trace("T1").search_spans(**criteria)] == names


def test_search_spans_rejects_a_name_of_another_type() -> None:
    with pytest.raises(TypeError, match="name must be a str"):
        trace("T1").search_spans(name=1)  # type: ignore[arg-type]


# --- canonical text, numbers, text leaves --------------------------------------------


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("positive", "positive"),
        ("Ünïcode ✓", "Ünïcode ✓"),
        ("", ""),
        (True, "true"),
        (False, "false"),
        (3, "3"),
        (2**70, "1180591620717411303424"),
        (3.0, "3"),
        (-0.0, "0"),
        (0.9, "0.9"),
        (1e15, "1000000000000000"),
        (1e16, "1e+16"),
        (1e30, "1e+30"),
        (1e-07, "1e-07"),
        (math.nan, "NaN"),
        (-math.inf, "-Infinity"),
        ([1.0, "é", None, True], '[1, "é", null, true]'),
        ({"z": {"b": 3.0}, "a": [2.5]}, '{"z": {"b": 3}, "a": [2.5]}'),
        ([], "[]"),
        ({}, "{}"),
    ],
    ids=[
        "string",
        "unicode",
        "empty-string",
        "true",
        "false",
        "int",
        "huge-int",
        "integral-float",
        "negative-zero",
        "float",
        "big-integral-float",
        "exponent-threshold",
        "exponent",
        "small-exponent",
        "nan",
        "negative-infinity",
        "list-unicode-nested-float",
        "object-key-order-nested-float",
        "empty-list",
        "empty-object",
    ],
)
def test_canonical_text(value: Any, text: str) -> None:
    assert canonical_text(value) == text


def test_canonical_text_of_null_is_missing() -> None:
    assert canonical_text(None) is None


def test_canonical_text_rejects_non_json_values() -> None:
    with pytest.raises(TypeError, match="not a JSON value: set"):
        canonical_text({1, 2})


@pytest.mark.parametrize(
    ("value", "number"),
    [
        (3, 3.0),
        (0.9, 0.9),
        (-2.5, -2.5),
        (True, None),
        (False, None),
        ("3", None),
        (None, None),
        ([1], None),
        (10**400, math.inf),
    ],
    ids=[
        "int",
        "float",
        "negative",
        "true",
        "false",
        "numeric-string",
        "null",
        "list",
        "int-beyond-float",
    ],
)
def test_numeric_value(value: Any, number: float | None) -> None:
    assert numeric_value(value) == number


@pytest.mark.parametrize(
    ("value", "leaves"),
    [
        ("text", ["text"]),
        (2.0, ["2"]),
        (None, []),
        (
            {"q": "Ünï", "n": [3.0, False, None, ""], "d": {"key": 0.5}},
            ["Ünï", "3", "false", "", "0.5"],
        ),
        ([{"doc": "d1"}, {"doc": "d2"}], ["d1", "d2"]),
    ],
    ids=["string", "integral-float", "null", "nested-keys-excluded", "list-of-objects"],
)
def test_text_leaves(value: Any, leaves: list[str]) -> None:
    assert list(text_leaves(value)) == leaves


@pytest.mark.parametrize(
    ("text", "value"),
    [('"LLM"', "LLM"), ("0.7", 0.7), ("[1, 2]", [1, 2]), ("LLM", "LLM"), ("", "")],
    ids=["json-string", "json-number", "json-list", "not-json", "empty"],
)
def test_decode_attribute(text: str, value: Any) -> None:
    assert decode_attribute(text) == value


@pytest.mark.parametrize(
    "module",
    [polartrace.values.json_values, polartrace.model.span, polartrace.model.trace],
    ids=["_json", "_spans", "model"],
)
def test_docstring_examples(module: Any) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert (result.failed, result.attempted > 0) == (0, True)


# --- malformed input -----------------------------------------------------------------


def _case(case_id: str, path: str, value: Any, location: str, message: str) -> Any:
    """One malformed-input case: set (``...``: delete) ``path`` of T1 to ``value``."""
    return pytest.param(_set(path, value), location, message, id=case_id)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Return a mutation that sets (or with ``...`` deletes) a dotted path in T1."""

    def mutate(raw: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = raw
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        key: Any = int(last) if last.isdigit() else last
        if value is ...:
            del node[key]
        else:
            node[key] = value

    return mutate


MALFORMED = [
    _case("missing-info", "info", ..., "info", "missing"),
    _case("info-not-object", "info", [], "info", "expected an object, got an array"),
    _case("missing-trace-id", "info.trace_id", ..., "info.trace_id", "missing"),
    _case("trace-id-number", "info.trace_id", 7, "info.trace_id", "int 7"),
    _case(
        "missing-request-time", "info.request_time", ..., "info.request_time", "missing"
    ),
    _case(
        "request-time-words",
        "info.request_time",
        "yesterday",
        "info.request_time",
        "not an RFC 3339",
    ),
    _case(
        "request-time-float", "info.request_time", 1.5, "info.request_time", "float 1.5"
    ),
    _case(
        "request-time-bool", "info.request_time", True, "info.request_time", "bool True"
    ),
    _case(
        "request-time-no-such-day",
        "info.request_time",
        "2023-02-30T00:00:00Z",
        "info.request_time",
        "day is out of range",
    ),
    _case("unknown-state", "info.state", "DONE", "info.state", "unknown state 'DONE'"),
    _case("state-number", "info.state", 1, "info.state", "expected a string"),
    _case(
        "tag-not-string",
        "info.tags.environment",
        1,
        "info.tags['environment']",
        "int 1",
    ),
    _case(
        "metadata-not-object",
        "info.trace_metadata",
        ["a"],
        "info.trace_metadata",
        "an array",
    ),
    _case(
        "duration-string",
        "info.execution_duration_ms",
        "150",
        "info.execution_duration_ms",
        "expected an integer",
    ),
    _case(
        "assessments-not-list",
        "info.assessments",
        {},
        "info.assessments",
        "expected an array",
    ),
    _case(
        "assessment-without-kind",
        "info.assessments.0.feedback",
        ...,
        "info.assessments[0]",
        "found none",
    ),
    _case(
        "assessment-two-kinds",
        "info.assessments.0.expectation",
        {"value": 1},
        "info.assessments[0]",
        "found feedback, expectation",
    ),
    _case(
        "assessment-valid-string",
        "info.assessments.0.valid",
        "yes",
        "info.assessments[0].valid",
        "expected a boolean",
    ),
    _case(
        "assessment-bad-time",
        "info.assessments.1.create_time",
        "noon",
        "info.assessments[1].create_time",
        "not an RFC 3339",
    ),
    _case(
        "serialized-value-not-json",
        "info.assessments.4.expectation.serialized_value.value",
        "[oops",
        "info.assessments[4].expectation.serialized_value.value",
        "invalid JSON",
    ),
    _case(
        "serialized-value-format",
        "info.assessments.4.expectation.serialized_value.serialization_format",
        "PICKLE",
        "info.assessments[4].expectation.serialized_value",
        "unsupported serialization format 'PICKLE'",
    ),
    _case("data-not-object", "data", "spans", "data", "expected an object"),
    _case("spans-not-list", "data.spans", {}, "data.spans", "expected an array"),
    _case(
        "span-not-object",
        "data.spans.0",
        "span",
        "data.spans[0]",
        "expected a span object",
    ),
    _case(
        "span-id-not-base64",
        "data.spans.1.span_id",
        "not base64!",
        "data.spans[1].span_id",
        "not valid base64",
    ),
    _case(
        "span-id-16-bytes",
        "data.spans.0.span_id",
        "AAAAAAAAAAAAAAAAAAAAAA==",
        "data.spans[0].span_id",
        "expected base64 of 8 bytes, got 16",
    ),
    _case(
        "trace-id-bad-padding",
        "data.spans.0.trace_id",
        "SKNADPxo6x9u7wA0B4ez7g=",
        "data.spans[0].trace_id",
        "not valid base64",
    ),
    _case(
        "parent-id-number",
        "data.spans.2.parent_span_id",
        5,
        "data.spans[2].parent_span_id",
        "int 5",
    ),
    _case(
        "attributes-not-object",
        "data.spans.2.attributes",
        [],
        "data.spans[2].attributes",
        "expected an object",
    ),
    _case(
        "attribute-not-text",
        "data.spans.1.attributes.temperature",
        0.7,
        "data.spans[1].attributes['temperature']",
        "float 0.7",
    ),
    _case(
        "unknown-status-code",
        "data.spans.0.status.code",
        "STATUS_CODE_MAYBE",
        "data.spans[0].status.code",
        "unknown status code",
    ),
    _case(
        "missing-start-time",
        "data.spans.0.start_time_unix_nano",
        ...,
        "data.spans[0].start_time_unix_nano",
        "missing",
    ),
    _case(
        "start-time-string",
        "data.spans.0.start_time_unix_nano",
        "1",
        "data.spans[0].start_time_unix_nano",
        "expected an integer",
    ),
    _case(
        "event-without-name",
        "data.spans.0.events",
        [{"time_unix_nano": 1}],
        "data.spans[0].events[0].name",
        "missing",
    ),
    _case(
        "link-not-object",
        "data.spans.0.links",
        ["x"],
        "data.spans[0].links[0]",
        "expected a link object",
    ),
]


@pytest.mark.parametrize(("mutate", "location", "message"), MALFORMED)
def test_malformed_trace_names_the_json_path(
    mutate: Callable[[dict[str, Any]], None], location: str, message: str
) -> None:
    raw = copy.deepcopy(RAW["T1"])
    mutate(raw)
    with pytest.raises(TraceFormatError, match=re.escape(message)) as caught:
        Trace.from_dict(raw)
    assert caught.value.location == location


@pytest.mark.parametrize(
    "value", [None, [], "trace", 3], ids=["null", "array", "string", "number"]
)
def test_trace_that_is_not_an_object_fails_at_the_top(value: Any) -> None:
    with pytest.raises(TraceFormatError, match="expected a trace object") as caught:
        Trace.from_dict(value)
    assert caught.value.location == "trace"


def test_source_is_named_in_format_errors() -> None:
    with pytest.raises(TraceFormatError) as caught:
        Trace.from_dict({}, source="traces.jsonl")
    assert (caught.value.source, caught.value.location) == ("traces.jsonl", "info")
    assert str(caught.value) == "traces.jsonl, info: required key is missing or null"


def test_span_from_dict_paths_start_at_span() -> None:
    with pytest.raises(TraceFormatError) as caught:
        Span.from_dict({"name": "s"})
    assert caught.value.location == "span.trace_id"


def test_assessment_from_dict_paths_start_at_assessment() -> None:
    with pytest.raises(TraceFormatError) as caught:
        Assessment.from_dict({"assessment_name": "a", "issue": {"value": "yes"}})
    assert caught.value.location == "assessment.issue.value"


@pytest.mark.parametrize(
    ("text", "location"),
    [
        ('{"info": ', "line 1, column 10"),
        ('{\n  "info": {,}\n}', "line 2, column 12"),
        (b"\xff\xfe\xfd", None),
    ],
    ids=["truncated", "second-line", "not-utf8"],
)
def test_from_json_reports_where_the_json_breaks(
    text: str | bytes, location: str | None
) -> None:
    with pytest.raises(TraceFormatError, match="invalid JSON") as caught:
        Trace.from_json(text, source="t.json")
    assert (caught.value.location, caught.value.source) == (location, "t.json")


JUNK: list[Any] = [None, 0, -1, 1.5, True, "", "x", [], [None], {}, {"x": None}]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    children = (
        node.items() if isinstance(node, dict) else enumerate(node)
        if isinstance(node, list) else ()
    )  # fmt: skip
    for key, child in children:
        out += _paths(child, (*prefix, key))
    return out


@pytest.mark.parametrize("label", ["T1", "T3", "T6"], ids=["T1", "T3", "T6"])
def test_junk_anywhere_gives_a_trace_or_a_format_error(label: str) -> None:
    """Replace every value of the trace with junk: nothing but TraceFormatError."""
    for path in _paths(RAW[label]):
        for junk in JUNK:
            raw = copy.deepcopy(RAW[label])
            node = raw
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = junk
            with contextlib.suppress(TraceFormatError):
                Trace.from_dict(raw).to_dict()
