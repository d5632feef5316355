"""Property: ``columns=`` of ``search_traces`` is the same from either engine.

Random frames, filters, ``order_by`` lists, pages and ``columns=`` lists drawn
from every orderable key, aggregates over spans and feedback names
(`polartrace.testing.column_lists`): the Polars engine and the reference engine
return the same trace ids and the same column values (floats within a
tolerance: an average may sum in another order), with the same dtypes. A second
property runs on deep span trees, where ``depth`` and structural aggregates vary.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, note, settings
from hypothesis import strategies as st

from polartrace import PolartraceError, Trace, TraceFrame, search_traces
from polartrace.language.ast import Expr, unparse
from polartrace.testing import (
    aggregate_order_by,
    column_lists,
    filters,
    order_by_lists,
    trace_lists,
    tree_trace_lists,
)
from property_tests._support import ENGINES, examples


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def _assert_columns_agree(
    traces: list[Trace],
    text: str | None,
    order_by: list[str] | None,
    columns: list[str],
    max_results: int | None,
    offset_pages: int,
) -> None:
    note(f"filter: {text}; order_by: {order_by}; columns: {columns}")
    frame = TraceFrame.from_traces(traces)
    results: list[Any] = []
    for engine in ENGINES:
        token = None
        try:
            for _ in range(offset_pages if max_results else 0):
                page = search_traces(
                    frame,
                    text,
                    order_by=order_by,
                    max_results=max_results,
                    page_token=token,
                    return_type="pandas",
                    engine=engine,
                )
                token = page.attrs["next_page_token"]
                if token is None:
                    break
            results.append(
                search_traces(
                    frame,
                    text,
                    order_by=order_by,
                    max_results=max_results,
                    page_token=token,
                    return_type="polars",
                    columns=columns,
                    engine=engine,
                ).select("trace_id", *columns)
            )
        except PolartraceError as exc:
            results.append(type(exc))
    fast, slow = results
    if isinstance(fast, type) or isinstance(slow, type):
        assert fast == slow
        return
    assert fast.schema == slow.schema
    assert fast["trace_id"].to_list() == slow["trace_id"].to_list()
    for got, want in zip(fast.rows(), slow.rows(), strict=True):
        assert all(_same(g, w) for g, w in zip(got, want, strict=True)), (got, want)


@settings(max_examples=examples(1.0))
@given(
    traces=trace_lists(0, 10),
    expr=st.none() | filters(max_leaves=3),
    order_by=order_by_lists(),
    columns=column_lists(),
    max_results=st.none() | st.integers(0, 6),
    offset_pages=st.integers(0, 2),
)
def test_columns_equal_across_engines(
    traces: list[Trace],
    expr: Expr | None,
    order_by: list[str] | None,
    columns: list[str],
    max_results: int | None,
    offset_pages: int,
) -> None:
    text = None if expr is None else unparse(expr)
    _assert_columns_agree(traces, text, order_by, columns, max_results, offset_pages)


@settings(max_examples=examples(0.5))
@given(
    traces=tree_trace_lists(0, 6),
    order_by=aggregate_order_by(),
    columns=column_lists(),
    max_results=st.none() | st.integers(1, 4),
)
def test_columns_on_span_trees_equal_across_engines(
    traces: list[Trace],
    order_by: list[str],
    columns: list[str],
    max_results: int | None,
) -> None:
    _assert_columns_agree(traces, None, order_by, columns, max_results, 0)


_ASSESSMENT_COLUMNS = [
    f"{kind}.{name}"
    for kind in ("feedback", "expectation")
    for name in ("correctness", "relevance", "tone", "judge", "`my.metric`")
]


@settings(max_examples=examples(0.5))
@given(traces=trace_lists(1, 8, max_assessments=8))
def test_assessment_columns_equal_across_engines(traces: list[Trace]) -> None:
    # Every feedback and expectation name of the vocabulary at once, on traces
    # with many assessments: means over several values, session-scoped ones.
    _assert_columns_agree(traces, None, None, _ASSESSMENT_COLUMNS, None, 0)
