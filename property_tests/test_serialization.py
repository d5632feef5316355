"""Property 5: traces survive their JSON forms, and files give the same frame.

``Trace.from_dict(t.to_dict()) == t`` and the same through ``to_json`` /
``from_json``; a frame built from ``Trace`` objects equals one read back with
``polartrace.read_traces`` from the same traces written as JSONL: the same tables
and the same answers to random filters on both engines.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, note, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from polartrace import Trace, TraceFrame, read_traces, search_traces
from polartrace.ast import unparse
from polartrace.testing import filters, trace_lists, traces
from property_tests._support import ENGINES, examples, outcome

TABLES = ("traces", "spans", "units", "assessments", "prompts")


@given(traces())
def test_trace_survives_to_dict_and_from_dict(trace: Trace) -> None:
    assert Trace.from_dict(trace.to_dict()) == trace


@given(traces(), st.booleans())
def test_trace_survives_to_json_and_from_json(trace: Trace, pretty: bool) -> None:
    text = trace.to_json(pretty=pretty)
    assert Trace.from_json(text) == trace
    assert Trace.from_json(text.encode()) == trace


@settings(max_examples=examples(0.5))
@given(trace_lists(0, 8), st.lists(filters(max_leaves=3), min_size=1, max_size=3))
def test_frame_read_from_jsonl_equals_frame_built_from_objects(
    traces: list[Trace], exprs: list[object]
) -> None:
    built = TraceFrame.from_traces(traces)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "traces.jsonl"
        path.write_text("".join(t.to_json() + "\n" for t in traces), encoding="utf-8")
        read = read_traces(path)
    for table in TABLES:
        note(f"table: {table}")
        assert_frame_equal(
            getattr(read, table), getattr(built, table), check_exact=True
        )
    for expr in exprs:
        text = unparse(expr)  # type: ignore[arg-type]
        note(f"filter: {text}")
        for engine in ENGINES:
            assert outcome(read, text, engine) == outcome(built, text, engine), engine


_JSON_TEXT = ("trace", "request", "response", "trace_metadata", "tags", "spans")


@settings(max_examples=examples(0.5))
@given(trace_lists(1, 8), st.randoms(use_true_random=False), st.booleans())
def test_output_read_from_jsonl_equals_output_built_from_objects(
    traces: list[Trace], rng: Any, compact: bool
) -> None:
    # Output rows of a frame read from JSONL are cut from the kept line text
    # (polartrace._cut), whatever order another writer gave the info's keys.
    lines = []
    for trace in traces:
        data = trace.to_dict()
        items = list(data["info"].items())
        rng.shuffle(items)
        data["info"] = dict(items)
        separators = (",", ":") if compact else (", ", ": ")
        lines.append(json.dumps(data, separators=separators) + "\n")
    built = TraceFrame.from_traces(traces)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "traces.jsonl"
        path.write_text("".join(lines), encoding="utf-8")
        read = read_traces(path)
    for page in (None, 3):
        got = search_traces(read, max_results=page, return_type="polars")
        want = search_traces(built, max_results=page, return_type="polars")
        assert got["trace_id"].to_list() == want["trace_id"].to_list()
        for name in (*_JSON_TEXT, "assessments"):
            note(f"column: {name}, page: {page}")
            have = [None if v is None else json.loads(v) for v in got[name]]
            assert have == [None if v is None else json.loads(v) for v in want[name]]
        got_pd = search_traces(read, max_results=page)
        want_pd = search_traces(built, max_results=page)
        for name in ("request", "response", "trace_metadata", "tags", "spans"):
            assert list(got_pd[name]) == list(want_pd[name]), name
