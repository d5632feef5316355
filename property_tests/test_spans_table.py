"""Property: the Polars executor gives the reference engine's row tables.

Row tables are ``search_spans`` and ``search_assessments``.

Random frames, random filters (span and assessment clauses among them), an
``order_by`` over row keys and trace keys, ``columns=`` drawn from the catalogue, a
page: both engines return the same rows in the same order (the ids, then every
value; floats within a tolerance), the same next page token, and the pages
chained by tokens give the whole table.
"""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, note, settings
from hypothesis import strategies as st

from polartrace import (
    PolartraceError,
    Trace,
    TraceFrame,
    next_page_token,
    search_assessments,
    search_spans,
)
from polartrace.bind.metrics import Level, bind_group_key
from polartrace.bind.rows import ASSESSMENT_KEYS, SPAN_KEYS
from polartrace.catalogue.fields import FIELDS
from polartrace.language.ast import unparse
from polartrace.testing import filters, trace_lists
from polartrace.testing._vocab import _KEYS
from polartrace.values.errors import MetricError
from property_tests._support import examples

_TRACE_KEYS = ["timestamp_ms", "execution_time_ms", "status", "tags.`env`", "user"]


def _columns(level: Level) -> list[str]:
    names: list[str] = []
    for spec in FIELDS:
        keys = _KEYS.get(spec.name, ()) if spec.keyed else ("",)
        for key in keys:
            written = spec.name.replace("<key>", f"`{key}`") if key else spec.name
            try:
                bind_group_key(written, level)
            except MetricError:
                continue
            names.append(written)
    return names


_SPAN_COLUMNS = _columns(Level.SPAN)
_TRACE_COLUMNS = _columns(Level.TRACE)


@st.composite
def _orders(draw: st.DrawFn, row_keys: list[str]) -> list[str]:
    keys = draw(
        st.lists(st.sampled_from(row_keys + _TRACE_KEYS), max_size=2, unique=True)
    )
    return [f"{k} {draw(st.sampled_from(['ASC', 'DESC']))}" for k in keys]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


def _check(search: Any, frame: TraceFrame, text: str | None, **kwargs: Any) -> None:
    outcomes = []
    for engine in ("polars", "reference"):
        try:
            outcomes.append(search(frame, text, engine=engine, **kwargs))
        except PolartraceError as exc:
            outcomes.append(type(exc))
    fast, slow = outcomes
    if isinstance(fast, type) or isinstance(slow, type):
        assert fast == slow
        return
    assert fast.schema == slow.schema
    id_columns = [c for c in ("trace_id", "span_id", "assessment_id") if c in fast]
    assert fast.select(id_columns).rows() == slow.select(id_columns).rows()
    for got, want in zip(fast.rows(), slow.rows(), strict=True):
        assert all(_same(g, w) for g, w in zip(got, want, strict=True)), (got, want)
    assert next_page_token(fast) == next_page_token(slow)


@settings(max_examples=examples(1.0))
@given(
    traces=trace_lists(0, 8),
    expr=st.none() | filters(max_leaves=3),
    order=_orders(list(SPAN_KEYS)),
    columns=st.lists(st.sampled_from(_SPAN_COLUMNS), max_size=2, unique=True),
    max_results=st.none() | st.integers(0, 6),
    page=st.integers(0, 2),
)
def test_polars_span_table_equals_reference(
    traces: list[Trace],
    expr: Any,
    order: list[str],
    columns: list[str],
    max_results: int | None,
    page: int,
) -> None:
    text = None if expr is None else unparse(expr)
    note(f"filter: {text}; order_by: {order}; columns: {columns}")
    frame = TraceFrame.from_traces(traces)
    token = None
    kwargs: dict[str, Any] = {"order_by": order, "columns": columns}
    for _ in range(page):  # walk to the page drawn, on the reference engine
        if max_results is None:
            break
        try:
            result = search_spans(
                frame,
                text,
                max_results=max_results,
                page_token=token,
                engine="reference",
                **kwargs,
            )
        except PolartraceError:
            break
        token = next_page_token(result)
        if token is None:
            break
    _check(
        search_spans, frame, text, max_results=max_results, page_token=token, **kwargs
    )


@settings(max_examples=examples(1.0))
@given(
    traces=trace_lists(0, 8),
    expr=st.none() | filters(max_leaves=3),
    order=_orders(list(ASSESSMENT_KEYS)),
    columns=st.lists(st.sampled_from(_TRACE_COLUMNS), max_size=2, unique=True),
    max_results=st.none() | st.integers(0, 4),
)
def test_polars_assessment_table_equals_reference(
    traces: list[Trace],
    expr: Any,
    order: list[str],
    columns: list[str],
    max_results: int | None,
) -> None:
    text = None if expr is None else unparse(expr)
    note(f"filter: {text}; order_by: {order}; columns: {columns}")
    frame = TraceFrame.from_traces(traces)
    _check(
        search_assessments,
        frame,
        text,
        order_by=order,
        columns=columns,
        max_results=max_results,
    )
