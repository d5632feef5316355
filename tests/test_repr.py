"""Short text and HTML summaries of TraceFrame and Trace."""

from __future__ import annotations

import attrs
import pytest

from polartrace import Span, Trace, TraceData, TraceFrame, TraceInfo
from polartrace.api.lazy import scan_traces
from polartrace.io import write_parquet

_TRACE = Trace(
    TraceInfo(
        trace_id="tr-1",
        request_time=1700000000500,
        state="OK",
        execution_duration=150,
        tags={"mlflow.traceName": "chat_pipeline"},
    ),
    TraceData(
        [
            Span(
                name="root",
                span_id="01" * 8,
                otel_trace_id="02" * 16,
                start_time_ns=1700000000500000000,
                end_time_ns=1700000000650000000,
            )
        ]
    ),
)


def test_frame_repr_gives_counts_and_time_range(oracle_frame: TraceFrame) -> None:
    assert repr(oracle_frame) == (
        "TraceFrame(6 traces, 10 spans, 2023-11-14 22:13:20 → 2023-11-14 22:13:23 UTC)"
    )


def test_empty_frame_repr_has_no_time_range() -> None:
    assert repr(TraceFrame.from_traces([])) == "TraceFrame(0 traces, 0 spans)"


def test_frame_repr_groups_thousands() -> None:
    frame = TraceFrame.from_traces(
        [
            attrs.evolve(_TRACE, info=attrs.evolve(_TRACE.info, trace_id=f"tr-{i}"))
            for i in range(1200)
        ]
    )
    assert repr(frame).startswith("TraceFrame(1,200 traces, 1,200 spans, ")


def test_trace_repr_is_one_line() -> None:
    assert repr(_TRACE) == (
        "Trace(trace_id='tr-1', state=OK, name='chat_pipeline', 1 span, 150 ms)"
    )


def test_trace_repr_of_an_unnamed_trace_in_progress() -> None:
    trace = Trace(TraceInfo(trace_id="tr-2", request_time=0, state="IN_PROGRESS"))
    assert repr(trace) == "Trace(trace_id='tr-2', state=IN_PROGRESS, 0 spans)"


def test_trace_equality_and_hash_ignore_the_custom_repr() -> None:
    copy = Trace.from_json(_TRACE.to_json())
    assert copy == _TRACE
    assert copy != attrs.evolve(_TRACE, data=TraceData())
    assert repr(copy) == repr(_TRACE)


def test_frame_html_lists_the_first_rows(oracle_frame: TraceFrame) -> None:
    page = oracle_frame._repr_html_()
    assert "6 traces, 10 spans" in page
    assert "<td>tr-0a6b362239fde391d3101ee1287124b5</td>" in page
    assert "<td>tr-1d64d809921a1e8606d2b7518008bb33</td>" in page
    # Five rows, then a count of the rest.
    assert "tr-48a3400cfc68eb1f6eef00340787b3ee" not in page
    assert "<p>… 1 more traces</p>" in page


@pytest.mark.parametrize(
    ("name", "escaped"),
    [
        pytest.param(
            "<script>alert(1)</script>",
            "&lt;script&gt;alert(1)&lt;/script&gt;",
            id="script",
        ),
        pytest.param("a & b", "a &amp; b", id="ampersand"),
    ],
)
def test_html_escapes_trace_data(name: str, escaped: str) -> None:
    info = attrs.evolve(_TRACE.info, tags={"mlflow.traceName": name})
    trace = attrs.evolve(_TRACE, info=info)
    for page in (TraceFrame.from_traces([trace])._repr_html_(), trace._repr_html_()):
        assert escaped in page
        assert name not in page


def test_trace_html_lists_its_spans() -> None:
    page = _TRACE._repr_html_()
    assert "<td>root</td><td>UNKNOWN</td><td>UNSET</td><td>150.0 ms</td>" in page


def test_lazy_frame_repr_names_the_dataset(tmp_path: object) -> None:
    path = f"{tmp_path}/ds"
    write_parquet([_TRACE], path)
    assert repr(scan_traces(path)) == f"LazyTraceFrame({path!r}, 1 traces)"
