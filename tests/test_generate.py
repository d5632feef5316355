"""Tests for the synthetic trace generator (``polartrace.generate``).

Shapes are checked against the six traces MLflow 3.17 serialized in
``tests/fixtures/conformance/oracle-traces.jsonl``; the distributions against loose
bounds on a few thousand traces.
"""

from __future__ import annotations

import base64
import collections
import datetime as dt
import gzip
import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from polartrace.generate import (
    DEFAULT_START_MS,
    generate_jsonl_lines,
    generate_trace_dicts,
    write_jsonl,
)
from tests.conftest import load_jsonl

N = 2000
# Optional assessment keys of MLflow's JSON shape (its Assessment.to_dictionary()),
# written only when set; not all of them occur in the six fixture traces.
DOCUMENTED_ASSESSMENT_KEYS = {"rationale", "span_id", "run_id", "metadata", "overrides"}
SPAN_TYPES = {"CHAIN", "AGENT", "LLM", "TOOL", "RETRIEVER", "EMBEDDING", "RERANKER",
              "PARSER"}  # fmt: skip
RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")
# sha256 of the first 200 lines of seed 0, each followed by a newline.
GOLDEN_SHA256 = "ec514f1ba3fcfba4df7af7efb80f86efee0ac76f3ccd61873c2fc8f15596a18f"


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return list(generate_jsonl_lines(N, seed=0))


@pytest.fixture(scope="module")
def traces(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="module")
def oracle() -> list[dict[str, Any]]:
    return [row["trace"] for row in load_jsonl("oracle-traces.jsonl")]


def spans_of(
    traces: list[dict[str, Any]],
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(t, s) for t in traces for s in t["data"]["spans"]]


def assessments_of(traces: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for t in traces for a in t["info"].get("assessments", [])]


def ms_of(text: str) -> int:
    when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int(when.timestamp() * 1000)


# -- determinism --------------------------------------------------------------------


def test_same_seed_gives_identical_lines() -> None:
    first = list(generate_jsonl_lines(300, seed=11))
    assert list(generate_jsonl_lines(300, seed=11)) == first


def test_different_seed_gives_different_lines() -> None:
    a = list(generate_jsonl_lines(50, seed=1))
    b = list(generate_jsonl_lines(50, seed=2))
    assert not set(a) & set(b)


def test_output_is_pinned_across_machines_and_runs() -> None:
    # A change to the generator changes this digest on purpose: benchmarks and
    # documented selectivities rely on seed 0 meaning the same data everywhere.
    # Update the literal (and the module docstring's table) when that is intended.
    digest = hashlib.sha256()
    for line in generate_jsonl_lines(200, seed=0):
        digest.update(line.encode("ascii") + b"\n")
    assert digest.hexdigest() == GOLDEN_SHA256


def test_dicts_are_the_parsed_lines() -> None:
    dicts = generate_trace_dicts(100, seed=6)
    assert [json.dumps(d) for d in dicts] == list(generate_jsonl_lines(100, seed=6))


def test_lines_are_exactly_json_dumps_of_their_dicts(
    lines: list[str], traces: list[dict[str, Any]]
) -> None:
    assert all(json.dumps(t) == line for t, line in zip(traces, lines, strict=True))


def test_start_ms_only_shifts_time() -> None:
    a = next(generate_trace_dicts(1, seed=5))
    b = next(generate_trace_dicts(1, seed=5, start_ms=DEFAULT_START_MS + 86_400_000))
    assert a["info"]["trace_id"] == b["info"]["trace_id"]
    assert ms_of(b["info"]["request_time"]) - ms_of(a["info"]["request_time"]) == (
        86_400_000
    )


# -- files --------------------------------------------------------------------------


def test_write_jsonl_writes_one_json_dumps_per_line(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    assert write_jsonl(path, 40, seed=3) == 40
    written = path.read_text(encoding="ascii").splitlines()
    assert written == [json.dumps(t) for t in generate_trace_dicts(40, seed=3)]


def test_write_jsonl_gzip_by_suffix_is_byte_identical_across_runs(
    tmp_path: Path,
) -> None:
    first, second = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"
    write_jsonl(first, 30, seed=4)
    write_jsonl(second, 30, seed=4)
    assert first.read_bytes() == second.read_bytes()
    text = gzip.decompress(first.read_bytes()).decode("ascii")
    assert text == "".join(f"{line}\n" for line in generate_jsonl_lines(30, seed=4))


def test_write_jsonl_gzip_flag_overrides_suffix(tmp_path: Path) -> None:
    path = tmp_path / "traces.jsonl"
    write_jsonl(path, 3, gzip=True)
    assert path.read_bytes()[:2] == b"\x1f\x8b"


def test_write_jsonl_of_zero_traces_writes_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    assert write_jsonl(path, 0) == 0
    assert path.read_bytes() == b""


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"n": -1}, "n must be >= 0, got -1", id="negative-n"),
        pytest.param(
            {"n": 1, "span_range": (0, 3)}, "span_range must satisfy", id="zero-lo"
        ),
        pytest.param(
            {"n": 1, "span_range": (4, 3)}, "span_range must satisfy", id="lo-above-hi"
        ),
    ],
)
def test_invalid_arguments_raise_value_error(
    kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        generate_trace_dicts(**kwargs)


# -- MLflow's shape -----------------------------------------------------------------


def test_info_keys_are_mlflow_info_keys(
    traces: list[dict[str, Any]], oracle: list[dict[str, Any]]
) -> None:
    allowed = {k for t in oracle for k in t["info"]}
    used = {k for t in traces for k in t["info"]}
    assert used <= allowed
    assert {k for t in traces for k in t} == {"info", "data"}


def test_info_key_order_follows_mlflow(
    traces: list[dict[str, Any]], oracle: list[dict[str, Any]]
) -> None:
    order = max((list(t["info"]) for t in oracle), key=len)
    for t in traces:
        keys = [k for k in t["info"] if k in order]
        assert keys == sorted(keys, key=order.index)


def test_trace_location_is_the_experiment(traces: list[dict[str, Any]]) -> None:
    expected = {
        "type": "MLFLOW_EXPERIMENT",
        "mlflow_experiment": {"experiment_id": "1"},
    }
    assert all(t["info"]["trace_location"] == expected for t in traces)


def test_span_keys_are_mlflow_span_keys(
    traces: list[dict[str, Any]], oracle: list[dict[str, Any]]
) -> None:
    mlflow_keys = {tuple(s) for _, s in spans_of(oracle)}
    assert {tuple(s) for _, s in spans_of(traces)} == mlflow_keys
    assert {tuple(s["status"]) for _, s in spans_of(traces)} == {("code", "message")}
    assert {s["links"] == [] for _, s in spans_of(traces)} == {True}


def test_span_attribute_values_are_json_encoded_strings(
    traces: list[dict[str, Any]],
) -> None:
    for t, s in spans_of(traces):
        attrs = s["attributes"]
        assert all(isinstance(v, str) for v in attrs.values())
        decoded = {k: json.loads(v) for k, v in attrs.items()}
        assert decoded["mlflow.traceRequestId"] == t["info"]["trace_id"]
        assert decoded["mlflow.spanType"] in SPAN_TYPES
        assert decoded["mlflow.spanStartTimeNs"] == s["start_time_unix_nano"]


def test_root_span_is_first_and_named_like_the_trace(
    traces: list[dict[str, Any]],
) -> None:
    for t in traces:
        spans = t["data"]["spans"]
        if spans:
            assert spans[0]["parent_span_id"] is None
            assert spans[0]["name"] == t["info"]["tags"]["mlflow.traceName"]
            assert json.loads(spans[0]["attributes"]["mlflow.experimentId"]) == "1"
            assert all(s["parent_span_id"] is not None for s in spans[1:])


def test_parent_ids_refer_to_earlier_spans_of_the_same_trace(
    traces: list[dict[str, Any]],
) -> None:
    for t in traces:
        seen: set[str] = set()
        for s in t["data"]["spans"]:
            assert s["parent_span_id"] is None or s["parent_span_id"] in seen
            assert s["span_id"] not in seen
            seen.add(s["span_id"])


def test_child_times_nest_inside_their_parent(traces: list[dict[str, Any]]) -> None:
    for t in traces:
        by_id = {s["span_id"]: s for s in t["data"]["spans"]}
        for s in t["data"]["spans"]:
            assert s["start_time_unix_nano"] < s["end_time_unix_nano"]
            parent = by_id.get(s["parent_span_id"] or "")
            if parent is not None:
                assert parent["start_time_unix_nano"] <= s["start_time_unix_nano"]
                assert s["end_time_unix_nano"] <= parent["end_time_unix_nano"]


def test_span_trace_ids_encode_the_trace_id(traces: list[dict[str, Any]]) -> None:
    for t, s in spans_of(traces):
        raw = base64.b64decode(s["trace_id"], validate=True)
        assert "tr-" + raw.hex() == t["info"]["trace_id"]
        assert len(base64.b64decode(s["span_id"], validate=True)) == 8
    assert all(re.fullmatch(r"tr-[0-9a-f]{32}", t["info"]["trace_id"]) for t in traces)


def test_request_time_and_duration_come_from_the_root_span(
    traces: list[dict[str, Any]],
) -> None:
    for t in traces:
        info, spans = t["info"], t["data"]["spans"]
        if spans:
            root = spans[0]
            assert ms_of(info["request_time"]) == root["start_time_unix_nano"] // 10**6
            elapsed = root["end_time_unix_nano"] - root["start_time_unix_nano"]
            assert info["execution_duration_ms"] == elapsed // 10**6


def test_request_time_is_rfc3339_with_milliseconds_like_mlflow(
    traces: list[dict[str, Any]],
) -> None:
    stamps = [t["info"]["request_time"] for t in traces]
    stamps += [a["create_time"] for a in assessments_of(traces)]
    stamps += [a["last_update_time"] for a in assessments_of(traces)]
    assert all(RFC3339_MS.fullmatch(s) for s in stamps)
    assert not any(s.endswith(".000Z") for s in stamps)


def test_request_times_cover_thirty_days_in_ascending_order(
    traces: list[dict[str, Any]],
) -> None:
    times = [ms_of(t["info"]["request_time"]) for t in traces]
    assert DEFAULT_START_MS <= min(times) < DEFAULT_START_MS + 86_400_000
    assert max(times) >= DEFAULT_START_MS + 29 * 86_400_000
    assert max(times) < DEFAULT_START_MS + 30 * 86_400_000
    assert all(a <= b for a, b in zip(times, times[5:], strict=False))


def test_assessment_keys_are_mlflow_assessment_keys(
    traces: list[dict[str, Any]], oracle: list[dict[str, Any]]
) -> None:
    allowed = {
        k for a in assessments_of(oracle) for k in a
    } | DOCUMENTED_ASSESSMENT_KEYS
    found = assessments_of(traces)
    trace_ids = {t["info"]["trace_id"] for t in traces}
    assert {k for a in found for k in a} <= allowed
    for a in found:
        assert a["trace_id"] in trace_ids
        assert set(a["source"]) == {"source_type", "source_id"}
        assert a["source"]["source_type"] in {"HUMAN", "LLM_JUDGE", "CODE"}
        assert ("feedback" in a) != ("expectation" in a)
        assert isinstance(a["valid"], bool)


def test_assessments_cover_every_kind_of_value(traces: list[dict[str, Any]]) -> None:
    values = collections.defaultdict(set)
    for a in assessments_of(traces):
        body = a.get("feedback") or a["expectation"]
        values[a["assessment_name"]].add(type(body.get("value")).__name__)
        if "serialized_value" in body:
            assert body["serialized_value"]["serialization_format"] == "JSON_FORMAT"
            assert isinstance(json.loads(body["serialized_value"]["value"]), list)
        if "error" in body:
            assert body["value"] is None
            assert set(body["error"]) == {"error_code", "error_message", "stack_trace"}
    assert values["correctness"] == {"bool"}
    assert values["relevance"] == {"float"}
    assert values["tone"] == {"str"}
    assert values["expected_answer"] == {"str"}
    assert values["expected_facts"] == {"NoneType"}  # serialized_value, no value
    assert "NoneType" in values["groundedness"] | values["safety"]


def test_every_overridden_assessment_has_a_valid_replacement(
    traces: list[dict[str, Any]],
) -> None:
    found = assessments_of(traces)
    overridden = [a for a in found if not a["valid"]]
    replaced = {a["overrides"]: a for a in found if "overrides" in a}
    assert overridden
    for old in overridden:
        new = replaced[old["assessment_id"]]
        assert new["valid"] is True
        assert new["assessment_name"] == old["assessment_name"]
        assert new["create_time"] > old["create_time"]


def test_session_scoped_feedback_names_the_trace_session(
    traces: list[dict[str, Any]],
) -> None:
    scoped = [
        (t, a)
        for t in traces
        for a in t["info"].get("assessments", [])
        if "metadata" in a
    ]
    assert scoped
    for t, a in scoped:
        session = t["info"]["trace_metadata"]["mlflow.trace.session"]
        assert a["metadata"] == {"mlflow.trace.session": session}


def test_tags_and_metadata_are_string_maps(traces: list[dict[str, Any]]) -> None:
    for t in traces:
        for block in (t["info"]["tags"], t["info"]["trace_metadata"]):
            assert all(isinstance(v, str) for v in block.values())


def test_linked_prompts_tag_is_a_json_list_of_name_and_version(
    traces: list[dict[str, Any]],
) -> None:
    prompts = [
        json.loads(t["info"]["tags"]["mlflow.linkedPrompts"])
        for t in traces
        if "mlflow.linkedPrompts" in t["info"]["tags"]
    ]
    assert prompts
    assert all(p and all(set(x) == {"name", "version"} for x in p) for p in prompts)


def test_trace_token_usage_sums_its_llm_spans(traces: list[dict[str, Any]]) -> None:
    for t in traces:
        usages = [
            json.loads(s["attributes"]["mlflow.chat.tokenUsage"])
            for s in t["data"]["spans"]
            if "mlflow.chat.tokenUsage" in s["attributes"]
        ]
        total = t["info"]["trace_metadata"].get("mlflow.trace.tokenUsage")
        if not usages:
            assert total is None
            continue
        expected = {k: sum(u[k] for u in usages) for k in usages[0]}
        assert json.loads(total) == expected
        assert expected["total_tokens"] == (
            expected["input_tokens"] + expected["output_tokens"]
        )


def test_previews_are_root_inputs_and_outputs_cut_to_mlflow_limits(
    traces: list[dict[str, Any]],
) -> None:
    for t in traces:
        info = t["info"]
        if not t["data"]["spans"]:
            continue
        attrs = t["data"]["spans"][0]["attributes"]
        inputs = attrs["mlflow.spanInputs"]
        assert info["request_preview"] == (
            inputs if len(inputs) <= 1000 else inputs[:997] + "..."
        )
        metadata_inputs = info["trace_metadata"]["mlflow.traceInputs"]
        assert metadata_inputs == (
            inputs if len(inputs) <= 250 else inputs[:247] + "..."
        )
        if "response_preview" in info:
            assert info["response_preview"][:100] == attrs["mlflow.spanOutputs"][:100]


# -- states -------------------------------------------------------------------------


def test_state_distribution_is_about_85_12_3(traces: list[dict[str, Any]]) -> None:
    counts = collections.Counter(t["info"]["state"] for t in traces)
    assert set(counts) == {"OK", "ERROR", "IN_PROGRESS"}
    assert 0.80 < counts["OK"] / N < 0.90
    assert 0.08 < counts["ERROR"] / N < 0.16
    assert 0.01 < counts["IN_PROGRESS"] / N < 0.06


def test_in_progress_traces_have_no_duration_spans_or_previews(
    traces: list[dict[str, Any]],
) -> None:
    for t in traces:
        info = t["info"]
        if info["state"] == "IN_PROGRESS":
            assert "execution_duration_ms" not in info
            assert "request_preview" not in info
            assert "response_preview" not in info
            assert "assessments" not in info
            assert t["data"]["spans"] == []
            assert "mlflow.traceOutputs" not in info["trace_metadata"]
        else:
            assert isinstance(info["execution_duration_ms"], int)
            assert t["data"]["spans"]


def test_error_traces_fail_on_one_span_and_its_ancestors(
    traces: list[dict[str, Any]],
) -> None:
    for t in traces:
        info, spans = t["info"], t["data"]["spans"]
        if info["state"] != "ERROR":
            continue
        assert "response_preview" not in info
        assert info["trace_metadata"]["mlflow.traceOutputs"] == ""
        failed = [s for s in spans if s["status"]["code"] == "STATUS_CODE_ERROR"]
        assert spans[0] in failed
        assert "mlflow.spanOutputs" not in spans[0]["attributes"]
        for s in failed:
            (event,) = s["events"]
            assert event["name"] == "exception"
            assert all(isinstance(v, str) for v in event["attributes"].values())
            assert set(event["attributes"]) == {
                "exception.message",
                "exception.type",
                "exception.stacktrace",
            }
            assert event["time_unix_nano"] == s["end_time_unix_nano"]


def test_ok_traces_have_ok_roots_with_outputs(traces: list[dict[str, Any]]) -> None:
    for t in traces:
        if t["info"]["state"] == "OK":
            root = t["data"]["spans"][0]
            assert root["status"]["code"] == "STATUS_CODE_OK"
            assert "mlflow.spanOutputs" in root["attributes"]
            assert "response_preview" in t["info"]


def test_span_range_bounds_the_number_of_spans() -> None:
    counts = collections.Counter(
        (t["info"]["state"], len(t["data"]["spans"]))
        for t in generate_trace_dicts(300, seed=9, span_range=(2, 3))
    )
    assert {n for (state, n) in counts if state == "OK"} == {2, 3}
    assert max(n for _, n in counts) <= 3


# -- distributions the benchmarks rely on -------------------------------------------


def test_environment_tag_is_mostly_production(traces: list[dict[str, Any]]) -> None:
    envs = collections.Counter(t["info"]["tags"]["environment"] for t in traces)
    assert set(envs) == {"production", "staging", "dev"}
    assert 0.64 < envs["production"] / N < 0.76


def test_a_minority_of_trace_names_end_in_agent(traces: list[dict[str, Any]]) -> None:
    names = collections.Counter(t["info"]["tags"]["mlflow.traceName"] for t in traces)
    agents = sum(n for name, n in names.items() if name.endswith("_agent"))
    assert len(names) == 12
    assert 0.22 < agents / N < 0.34


def test_slow_traces_are_a_meaningful_minority(traces: list[dict[str, Any]]) -> None:
    slow = sum(t["info"].get("execution_duration_ms", 0) > 2500 for t in traces)
    assert 0.2 < slow / N < 0.4
    durations = [t["info"].get("execution_duration_ms", 50) for t in traces]
    assert min(durations) >= 0
    assert max(durations) <= 30_000


def test_users_follow_a_long_tail(traces: list[dict[str, Any]]) -> None:
    users = collections.Counter(
        t["info"]["trace_metadata"]["mlflow.trace.user"] for t in traces
    )
    assert all(u.endswith("@my_company.com") for u in users)
    assert len(users) > 300
    assert 0.01 < users.most_common(1)[0][1] / N < 0.05


def test_sessions_hold_one_to_ten_traces(traces: list[dict[str, Any]]) -> None:
    sessions = collections.Counter(
        t["info"]["trace_metadata"]["mlflow.trace.session"]
        for t in traces
        if "mlflow.trace.session" in t["info"]["trace_metadata"]
    )
    assert max(sessions.values()) <= 10
    assert 1 in sessions.values()
    assert max(sessions.values()) > 5
