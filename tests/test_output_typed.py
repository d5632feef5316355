"""The typed Polars and Arrow pages: exact dtypes, and literal values on the oracle.

docs/semantics.md#result-columns documents the schema; these tests pin it, and the
cells of oracle trace T2 (an ERROR trace with a CHAIN root, an LLM child and four
feedbacks, one of them session-scoped).
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pyarrow as pa

from polartrace import TraceFrame, search_traces
from polartrace.output.typed import SCHEMA
from tests.conftest import LABELS

T2 = LABELS["T2"]
UTC = dt.UTC
KV = pl.List(pl.Struct({"key": pl.String, "value": pl.String}))
SPAN = pl.Struct(
    {
        "span_id": pl.String, "parent_id": pl.String, "name": pl.String,
        "type": pl.String, "status": pl.String,
        "start_time": pl.Datetime("ns", "UTC"), "end_time": pl.Datetime("ns", "UTC"),
        "duration": pl.Duration("ns"), "inputs": pl.String, "outputs": pl.String,
        "attributes": KV, "events": pl.String, "model": pl.String,
        "provider": pl.String, "tokens.input": pl.Int64, "tokens.output": pl.Int64,
        "tokens.total": pl.Int64, "tokens.cache_read": pl.Int64,
        "tokens.cache_write": pl.Int64, "tokens.reasoning": pl.Int64,
        "cost.input": pl.Float64, "cost.output": pl.Float64,
        "cost.total": pl.Float64, "time_to_first_token_ms": pl.Float64,
    }
)  # fmt: skip
ASSESSMENT = pl.Struct(
    {
        "assessment_id": pl.String, "name": pl.String, "kind": pl.String,
        "value": pl.String, "span_id": pl.String, "source_type": pl.String,
        "source_id": pl.String, "create_time": pl.Datetime("ms", "UTC"),
        "last_update_time": pl.Datetime("ms", "UTC"), "rationale": pl.String,
        "error_code": pl.String, "error_message": pl.String, "metadata": KV,
        "overrides": pl.String, "valid": pl.Boolean,
    }
)  # fmt: skip
POLARS_COLUMNS: dict[str, pl.DataType | type[pl.DataType]] = {
    "trace_id": pl.String, "trace": pl.String, "client_request_id": pl.String,
    "state": pl.String, "request_time": pl.Datetime("ms", "UTC"),
    "execution_duration": pl.Duration("ms"), "request": pl.String,
    "response": pl.String, "trace_metadata": KV, "tags": KV,
    "spans": pl.List(SPAN), "assessments": pl.List(ASSESSMENT),
}  # fmt: skip
POLARS_SCHEMA = pl.Schema(POLARS_COLUMNS)
MAP = pa.map_(pa.large_string(), pa.large_string())


def _t2(frame: TraceFrame, return_type: str, include_spans: bool = True) -> object:
    return search_traces(
        frame, f"request_id = '{T2}'", return_type=return_type,  # type: ignore[arg-type]
        include_spans=include_spans,
    )  # fmt: skip


def test_polars_schema(oracle_frame: TraceFrame) -> None:
    df = _t2(oracle_frame, "polars")
    assert isinstance(df, pl.DataFrame)
    assert df.schema == POLARS_SCHEMA == pl.Schema(SCHEMA)
    empty = search_traces(oracle_frame, "status = 'IN_PROGRESS'", return_type="polars")
    assert empty.schema == POLARS_SCHEMA
    assert _t2(oracle_frame, "polars", False).schema == POLARS_SCHEMA  # type: ignore[attr-defined]


def test_arrow_schema(oracle_frame: TraceFrame) -> None:
    table = _t2(oracle_frame, "arrow")
    assert isinstance(table, pa.Table)
    types = dict(zip(table.schema.names, table.schema.types, strict=True))
    assert types == {
        "trace_id": pa.large_string(), "trace": pa.large_string(),
        "client_request_id": pa.large_string(), "state": pa.large_string(),
        "request_time": pa.timestamp("ms", "UTC"),
        "execution_duration": pa.duration("ms"), "request": pa.large_string(),
        "response": pa.large_string(), "trace_metadata": MAP, "tags": MAP,
        "spans": types["spans"], "assessments": types["assessments"],
    }  # fmt: skip
    span = types["spans"].value_type
    assert span.field("attributes").type == MAP
    assert span.field("start_time").type == pa.timestamp("ns", "UTC")
    assert span.field("duration").type == pa.duration("ns")
    assert span.field("tokens.total").type == pa.int64()
    assessment = types["assessments"].value_type
    assert assessment.field("metadata").type == MAP
    assert assessment.field("valid").type == pa.bool_()
    assert table.column("tags").to_pylist()[0][0] == ("environment", "staging")


def test_oracle_trace_cells(oracle_frame: TraceFrame) -> None:
    df = _t2(oracle_frame, "polars")
    assert isinstance(df, pl.DataFrame)
    row = df.row(0, named=True)
    assert row["trace_id"] == T2
    assert row["client_request_id"] == "req-002"
    assert row["state"] == "ERROR"
    assert row["request_time"] == dt.datetime(2023, 11, 14, 22, 13, 21, tzinfo=UTC)
    assert row["execution_duration"] == dt.timedelta(seconds=2.5)
    assert row["request"] == '{"question": "Why did it fail?"}'
    assert row["response"] is None
    assert row["tags"][:2] == [
        {"key": "environment", "value": "staging"},
        {"key": "mlflow.artifactLocation",
         "value": f"file:///mlruns/1/traces/{T2}/artifacts"},
    ]  # fmt: skip
    assert {"key": "mlflow.trace.user", "value": "bob"} in row["trace_metadata"]
    root, llm = row["spans"]
    assert (root["span_id"], root["parent_id"], root["name"], root["type"]) == (
        "cd67762011608f1c", None, "chat_pipeline", "CHAIN",
    )  # fmt: skip
    assert (llm["parent_id"], llm["name"], llm["type"], llm["status"]) == (
        "cd67762011608f1c", "llm_call", "LLM", "ERROR",
    )  # fmt: skip
    assert llm["start_time"] == dt.datetime(2023, 11, 14, 22, 13, 21, 1000, tzinfo=UTC)
    assert llm["duration"] == dt.timedelta(milliseconds=1)
    assert llm["inputs"] == '{"prompt": "Explain"}'
    assert llm["outputs"] is None
    assert llm["events"] == "[]"
    assert {"key": "model", "value": '"claude-3"'} in llm["attributes"]
    assert [(a["name"], a["value"]) for a in row["assessments"]] == [
        ("correctness", "false"), ("relevance", "3.0"), ("tone", '"negative"'),
        ("session_quality", '"good"'),
    ]  # fmt: skip
    session = row["assessments"][3]
    assert session["metadata"] == [{"key": "mlflow.trace.session", "value": "s1"}]
    assert (session["source_type"], session["valid"]) == ("HUMAN", True)


def test_without_spans(oracle_frame: TraceFrame) -> None:
    df = _t2(oracle_frame, "polars", False)
    assert isinstance(df, pl.DataFrame)
    assert df["spans"].to_list() == [[]]
    assert df["request"].to_list() == [None]
    assert df["assessments"].list.len().to_list() == [4]


def test_error_only_feedback_has_an_error_and_no_value(
    oracle_frame: TraceFrame,
) -> None:
    df = search_traces(
        oracle_frame, f"request_id = '{LABELS['T3']}'", return_type="polars"
    )
    judge = [a for a in df["assessments"][0].to_list() if a["name"] == "judge"]
    assert [(a["value"], a["error_code"], a["error_message"]) for a in judge] == [
        (None, "Exception", "boom")
    ]
