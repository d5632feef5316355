"""search_spans, search_assessments and next_page_token on hand-built traces.

docs/spans.md and docs/semantics.md#span-and-assessment-tables are the
specification. Every search runs on both engines (the ``engine`` fixture).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from polartrace import (
    OrderByError,
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
from polartrace.io import read_traces, write_jsonl, write_parquet
from polartrace.model.assessment import Assessment, AssessmentSource
from polartrace.model.span import Span, SpanStatus
from polartrace.model.trace import TraceData, TraceInfo, TraceState

ALICE = "tr-00000000000000000000000000000b01"  # two LLM spans, session s1
BOB = "tr-00000000000000000000000000000b02"  # one slow LLM span that failed
CAROL = "tr-00000000000000000000000000000b03"  # a tool span only, session s1
_T0 = 1_700_000_000_000


def _span(
    index: int, kind: str, ms: int, parent: int | None = None, **extra: Any
) -> Span:
    attributes: dict[str, Any] = {"mlflow.spanType": kind, **extra}
    start = (_T0 + index) * 1_000_000
    return Span(
        name=f"s{index}",
        span_id=f"{index:016x}",
        otel_trace_id="0" * 32,
        start_time_ns=start,
        end_time_ns=start + ms * 1_000_000,
        parent_id=None if parent is None else f"{parent:016x}",
        status=SpanStatus("ERROR" if index == 21 else "OK"),
        raw_attributes={k: json.dumps(v) for k, v in attributes.items()},
    )


def _llm(index: int, ms: int, model: str, tokens: int) -> Span:
    usage = {"input_tokens": tokens - 10, "output_tokens": 10, "total_tokens": tokens}
    return _span(
        index,
        "LLM",
        ms,
        parent=index - index % 10,
        **{"mlflow.llm.model": model, "mlflow.chat.tokenUsage": usage},
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


def _trace(trace_id: str, at: int, spans: list[Span], user: str, **extra: Any) -> Trace:
    info = TraceInfo(
        trace_id=trace_id,
        request_time=_T0 + at,
        state=TraceState.OK,
        execution_duration=10,
        tags={"env": "prod" if user != "bob" else "dev"},
        trace_metadata={"mlflow.trace.user": user, **extra.pop("metadata", {})},
        **extra,
    )
    return Trace(info, TraceData(spans))


def _traces() -> list[Trace]:
    session = {"mlflow.trace.session": "s1"}
    return [
        _trace(
            ALICE,
            0,
            [
                _span(10, "CHAIN", 9000, input={"q": "hi"}),
                _llm(11, 7000, "gpt-4o", 120),
                _llm(12, 1000, "claude", 60),
            ],
            "alice",
            metadata=session,
            assessments=[
                _feedback("relevance", 0.9, "a-1"),
                _feedback("tone", "ok", "a-2", metadata=session),
            ],
        ),
        _trace(
            BOB,
            1000,
            [_span(20, "CHAIN", 7000), _llm(21, 6000, "gpt-4o", 300)],
            "bob",
            assessments=[_feedback("relevance", 0.2, "a-3")],
        ),
        _trace(CAROL, 500, [_span(30, "TOOL", 5)], "carol", metadata=session),
    ]


@pytest.fixture(scope="module")
def frame() -> TraceFrame:
    return TraceFrame.from_traces(_traces())


def _ids(table: pl.DataFrame) -> list[tuple[str, str]]:
    return [(t[-2:], s[-2:]) for t, s in table.select("trace_id", "span_id").rows()]


def test_span_clauses_pick_the_spans(frame: TraceFrame, engine: Engine) -> None:
    table = search_spans(frame, "span.type = 'LLM'", engine=engine)
    # Newest trace first, then each trace's spans by start time.
    assert _ids(table) == [("02", "15"), ("01", "0b"), ("01", "0c")]
    assert table["model"].to_list() == ["gpt-4o", "gpt-4o", "claude"]
    assert table["tokens.total"].to_list() == [300, 120, 60]
    assert table["status"].to_list() == ["ERROR", "OK", "OK"]
    assert table.schema["start_time"] == pl.Datetime("ns", "UTC")


def test_trace_clauses_pick_traces_and_span_clauses_spans(
    frame: TraceFrame, engine: Engine
) -> None:
    text = "user = 'alice' AND span.type = 'LLM' AND span.duration_ms > 5000"
    assert _ids(search_spans(frame, text, engine=engine)) == [("01", "0b")]


def test_without_a_top_level_span_clause_every_span_of_a_match(
    frame: TraceFrame, engine: Engine
) -> None:
    # Under OR the span clause selects traces only.
    table = search_spans(
        frame, "span.status = 'ERROR' OR user = 'carol'", engine=engine
    )
    assert _ids(table) == [("02", "14"), ("02", "15"), ("03", "1e")]
    every = search_spans(frame, "ANY SPAN (type = 'TOOL')", engine=engine)
    assert _ids(every) == [("03", "1e")]


def test_order_by_span_and_trace_keys(frame: TraceFrame, engine: Engine) -> None:
    table = search_spans(
        frame, None, order_by=["span.tokens.total DESC", "user"], engine=engine
    )
    # Spans without tokens sort last, by user, then by the default order.
    assert _ids(table) == [
        ("02", "15"),
        ("01", "0b"),
        ("01", "0c"),
        ("01", "0a"),
        ("02", "14"),
        ("03", "1e"),
    ]


def test_pages_chain_to_the_whole_table(frame: TraceFrame, engine: Engine) -> None:
    whole = _ids(search_spans(frame, order_by="span.duration_ms DESC", engine=engine))
    token, pages = None, []
    for return_type in ("polars", "pandas", "arrow", "list", "polars"):
        page = search_spans(
            frame,
            order_by="span.duration_ms DESC",
            max_results=2,
            page_token=token,
            return_type=return_type,
            engine=engine,
        )
        rows = pl.DataFrame(page)
        pages += _ids(rows.select("trace_id", "span_id"))
        token = next_page_token(page)
        if token is None:
            break
    assert pages == whole
    assert len(whole) == 6


def test_columns_add_trace_and_span_fields(frame: TraceFrame, engine: Engine) -> None:
    table = search_spans(
        frame,
        "span.type = 'LLM'",
        columns=[
            "user",
            "tags.env",
            "tokens.total",
            "span.attributes.`mlflow.llm.model`",
        ],
        engine=engine,
    )
    # The trace's tokens.total, beside the span's own.
    assert table.select("user", "tags.env", "trace.tokens.total").rows() == [
        ("bob", "dev", 300.0),
        ("alice", "prod", 180.0),
        ("alice", "prod", 180.0),
    ]
    assert table["span.attributes.`mlflow.llm.model`"].to_list() == [
        "gpt-4o",
        "gpt-4o",
        "claude",
    ]


def test_bad_arguments(frame: TraceFrame) -> None:
    with pytest.raises(OrderByError, match=r"did you mean 'span\.duration_ms'"):
        search_spans(frame, order_by="span.duration DESC")
    with pytest.raises(SearchArgumentError, match="return_type"):
        search_spans(frame, return_type="dict")  # type: ignore[arg-type]
    with pytest.raises(SearchArgumentError, match="twice"):
        search_spans(frame, columns=["user", "user"])
    # A trace field named like a span column gets the prefix trace.
    assert search_spans(frame, columns=["name"]).columns[-1] == "trace.name"


def test_feedback_by_user_is_one_call(frame: TraceFrame, engine: Engine) -> None:
    table = search_assessments(
        frame, "feedback.relevance IS NOT NULL", columns=["user"], engine=engine
    )
    assert table.select("trace_id", "assessment_id", "value_number", "user").rows() == [
        (BOB, "a-3", 0.2, "bob"),
        (ALICE, "a-1", 0.9, "alice"),
    ]
    high = search_assessments(frame, "feedback.relevance > 0.5", engine=engine)
    assert high["assessment_id"].to_list() == ["a-1"]


def test_every_assessment_of_a_match_session_scoped_included(
    frame: TraceFrame, engine: Engine
) -> None:
    table = search_assessments(frame, "user != 'bob'", engine=engine)
    assert table.select("trace_id", "assessment_id", "session").rows() == [
        (CAROL, "a-2", "s1"),  # the session's feedback applies to CAROL too
        (ALICE, "a-1", None),
        (ALICE, "a-2", "s1"),
    ]
    assert table["value"].to_list() == ['"ok"', "0.9", '"ok"']
    assert table["source_type"].to_list() == ["HUMAN"] * 3


def test_a_frame_read_from_files_gives_the_same_tables(
    frame: TraceFrame, tmp_path: Path
) -> None:
    path = tmp_path / "t.jsonl"
    write_jsonl(_traces(), path)
    read = read_traces(path)
    assert search_spans(read).equals(search_spans(frame))
    assert search_assessments(read).equals(search_assessments(frame))


def test_a_scanned_dataset_is_refused_with_a_hint(tmp_path: Path) -> None:
    write_parquet(_traces(), tmp_path / "d")
    with pytest.raises(SearchArgumentError, match=r"\.collect\(\)"):
        search_spans(scan_traces(tmp_path / "d"))


@pytest.mark.parametrize("return_type", ["polars", "pandas", "arrow", "list"])
def test_next_page_token_for_every_return_type(
    frame: TraceFrame, return_type: Any
) -> None:
    for search in (search_traces, search_spans, search_assessments):
        page = search(frame, max_results=1, return_type=return_type)
        token = next_page_token(page)
        assert token is not None
        second = search(frame, max_results=5, page_token=token, return_type=return_type)
        assert next_page_token(second) is None


def test_next_page_token_keeps_the_old_spellings(frame: TraceFrame) -> None:
    listed = search_traces(frame, max_results=1, return_type="list")
    assert listed.token == next_page_token(listed)
    df = search_traces(frame, max_results=1, return_type="pandas")
    assert df.attrs["next_page_token"] == next_page_token(df)
    arrow = search_traces(frame, max_results=1, return_type="arrow")
    assert arrow.schema.metadata[b"next_page_token"].decode() == next_page_token(arrow)


def test_a_polars_token_belongs_to_the_returned_frame_only(frame: TraceFrame) -> None:
    page = search_traces(frame, max_results=1, return_type="polars")
    assert next_page_token(page) is not None
    assert next_page_token(page.head(1)) is None
    assert next_page_token(pl.DataFrame({"a": [1]})) is None
    with pytest.raises(SearchArgumentError, match="search_spans"):
        next_page_token([1, 2])
