"""Trace-level questions on generated trees: engines agree, and the algebra holds.

Traces with real span trees (`polartrace.testing.tree_trace_lists`: depth up to 6,
fan-out up to 5, repeated names, orphan roots, traces without spans) and generated
quantifiers, relations and aggregates (`structure_filters`):

* the Polars engine returns the reference engine's ids, in order, also ordered by an
  aggregate; the lazy engine agrees on a few, with batches smaller than a trace;
* ``NO SPAN (g)`` = ``NOT ANY SPAN (g)``; ``EVERY SPAN (g)`` = ``NO SPAN (NOT g)``;
  ``count(SPAN WHERE g) >= 1`` = ``ANY SPAN (g)``; a child is a descendant; ``A HAS
  DESCENDANT B`` = ``B HAS ANCESTOR A`` and ``A HAS CHILD B`` = ``B HAS PARENT A``;
  ``span_count`` = ``count(SPAN)``.
"""

from __future__ import annotations

from pathlib import Path
from tempfile import TemporaryDirectory

from hypothesis import given, note, settings
from hypothesis import strategies as st

from polartrace import Trace, TraceFrame
from polartrace.engines.lazy import ScannedTraces
from polartrace.io.parquet import write_parquet
from polartrace.language.ast import Expr, unparse
from polartrace.testing import aggregate_order_by, structure_filters, tree_trace_lists
from polartrace.testing._trees import SPAN_TESTS
from property_tests._support import ENGINES, examples, matching, outcome

SPAN_TEXTS = SPAN_TESTS.map(unparse)


@settings(max_examples=examples(1.0))
@given(
    traces=tree_trace_lists(1, 6),
    expr=structure_filters(),
    order_by=st.none() | aggregate_order_by(),
)
def test_polars_engine_equals_reference_on_trees(
    traces: list[Trace], expr: Expr, order_by: list[str] | None
) -> None:
    text = unparse(expr)
    note(f"filter: {text}; order_by: {order_by}")
    frame = TraceFrame.from_traces(traces)
    compiled = outcome(frame, text, "polars", order_by)
    assert compiled == outcome(frame, text, "reference", order_by)
    assert not isinstance(compiled, type)  # every generated filter is valid


@settings(max_examples=examples(0.15, minimum=3))
@given(
    traces=tree_trace_lists(1, 5),
    expr=structure_filters(),
    order_by=st.none() | aggregate_order_by(),
)
def test_lazy_engine_equals_reference_on_trees(
    traces: list[Trace], expr: Expr, order_by: list[str] | None
) -> None:
    text = unparse(expr)
    note(f"filter: {text}; order_by: {order_by}")
    frame = TraceFrame.from_traces(traces)
    with TemporaryDirectory() as tmp:
        write_parquet(frame, Path(tmp) / "dataset")
        # Three spans a batch: most traces straddle a row batch.
        scanned = ScannedTraces(Path(tmp) / "dataset", batch_rows=3)
        lazy = outcome(scanned, text, "polars", order_by)  # type: ignore[arg-type]
    assert lazy == outcome(frame, text, "reference", order_by)


def _same(traces: list[Trace], left: str, right: str) -> None:
    note(f"{left}  vs  {right}")
    frame = TraceFrame.from_traces(traces)
    for engine in ENGINES:
        assert matching(frame, left, engine) == matching(frame, right, engine), engine


def _within(traces: list[Trace], smaller: str, larger: str) -> None:
    note(f"{smaller}  within  {larger}")
    frame = TraceFrame.from_traces(traces)
    for engine in ENGINES:
        assert matching(frame, smaller, engine) <= matching(frame, larger, engine)


@settings(max_examples=examples(0.5))
@given(traces=tree_trace_lists(), g=SPAN_TEXTS)
def test_no_span_is_not_any_span(traces: list[Trace], g: str) -> None:
    _same(traces, f"NO SPAN ({g})", f"NOT ANY SPAN ({g})")


@settings(max_examples=examples(0.5))
@given(traces=tree_trace_lists(), g=SPAN_TEXTS)
def test_every_span_is_no_span_failing(traces: list[Trace], g: str) -> None:
    _same(traces, f"EVERY SPAN ({g})", f"NO SPAN (NOT ({g}))")


@settings(max_examples=examples(0.5))
@given(traces=tree_trace_lists(), g=SPAN_TEXTS)
def test_a_count_of_one_is_any_span(traces: list[Trace], g: str) -> None:
    _same(traces, f"count(SPAN WHERE {g}) >= 1", f"ANY SPAN ({g})")


@settings(max_examples=examples(0.5))
@given(traces=tree_trace_lists(), a=SPAN_TEXTS, b=SPAN_TEXTS)
def test_a_child_is_a_descendant(traces: list[Trace], a: str, b: str) -> None:
    _within(
        traces,
        f"ANY SPAN ({a}) HAS CHILD ({b})",
        f"ANY SPAN ({a}) HAS DESCENDANT ({b})",
    )
    _within(
        traces, f"ANY SPAN ({a}) HAS PARENT ({b})", f"ANY SPAN ({a}) HAS ANCESTOR ({b})"
    )


@settings(max_examples=examples(0.5))
@given(traces=tree_trace_lists(), a=SPAN_TEXTS, b=SPAN_TEXTS)
def test_relations_read_both_ways(traces: list[Trace], a: str, b: str) -> None:
    _same(
        traces,
        f"ANY SPAN ({a}) HAS DESCENDANT ({b})",
        f"ANY SPAN ({b}) HAS ANCESTOR ({a})",
    )
    _same(traces, f"ANY SPAN ({a}) HAS CHILD ({b})", f"ANY SPAN ({b}) HAS PARENT ({a})")
    _same(
        traces, f"ANY SPAN ({a}) HAS SIBLING ({b})", f"ANY SPAN ({b}) HAS SIBLING ({a})"
    )


@settings(max_examples=examples(0.25))
@given(traces=tree_trace_lists(), n=st.integers(0, 8))
def test_span_count_is_count_of_every_span(traces: list[Trace], n: int) -> None:
    _same(traces, f"span_count >= {n}", f"count(SPAN) >= {n}")
