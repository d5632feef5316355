"""search_traces and count: quick-reference searches, paging, outputs, arguments."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from polartrace import (
    PageTokenError,
    SearchArgumentError,
    Trace,
    TraceFrame,
    count,
    parse_filter,
    search_traces,
)
from polartrace.api.search import Engine
from polartrace.engines.polars.compile import CACHE_SIZE, compile_filter
from polartrace.output.build import COLUMNS
from polartrace.testing import example_traces
from tests.conftest import LABELS

T1, T2, T3, T4, T5, T6 = (LABELS[f"T{i}"] for i in range(1, 7))

QUICK_REFERENCE = [
    ("attributes.status = 'OK'", [T6, T3, T5, T1]),
    ("attributes.timestamp_ms > 1749006880539", []),
    ("attributes.timestamp_ms > 1700000000500", [T6, T3, T2]),
    ("attributes.execution_time_ms > 2500", []),
    ("attributes.execution_time_ms > 500", [T6, T2]),
    ("attributes.latency > 1000", [T2]),
    ("metadata.`mlflow.trace.user` = 'alice'", [T1]),
    ("tags.environment = 'production'", [T1]),
    ("tags.`mlflow.traceName` = 'chat_pipeline'", [T2, T5, T1]),
    ("attributes.status = 'OK' AND tags.environment = 'production'", [T1]),
    (
        "attributes.status = 'OK' AND attributes.execution_time_ms > 100 AND "
        "metadata.`mlflow.trace.user` = 'alice'",
        [T1],
    ),
    (
        "timestamp_ms >= '2023-11-14T22:13:21Z' "
        "AND timestamp_ms < '2023-11-14T22:13:23Z'",
        [T3, T2],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"), QUICK_REFERENCE, ids=[q[0] for q in QUICK_REFERENCE]
)
def test_quick_reference_search(
    text: str, expected: list[str], oracle_frame: TraceFrame, engine: Engine
) -> None:
    got = search_traces(oracle_frame, text, return_type="list", engine=engine)
    assert [t.info.trace_id for t in got] == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "status = 'OK'",
        "span.type = 'LLM'",
        "NOT tags.environment = 'dev'",
        # Masks that read no column (keys no trace has): one scalar, not a row each.
        "tags.`no.such.tag` = 'x'",
        "NOT tags.`no.such.tag` = 'x'",
        "tags.`no.such.tag` != 'x' OR metadata.`nope` = 'y'",
        "NOT (tags.`no.such.tag` = 'x' AND metadata.`nope` = 'y')",
    ],
)
def test_count_equals_number_of_results(
    text: str, oracle_frame: TraceFrame, engine: Engine
) -> None:
    rows = search_traces(oracle_frame, text, return_type="list")
    assert count(oracle_frame, text, engine=engine) == len(rows)


@pytest.mark.parametrize("size", [1, 2, 4, 5, 6, 7])
def test_paging_walks_every_trace_once(
    size: int, oracle_frame: TraceFrame, engine: Engine
) -> None:
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = search_traces(
            oracle_frame,
            max_results=size,
            page_token=token,
            return_type="list",
            engine=engine,
        )
        seen += [t.info.trace_id for t in page]
        pages += 1
        token = page.token
        if token is None:
            break
    assert seen == [T6, T3, T2, T4, T5, T1]
    assert pages == math.ceil(6 / size)


def test_last_full_page_has_no_token(oracle_frame: TraceFrame) -> None:
    page = search_traces(oracle_frame, max_results=6, return_type="list")
    assert page.token is None


def test_token_from_another_search_is_rejected(oracle_frame: TraceFrame) -> None:
    page = search_traces(
        oracle_frame, "status = 'OK'", max_results=1, return_type="list"
    )
    with pytest.raises(PageTokenError, match="different search"):
        search_traces(
            oracle_frame, "status = 'ERROR'", max_results=1, page_token=page.token
        )


@pytest.mark.parametrize("token", ["garbage!", "eyJ4IjogMX0=", "bnVsbA==", ""])
def test_malformed_token_is_rejected(token: str, oracle_frame: TraceFrame) -> None:
    with pytest.raises(PageTokenError):
        search_traces(oracle_frame, page_token=token, max_results=1)


def test_pandas_output_has_mlflow_columns_and_cell_types(
    oracle_frame: TraceFrame,
) -> None:
    df = search_traces(
        oracle_frame, "request_id = '" + T1 + "' OR request_id = '" + T4 + "'"
    )
    assert list(df.columns) == list(COLUMNS)
    first, second = df.iloc[0], df.iloc[1]
    assert [first.trace_id, second.trace_id] == [T4, T1]
    assert json.loads(second.trace)["info"]["trace_id"] == T1
    assert second.client_request_id == "req-001"
    assert pd.isna(first.client_request_id)
    assert second.state == "OK"
    assert second.request_time == 1700000000000
    assert df.execution_duration.dtype == "float64"  # T4 in progress: NaN
    assert pd.isna(first.execution_duration)
    assert second.execution_duration == 150
    assert second.request == {"question": "What is MLflow?"}
    assert second.response == {"answer": "MLflow is an open source platform"}
    assert first.request is None
    assert second.trace_metadata["mlflow.trace.user"] == "alice"
    assert second.tags["environment"] == "production"
    assert [s["name"] for s in second.spans] == [
        "chat_pipeline",
        "retriever",
        "llm_call",
    ]
    assert first.spans == []
    assert len(second.assessments) == 5


def test_pandas_output_keeps_overridden_assessments(oracle_frame: TraceFrame) -> None:
    df = search_traces(oracle_frame, f"request_id = '{T5}'")
    assert [a["valid"] for a in df.iloc[0].assessments] == [False, True]


def test_pandas_trace_column_is_the_trace_json(
    oracle_traces: list[Trace], oracle_frame: TraceFrame
) -> None:
    df = search_traces(oracle_frame)
    by_id = {t.info.trace_id: t for t in oracle_traces}
    for trace_id, text in zip(df.trace_id, df.trace, strict=True):
        assert json.loads(text) == by_id[trace_id].to_dict()


def test_integer_durations_stay_integers(oracle_frame: TraceFrame) -> None:
    df = search_traces(oracle_frame, "status = 'OK'")
    assert df.execution_duration.dtype == "int64"
    assert df.request_time.dtype == "int64"


def test_empty_result_keeps_the_columns(oracle_frame: TraceFrame) -> None:
    df = search_traces(oracle_frame, "tags.environment = 'nowhere'")
    assert list(df.columns) == list(COLUMNS)
    assert len(df) == 0


def test_polars_output_is_typed(oracle_frame: TraceFrame) -> None:
    df = search_traces(oracle_frame, "status = 'ERROR'", return_type="polars")
    assert isinstance(df, pl.DataFrame)
    assert df.columns == list(COLUMNS)
    assert df.schema["request_time"] == pl.Datetime("ms", "UTC")
    assert df.schema["execution_duration"] == pl.Duration("ms")
    assert df["trace_id"].to_list() == [T2]
    assert {"key": "environment", "value": "staging"} in df["tags"][0].to_list()


def test_empty_polars_output_keeps_the_schema(oracle_frame: TraceFrame) -> None:
    df = search_traces(
        oracle_frame, "status = 'STATE_UNSPECIFIED'", return_type="polars"
    )
    assert df.columns == list(COLUMNS)
    assert df.height == 0


def test_arrow_output_carries_the_page_token(oracle_frame: TraceFrame) -> None:
    table = search_traces(oracle_frame, max_results=2, return_type="arrow")
    assert isinstance(table, pa.Table)
    assert table.column_names == list(COLUMNS)
    assert table.schema.metadata[b"next_page_token"]


def test_pandas_output_carries_the_page_token(oracle_frame: TraceFrame) -> None:
    df = search_traces(oracle_frame, max_results=5)
    assert df.attrs["next_page_token"]
    rest = search_traces(
        oracle_frame, max_results=5, page_token=df.attrs["next_page_token"]
    )
    assert list(rest.trace_id) == [T1]
    assert rest.attrs["next_page_token"] is None


def test_include_spans_false_drops_span_data(oracle_frame: TraceFrame) -> None:
    df = search_traces(oracle_frame, f"request_id = '{T1}'", include_spans=False)
    assert df.iloc[0].spans == []
    assert df.iloc[0].request is None


def test_search_accepts_a_list_of_traces(oracle_traces: list[Trace]) -> None:
    got = search_traces(oracle_traces, "status = 'ERROR'", return_type="list")
    assert [t.info.trace_id for t in got] == [T2]


def test_search_accepts_a_path(tmp_path: Path, oracle_traces: list[Trace]) -> None:
    path = tmp_path / "traces.jsonl"
    path.write_text(
        "".join(t.to_json() + "\n" for t in oracle_traces), encoding="utf-8"
    )
    assert count(path, "status = 'OK'") == 4


def test_max_results_zero_returns_nothing(oracle_frame: TraceFrame) -> None:
    assert search_traces(oracle_frame, max_results=0, return_type="list") == []


def test_max_results_zero_has_no_next_page(
    oracle_frame: TraceFrame, engine: Engine
) -> None:
    page = search_traces(oracle_frame, max_results=0, return_type="list", engine=engine)
    assert page == []
    assert page.token is None


def test_max_results_zero_after_a_page_has_no_next_page(
    oracle_frame: TraceFrame, engine: Engine
) -> None:
    first = search_traces(oracle_frame, max_results=2, return_type="list")
    page = search_traces(
        oracle_frame,
        max_results=0,
        page_token=first.token,
        return_type="list",
        engine=engine,
    )
    assert page == []
    assert page.token is None


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"return_type": "dict"}, "return_type must be one of"),
        ({"max_results": -1}, "max_results must be"),
        ({"max_results": 1.5}, "max_results must be"),
        ({"max_results": True}, "max_results must be"),
        ({"engine": "duckdb"}, "engine must be one of"),
    ],
    ids=lambda v: str(v),
)
def test_bad_argument_is_rejected(
    kwargs: dict[str, object], fragment: str, oracle_frame: TraceFrame
) -> None:
    with pytest.raises(SearchArgumentError, match=fragment):
        search_traces(oracle_frame, **kwargs)  # type: ignore[arg-type]


def test_bad_traces_argument_is_rejected() -> None:
    with pytest.raises(SearchArgumentError, match="traces must be"):
        search_traces(42)


def test_frame_search_and_count_methods(oracle_frame: TraceFrame) -> None:
    assert count(oracle_frame, "span.type = 'LLM'") == 2
    got = search_traces(oracle_frame, "span.type = 'LLM'", return_type="list")
    assert [t.info.trace_id for t in got] == [T2, T1]


def test_compiled_filter_is_cached_per_frame(oracle_frame: TraceFrame) -> None:
    bound = parse_filter("span.name = 'retriever' AND status = 'OK'")
    assert compile_filter(bound, oracle_frame) is compile_filter(bound, oracle_frame)


def test_compiled_filter_cache_keeps_the_most_recently_used_filters() -> None:
    frame = TraceFrame.from_traces(example_traces())
    first = parse_filter("status = 'OK'")
    kept = compile_filter(first, frame)
    for n in range(CACHE_SIZE + 40):
        compile_filter(parse_filter(f"timestamp_ms > {n}"), frame)
        assert compile_filter(first, frame) is kept  # used again: stays cached
    assert len(frame._compiled) == CACHE_SIZE
    assert "timestamp_ms > 0" not in frame._compiled
    assert f"timestamp_ms > {CACHE_SIZE + 39}" in frame._compiled
