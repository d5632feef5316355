"""Trace-level questions: span quantifiers, relations between spans, aggregates.

Seven hand-built traces with real trees (docs/semantics.md#trace-level-questions),
each construct checked with literal ids on both engines:

* T1 (ERROR): agent(AGENT) > plan(LLM), step(CHAIN) > search(TOOL, ERROR); depth 3.
* T2 (OK): agent(AGENT) > search(TOOL), plan(LLM, 2500 ms), answer(LLM); depth 2.
* T3 (ERROR): chain(CHAIN) > retrieve(RETRIEVER) > llm(LLM, ERROR); depth 3.
* T4 (OK): no spans.
* T5 (OK): tool(TOOL), an orphan whose parent id names no span, > llm(LLM); and
  agent(AGENT), a second root; depth 2.
* T6 (ERROR): agent(AGENT, ERROR) alone; depth 1.
* T7 (OK): chain(CHAIN) > retrieve(RETRIEVER); depth 2.
"""

from __future__ import annotations

from typing import Any

import pytest

from polartrace import FilterError, OrderByError, Trace, TraceFrame, count
from polartrace import search_traces as search
from polartrace.api.search import Engine
from polartrace.bind.filter import parse_filter
from polartrace.engines.lazy import ScannedTraces
from polartrace.io.parquet import write_parquet
from polartrace.language.ast import unparse
from polartrace.language.parser import parse
from polartrace.model.trace import Span, SpanStatus, TraceData, TraceInfo

T1, T2, T3, T4, T5, T6, T7 = (f"tr-{i:032x}" for i in range(1, 8))
_BASE_MS = 1_700_000_000_000

# (name, type, status, duration ms, parent) per span; parent is an index or an id.
_TREES: dict[int, tuple[str, list[tuple[str, str, str, int, Any]]]] = {
    1: (
        "ERROR",
        [
            ("agent", "AGENT", "OK", 1000, None),
            ("plan", "LLM", "OK", 300, 0),
            ("step", "CHAIN", "OK", 500, 0),
            ("search", "TOOL", "ERROR", 200, 2),
        ],
    ),
    2: (
        "OK",
        [
            ("agent", "AGENT", "OK", 3000, None),
            ("search", "TOOL", "OK", 100, 0),
            ("plan", "LLM", "OK", 2500, 0),
            ("answer", "LLM", "OK", 400, 0),
        ],
    ),
    3: (
        "ERROR",
        [
            ("chain", "CHAIN", "OK", 300, None),
            ("retrieve", "RETRIEVER", "OK", 100, 0),
            ("llm", "LLM", "ERROR", 150, 1),
        ],
    ),
    4: ("OK", []),
    5: (
        "OK",
        [
            ("tool", "TOOL", "OK", 50, "00000000000000ff"),
            ("llm", "LLM", "OK", 20, 0),
            ("agent", "AGENT", "OK", 90, None),
        ],
    ),
    6: ("ERROR", [("agent", "AGENT", "ERROR", 10, None)]),
    7: (
        "OK",
        [
            ("chain", "CHAIN", "OK", 120, None),
            ("retrieve", "RETRIEVER", "OK", 60, 0),
        ],
    ),
}


def _trace(number: int) -> Trace:
    state, rows = _TREES[number]
    start_ms = _BASE_MS + number * 1000
    spans = []
    for i, (name, kind, status, ms, parent) in enumerate(rows):
        parent_id = f"{number:02x}{parent:014x}" if isinstance(parent, int) else parent
        spans.append(
            Span(
                name=name,
                span_id=f"{number:02x}{i:014x}",
                otel_trace_id=f"{number:032x}",
                start_time_ns=start_ms * 1_000_000,
                end_time_ns=(start_ms + ms) * 1_000_000,
                parent_id=parent_id,
                status=SpanStatus(status),
                raw_attributes={"mlflow.spanType": f'"{kind}"'},
            )
        )
    info = TraceInfo(
        trace_id=f"tr-{number:032x}",
        request_time=start_ms,
        state=state,
        execution_duration=100,
    )
    return Trace(info, TraceData(spans))


@pytest.fixture(scope="module")
def trees() -> TraceFrame:
    """The seven traces as a frame."""
    return TraceFrame.from_traces([_trace(n) for n in _TREES])


def _ids(
    frame: TraceFrame | ScannedTraces, text: str, engine: Engine, **kw: Any
) -> list[str]:
    rows = search(frame, text, return_type="list", engine=engine, **kw)
    return [t.info.trace_id for t in rows]


# Newest first (the default order): T7 is the newest trace, T1 the oldest.
CASES = [
    # The spellings of the issue, exactly as written.
    ("NO SPAN (type = 'TOOL')", [T7, T6, T4, T3]),
    ("ANY SPAN (type = 'LLM' AND status = 'ERROR')", [T3]),
    ("EVERY SPAN (status = 'OK')", [T7, T5, T4, T2]),
    ("ANY SPAN (name = 'agent') HAS CHILD (type = 'TOOL')", [T2]),
    (
        "ANY SPAN (name = 'agent') HAS DESCENDANT (type = 'TOOL' AND status = 'ERROR')",
        [T1],
    ),
    ("ANY SPAN (type = 'CHAIN') HAS NO DESCENDANT (status = 'ERROR')", [T7]),
    ("NOT ANY SPAN (type = 'RETRIEVER') AND status = 'OK'", [T5, T4, T2]),
    ("count(SPAN WHERE type = 'LLM') >= 2", [T2]),
    ("max(span.duration_ms WHERE type = 'LLM') > 2000", [T2]),
    # Quantifiers: the span. prefix is optional inside a group.
    ("ANY SPAN (span.type = 'LLM' AND span.status = 'ERROR')", [T3]),
    ("ANY SPAN (type = 'LLM' OR type = 'TOOL')", [T5, T3, T2, T1]),
    ("ANY SPAN (NOT status = 'OK')", [T6, T3, T1]),
    ("any span (type = 'TOOL')", [T5, T2, T1]),
    ("NO SPAN (status = 'ERROR')", [T7, T5, T4, T2]),
    ("NOT EVERY SPAN (status = 'OK')", [T6, T3, T1]),
    ("EVERY SPAN (type = 'AGENT')", [T6, T4]),
    # Empty traces: ANY is false, NO and EVERY are true.
    ("NO SPAN (name LIKE '%')", [T4]),
    ("EVERY SPAN (name = 'nothing')", [T4]),
    # Relations. T5's tool has a parent id that names no span: it is a root.
    ("ANY SPAN (type = 'LLM') HAS PARENT (type = 'TOOL')", [T5]),
    ("ANY SPAN (type = 'TOOL') HAS PARENT (name LIKE '%')", [T2, T1]),
    ("ANY SPAN (type = 'TOOL') HAS NO PARENT (name LIKE '%')", [T5]),
    ("ANY SPAN (type = 'TOOL') HAS ANCESTOR (name = 'agent')", [T2, T1]),
    ("ANY SPAN (type = 'LLM') HAS ANCESTOR (type = 'CHAIN')", [T3]),
    ("ANY SPAN (type = 'LLM') HAS SIBLING (type = 'LLM')", [T2]),
    ("ANY SPAN (type = 'LLM') HAS SIBLING (type = 'CHAIN')", [T1]),
    # Two roots (T5's orphan tool and its agent) are no siblings.
    ("ANY SPAN (name = 'agent') HAS SIBLING (name LIKE '%')", []),
    ("ANY SPAN (name = 'agent') HAS DESCENDANT (type = 'LLM')", [T2, T1]),
    ("ANY SPAN (name = 'agent') HAS CHILD (type = 'LLM')", [T2, T1]),
    ("ANY SPAN (name = 'agent') HAS NO CHILD (name LIKE '%')", [T6, T5]),
    (
        "NO SPAN (type = 'CHAIN') HAS NO DESCENDANT (status = 'ERROR')",
        [T6, T5, T4, T3, T2, T1],
    ),
    # Aggregates; an empty group counts 0 and sums 0, its min/max/avg is missing.
    ("count(SPAN) = 0", [T4]),
    ("span_count >= 4", [T2, T1]),
    ("count(SPAN WHERE type = 'TOOL' AND status = 'ERROR') >= 1", [T1]),
    ("count(SPAN WHERE type = 'LLM') = 0", [T7, T6, T4]),
    ("sum(span.duration_ms) > 1500", [T2, T1]),
    ("sum(span.duration_ms WHERE type = 'RETRIEVER') = 0", [T6, T5, T4, T2, T1]),
    ("min(span.duration_ms WHERE type = 'LLM') < 100", [T5]),
    ("avg(span.duration_ms WHERE type = 'LLM') > 1000", [T2]),
    ("max(span.duration_ms WHERE type = 'TOOL') != 50", [T2, T1]),
    ("NOT max(span.duration_ms WHERE type = 'TOOL') != 50", [T7, T6, T5, T4, T3]),
    ("depth = 3", [T3, T1]),
    ("depth = 0", [T4]),
    ("depth = 2", [T7, T5, T2]),
    ("depth <= 1", [T6, T4]),
    # With the rest of the language.
    ("status = 'ERROR' AND depth > 1", [T3, T1]),
    (
        "NO SPAN (type = 'TOOL') OR count(SPAN WHERE type = 'LLM') >= 2",
        [T7, T6, T4, T3, T2],
    ),
    ("span.type = 'AGENT' AND NOT ANY SPAN (type = 'LLM')", [T6]),
]


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_trace_level_question(
    text: str, expected: list[str], trees: TraceFrame, engine: Engine
) -> None:
    assert _ids(trees, text, engine) == expected
    assert count(trees, text, engine=engine) == len(expected)


@pytest.mark.parametrize(("text", "_expected"), CASES, ids=[c[0] for c in CASES])
def test_trace_level_question_round_trips(text: str, _expected: list[str]) -> None:
    tree = parse(text)
    assert parse(unparse(tree)) == tree
    assert parse_filter(unparse(tree)).root == parse_filter(text).root


ORDERS = [
    (["count(SPAN WHERE type = 'TOOL') DESC"], [T5, T2, T1, T7, T6, T4, T3]),
    (["count(SPAN WHERE type = 'TOOL')"], [T7, T6, T4, T3, T5, T2, T1]),
    (["span_count DESC"], [T2, T1, T5, T3, T7, T6, T4]),
    (["depth"], [T4, T6, T7, T5, T2, T3, T1]),
    # Missing values sort last in either direction.
    (["max(span.duration_ms WHERE type = 'LLM') DESC"], [T2, T1, T3, T5, T7, T6, T4]),
    (["min(span.duration_ms WHERE type = 'LLM')"], [T5, T3, T1, T2, T7, T6, T4]),
]


@pytest.mark.parametrize(
    ("order_by", "expected"), ORDERS, ids=[o[0][0] for o in ORDERS]
)
def test_order_by_aggregate(
    order_by: list[str], expected: list[str], trees: TraceFrame, engine: Engine
) -> None:
    assert _ids(trees, "", engine, order_by=order_by) == expected


def test_order_by_aggregate_pages(trees: TraceFrame, engine: Engine) -> None:
    order_by = ["count(SPAN WHERE type = 'TOOL') DESC"]
    got = search(
        trees, "", order_by=order_by, max_results=2, return_type="list", engine=engine
    )
    assert [t.info.trace_id for t in got] == [T5, T2]
    rest = search(
        trees,
        "",
        order_by=order_by,
        max_results=10,
        page_token=got.token,
        return_type="list",
        engine=engine,
    )
    assert [t.info.trace_id for t in rest] == [T1, T7, T6, T4, T3]


ERRORS = [
    (
        "ANY SPAN (tags.env = 'prod')",
        "'tags.env' is a trace field; the conditions of ANY SPAN (...) test one span",
        10,
    ),
    (
        "ANY SPAN (timestamp_ms > 5)",
        "'timestamp_ms' is a trace field; the conditions of ANY SPAN (...) test one "
        "span",
        10,
    ),
    (
        "count(SPAN WHERE depth > 1) > 0",
        "'depth' is a trace field; the conditions of count(... WHERE ...) test one "
        "span",
        17,
    ),
    (
        "sum(span.name) > 1",
        "cannot sum 'span.name': it is not a numeric span field",
        4,
    ),
    ("avg(SPAN) > 1", "avg(SPAN) needs a field", 4),
    (
        "status = 'OK' HAS CHILD (type = 'TOOL')",
        "'HAS' is not allowed after 'OK': it follows one span group",
        14,
    ),
    ("HAS CHILD (type = 'TOOL')", "'HAS CHILD' needs a span group before it", 4),
    (
        "EVERY SPAN (type = 'AGENT') HAS CHILD (type = 'TOOL')",
        "EVERY SPAN (...) takes no HAS: say which spans must have the relation",
        28,
    ),
    (
        "ANY SPAN (count(SPAN) > 1)",
        "the conditions of ANY SPAN (...) test one span; a quantifier or an "
        "aggregate cannot be nested in them",
        10,
    ),
    (
        "count(SPAN) > 'many'",
        "'count(SPAN)' is a number; it cannot be compared with 'many'",
        14,
    ),
    (
        "depth LIKE '1'",
        "operator 'LIKE' is not supported for 'depth'; it accepts = != < <= > >=",
        6,
    ),
    ("ANY SPAN type = 'LLM'", "expected '(' after 'SPAN', got 'type'", 9),
    ("count(type = 'LLM') > 2", "count takes SPAN, got 'type'", 6),
    ("ANY SPAN (nmae = 'x')", "unknown span field 'span.nmae'", 10),
]


@pytest.mark.parametrize(
    ("text", "message", "position"), ERRORS, ids=[e[0] for e in ERRORS]
)
def test_misuse_is_an_error_with_a_position_and_a_hint(
    text: str, message: str, position: int
) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(text)
    assert caught.value.message.startswith(message)
    assert caught.value.position == position
    assert caught.value.hint


def test_an_order_by_aggregate_error_is_an_order_by_error() -> None:
    with pytest.raises(OrderByError) as caught:
        search(TraceFrame.from_traces([]), order_by=["sum(span.type) DESC"])
    assert caught.value.message.startswith("cannot sum 'span.type'")
    assert caught.value.position == 4


@pytest.mark.parametrize(
    "text",
    [
        "tags.any = 'x'",
        "tags.count = 'x'",
        "span.name = 'span'",
        "tags.span = 'x'",
        "metadata.depth = '1'",
    ],
)
def test_words_of_the_structure_stay_names(text: str, trees: TraceFrame) -> None:
    assert search(trees, text, return_type="list") == []


def test_bare_any_is_still_an_unknown_field() -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter("any = 'x'")
    assert caught.value.message == "unknown field 'any'"


@pytest.fixture(scope="module")
def scanned(
    trees: TraceFrame, tmp_path_factory: pytest.TempPathFactory
) -> ScannedTraces:
    """The seven traces as a Parquet dataset, scanned two spans per batch."""
    path = tmp_path_factory.mktemp("trees") / "dataset"
    write_parquet(trees, path)
    return ScannedTraces(path, batch_rows=2)


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_trace_level_question_out_of_core(
    text: str, expected: list[str], scanned: ScannedTraces
) -> None:
    # Batches of two spans would split T1, T2 and T3: they hold whole traces.
    assert _ids(scanned, text, "polars") == expected


@pytest.mark.parametrize(
    ("order_by", "expected"), ORDERS, ids=[o[0][0] for o in ORDERS]
)
def test_order_by_aggregate_out_of_core(
    order_by: list[str], expected: list[str], scanned: ScannedTraces
) -> None:
    assert _ids(scanned, "", "polars", order_by=order_by) == expected
