"""``columns=`` of ``search_traces`` on hand-built traces.

docs/semantics.md#columns is the specification: a column holds the value
``order_by`` sorts a trace by (tags, metadata, tokens, cost, latency, aggregates
over spans), or the mean numeric value of a feedback or expectation name. Every
search runs on both engines (the ``engine`` fixture).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pytest

from polartrace import (
    ColumnError,
    SearchArgumentError,
    Trace,
    TraceFrame,
    next_page_token,
    search_assessments,
    search_spans,
    search_traces,
)
from polartrace.api.lazy import scan_traces
from polartrace.api.search import Engine
from polartrace.cli.main import main
from polartrace.io import read_traces, write_jsonl, write_parquet
from polartrace.model.assessment import Assessment, AssessmentSource
from polartrace.model.span import Span
from polartrace.model.trace import TraceData, TraceInfo, TraceState

META = "tr-00000000000000000000000000000c01"  # tokens and cost in trace metadata
SPANS = "tr-00000000000000000000000000000c02"  # tokens and cost from two LLM spans
BARE = "tr-00000000000000000000000000000c03"  # no tags, in progress, session s1
_T0 = 1_700_000_000_000


def _span(index: int, kind: str, parent: int | None = None, **extra: Any) -> Span:
    attributes: dict[str, Any] = {"mlflow.spanType": kind, **extra}
    start = (_T0 + index) * 1_000_000
    return Span(
        name=f"s{index}",
        span_id=f"{index:016x}",
        otel_trace_id="0" * 32,
        start_time_ns=start,
        end_time_ns=start + 1_000_000,
        parent_id=None if parent is None else f"{parent:016x}",
        raw_attributes={k: json.dumps(v) for k, v in attributes.items()},
    )


def _llm(index: int, tokens: int, cost: float) -> Span:
    usage = {"input_tokens": tokens - 10, "output_tokens": 10, "total_tokens": tokens}
    return _span(
        index,
        "LLM",
        parent=index - index % 10,
        **{
            "mlflow.llm.model": "gpt-4o",
            "mlflow.chat.tokenUsage": usage,
            "mlflow.llm.cost": {"total_cost": cost},
        },
    )


def _feedback(name: str, value: Any, ident: str, **extra: Any) -> Assessment:
    return Assessment(
        name=name,
        kind="feedback",
        value=value,
        assessment_id=ident,
        source=AssessmentSource("HUMAN", "reviewer"),
        create_time_ms=_T0 + int(ident[2:]),
        **extra,
    )


def _traces() -> list[Trace]:
    session = {"mlflow.trace.session": "s1"}
    usage = {"input_tokens": 900, "output_tokens": 50, "total_tokens": 950}
    return [
        Trace(
            TraceInfo(
                trace_id=META,
                request_time=_T0,
                state=TraceState.OK,
                execution_duration=1200,
                tags={"environment": "production"},
                trace_metadata={
                    "mlflow.trace.user": "alice",
                    "mlflow.trace.tokenUsage": json.dumps(usage),
                    "mlflow.trace.cost": json.dumps({"total_cost": 2.0}),
                    **session,
                },
                assessments=[
                    _feedback("relevance", 0.5, "a-1"),
                    _feedback("relevance", 1, "a-2"),
                    _feedback("relevance", 0.0, "a-3", valid=False),
                    _feedback("tone", 3, "a-4", metadata=session),
                ],
            ),
            TraceData([_span(10, "CHAIN"), _llm(11, 120, 0.125)]),
        ),
        Trace(
            TraceInfo(
                trace_id=SPANS,
                request_time=_T0 + 1000,
                state=TraceState.ERROR,
                execution_duration=800,
                tags={"environment": "staging"},
                trace_metadata={"mlflow.trace.user": "bob"},
                assessments=[_feedback("relevance", "good", "a-5")],
            ),
            TraceData([_span(20, "CHAIN"), _llm(21, 100, 0.25), _llm(22, 60, 0.5)]),
        ),
        Trace(
            TraceInfo(
                trace_id=BARE,
                request_time=_T0 + 500,
                state=TraceState.IN_PROGRESS,
                execution_duration=None,
                trace_metadata=session,
            ),
            TraceData([]),
        ),
    ]


@pytest.fixture(scope="module")
def frame() -> TraceFrame:
    return TraceFrame.from_traces(_traces())


@pytest.fixture(scope="module")
def jsonl_frame(tmp_path_factory: pytest.TempPathFactory) -> TraceFrame:
    path = tmp_path_factory.mktemp("columns") / "traces.jsonl"
    write_jsonl(_traces(), path)
    return read_traces(path)


COLUMNS = [
    "tags.environment",
    "user",
    "tokens.total",
    "tokens.input",
    "cost.total",
    "feedback.relevance",
    "feedback.tone",
    "latency",
    "count(SPAN WHERE type = 'LLM')",
    "sum(span.tokens.total)",
]
#: By timestamp: META, BARE, SPANS. META's tokens and cost come from its metadata
#: (its span's 120 tokens are not added); SPANS' are the sums over its LLM spans.
#: META's relevance is the mean of 0.5 and 1 (the invalid 0.0 does not count);
#: SPANS' is "good", no number. BARE shares META's session: its tone is META's
#: session-scoped 3.
EXPECTED = [
    (META, "production", "alice", 950, 900, 2.0, 0.75, 3.0, 1200, 1, 120),
    (BARE, None, None, None, None, None, None, 3.0, None, 0, 0),
    (SPANS, "staging", "bob", 160, 140, 0.75, None, None, 800, 2, 160),
]


def _table(frame: Any, engine: Engine = "polars", **kwargs: Any) -> pl.DataFrame:
    result = search_traces(
        frame,
        None,
        order_by=["timestamp_ms"],
        return_type="polars",
        engine=engine,
        **kwargs,
    )
    assert isinstance(result, pl.DataFrame)
    return result


def test_columns_hold_each_traces_values(frame: TraceFrame, engine: Engine) -> None:
    table = _table(frame, engine, columns=COLUMNS)
    assert table.select("trace_id", *COLUMNS).rows() == EXPECTED


def test_columns_of_a_frame_read_from_jsonl(jsonl_frame: TraceFrame) -> None:
    table = _table(jsonl_frame, columns=COLUMNS)
    assert table.select("trace_id", *COLUMNS).rows() == EXPECTED


def test_polars_columns_are_typed(frame: TraceFrame, engine: Engine) -> None:
    table = _table(frame, engine, columns=[*COLUMNS, "timestamp_ms", "status"])
    assert table.columns[:12] == _table(frame, engine).columns
    assert dict(list(table.schema.items())[12:]) == {
        "tags.environment": pl.String(),
        "user": pl.String(),
        "tokens.total": pl.Int64(),
        "tokens.input": pl.Int64(),
        "cost.total": pl.Float64(),
        "feedback.relevance": pl.Float64(),
        "feedback.tone": pl.Float64(),
        "latency": pl.Int64(),
        "count(SPAN WHERE type = 'LLM')": pl.Int64(),
        "sum(span.tokens.total)": pl.Int64(),
        "timestamp_ms": pl.Datetime("ms", "UTC"),
        "status": pl.String(),
    }
    assert table["timestamp_ms"].to_list()[0] == dt.datetime(
        2023, 11, 14, 22, 13, 20, tzinfo=dt.UTC
    )
    assert table["status"].to_list() == ["OK", "IN_PROGRESS", "ERROR"]


def test_pandas_columns_come_last_with_nullable_dtypes(frame: TraceFrame) -> None:
    df = search_traces(
        frame,
        None,
        order_by=["timestamp_ms"],
        extract_fields=["s10.inputs"],
        columns=["tags.environment", "tokens.total", "cost.total", "timestamp_ms"],
    )
    assert list(df.columns)[12:] == [
        "s10.inputs",
        "tags.environment",
        "tokens.total",
        "cost.total",
        "timestamp_ms",
    ]
    assert [str(t) for t in df.dtypes.iloc[13:]] == [
        "string",
        "Int64",
        "Float64",
        "datetime64[ms, UTC]",
    ]
    assert df["tags.environment"].tolist() == ["production", pd.NA, "staging"]
    assert df["tokens.total"].tolist() == [950, pd.NA, 160]
    assert df["cost.total"].tolist() == [2.0, pd.NA, 0.75]
    assert df.attrs["next_page_token"] is None


def test_arrow_columns_are_typed_and_keep_the_token(frame: TraceFrame) -> None:
    table = search_traces(
        frame,
        None,
        max_results=1,
        return_type="arrow",
        columns=["user", "tokens.total", "timestamp_ms"],
    )
    assert [str(f.type) for f in table.schema][12:] == [
        "large_string",
        "int64",
        "timestamp[ms, tz=UTC]",
    ]
    assert table.column("user").to_pylist() == ["bob"]
    assert next_page_token(table) is not None


def test_a_column_is_the_order_by_value(frame: TraceFrame, engine: Engine) -> None:
    table = search_traces(
        frame,
        None,
        order_by=["tokens.total DESC"],
        return_type="polars",
        columns=["tokens.total"],
        engine=engine,
    )
    assert table.select("trace_id", "tokens.total").rows() == [
        (META, 950),
        (SPANS, 160),
        (BARE, None),
    ]


def test_spellings_of_one_field_give_the_same_values(frame: TraceFrame) -> None:
    spellings = [
        "user",
        "metadata.mlflow.trace.user",
        "metadata.`mlflow.trace.user`",
        "request_metadata.`mlflow.trace.user`",
    ]
    table = _table(frame, columns=spellings)
    assert table.select(spellings).rows() == [
        ("alice",) * 4,
        (None,) * 4,
        ("bob",) * 4,
    ]


def test_columns_page_with_the_same_tokens(frame: TraceFrame, engine: Engine) -> None:
    first = _table(frame, engine, max_results=2, columns=["latency"])
    plain = _table(frame, engine, max_results=2)
    token = next_page_token(first)
    assert token == next_page_token(plain)
    second = _table(frame, engine, max_results=2, page_token=token, columns=["latency"])
    assert second.select("trace_id", "latency").rows() == [(SPANS, 800)]


def test_an_empty_page_has_typed_columns(frame: TraceFrame, engine: Engine) -> None:
    table = search_traces(
        frame,
        "status = 'OK' AND status = 'ERROR'",
        return_type="polars",
        columns=["tokens.total", "tags.environment"],
        engine=engine,
    )
    assert table.height == 0
    assert table.schema["tokens.total"] == pl.Int64()
    df = search_traces(
        frame, "status = 'OK' AND status = 'ERROR'", columns=["tokens.total"]
    )
    assert (len(df), str(df["tokens.total"].dtype)) == (0, "Int64")


ERRORS = [
    pytest.param("tokens.totl", "no column for 'tokens.totl'", 0,
                 "did you mean 'tokens.total'?", id="unknown-attribute"),
    pytest.param("attributes.stauts", "no column for 'stauts'", 0,
                 "did you mean 'status'?", id="unknown-prefixed"),
    pytest.param("span.model", "'span.model' has one value per span", 0,
                 "search_spans", id="span-field"),
    pytest.param("models", "'models' has one value per model", 0, "search_spans",
                 id="models"),
    pytest.param("latency DESC", "a column has no direction", 8,
                 "write the field alone: 'latency'", id="direction"),
    pytest.param("state", "'state' is a column of the result already", 0,
                 "write 'status'", id="clash-state"),
    pytest.param("trace_id", "'trace_id' is a column of the result already", 0,
                 "write 'request_id'", id="clash-trace-id"),
    pytest.param("issue.id", "'issue.id' is no column", 0,
                 "search_assessments", id="issue"),
    pytest.param("count(SPAN WHERE typ = 'LLM')", "unknown span field 'span.typ'",
                 17, "did you mean 'span.type'?", id="aggregate-field"),
    pytest.param("  ", "empty columns entry", 0, "name a field", id="empty"),
]  # fmt: skip


@pytest.mark.parametrize(("entry", "message", "position", "hint"), ERRORS)
def test_bad_columns_are_refused(
    frame: TraceFrame, entry: str, message: str, position: int, hint: str
) -> None:
    with pytest.raises(ColumnError) as info:
        search_traces(frame, None, columns=[entry])
    assert info.value.message.startswith(message)
    assert info.value.position == position
    assert info.value.hint is not None
    assert hint in info.value.hint
    assert "of the columns entry" in str(info.value)


def test_a_column_named_twice_is_refused(frame: TraceFrame) -> None:
    with pytest.raises(ColumnError, match="columns names 'user' twice"):
        search_traces(frame, None, columns=["user", "tags.x", " user"])


def test_columns_with_a_list_result_are_refused(frame: TraceFrame) -> None:
    with pytest.raises(SearchArgumentError, match="return_type='list' returns Trace"):
        search_traces(frame, None, return_type="list", columns=["user"])


def test_columns_must_be_names(frame: TraceFrame) -> None:
    with pytest.raises(SearchArgumentError, match="columns must be a list of field"):
        search_traces(frame, None, columns=[1])  # type: ignore[list-item]


def test_columns_of_a_scanned_dataset(frame: TraceFrame, tmp_path: Path) -> None:
    write_parquet(frame, tmp_path / "ds")
    lazy = scan_traces(tmp_path / "ds")
    table = lazy.search(
        order_by=["timestamp_ms"], return_type="polars", columns=COLUMNS
    )
    assert table.select("trace_id", *COLUMNS).rows() == EXPECTED
    assert table.schema == _table(frame, columns=COLUMNS).schema
    page = search_traces(lazy, None, max_results=1, columns=["tokens.total", "user"])
    assert page[["trace_id", "tokens.total", "user"]].values.tolist() == [
        [SPANS, 160, "bob"]
    ]


def test_cli_column_adds_field_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "traces.jsonl"
    write_jsonl(_traces(), path)
    args = ["search", str(path), "--columns", "trace_id", "--format", "csv"]
    more = ["--column", "tokens.total", "--column", "timestamp_ms", "--column", "user"]
    assert main([*args, *more, "--order-by", "timestamp_ms"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "trace_id,tokens.total,timestamp_ms,user",
        f"{META},950,2023-11-14 22:13:20.000Z,alice",
        f"{BARE},,2023-11-14 22:13:20.500Z,",
        f"{SPANS},160,2023-11-14 22:13:21.000Z,bob",
    ]


def test_cli_bad_column_exits_2_with_the_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "traces.jsonl"
    write_jsonl(_traces(), path)
    assert main(["search", str(path), "--column", "span.model"]) == 2
    err = capsys.readouterr().err
    assert "'span.model' has one value per span" in err
    assert "Hint: search_spans" in err


def test_row_tables_take_the_same_trace_columns(
    frame: TraceFrame, engine: Engine
) -> None:
    # A trace column of search_spans/search_assessments is the search_traces one:
    # the same values and dtypes on every row of the trace.
    names = ["tokens.total", "feedback.relevance", "count(SPAN WHERE type = 'LLM')"]
    spans = search_spans(
        frame, "span.type = 'LLM'", columns=names, engine=engine, order_by="span.name"
    )
    assert spans.select("trace_id", "trace.tokens.total", *names[1:]).rows() == [
        (META, 950, 0.75, 1),
        (SPANS, 160, None, 2),
        (SPANS, 160, None, 2),
    ]
    assert spans.schema["trace.tokens.total"] == pl.Int64()
    rows = search_assessments(
        frame, "feedback.relevance IS NOT NULL", columns=names, engine=engine
    )
    assert rows.select("assessment_id", *names).rows() == [
        ("a-5", 160, None, 2),
        ("a-1", 950, 0.75, 1),
        ("a-2", 950, 0.75, 1),
    ]


def test_row_tables_refuse_many_valued_columns_with_a_hint(frame: TraceFrame) -> None:
    with pytest.raises(ColumnError, match="one value per span") as info:
        search_assessments(frame, None, columns=["span.model"])
    assert info.value.hint is not None
    assert "search_spans" in info.value.hint
    with pytest.raises(ColumnError, match=r"did you mean 'tokens\.total'"):
        search_spans(frame, None, columns=["tokens.totl"])
