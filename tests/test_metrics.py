"""``metrics`` and ``search_sessions``: rows, buckets, levels, types and bad input.

Four hand-built traces, two of them in the hour from 22:00 UTC and two in the next
one; every behaviour test runs on both engines through the ``engine`` fixture.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import polars as pl
import pytest

from polartrace import (
    Assessment,
    MetricError,
    OrderByError,
    Span,
    Trace,
    TraceFrame,
    metrics,
    search_sessions,
)
from polartrace.api.search import Engine
from polartrace.api.sessions import _SUMMED
from polartrace.bind.metrics import bind_every
from polartrace.catalogue.fields import ATTRIBUTE_FIELDS
from polartrace.model.trace import SpanStatus, TraceData, TraceInfo

T0 = 1_699_999_200_000  # 2023-11-14 22:00:00 UTC, an hour boundary
MINUTE = 60_000
HOUR_22 = dt.datetime(2023, 11, 14, 22, tzinfo=dt.UTC)
HOUR_23 = dt.datetime(2023, 11, 14, 23, tzinfo=dt.UTC)


def _span(
    n: int, name: str, kind: str, status: str, start: int, ms: int, **attrs: Any
) -> Span:
    attributes = {"mlflow.spanType": kind, **attrs}
    return Span(
        name=name,
        span_id=f"{n:016x}",
        parent_id=None if n % 10 == 0 else f"{n // 10 * 10:016x}",
        otel_trace_id=f"{n // 10:032x}",
        start_time_ns=start * 1_000_000,
        end_time_ns=(start + ms) * 1_000_000,
        status=SpanStatus(status),
        raw_attributes={k: json.dumps(v) for k, v in attributes.items()},
    )


def _trace(
    n: int,
    state: str,
    minute: int,
    ms: int | None,
    *,
    tags: dict[str, str],
    metadata: dict[str, str],
    feedback: Any = None,
    spans: tuple[tuple[str, str, str, int, int], ...] = (),
) -> Trace:
    start = T0 + minute * MINUTE
    assessments = (
        []
        if feedback is None
        else [Assessment(name="relevance", kind="feedback", value=feedback)]
    )
    info = TraceInfo(
        trace_id=f"tr-{n:032x}",
        request_time=start,
        state=state,
        execution_duration=ms,
        tags=tags,
        trace_metadata=metadata,
        assessments=assessments,
    )
    made = [
        _span(10 * n + i, name, kind, status, start + offset, ms)
        for i, (name, kind, status, offset, ms) in enumerate(spans)
    ]
    return Trace(info, TraceData(made))


def _session(session: str, user: str) -> dict[str, str]:
    return {"mlflow.trace.session": session, "mlflow.trace.user": user}


TRACES = [
    _trace(
        1, "OK", 10, 100, tags={"environment": "production"},
        metadata=_session("s1", "alice"), feedback=0.5,
        spans=(("chain", "CHAIN", "OK", 0, 100), ("llm", "LLM", "OK", 10, 40)),
    ),
    _trace(
        2, "ERROR", 20, 300, tags={"environment": "production"},
        metadata=_session("s1", "alice"), feedback=1.0,
        spans=(("chain", "CHAIN", "ERROR", 0, 300), ("llm", "LLM", "ERROR", 5, 200)),
    ),
    _trace(
        3, "OK", 70, 200, tags={"environment": "staging"},
        metadata=_session("s2", "bob"), feedback="good",
        spans=(("llm", "LLM", "OK", 0, 200),),
    ),
    _trace(4, "IN_PROGRESS", 80, None, tags={}, metadata={}),
]  # fmt: skip


@pytest.fixture(scope="module")
def frame() -> TraceFrame:
    return TraceFrame.from_traces(TRACES)


def rows(
    frame: TraceFrame, engine: Engine, filter_string: str | None = None, **kw: Any
) -> list[tuple[Any, ...]]:
    table = metrics(frame, filter_string, return_type="polars", engine=engine, **kw)
    assert isinstance(table, pl.DataFrame)
    return table.rows()


# --- what is aggregated ---------------------------------------------------------------


def test_count_error_rate_and_p95_by_environment_every_hour(
    frame: TraceFrame, engine: Engine
) -> None:
    got = rows(
        frame, engine, metrics=["count", "error_rate", "p95(latency)"],
        group_by="tags.environment", every="1h",
    )  # fmt: skip
    assert got == [
        (HOUR_22, "production", 2, 0.5, 290.0),
        (HOUR_23, "staging", 1, 0.0, 200.0),
        (HOUR_23, None, 1, 0.0, None),  # no latency while in progress
    ]


def test_numeric_aggregates_over_every_trace(frame: TraceFrame, engine: Engine) -> None:
    got = rows(
        frame, engine,
        metrics=["p50(latency)", "avg(latency)", "sum(latency)", "min(latency)",
                 "max(latency)", "error_count", "p0(latency)", "p100(latency)"],
    )  # fmt: skip
    assert got == [(200.0, 200.0, 600.0, 100.0, 300.0, 1, 100.0, 300.0)]


def test_min_and_max_of_a_time_are_datetimes_and_of_a_string_strings(
    frame: TraceFrame, engine: Engine
) -> None:
    got = rows(
        frame, engine, "status = 'OK'", metrics=["min(timestamp_ms)", "max(name)"]
    )
    assert got == [(HOUR_22 + dt.timedelta(minutes=10), None)]


def test_filter_selects_the_traces(frame: TraceFrame, engine: Engine) -> None:
    assert rows(
        frame, engine, "status = 'OK'", metrics=["count"], group_by="status"
    ) == [("OK", 2)]


def test_feedback_values_are_averaged_per_group_and_non_numbers_skipped(
    frame: TraceFrame, engine: Engine
) -> None:
    got = rows(
        frame, engine, group_by="metadata.`mlflow.trace.session`",
        metrics=["avg(feedback.relevance)", "count_distinct(feedback.relevance)"],
    )  # fmt: skip
    assert got == [("s1", 0.75, 2), ("s2", None, 0), (None, None, 0)]


def test_count_distinct_ignores_missing_values(
    frame: TraceFrame, engine: Engine
) -> None:
    got = rows(frame, engine, metrics=["count_distinct(metadata.`mlflow.trace.user`)"])
    assert got == [(2,)]


def test_span_level_rows_are_the_spans_of_the_top_level_span_group(
    frame: TraceFrame, engine: Engine
) -> None:
    got = rows(
        frame, engine, "span.type = 'LLM'", level="span", group_by="tags.environment",
        metrics=["count", "error_rate", "avg(span.duration_ms)"],
    )  # fmt: skip
    assert got == [("production", 2, 0.5, 120.0), ("staging", 1, 0.0, 200.0)]


def test_span_level_trace_clauses_select_traces_and_span_clauses_spans(
    frame: TraceFrame, engine: Engine
) -> None:
    got = rows(frame, engine, "status = 'OK' AND span.type = 'LLM'", level="span")
    assert got == [(2,)]


def test_span_clauses_under_or_select_traces_not_spans(
    frame: TraceFrame, engine: Engine
) -> None:
    got = rows(frame, engine, "span.type = 'LLM' OR status = 'ERROR'", level="span")
    assert got == [(5,)]


def test_spans_bucket_on_their_start_and_group_by_span_fields(
    frame: TraceFrame, engine: Engine
) -> None:
    got = rows(frame, engine, level="span", group_by="span.type", every="1h")
    assert got == [(HOUR_22, "CHAIN", 2), (HOUR_22, "LLM", 2), (HOUR_23, "LLM", 1)]


# --- empty results and return types -------------------------------------------------


def test_an_empty_selection_gives_no_rows_and_typed_columns(
    frame: TraceFrame, engine: Engine
) -> None:
    table = metrics(
        frame, "tags.environment = 'nope'", metrics=["count", "p95(latency)",
        "min(timestamp_ms)"], group_by="status", every="1d", return_type="polars",
        engine=engine,
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


def test_pandas_is_the_default_return_type(frame: TraceFrame) -> None:
    table = metrics(frame, metrics=["count"], every="1h")
    assert list(table.columns) == ["time", "count"]
    assert str(table["time"].dtype) == "datetime64[ms, UTC]"
    assert table["count"].tolist() == [2, 2]


def test_arrow_return_type(frame: TraceFrame) -> None:
    table = metrics(frame, metrics=["count"], group_by="status", return_type="arrow")
    assert table.column_names == ["status", "count"]


# --- buckets --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("every", "time_ms", "start_ms"),
    [
        pytest.param("15m", T0 + 29 * MINUTE, T0 + 15 * MINUTE, id="minutes"),
        pytest.param("1d", T0, 1_699_920_000_000, id="a UTC day"),
        pytest.param("1w", T0, 1_699_833_600_000, id="weeks start on Monday"),
        pytest.param("1h", -1, -3_600_000, id="before the epoch"),
    ],
)
def test_bucket_start(every: str, time_ms: int, start_ms: int) -> None:
    assert bind_every(every).start(time_ms) == start_ms


# --- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message", "hint"),
    [
        pytest.param({"metrics": ["avgg(latency)"]}, "unknown metric 'avgg'",
                     "did you mean 'avg'?", id="unknown metric"),
        pytest.param({"metrics": ["p95(latncy)"]}, "unknown field 'latncy'",
                     "did you mean 'latency'?", id="unknown field"),
        pytest.param({"metrics": ["avg(tags.environment)"]},
                     "avg needs a numeric field, not a string", "numeric fields: ",
                     id="non-numeric avg"),
        pytest.param({"metrics": ["count(latency)"]}, "count takes no field",
                     "count_distinct(field)", id="count of a field"),
        pytest.param({"metrics": ["p95"]}, "p95 needs a field", None,
                     id="percentile without a field"),
        pytest.param({"metrics": ["p101(latency)"]}, "outside p0 to p100", "p99.9",
                     id="percentile out of range"),
        pytest.param({"metrics": ["avg(span.duration_ms)"]}, "one value per span",
                     "level='span'", id="span field at trace level"),
        pytest.param({"group_by": ["feedback.relevance"]}, "cannot group by",
                     "avg(feedback.relevance)", id="group by an assessment"),
        pytest.param({"every": "1 hour"}, "unknown unit 'hour'", "write 1h",
                     id="every in words"),
        pytest.param({"every": "1mo"}, "unknown unit 'mo'", "no fixed width",
                     id="every in months"),
        pytest.param({"every": "hourly"}, "cannot read every='hourly'",
                     "a count comes first", id="every without a count"),
        pytest.param({"metrics": ["count", "count"]}, "named 'count'", "once",
                     id="a column twice"),
    ],
)  # fmt: skip
def test_bad_metrics_raise_metric_errors_with_hints(
    frame: TraceFrame, kwargs: dict[str, Any], message: str, hint: str | None
) -> None:
    with pytest.raises(MetricError, match=message) as caught:
        metrics(frame, **kwargs)
    if hint is None:
        assert caught.value.hint is None
    else:
        assert hint in str(caught.value.hint)


def test_text_is_not_aggregated(frame: TraceFrame) -> None:
    with pytest.raises(MetricError, match="'text' has no single value"):
        metrics(frame, metrics=["count_distinct(text)"])


# --- sessions -------------------------------------------------------------------------


def test_sessions_in_the_default_order(frame: TraceFrame, engine: Engine) -> None:
    table = search_sessions(frame, return_type="polars", engine=engine)
    fixed = [
        "session_id", "user", "first_request_time", "last_request_time",
        "trace_count", "error_count", "total_latency_ms",
    ]  # fmt: skip
    # Token and cost sums appear with the catalogue fields that define them.
    summed = [n for n in _SUMMED if n in ATTRIBUTE_FIELDS]
    assert table.columns == [*fixed, *summed, "feedback.relevance"]
    assert table.select(*fixed, "feedback.relevance").rows() == [
        ("s2", "bob", HOUR_23 + dt.timedelta(minutes=10),
         HOUR_23 + dt.timedelta(minutes=10), 1, 0, 200.0, None),
        ("s1", "alice", HOUR_22 + dt.timedelta(minutes=10),
         HOUR_22 + dt.timedelta(minutes=20), 2, 1, 400.0, 0.75),
    ]  # fmt: skip


def test_sessions_aggregate_the_selected_traces(
    frame: TraceFrame, engine: Engine
) -> None:
    table = search_sessions(
        frame, "status = 'OK'", order_by="trace_count DESC", return_type="polars",
        engine=engine,
    )  # fmt: skip
    # Equal counts: the most recent session first.
    assert table.select("session_id", "trace_count", "error_count").rows() == [
        ("s2", 1, 0),
        ("s1", 1, 0),
    ]


def test_sessions_order_by_and_max_results(frame: TraceFrame, engine: Engine) -> None:
    table = search_sessions(
        frame, order_by=["trace_count ASC"], max_results=1, return_type="polars",
        engine=engine,
    )  # fmt: skip
    assert table["session_id"].to_list() == ["s2"]


def test_sessions_refuse_an_unknown_order_by_column(frame: TraceFrame) -> None:
    with pytest.raises(
        OrderByError, match="unknown session column 'trace_cnt'"
    ) as caught:
        search_sessions(frame, order_by="trace_cnt DESC")
    assert caught.value.hint == "did you mean 'trace_count'?"
