"""polartrace.concat and iterating a frame's traces."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

import polartrace
from polartrace import Trace, TraceFrame, read_traces

DB_EXPECTED = Path(__file__).parent / "fixtures" / "mlflow" / "db-expected.jsonl"
ORACLE_IDS = [
    "tr-0a6b362239fde391d3101ee1287124b5",
    "tr-e559488f8d1bc9c759e1a7968eb3dcd8",
    "tr-7e2ff8e30e3b463a1d82b69bab55f58d",
    "tr-00000000000000000000000000000004",
    "tr-1d64d809921a1e8606d2b7518008bb33",
    "tr-48a3400cfc68eb1f6eef00340787b3ee",
]
DB_IDS = [
    "tr-8505c8dc1836f643d87ab33b3308a7b4",
    "tr-2d79e9e2ac271423e167ae32c12b6f1f",
    "tr-7fa915185995362c276ad44a0066c3f6",
    "tr-dcb4d189967f2fe63c51473f9ee11fa8",
]


def _assert_same_frame(got: TraceFrame, want: TraceFrame) -> None:
    assert_frame_equal(got.traces, want.traces)
    assert_frame_equal(got.spans, want.spans)
    assert_frame_equal(got.assessments, want.assessments)
    assert_frame_equal(got.prompts, want.prompts)
    assert list(got) == list(want)


def test_iterating_a_frame_yields_its_traces_in_order(
    oracle_frame: TraceFrame,
) -> None:
    traces = list(oracle_frame)
    assert all(isinstance(t, Trace) for t in traces)
    assert [t.info.trace_id for t in traces] == ORACLE_IDS


def test_iterating_a_frame_read_from_a_file_builds_its_traces() -> None:
    frame = read_traces(DB_EXPECTED)
    assert [t.info.trace_id for t in frame] == DB_IDS
    assert len(frame) == 4


def test_concat_is_the_frame_of_all_traces(oracle_traces: list[Trace]) -> None:
    first = TraceFrame.from_traces(oracle_traces[:2])
    second = TraceFrame.from_traces(oracle_traces[2:])
    got = polartrace.concat([first, second])
    _assert_same_frame(got, TraceFrame.from_traces(oracle_traces))
    assert got.traces["trace_id"].to_list() == ORACLE_IDS


def test_concat_joins_frames_read_from_files_and_built_from_objects(
    oracle_traces: list[Trace],
) -> None:
    from_file = read_traces(DB_EXPECTED)
    got = polartrace.concat([TraceFrame.from_traces(oracle_traces), from_file])
    want = TraceFrame.from_traces([*oracle_traces, *from_file])
    _assert_same_frame(got, want)
    assert got.traces["trace_id"].to_list() == ORACLE_IDS + DB_IDS


def test_concat_expands_a_session_assessment_across_frames() -> None:
    # Trace 1 holds a session_quality assessment for session s-1; trace 0, also of
    # s-1, is in the other frame and must see it too.
    traces = list(read_traces(DB_EXPECTED))
    got = polartrace.concat(
        [TraceFrame.from_traces(traces[:1]), TraceFrame.from_traces(traces[1:])]
    )
    _assert_same_frame(got, TraceFrame.from_traces(traces))
    assert polartrace.count(got, "feedback.session_quality = 4") == 2


def test_concat_searches_like_one_frame(oracle_traces: list[Trace]) -> None:
    frames = [TraceFrame.from_traces([t]) for t in oracle_traces]
    got = polartrace.search_traces(
        polartrace.concat(frames), "status = 'OK'", return_type="list"
    )
    assert [t.info.trace_id for t in got] == [
        "tr-0a6b362239fde391d3101ee1287124b5",
        "tr-e559488f8d1bc9c759e1a7968eb3dcd8",
        "tr-1d64d809921a1e8606d2b7518008bb33",
        "tr-48a3400cfc68eb1f6eef00340787b3ee",
    ]


def test_concat_keeps_duplicate_trace_ids_and_warns(oracle_frame: TraceFrame) -> None:
    message = (
        "trace id 'tr-0a6b362239fde391d3101ee1287124b5' and 5 more found more than "
        "once; every copy is kept (search counts each), as when one file holds a "
        "trace twice"
    )
    with pytest.warns(UserWarning, match="^" + re.escape(message)):
        got = polartrace.concat([oracle_frame, oracle_frame])
    assert got.traces["trace_id"].to_list() == ORACLE_IDS + ORACLE_IDS


def test_concat_of_one_frame_is_that_frame(oracle_frame: TraceFrame) -> None:
    assert polartrace.concat([oracle_frame]) is oracle_frame


def test_concat_of_no_frames_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"^concat needs at least one frame$"):
        polartrace.concat([])


def test_concat_rejects_what_is_not_a_frame(oracle_traces: list[Trace]) -> None:
    with pytest.raises(TypeError, match=r"^item 0 is a list, not a TraceFrame$"):
        polartrace.concat([oracle_traces])  # type: ignore[list-item]
