"""The hand-written 12-column page of the benchmarks returns polartrace's page.

``benchmarks/engines.py`` times polartrace's first page against the same query
written by hand in Polars with MLflow's twelve columns. That comparison only
means something if both return the same values: the hand-written page holds
MLflow's nested cells as JSON text (Polars writes its own spelling and key
order), polartrace's page holds them typed; decoded, they are the same cells
(`tests.typed_cells`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import polars as pl
import pytest

from benchmarks import engines, queries
from polartrace import Trace, TraceFrame, read_traces, search_traces
from polartrace.frame.pages import whole_texts
from polartrace.generate import write_jsonl
from tests.typed_cells import expected_rows, typed_rows

JSON_COLUMNS = ("trace", "request", "response", "trace_metadata", "tags", "spans",
                "assessments")  # fmt: skip
QUERIES = ("status", "week", "user", "span_name", "feedback", "not")


@pytest.fixture(scope="module")
def frame(tmp_path_factory: pytest.TempPathFactory) -> TraceFrame:
    """400 generated traces read from JSONL: tables plus each trace's page rows."""
    path = Path(tmp_path_factory.mktemp("bench")) / "traces.jsonl"
    write_jsonl(path, 400, seed=0)
    frame = read_traces(path)
    assert frame._objects is None
    return frame


def _mlflow_cells(table: pl.DataFrame) -> pd.DataFrame:
    """The hand-written page as MLflow's pandas cells: its JSON text decoded."""
    cells = table.to_pandas()
    for name in JSON_COLUMNS:
        if name != "trace":
            cells[name] = [None if t is None else json.loads(t) for t in table[name]]
    return cells


@pytest.mark.parametrize("layout", ["frame", "best"])
@pytest.mark.parametrize("query_id", QUERIES)
def test_hand_written_page_has_polartrace_cells(
    frame: TraceFrame, query_id: str, layout: str
) -> None:
    query = queries.by_id([query_id])[0]
    tables = (
        engines.frame_tables(frame) if layout == "frame" else engines.best_tables(frame)
    )
    hand = engines.hand_page_columns(tables, query, whole_texts(frame.pages))
    ours = search_traces(frame, query.filter, max_results=engines.PAGE,
                         return_type="polars")  # fmt: skip
    assert hand.columns == ours.columns
    assert hand.height == ours.height > 0
    assert expected_rows(_mlflow_cells(hand)) == typed_rows(ours)


def test_cached_dataset_fingerprint_reads_the_layout_modules() -> None:
    from benchmarks import data

    digest = data.fingerprint()
    assert len(digest) == 10
    assert int(digest, 16) >= 0  # hex: every module it names exists and was read


def test_span_benchmark_hand_table_is_search_spans() -> None:
    from benchmarks import spans as bench
    from polartrace.generate import generate_trace_dicts

    traces = [Trace.from_dict(d) for d in generate_trace_dicts(300, seed=3)]
    frame = TraceFrame.from_traces(traces)
    for query in ("llm", "top"):
        ours, hand = bench._ours(frame, query), bench._hand(frame, query)
        ids = ["trace_id", "span_id"]
        assert ours.height == hand.height > 0
        assert ours.select(ids).equals(hand.select(ids))


def test_metrics_benchmark_contenders_agree_and_a_wrong_answer_fails(
    frame: TraceFrame, tmp_path: Path
) -> None:
    from benchmarks import metrics as bench
    from polartrace import scan_traces, write_parquet

    write_parquet(frame, tmp_path / "ds")
    answers = {
        "polartrace": bench.with_polartrace(frame),
        "scanned": bench.with_polartrace(scan_traces(tmp_path / "ds")),
        "hand": bench.by_hand(frame.traces),
        "duckdb": bench.duckdb_runner(frame.traces)(),
    }
    assert bench.check(answers) == answers["hand"].height > 100
    first = pl.int_range(pl.len()) == 0
    wrong = answers["hand"].with_columns(pl.col("count") + first.cast(pl.Int64))
    with pytest.raises(AssertionError):
        bench.check({**answers, "wrong": wrong})
