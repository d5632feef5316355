"""polartrace.spark in Spark local mode: the in-memory engine's answers, distributed.

One SparkSession (``local[2]``) serves each test process (each xdist worker that runs
these tests starts its own). The conformance cases, the ``order_by`` cases and a
Hypothesis property compare `polartrace.spark` with the in-memory engine on the same
traces split across partitions; a dataset written by
``polartrace convert --partition-by-day`` is read by ``spark.read.parquet`` and
searched; bad filters fail on the driver before any Spark job. Deselect with
``-m "not spark"``; CI runs them (the dev extra installs pyspark).
"""

from __future__ import annotations

import itertools
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

import polartrace
from polartrace import FilterError, OrderByError, Trace, TraceFrame, search_traces
from polartrace.cli.main import main as cli_main
from polartrace.language.ast import unparse
from polartrace.spark.layout import frame_from_rows, rows_from_frame
from polartrace.testing import filters, order_by_lists, trace_lists
from property_tests._support import examples
from tests.conftest import load_jsonl

pytestmark = [
    pytest.mark.spark,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas"),
]

FILTER_CASES = load_jsonl("filter-cases.jsonl")
VALID = [c for c in FILTER_CASES if c["valid"]]
INVALID = [c for c in FILTER_CASES if not c["valid"]]
ORDERS = [c for c in load_jsonl("orderby-cases.jsonl") if c["valid"]]


def test_pyspark_is_installed() -> None:
    # The dev extra installs pyspark; a missing one is a failure, not a skip.
    import pyspark

    assert pyspark.__version__ >= "4"


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    from pyspark.sql import SparkSession

    # The workers run this interpreter, which has polartrace's dependencies.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    session = (
        SparkSession.builder.master("local[2]")
        .appName("polartrace-tests")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", "2g")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def oracle_rows(spark: Any, oracle_frame: TraceFrame) -> Any:
    from polartrace.spark import to_spark

    return to_spark(spark, oracle_frame, partitions=2).cache()


def _ids(rows: Any) -> list[str]:
    return [t.info.trace_id for t in rows]


Search = tuple[str | None, tuple[str, ...], int | None]


def _searches(rows: Any, frame: TraceFrame, searches: list[Search]) -> list[list[str]]:
    """The ids each search finds, all computed in one Spark job.

    Each search runs on the workers as ``search_traces`` runs it (the filter text
    bound there, the batch rebuilt into a frame, the engine's top-k and sort values)
    and is ordered by `page_keys`, as ``search_traces`` orders it before it fetches
    the page's JSON text. ``rows`` hold ``frame``'s traces at their frame keys.
    """
    from polartrace.spark.api import candidates_many, page_keys, searched

    plans, found = candidates_many(rows, searches)
    table = pl.from_arrow(found.toArrow())
    assert isinstance(table, pl.DataFrame)
    ids = frame.traces["trace_id"]
    return [
        ids.gather(page_keys(searched(table, i, plan), plan, search[2])).to_list()
        for i, (plan, search) in enumerate(zip(plans, searches, strict=True))
    ]


def test_layout_round_trip_keeps_every_conformance_answer(
    oracle_frame: TraceFrame,
) -> None:
    frame, positions = frame_from_rows(rows_from_frame(oracle_frame))
    assert positions.to_list() == list(range(6))
    for case in VALID:
        got = search_traces(frame, case["filter"], return_type="list")
        assert _ids(got) == case["matches"], case["filter"]


def test_conformance_filters_give_the_same_ids_in_the_same_order(
    oracle_rows: Any, oracle_frame: TraceFrame
) -> None:
    assert oracle_rows.rdd.getNumPartitions() == 2
    got = _searches(oracle_rows, oracle_frame, [(c["filter"], (), None) for c in VALID])
    wrong = {
        c["id"]: ids for c, ids in zip(VALID, got, strict=True) if ids != c["matches"]
    }
    assert wrong == {}


def test_pushed_conjuncts_keep_every_match(
    oracle_rows: Any, oracle_frame: TraceFrame
) -> None:

    from polartrace.spark.partition import search_plan
    from polartrace.spark.pushdown import pushed

    conditions = {}
    for index, case in enumerate(VALID):
        condition = pushed(
            search_plan(case["filter"], (), None).where, oracle_rows.columns
        )
        if condition is not None:
            conditions[index] = condition
    assert len(conditions) > 60  # time windows, status, tags, metadata, ids
    kept = oracle_rows.select(
        "trace_id", *(c.alias(f"p{i}") for i, c in conditions.items())
    ).collect()
    for index in conditions:
        passing = {row["trace_id"] for row in kept if row[f"p{index}"]}
        assert set(VALID[index]["matches"]) <= passing, VALID[index]["filter"]


def test_thousands_of_pushable_conjuncts_count_as_in_memory(
    oracle_rows: Any, oracle_frame: TraceFrame
) -> None:
    # Every conjunct translates to Spark; a chain of thousands overflows the stack
    # of Catalyst's rules, so only the first MAX_PUSHED are pushed.
    from polartrace import spark as pts
    from polartrace.spark.partition import search_plan
    from polartrace.spark.pushdown import MAX_PUSHED, pushed

    terms = [f"tags.`k{i}` IS NULL" for i in range(3000)] + ["status = 'OK'"] * 2
    text = " AND ".join(terms)
    condition = pushed(search_plan(text, (), None).where, oracle_rows.columns)
    # The first MAX_PUSHED conjuncts, ANDed: the Column's text ends with the last.
    assert str(condition).endswith(f"try_element_at(tags, 'k{MAX_PUSHED - 1}')))'>")
    expected = polartrace.count(oracle_frame, text)
    assert expected > 0
    assert pts.count(oracle_rows, text) == expected


def test_order_by_cases_and_their_top_k(
    oracle_rows: Any, oracle_frame: TraceFrame
) -> None:
    cases: list[Search] = [
        (None, _entries(c["order_by"]), k) for c in ORDERS for k in (None, 2)
    ]
    expected = [c["order"][:k] for c in ORDERS for k in (None, 2)]
    assert _searches(oracle_rows, oracle_frame, cases) == expected


def test_search_and_count_run_end_to_end(
    oracle_rows: Any, oracle_frame: TraceFrame
) -> None:
    from polartrace import spark as pts

    text = "status = 'OK' AND span.type = 'LLM'"
    got = pts.search_traces(oracle_rows, text, max_results=2, return_type="list")
    assert _ids(got) == _ids(
        search_traces(oracle_frame, text, max_results=2, return_type="list")
    )
    assert pts.count(oracle_rows, text) == polartrace.count(oracle_frame, text)


def _entries(order_by: str | list[str] | None) -> tuple[str, ...]:
    if order_by is None:
        return ()
    return (order_by,) if isinstance(order_by, str) else tuple(order_by)


def test_spark_return_type_is_the_page_of_rows_in_order(
    oracle_rows: Any, oracle_frame: TraceFrame
) -> None:
    from polartrace import spark as pts

    rows = pts.search_traces(
        oracle_rows, "status != 'ERROR'", order_by="timestamp_ms ASC", max_results=3
    )
    want = search_traces(
        oracle_frame,
        "status != 'ERROR'",
        order_by="timestamp_ms ASC",
        max_results=3,
        return_type="list",
    )
    assert [r.trace_id for r in rows.select("trace_id").collect()] == _ids(want)
    assert set(rows.columns) == set(oracle_rows.columns)


def test_polars_and_pandas_output_equal_the_in_memory_output(
    oracle_rows: Any, oracle_frame: TraceFrame
) -> None:
    from polartrace import spark as pts

    text = "span.type = 'LLM' OR tags.environment = 'production'"
    got = pts.search_traces(oracle_rows, text, max_results=3, return_type="polars")
    want = search_traces(oracle_frame, text, max_results=3, return_type="polars")
    assert got.equals(want)
    frame = pts.search_traces(oracle_rows, text, return_type="pandas")
    assert list(frame["trace_id"]) == list(
        search_traces(oracle_frame, text)["trace_id"]
    )


def test_bad_filters_fail_on_the_driver_before_any_job(
    spark: Any, oracle_rows: Any
) -> None:
    from polartrace import spark as pts

    context = spark.sparkContext
    context.setJobGroup("polartrace-bad-filters", "no job may start")
    try:
        for case in INVALID:
            with pytest.raises(FilterError):
                pts.search_traces(oracle_rows, case["filter"])
            with pytest.raises(FilterError):
                pts.count(oracle_rows, case["filter"])
        with pytest.raises(OrderByError):
            pts.search_traces(oracle_rows, order_by="no_such_field")
        jobs = context.statusTracker().getJobIdsForGroup("polartrace-bad-filters")
    finally:
        context.setJobGroup("", "")
    assert jobs == []
    assert len(INVALID) > 70


def test_metrics_equal_the_in_memory_metrics(
    oracle_rows: Any, oracle_frame: TraceFrame
) -> None:
    from polartrace import spark as pts

    queries: list[dict[str, Any]] = [
        {
            "metrics": ["count", "error_rate", "p50(latency)", "max(latency)"],
            "group_by": "status",
        },
        {
            "metrics": ["count", "sum(span.duration_ms)"],
            "group_by": "span.type",
            "level": "span",
        },
        {"metrics": ["count", "count_distinct(tags.environment)"], "every": "1d"},
        {"metrics": ["count"], "group_by": "tags.environment"},
    ]
    for query in queries:
        got = pts.metrics(oracle_rows, return_type="polars", **query)
        want = polartrace.metrics(oracle_frame, return_type="polars", **query)
        assert got.columns == want.columns
        assert got.height == want.height, query
        # Sums and averages add floats in another order: equal to the last bits.
        floats = [n for n, t in want.schema.items() if t == pl.Float64]
        exact = [n for n in want.columns if n not in floats]
        assert got.select(exact).equals(want.select(exact)), query
        for name in floats:
            mine, theirs = got[name].to_list(), want[name].to_list()
            assert [v is None for v in mine] == [v is None for v in theirs]
            pairs = [(m, t) for m, t in zip(mine, theirs, strict=True) if t is not None]
            assert pairs == [(pytest.approx(t, rel=1e-12), t) for _, t in pairs]


def test_partition_by_day_dataset_reads_in_spark_and_searches_the_same(
    spark: Any,
    tmp_path: Path,
    oracle_traces: list[Trace],
    capsys: pytest.CaptureFixture[str],
) -> None:
    from polartrace import spark as pts

    source = tmp_path / "oracle.jsonl"
    source.write_text(
        "".join(t.to_json() + "\n" for t in oracle_traces), encoding="utf-8"
    )
    out = tmp_path / "ds"
    assert cli_main(["convert", str(source), str(out), "--partition-by-day"]) == 0
    assert spark.read.parquet(str(out / "traces")).count() == 6
    window = "timestamp_ms >= 1700000000000 AND status = 'OK'"
    capsys.readouterr()
    pts.search_traces(pts.read_dataset(spark, out), window).explain()
    assert "PartitionFilters: [isnotnull(day" in capsys.readouterr().out
    df = pts.read_dataset(spark, out).cache()
    assert "day" in df.columns
    counts = df.groupBy("trace_id").count().where("count > 1").count()
    assert counts == 0  # one row per trace
    frame = polartrace.read_traces(out)
    found = _searches(df, frame, [(c["filter"], (), None) for c in VALID])
    assert found == [c["matches"] for c in VALID]
    assert pts.count(df, window) == polartrace.count(frame, window)


@settings(
    max_examples=examples(0.25),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    traces=trace_lists(2, 12),
    searches=st.lists(
        st.tuples(
            filters().map(unparse),
            order_by_lists().map(lambda o: tuple(o or ())),
            st.none() | st.integers(0, 5),
        ),
        min_size=1,
        max_size=6,
    ),
    partitions=st.integers(1, 4),
    cuts=st.none() | st.lists(st.integers(1, 11), max_size=3),
)
def test_spark_equals_the_in_memory_engine(
    spark: Any,
    traces: list[Trace],
    searches: list[Search],
    partitions: int,
    cuts: list[int] | None,
) -> None:
    """Drawn filters, orders and limits over drawn traces give the engine's answer.

    The rows are the frame's split into ``partitions`` (``cuts`` None), or a
    dataset written in parts at ``cuts`` (several files, sessions across them)
    and read by `read_dataset` into ``partitions``.
    """
    from polartrace import spark as pts
    from polartrace.io import DatasetWriter

    frame = TraceFrame.from_traces(traces)
    with tempfile.TemporaryDirectory() as tmp:
        if cuts is None:
            rows = pts.to_spark(spark, frame, partitions=partitions)
        else:
            bounds = sorted({c for c in cuts if c < len(traces)})
            with DatasetWriter(Path(tmp) / "ds") as writer:
                for start, end in itertools.pairwise([0, *bounds, len(traces)]):
                    writer.write(TraceFrame.from_traces(traces[start:end]))
            rows = pts.read_dataset(spark, Path(tmp) / "ds").repartition(partitions)
        want = [
            _ids(
                search_traces(
                    frame, t, order_by=list(o), max_results=k, return_type="list"
                )
            )
            for t, o, k in searches
        ]
        note(f"searches: {searches}")
        found = _searches(rows, frame, searches)
    assert found == want


def test_dataset_in_several_files_equals_the_in_memory_engine(
    spark: Any, tmp_path: Path
) -> None:
    from polartrace import spark as pts
    from polartrace.generate import generate_jsonl_lines
    from polartrace.io import DatasetWriter

    # Generated traces (environments, span types, errors); hypothesis.find would
    # spend minutes shrinking a list this long.
    traces = [Trace.from_json(line) for line in generate_jsonl_lines(40, seed=11)]
    with DatasetWriter(tmp_path / "ds", partition_by_day=True) as writer:
        for start in range(0, len(traces), 7):  # several parts, several files
            writer.write(TraceFrame.from_traces(traces[start : start + 7]))
    df = pts.read_dataset(spark, tmp_path / "ds").repartition(3).cache()
    assert df.rdd.getNumPartitions() == 3
    frame = polartrace.read_traces(tmp_path / "ds")
    texts = ["", "status = 'OK'", "span.type = 'LLM'", "tags.environment != 'dev'"]
    orders: list[tuple[str, ...]] = [(), ("execution_time DESC",), ("span_count DESC",)]
    searches: list[Search] = [
        (t, o, k) for t in texts for o in orders for k in (None, 5)
    ]
    want = [
        _ids(
            search_traces(frame, t, order_by=list(o), max_results=k, return_type="list")
        )
        for t, o, k in searches
    ]
    assert _searches(df, frame, searches) == want
    page = pts.search_traces(
        df,
        "span.type = 'LLM'",
        order_by="span_count DESC",
        max_results=5,
        return_type="pandas",
    )
    expected = search_traces(
        frame, "span.type = 'LLM'", order_by="span_count DESC", max_results=5
    )
    assert list(page["trace_id"]) == list(expected["trace_id"])


def test_import_polartrace_does_not_import_pyspark() -> None:
    import subprocess

    code = (
        "import sys, polartrace; polartrace.search_traces; "
        "print('pyspark' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "False"


def _archive_row(trace: Trace) -> dict[str, Any]:
    """A trace as a row of MLflow's trace archive (the Databricks archive view)."""
    import datetime as dt
    import json

    def when(ms: int | None) -> dt.datetime | None:
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return None if ms is None else epoch + dt.timedelta(milliseconds=ms)

    def when_ns(ns: int | None) -> dt.datetime | None:
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        return None if ns is None else epoch + dt.timedelta(microseconds=ns // 1000)

    info = trace.to_dict()["info"]
    spans = trace.to_dict()["data"]["spans"]
    assessments = []
    for a in info.get("assessments", []):
        if not a.get("valid", True):
            continue
        item = {
            "assessment_id": a.get("assessment_id"),
            "trace_id": a.get("trace_id"),
            "name": a.get("assessment_name"),
            "source": a.get("source"),
            "rationale": a.get("rationale"),
            "span_id": a.get("span_id"),
            "metadata": a.get("metadata"),
        }
        for kind in ("feedback", "expectation"):
            if kind in a:
                item[kind] = {"value": json.dumps(a[kind].get("value"))}
        assessments.append(item)
    return {
        "trace_id": info["trace_id"],
        "client_request_id": info.get("client_request_id"),
        "request_time": when(trace.info.request_time),
        "state": info["state"],
        "execution_duration_ms": info.get("execution_duration_ms"),
        "request": info.get("request_preview"),
        "response": info.get("response_preview"),
        "trace_metadata": info.get("trace_metadata", {}),
        "tags": info.get("tags", {}),
        "trace_location": info.get("trace_location"),
        "assessments": assessments,
        "spans": [
            {
                "span_id": s["span_id"],
                "trace_id": s["trace_id"],
                "parent_id": s.get("parent_span_id"),
                "start_time": when_ns(s.get("start_time_unix_nano")),
                "end_time": when_ns(s.get("end_time_unix_nano")),
                "status_code": (s.get("status") or {}).get("code"),
                "status_message": (s.get("status") or {}).get("message"),
                "name": s["name"],
                "attributes": s.get("attributes", {}),
                "events": [],
            }
            for s in spans
        ],
    }


_ARCHIVE_DDL = (
    "trace_id string, client_request_id string, request_time timestamp, "
    "state string, execution_duration_ms bigint, request string, response string, "
    "trace_metadata map<string,string>, tags map<string,string>, "
    "trace_location struct<type: string, "
    "mlflow_experiment: struct<experiment_id: string>>, "
    "assessments array<struct<assessment_id: string, trace_id: string, name: string, "
    "source: struct<source_type: string, source_id: string>, rationale: string, "
    "span_id: string, metadata: map<string,string>, "
    "feedback: struct<value: string>, expectation: struct<value: string>>>, "
    "spans array<struct<span_id: string, trace_id: string, parent_id: string, "
    "start_time: timestamp, end_time: timestamp, status_code: string, "
    "status_message: string, name: string, attributes: map<string,string>, "
    "events: array<struct<name: string, timestamp: timestamp, attributes: string>>>>"
)


def test_archive_rows_search_as_the_traces_do(
    spark: Any, oracle_traces: list[Trace]
) -> None:
    from polartrace import spark as pts

    archive = spark.createDataFrame(
        [_archive_row(t) for t in oracle_traces], _ARCHIVE_DDL
    )
    rows = pts.read_archive(archive, partitions=2).cache()
    assert rows.count() == 6
    frame = TraceFrame.from_traces(oracle_traces)
    texts = [
        "status = 'OK'",
        "tags.environment = 'production'",
        "span.type = 'LLM'",
        "feedback.tone = 'Positive'",
        "timestamp_ms > 1700000000000",
        "metadata.`mlflow.trace.session` IS NOT NULL",
        "span.name LIKE 'rag%'",
    ]
    for text in texts:
        got = pts.search_traces(rows, text, return_type="list")
        want = search_traces(frame, text, return_type="list")
        assert sorted(_ids(got)) == sorted(_ids(want)), text


@pytest.mark.parametrize("layout", ["oracle", "by-day"])
def test_version_1_dataset_searches_and_pages_the_same(spark: Any, layout: str) -> None:
    # Version 1 kept whole texts and no LLM columns: the workers cut the page rows
    # and derive the LLM columns, so answers and output rows agree.
    from polartrace import spark as pts

    path = Path(__file__).parent / "fixtures" / "parquet-v1" / layout
    df = pts.read_dataset(spark, path)
    assert "tokens_total" not in df.columns
    frame = polartrace.read_traces(path)
    # Every family of field once (the conformance test runs them all on Spark).
    for case in VALID[::25]:
        text = case["filter"]
        want = search_traces(frame, text, order_by=["tokens.total DESC"])
        got = pts.search_traces(
            df, text, order_by=["tokens.total DESC"], return_type="pandas"
        )
        assert sorted(got["trace_id"]) == sorted(case["matches"]), text
        assert got.equals(want), text


def test_dataset_without_llm_columns_derives_them_on_the_workers(
    spark: Any, tmp_path: Path
) -> None:
    from polartrace import spark as pts
    from polartrace.frame.llm import LLM_SPAN_SCHEMA, LLM_TRACE_SCHEMA
    from polartrace.generate import generate_jsonl_lines

    traces = [Trace.from_json(line) for line in generate_jsonl_lines(60, seed=3)]
    path = tmp_path / "ds"
    polartrace.write_parquet(traces, path)
    # As a writer from before the LLM columns left it.
    for table, names in (("traces", LLM_TRACE_SCHEMA), ("spans", LLM_SPAN_SCHEMA)):
        for part in (path / table).glob("*.parquet"):
            pl.read_parquet(part).drop(list(names)).write_parquet(part)
    df = pts.read_dataset(spark, path).repartition(2)
    assert "tokens_total" not in df.columns
    frame = TraceFrame.from_traces(traces)
    filters = [
        "tokens.total > 500",
        "span.model = 'gpt-4o'",
        "cost.total IS NULL",
        "span.tokens.input >= 300 OR status = 'ERROR'",
        "span.cost.total > 0.001",
    ]
    for text in filters:
        want = polartrace.count(frame, text)
        assert 0 < want < len(traces), text
        assert pts.count(df, text) == want, text
        got = pts.search_traces(
            df, text, order_by=["cost.total DESC"], max_results=7, return_type="list"
        )
        expected = search_traces(
            frame, text, order_by=["cost.total DESC"], max_results=7, return_type="list"
        )
        assert _ids(got) == _ids(expected), text
    page = pts.search_traces(df, "tokens.total > 500", return_type="pandas")
    assert page.equals(search_traces(frame, "tokens.total > 500"))


def test_session_scoped_assessments_reach_every_part(
    spark: Any, tmp_path: Path
) -> None:
    # A session spread over three written parts: the stored rows are expanded per
    # part only; read_dataset expands them over the whole dataset, as in memory.
    from polartrace import spark as pts
    from tests.test_session_parts import ALL, CASES, _write

    for by_day in (False, True):
        path = _write(tmp_path / f"ds-{by_day}", partition_by_day=by_day)
        df = pts.read_dataset(spark, path).cache()
        frame = TraceFrame.from_traces(ALL)
        found = _searches(
            df,
            polartrace.read_traces(path),
            [(t, ("request_id",), None) for t, _ in CASES],
        )
        assert found == [expected for _, expected in CASES]
        assert [pts.count(df, t) for t, _ in CASES] == [len(e) for _, e in CASES]
        specs = ["avg(feedback.score)", "count", "avg(expectation.answer)"]
        got = pts.metrics(df, metrics=specs, group_by="user", return_type="polars")
        want = polartrace.metrics(
            frame, metrics=specs, group_by="user", return_type="polars"
        )
        assert got.sort("user").rows() == want.sort("user").rows()
        df.unpersist()
