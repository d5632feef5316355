"""Each catalogue field's accessor reads what the frame column of that field holds.

The reference engine and the CLI read a field through ``FieldSpec.read`` or
``FieldSpec.read_span``; the compiled engine reads ``FieldSpec.frame_column``. The
frame built from ``Trace`` objects fills those columns with the same accessors; the
columnar JSONL reader computes them on its own, with Polars. All three must agree.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from polartrace import TraceFrame, read_traces
from polartrace.catalogue.fields import FIELDS, FieldSpec
from polartrace.io import write_jsonl
from polartrace.model.trace import Trace

TRACE_FIELDS = [spec for spec in FIELDS if spec.read is not None]
SPAN_FIELDS = [spec for spec in FIELDS if spec.read_span is not None]
T2 = "tr-7e2ff8e30e3b463a1d82b69bab55f58d"
T4 = "tr-00000000000000000000000000000004"


@pytest.fixture(scope="module", params=["from_traces", "columnar_jsonl"])
def frame(
    request: pytest.FixtureRequest,
    oracle_traces: list[Trace],
    tmp_path_factory: pytest.TempPathFactory,
) -> TraceFrame:
    if request.param == "from_traces":
        return TraceFrame.from_traces(oracle_traces)
    path = tmp_path_factory.mktemp("access") / "oracle.jsonl"
    write_jsonl(oracle_traces, path)
    return read_traces(path)


def _held(table: pl.DataFrame, column: str, rows: int) -> list[Any]:
    if column not in table.columns:  # an absent tag or metadata key: every row null
        return [None] * rows
    series = table[column]
    # Enum columns (states, statuses, compacted tags) compare as their names.
    return (
        series.cast(pl.String).to_list()
        if series.dtype == pl.Enum
        else (series.to_list())
    )


def test_every_single_valued_field_declares_its_access() -> None:
    assert [spec.name for spec in TRACE_FIELDS] == [
        "status", "timestamp_ms", "execution_time_ms", "end_time_ms", "request_id",
        "client_request_id", "name", "run_id", "session", "user", "tokens.input",
        "tokens.output", "tokens.total", "tokens.cache_read", "tokens.cache_write",
        "tokens.reasoning", "cost.input", "cost.output", "cost.total", "experiment_id",
    ]  # fmt: skip
    assert [spec.name for spec in SPAN_FIELDS] == [
        "span.name", "span.type", "span.status", "span.duration_ms", "span.model",
        "span.provider", "span.tokens.input", "span.tokens.output",
        "span.tokens.total", "span.tokens.cache_read", "span.tokens.cache_write",
        "span.tokens.reasoning", "span.cost.input", "span.cost.output",
        "span.cost.total", "span.time_to_first_token_ms",
    ]  # fmt: skip
    assert all(spec.frame_column for spec in TRACE_FIELDS + SPAN_FIELDS)


@pytest.mark.parametrize("spec", TRACE_FIELDS, ids=lambda spec: spec.name)
def test_a_trace_accessor_reads_its_frame_column(
    spec: FieldSpec, oracle_traces: list[Trace], frame: TraceFrame
) -> None:
    assert spec.read is not None
    assert spec.frame_column is not None
    read = [spec.read(trace) for trace in oracle_traces]
    assert read == _held(frame.traces, spec.frame_column, len(oracle_traces))


@pytest.mark.parametrize("spec", SPAN_FIELDS, ids=lambda spec: spec.name)
def test_a_span_accessor_reads_its_frame_column(
    spec: FieldSpec, oracle_traces: list[Trace], frame: TraceFrame
) -> None:
    assert spec.read_span is not None
    assert spec.frame_column is not None
    read = [
        spec.read_span(span) for trace in oracle_traces for span in trace.data.spans
    ]
    assert read == _held(frame.spans, spec.frame_column, len(read))


def test_the_accessors_read_the_oracle_values(oracle_traces: list[Trace]) -> None:
    t2, t4 = (t for t in oracle_traces if t.info.trace_id in (T2, T4))
    assert {spec.name: spec.read(t2) for spec in TRACE_FIELDS if spec.read} == {
        "status": "ERROR",
        "timestamp_ms": 1700000001000,
        "execution_time_ms": 2500,
        "end_time_ms": 1700000003500,
        "request_id": T2,
        "client_request_id": "req-002",
        "name": "chat_pipeline",
        "run_id": None,
        "session": "s1",
        "user": "bob",
        **dict.fromkeys(
            [
                "tokens.input",
                "tokens.output",
                "tokens.total",
                "tokens.cache_read",
                "tokens.cache_write",
                "tokens.reasoning",
                "cost.input",
                "cost.output",
                "cost.total",
            ]
        ),  # the oracle traces report no usage
        "experiment_id": "1",
    }
    # In progress: no duration, so the end is the start.
    assert {spec.name: spec.read(t4) for spec in TRACE_FIELDS if spec.read} == {
        "status": "IN_PROGRESS",
        "timestamp_ms": 1700000000500,
        "execution_time_ms": None,
        "end_time_ms": 1700000000500,
        "request_id": T4,
        "client_request_id": None,
        "name": None,
        "run_id": None,
        "session": None,
        "user": "dave",
        **dict.fromkeys(
            [
                "tokens.input",
                "tokens.output",
                "tokens.total",
                "tokens.cache_read",
                "tokens.cache_write",
                "tokens.reasoning",
                "cost.input",
                "cost.output",
                "cost.total",
            ]
        ),  # the oracle traces report no usage
        "experiment_id": "1",
    }


def test_the_written_file_is_read_by_the_columnar_reader(
    oracle_traces: list[Trace], tmp_path: Path
) -> None:
    # The comparison above is only independent if the JSONL frame keeps its lines
    # (its page table), not Trace objects.
    path = tmp_path / "oracle.jsonl"
    write_jsonl(oracle_traces, path)
    assert read_traces(path)._objects is None
