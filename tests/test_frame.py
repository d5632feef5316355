"""TraceFrame: the tables searches run on, built from objects and from files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest

from polartrace import Trace, TraceFormatError, TraceFrame, count, read_traces
from polartrace.catalogue.text_units import preview_units, span_units
from polartrace.model.trace import Span, SpanEvent, TraceData, TraceInfo, TraceState
from tests.conftest import LABELS, ORACLE

T1, T2, T3, T4, T5, T6 = (LABELS[f"T{i}"] for i in range(1, 7))


def _row(frame: TraceFrame, trace_id: str) -> dict[str, object]:
    return frame.traces.filter(pl.col("trace_id") == trace_id).row(0, named=True)


def test_frame_has_one_row_per_trace_and_span(oracle_frame: TraceFrame) -> None:
    assert len(oracle_frame) == 6
    assert oracle_frame.spans.height == 10
    assert oracle_frame.traces["_key"].to_list() == [0, 1, 2, 3, 4, 5]


def test_trace_columns_are_typed(oracle_frame: TraceFrame) -> None:
    schema = oracle_frame.traces.schema
    assert schema["request_time"] == pl.Int64
    assert schema["execution_duration"] == pl.Int64
    assert isinstance(schema["state"], pl.Enum)


def test_trace_row_values(oracle_frame: TraceFrame) -> None:
    row = _row(oracle_frame, T4)
    assert row["state"] == "IN_PROGRESS"
    assert row["request_time"] == 1700000000500
    assert row["execution_duration"] is None
    assert row["end_time"] == 1700000000500
    assert row["tag:environment"] == "dev"
    assert row["meta:mlflow.trace.user"] == "dave"
    assert row["client_request_id"] is None


def test_each_tag_and_metadata_key_is_one_column(oracle_frame: TraceFrame) -> None:
    assert "environment" in oracle_frame.tag_keys
    assert "my key" in oracle_frame.tag_keys
    assert "weird.key-1" in oracle_frame.metadata_keys
    assert _row(oracle_frame, T6)["tag:my key"] == "a%b_c"
    assert _row(oracle_frame, T3)["tag:environment"] is None


def test_span_table_values(oracle_frame: TraceFrame) -> None:
    spans = oracle_frame.spans.filter(pl.col("name") == "llm_call").sort("_key")
    assert spans["type"].to_list() == ["LLM", "LLM"]
    assert spans["status"].cast(pl.String).to_list() == ["ERROR", "OK"]
    assert spans["duration_ms"].to_list() == [1.0, 1.0]


def test_span_attribute_columns_are_derived_on_demand(oracle_frame: TraceFrame) -> None:
    frame = TraceFrame.from_traces(oracle_frame.traces_at(range(6)))
    assert "attr:temperature" not in frame.spans.columns
    names = frame.span_attribute("temperature")
    assert names == ("attr:temperature", "num:temperature")
    values = frame.spans.filter(pl.col("attr:temperature").is_not_null())
    assert values["attr:temperature"].to_list() == ["0.7"]
    assert values["num:temperature"].to_list() == [0.7]


def test_boolean_and_string_attributes_are_not_numbers(
    oracle_frame: TraceFrame,
) -> None:
    oracle_frame.span_attribute("flag")
    oracle_frame.span_attribute("model")
    embed = oracle_frame.spans.filter(pl.col("name") == "embed").row(0, named=True)
    assert embed["attr:flag"] == "true"
    assert embed["num:flag"] is None
    assert embed["attr:model"] == "text-embedding-3"
    assert embed["num:model"] is None


def test_absent_attribute_has_no_columns(oracle_frame: TraceFrame) -> None:
    assert oracle_frame.span_attribute("no-such-attribute") is None


def test_units_table_matches_the_reference_definition(
    oracle_frame: TraceFrame, oracle_traces: list[Trace]
) -> None:
    units = oracle_frame.units
    for key, trace in enumerate(oracle_traces):
        expected = list(preview_units(trace.info))
        for span in trace.data.spans:
            expected += list(span_units(span))
        got = units.filter(pl.col("_key") == key)["unit"].to_list()
        assert sorted(got) == sorted(expected), trace.info.trace_id


def test_units_exclude_object_keys_and_mlflow_attributes(
    oracle_frame: TraceFrame,
) -> None:
    units = set(oracle_frame.units["unit"].to_list())
    assert "What is MLflow?" in units
    assert "2" in units  # a number leaf in canonical text
    assert "question" not in units
    assert "CHAIN" not in units


def test_session_scoped_assessment_applies_to_the_whole_session(
    oracle_frame: TraceFrame,
) -> None:
    rows = oracle_frame.assessments.filter(pl.col("name") == "session_quality")
    keys = sorted(rows["_key"].to_list())
    ids = oracle_frame.traces.filter(pl.col("_key").is_in(keys))["trace_id"].to_list()
    assert sorted(ids) == sorted([T1, T2])


def test_overridden_assessments_are_left_out(oracle_frame: TraceFrame) -> None:
    tones = oracle_frame.assessments.filter(pl.col("name") == "tone")
    assert "neutral" not in tones["text"].to_list()
    assert sorted(tones["text"].to_list()) == [
        "Positive",
        "happy",
        "negative",
        "positive",
    ]


def test_assessment_values_are_typed(oracle_frame: TraceFrame) -> None:
    relevance = oracle_frame.assessments.filter(pl.col("name") == "relevance").sort(
        "number"
    )
    assert relevance["text"].to_list() == ["0.9", "3", "5"]
    assert relevance["number"].to_list() == [0.9, 3.0, 5.0]
    judge = oracle_frame.assessments.filter(pl.col("name") == "judge").row(
        0, named=True
    )
    assert judge["text"] is None


def test_linked_prompts_table(oracle_frame: TraceFrame) -> None:
    prompts = oracle_frame.prompts.join(oracle_frame.traces, on="_key")
    assert prompts.select("trace_id", "prompt").rows() == [(T1, "qa-prompt/1")]


def test_empty_frame_keeps_the_schema() -> None:
    frame = TraceFrame.from_traces([])
    assert len(frame) == 0
    assert frame.traces.columns[:4] == [
        "_key",
        "trace_id",
        "client_request_id",
        "state",
    ]
    assert frame.units.height == 0
    assert count(frame, "status = 'OK'") == 0


def test_from_traces_rejects_other_objects() -> None:
    with pytest.raises(TypeError, match="item 1 is a dict"):
        TraceFrame.from_traces([Trace.from_dict(ORACLE[0]["trace"]), {"info": {}}])  # type: ignore[list-item]


def test_objects_are_returned_for_rows(oracle_frame: TraceFrame) -> None:
    assert [t.info.trace_id for t in oracle_frame.traces_at([5, 0])] == [T1, T6]


def _write_jsonl(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_read_traces_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    _write_jsonl(path, [json.dumps(row["trace"]) for row in ORACLE])
    frame = read_traces(path)
    assert len(frame) == 6
    assert count(frame, "tags.environment = 'production'") == 1


def test_read_traces_gzip(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(json.dumps(row["trace"]) for row in ORACLE))
    assert len(read_traces(path)) == 6


def test_corrupt_line_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    lines = [json.dumps(row["trace"]) for row in ORACLE]
    lines[3] = lines[3][:40]
    _write_jsonl(path, lines)
    with pytest.raises(TraceFormatError) as info:
        read_traces(path)
    assert info.value.source == str(path)
    assert info.value.location == "line 4"
    assert "invalid JSON" in info.value.message


def test_missing_field_names_the_line_and_path(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    bad = json.loads(json.dumps(ORACLE[1]["trace"]))
    del bad["info"]["request_time"]
    _write_jsonl(path, [json.dumps(ORACLE[0]["trace"]), json.dumps(bad)])
    with pytest.raises(TraceFormatError) as info:
        read_traces(path)
    assert info.value.location is not None
    assert info.value.location.startswith("line 2")
    assert "request_time" in str(info.value)


def test_wrong_type_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    bad = json.loads(json.dumps(ORACLE[1]["trace"]))
    bad["info"]["tags"] = ["not", "a", "mapping"]
    _write_jsonl(path, [json.dumps(bad)])
    with pytest.raises(TraceFormatError, match="tags"):
        read_traces(path)


def _span_with(raw_attributes: dict[str, str], events: list[SpanEvent]) -> Span:
    return Span(
        name="step",
        span_id="00000000000000a1",
        otel_trace_id="ab" * 16,
        start_time_ns=0,
        end_time_ns=1,
        raw_attributes=raw_attributes,
        events=events,
    )


def _frame_of(spans: list[Span]) -> TraceFrame:
    info = TraceInfo(trace_id="tr-units", request_time=0, state=TraceState.OK)
    return TraceFrame.from_traces([Trace(info=info, data=TraceData(spans=spans))])


# The units table decodes attribute text with orjson where it can; these values are
# the ones orjson reads differently from json.loads or not at all.
@pytest.mark.parametrize(
    ("raw", "units"),
    [
        ("123456789012345678901234567890", ["123456789012345678901234567890"]),
        ("[-9223372036854775809]", ["-9223372036854775809"]),
        ("18446744073709551615", ["18446744073709551615"]),
        ("NaN", ["NaN"]),
        ('{"x": [Infinity, -Infinity]}', ["Infinity", "-Infinity"]),
        ("1e400", ["Infinity"]),
        ('"\\ud83d\\ude00 \\u00e9"', ["\U0001f600 \u00e9"]),
        ('{"a": 1, "a": 2, "b": 3.0}', ["2", "3"]),
        ("[1.5e-7, -0.0, 1e16]", ["1.5e-07", "0", "1e+16"]),
        ('{"a": 1,}', ['{"a": 1,}']),
        ("LLM", ["LLM"]),
        ("", [""]),
        ("[" * 5000 + "]" * 5000, ["[" * 5000 + "]" * 5000]),
    ],
    ids=[
        "integer-beyond-64-bits",
        "negative-integer-beyond-64-bits",
        "largest-unsigned-64-bit",
        "nan",
        "infinities",
        "float-overflow",
        "escaped-surrogate-pair",
        "duplicate-keys",
        "float-forms",
        "trailing-comma-not-json",
        "bare-word-not-json",
        "empty-text",
        "nested-beyond-the-stack",
    ],
)
def test_units_decode_attribute_text_as_json_loads_does(
    raw: str, units: list[str]
) -> None:
    frame = _frame_of([_span_with({"value": raw}, [])])
    assert frame.units["unit"].to_list() == ["step", *units]
    span = frame.traces_at([0])[0].data.spans[0]
    assert list(span_units(span)) == ["step", *units]


def test_units_of_spans_sharing_values_follow_each_span() -> None:
    shared = '{"q": "refund", "n": [2.0, true]}'
    event = SpanEvent(name="exception", timestamp_ns=1, attributes={"k": ["v", 1.0]})
    spans = [
        _span_with({"mlflow.spanInputs": shared, "model": '"gpt"'}, []),
        _span_with({"mlflow.spanInputs": shared, "mlflow.spanType": '"LLM"'}, [event]),
        _span_with({"model": '"gpt"', "mlflow.spanOutputs": "null"}, [event, event]),
    ]
    units = _frame_of(spans).units
    assert units.rows() == [
        (0, 0, "step"),
        (0, 1, "step"),
        (0, 2, "step"),
        (0, 0, "refund"),
        (0, 0, "2"),
        (0, 0, "true"),
        (0, 1, "refund"),
        (0, 1, "2"),
        (0, 1, "true"),
        (0, 0, "gpt"),
        (0, 2, "gpt"),
        (0, 1, "exception"),
        (0, 1, "v"),
        (0, 1, "1"),
        (0, 2, "exception"),
        (0, 2, "v"),
        (0, 2, "1"),
        (0, 2, "exception"),
        (0, 2, "v"),
        (0, 2, "1"),
    ]


def test_lone_surrogate_is_an_error_naming_trace_and_field() -> None:
    good = ORACLE[0]["trace"]
    bad = json.loads(json.dumps(ORACLE[1]["trace"]))
    bad["info"]["tags"]["note"] = "caf\udce9"  # what a cp1252 byte decoded as UTF-8
    traces = [Trace.from_dict(good), Trace.from_dict(bad)]
    with pytest.raises(TraceFormatError) as info:
        TraceFrame.from_traces(traces)
    trace_id = bad["info"]["trace_id"]
    assert info.value.location == f"trace 1 ({trace_id!r}), info.tags.note"
    assert info.value.message == (
        "text holds a lone surrogate '\\udce9' at character 3, "
        "which UTF-8 cannot encode"
    )


def test_lone_surrogate_in_a_json_file_names_the_file(tmp_path: Path) -> None:
    bad = json.loads(json.dumps(ORACLE[1]["trace"]))
    bad["data"]["spans"][0]["name"] = "\ud800"
    path = tmp_path / "t.json"
    path.write_text(json.dumps([bad]))
    with pytest.raises(TraceFormatError) as info:
        read_traces(path)
    assert info.value.source == str(path)
    assert info.value.location is not None
    assert info.value.location.endswith("data.spans[0].name")
