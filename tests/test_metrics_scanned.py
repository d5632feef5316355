"""``metrics`` and ``search_sessions`` over a scanned Parquet dataset, out of core.

Two kinds of data:

* the four hand-built traces of ``tests/test_metrics.py``, one dataset part each,
  so every group and hour spans parts: the pinned answers of that module hold;
* 1,200 generated traces written with ``DatasetWriter`` in three parts (and split
  by day): every query equals ``metrics`` on the same dataset read whole, exactly
  (floats within 1e-9 relative: sums and means add in another order), with span
  batches smaller than a trace.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from polartrace import (
    MetricError,
    SearchArgumentError,
    Trace,
    TraceFrame,
    metrics,
    read_traces,
    scan_traces,
    search_sessions,
)
from polartrace.api.lazy import LazyTraceFrame
from polartrace.cli.main import main
from polartrace.generate import generate_jsonl_lines
from polartrace.io.parquet import DatasetWriter, table_files
from polartrace.values.errors import TraceFormatError
from tests.test_metrics import HOUR_22, HOUR_23, TRACES

_REPO = Path(__file__).resolve().parent.parent
_V1 = _REPO / "tests" / "fixtures" / "parquet-v1" / "oracle"
_GENERATED = 1_200
_PART = 400


def _write(path: Path, chunks: list[list[Trace]], *, by_day: bool = False) -> Path:
    with DatasetWriter(path, partition_by_day=by_day) as writer:
        for chunk in chunks:
            writer.write(TraceFrame.from_traces(chunk))
    return path


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> LazyTraceFrame:
    """The four traces of test_metrics, one part each."""
    path = tmp_path_factory.mktemp("small") / "ds"
    return scan_traces(_write(path, [[t] for t in TRACES]))


@pytest.fixture(scope="module", params=["parts", "parts by day"])
def generated(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[LazyTraceFrame, TraceFrame]:
    """1,200 generated traces in three parts, scanned, and the same dataset read."""
    lines = generate_jsonl_lines(_GENERATED, seed=21)
    traces = [Trace.from_json(line) for line in lines]
    chunks = [traces[i : i + _PART] for i in range(0, len(traces), _PART)]
    path = tmp_path_factory.mktemp("generated") / "ds"
    _write(path, chunks, by_day=request.param == "parts by day")
    scanned = scan_traces(path)
    scanned.batch_rows = 25  # span batches of a few traces, most cut mid-trace
    return scanned, read_traces(path, format="parquet")


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def _assert_equal(got: pl.DataFrame, want: pl.DataFrame) -> None:
    assert got.schema == want.schema
    assert got.height == want.height
    for g, w in zip(got.rows(), want.rows(), strict=True):
        assert all(_same(x, y) for x, y in zip(g, w, strict=True)), (g, w)


# --- the generated dataset: the scan equals the dataset read whole --------------------


_QUERIES = [
    pytest.param(
        None,
        {"metrics": ["count", "error_rate", "p95(latency)"],
         "group_by": "tags.environment", "every": "1h"},
        id="the benchmark query",
    ),
    pytest.param(
        None,
        {"metrics": ["count", "error_count", "avg(latency)", "sum(latency)",
                     "min(latency)", "max(latency)", "p50(latency)", "p0(latency)",
                     "p100(latency)", "min(timestamp_ms)", "max(name)",
                     "count_distinct(user)"],
         "group_by": ["name", "status"], "every": "1d"},
        id="every aggregate, by name and status, daily",
    ),
    pytest.param(
        None,
        {"metrics": ["count", "p95(latency)", "sum(tokens.total)", "avg(cost.total)"],
         "every": "1w"},
        id="weekly, no group",
    ),
    pytest.param(
        None,
        {"metrics": ["count", "avg(feedback.relevance)", "p50(feedback.relevance)",
                     "count_distinct(feedback.relevance)"],
         "group_by": "tags.environment"},
        id="feedback metrics",
    ),
    pytest.param(
        "feedback.relevance > 0.5 AND tags.environment != 'dev'",
        {"metrics": ["count", "p90(tokens.total)", "sum(cost.total)"],
         "group_by": "user"},
        id="an assessment filter, by user",
    ),
    pytest.param(
        "text LIKE '%refund%' OR span.status = 'ERROR'",
        {"metrics": ["count", "error_rate"], "group_by": "session", "every": "1d"},
        id="a text or span clause, by session",
    ),
    pytest.param(
        None,
        {"metrics": ["count", "error_rate", "p90(span.duration_ms)",
                     "count_distinct(span.name)", "max(span.model)"],
         "group_by": "span.type", "every": "1d", "level": "span"},
        id="every span by type, daily",
    ),
    pytest.param(
        "span.type = 'LLM' AND status = 'OK'",
        {"metrics": ["count", "p99(span.duration_ms)", "sum(span.tokens.total)",
                     "avg(span.cost.total)"],
         "group_by": ["span.model", "tags.environment"], "level": "span"},
        id="the LLM spans of OK traces, by model and environment",
    ),
    pytest.param(
        "span.type = 'TOOL'",
        {"metrics": ["count", "p50(latency)"],
         "group_by": "span.attributes.`mlflow.spanType`", "every": "1h",
         "level": "span"},
        id="an attribute group key, a trace value per span",
    ),
    pytest.param(
        "span.duration_ms > 1000 OR status = 'ERROR'",
        {"metrics": ["count", "error_count", "avg(span.duration_ms)"],
         "group_by": "span.status", "level": "span"},
        id="span clauses under OR select traces, not spans",
    ),
    pytest.param(
        "tags.environment = 'nowhere'",
        {"metrics": ["count", "p95(latency)"], "group_by": "status", "every": "1h"},
        id="an empty selection",
    ),
    pytest.param(
        "span.name = 'no such span'",
        {"metrics": ["count", "avg(span.duration_ms)"], "level": "span"},
        id="no span selected",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("filter_string", "query"), _QUERIES)
def test_scanned_metrics_equal_the_dataset_read_whole(
    generated: tuple[LazyTraceFrame, TraceFrame],
    filter_string: str | None,
    query: dict[str, Any],
) -> None:
    scanned, frame = generated
    got = metrics(scanned, filter_string, return_type="polars", **query)
    want = metrics(frame, filter_string, return_type="polars", **query)
    _assert_equal(got, want)


def test_the_generated_groups_and_buckets_span_the_parts(
    generated: tuple[LazyTraceFrame, TraceFrame],
) -> None:
    """The data is what the comparisons need: groups and days in every part."""
    scanned, _ = generated
    assert len(table_files(Path(scanned.path), "traces")) >= 3
    parts = [
        pl.read_parquet(f).select(
            pl.col("tag:environment").cast(pl.String),
            (pl.col("request_time") // 86_400_000).alias("day"),
        )
        for f in table_files(Path(scanned.path), "traces")
    ]
    environments = [set(p["tag:environment"].drop_nulls()) for p in parts]
    assert set.intersection(*environments) >= {"production", "staging"}
    whole = metrics(scanned, metrics="count", every="1d", return_type="polars")
    assert whole["count"].sum() == _GENERATED
    assert whole.height > 1


def test_a_percentile_is_numpy_linear_over_the_values_of_every_part(
    generated: tuple[LazyTraceFrame, TraceFrame],
) -> None:
    scanned, frame = generated
    got = metrics(
        scanned,
        "tags.environment = 'production'",
        metrics=["count", "p95(latency)", "p50(latency)"],
        return_type="polars",
    )
    latencies = [
        t.info.execution_duration
        for t in frame
        if t.info.tags.get("environment") == "production"
        and t.info.execution_duration is not None
    ]
    count = sum(1 for t in frame if t.info.tags.get("environment") == "production")
    assert got.rows() == [
        (
            count,
            pytest.approx(float(np.percentile(latencies, 95)), rel=1e-12),
            pytest.approx(float(np.percentile(latencies, 50)), rel=1e-12),
        )
    ]


def test_scanned_sessions_equal_the_dataset_read_whole(
    generated: tuple[LazyTraceFrame, TraceFrame],
) -> None:
    scanned, frame = generated
    for kwargs in (
        {},
        {"filter_string": "status = 'OK'", "order_by": "trace_count DESC"},
        {"order_by": ["total_latency_ms DESC"], "max_results": 7},
    ):
        got = search_sessions(scanned, return_type="polars", **kwargs)
        want = search_sessions(frame, return_type="polars", **kwargs)
        assert got.height > 0
        _assert_equal(got, want)


@pytest.mark.parametrize("removed", [0, 2], ids=["first part", "last part"])
def test_spans_of_traces_whose_part_was_removed_are_not_rows(
    tmp_path: Path, removed: int
) -> None:
    """A scan aggregates only the spans of the traces it has."""
    traces = [Trace.from_json(line) for line in generate_jsonl_lines(90, seed=4)]
    parts = [traces[:30], traces[30:60], traces[60:]]
    path = _write(tmp_path / "ds", parts)
    for table in ("traces", "json"):  # the spans stay
        table_files(path, table)[removed].unlink()
    kept = [t for i, part in enumerate(parts) if i != removed for t in part]
    query: dict[str, Any] = {
        "metrics": ["count", "avg(span.duration_ms)", "p50(span.duration_ms)"],
        "group_by": "span.type",
        "level": "span",
        "return_type": "polars",
    }
    got = metrics(scan_traces(path), **query)
    _assert_equal(got, metrics(TraceFrame.from_traces(kept), **query))
    assert got["count"].sum() == sum(len(t.data.spans) for t in kept) > 0


# --- the pinned answers of test_metrics, one trace a part -----------------------------


def test_pinned_trace_metrics_with_one_trace_a_part(small: LazyTraceFrame) -> None:
    table = metrics(
        small, metrics=["count", "error_rate", "p95(latency)"],
        group_by="tags.environment", every="1h", return_type="polars",
    )  # fmt: skip
    assert table.rows() == [
        (HOUR_22, "production", 2, 0.5, 290.0),
        (HOUR_23, "staging", 1, 0.0, 200.0),
        (HOUR_23, None, 1, 0.0, None),
    ]
    got = metrics(
        small, metrics=["p50(latency)", "avg(latency)", "sum(latency)", "min(latency)",
        "max(latency)", "error_count"], return_type="polars",
    )  # fmt: skip
    assert got.rows() == [(200.0, 200.0, 600.0, 100.0, 300.0, 1)]


def test_pinned_feedback_and_span_metrics_with_one_trace_a_part(
    small: LazyTraceFrame,
) -> None:
    feedback = metrics(
        small, group_by="metadata.`mlflow.trace.session`",
        metrics=["avg(feedback.relevance)", "count_distinct(feedback.relevance)"],
        return_type="polars",
    )  # fmt: skip
    assert feedback.rows() == [("s1", 0.75, 2), ("s2", None, 0), (None, None, 0)]
    spans = metrics(
        small, "span.type = 'LLM'", level="span", group_by="tags.environment",
        metrics=["count", "error_rate", "avg(span.duration_ms)"],
        return_type="polars",
    )  # fmt: skip
    assert spans.rows() == [("production", 2, 0.5, 120.0), ("staging", 1, 0.0, 200.0)]
    by_type = metrics(
        small, level="span", group_by="span.type", every="1h", return_type="polars"
    )
    assert by_type.rows() == [
        (HOUR_22, "CHAIN", 2),
        (HOUR_22, "LLM", 2),
        (HOUR_23, "LLM", 1),
    ]
    assert metrics(
        small, "span.type = 'LLM' OR status = 'ERROR'", level="span",
        return_type="polars",
    ).rows() == [(5,)]  # fmt: skip


def test_pinned_sessions_with_one_trace_a_part(small: LazyTraceFrame) -> None:
    table = search_sessions(small, return_type="polars")
    assert table.select(
        "session_id", "user", "first_request_time", "trace_count", "error_count",
        "total_latency_ms", "feedback.relevance",
    ).rows() == [
        ("s2", "bob", HOUR_23 + dt.timedelta(minutes=10), 1, 0, 200.0, None),
        ("s1", "alice", HOUR_22 + dt.timedelta(minutes=10), 2, 1, 400.0, 0.75),
    ]  # fmt: skip


def test_an_empty_scanned_selection_gives_typed_columns(small: LazyTraceFrame) -> None:
    table = metrics(
        small, "tags.environment = 'nope'", metrics=["count", "p95(latency)",
        "min(timestamp_ms)"], group_by="status", every="1d", return_type="polars",
    )  # fmt: skip
    assert table.height == 0
    assert table.schema == pl.Schema(
        {
            "time": pl.Datetime("ms", "UTC"),
            "status": pl.String(),
            "count": pl.Int64(),
            "p95(latency)": pl.Float64(),
            "min(timestamp_ms)": pl.Datetime("ms", "UTC"),
        }
    )


# --- what a scan refuses --------------------------------------------------------------


def test_the_reference_engine_refuses_a_scanned_dataset(small: LazyTraceFrame) -> None:
    with pytest.raises(SearchArgumentError, match=r"polars engine; \.collect\(\)"):
        metrics(small, engine="reference")
    with pytest.raises(SearchArgumentError, match=r"polars engine; \.collect\(\)"):
        search_sessions(small, engine="reference")


def test_a_bad_metric_on_a_scan_is_a_metric_error(small: LazyTraceFrame) -> None:
    with pytest.raises(MetricError, match="unknown metric 'avgg'"):
        metrics(small, metrics=["avgg(latency)"])


@pytest.mark.parametrize(
    ("spec", "level"),
    [("sum(tokens.total)", "trace"), ("p95(span.tokens.input)", "span")],
)
def test_a_dataset_without_llm_columns_names_the_field_and_the_fix(
    spec: str, level: str
) -> None:
    with pytest.raises(TraceFormatError, match="convert its source again") as info:
        metrics(scan_traces(_V1), metrics=[spec], level=level)  # type: ignore[arg-type]
    assert "LLM columns" in info.value.message
    assert metrics(scan_traces(_V1), metrics=["count"], return_type="polars").rows()


# --- the command line scans a dataset directory ---------------------------------------


def test_stats_on_a_dataset_directory(
    small: LazyTraceFrame, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [
        "stats", small.path, "--metric", "p95(latency)", "--metric", "error_rate",
        "--by", "tags.environment", "--every", "1h", "--format", "csv",
    ]  # fmt: skip
    assert main(args) == 0
    assert capsys.readouterr().out == (
        "time,tags.environment,p95(latency),error_rate\n"
        "2023-11-14T22:00:00+00:00,production,290.0,0.5\n"
        "2023-11-14T23:00:00+00:00,staging,200.0,0.0\n"
        "2023-11-14T23:00:00+00:00,,,0.0\n"
    )
