"""Helpers shared by the property tests: run a search on one engine, read answers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from hypothesis import settings

from polartrace import PolartraceError, Span, TraceFrame, count, search_traces
from polartrace.language.ast import And, Comparison, Expr, Field, Number, Op, String
from polartrace.values.json_values import canonical_text

Engine = Literal["polars", "reference"]
ENGINES: tuple[Engine, ...] = ("polars", "reference")

#: A search's answer: the trace ids in order, or the class of the error it raised.
Outcome = list[str] | type[BaseException]


def examples(fraction: float, minimum: int = 5) -> int:
    """Scale the loaded profile's ``max_examples`` for a costly or many-case test."""
    loaded = settings.default
    assert loaded is not None  # conftest.py loads a profile
    return max(minimum, math.ceil(loaded.max_examples * fraction))


def ids(rows: Sequence[Any]) -> list[str]:
    return [trace.info.trace_id for trace in rows]


def outcome(
    frame: TraceFrame,
    text: str,
    engine: Engine,
    order_by: list[str] | None = None,
    max_results: int | None = None,
) -> Outcome:
    """Search and return the ids, or the class of a polartrace error."""
    try:
        rows = search_traces(
            frame,
            text,
            order_by=order_by,
            max_results=max_results,
            return_type="list",
            engine=engine,
        )
    except PolartraceError as exc:
        return type(exc)
    return ids(rows)


def matching(frame: TraceFrame, text: str, engine: Engine) -> set[str]:
    """The ids a valid filter matches, as a set."""
    rows = search_traces(frame, text, return_type="list", engine=engine)
    return set(ids(rows))


def counted(frame: TraceFrame, text: str, engine: Engine) -> int:
    return count(frame, text, engine=engine)


def chain_has_span_condition(expr: Expr) -> bool:
    """Whether ``expr``'s top AND-chain holds a span comparison (joins a span group)."""
    if isinstance(expr, And):
        return any(chain_has_span_condition(child) for child in expr.operands)
    return isinstance(expr, Comparison) and expr.field.prefix == "span"


def span_facts(span: Span) -> list[Comparison]:
    """Span comparisons that ``span`` satisfies: its name, type, status, values."""
    facts = [
        Comparison(Field("span", "name"), Op.EQ, String(span.name)),
        Comparison(Field("span", "type"), Op.EQ, String(span.span_type)),
        Comparison(Field("span", "status"), Op.EQ, String(span.status.code.value)),
    ]
    if span.duration_ms is not None:
        facts.append(
            Comparison(Field("span", "duration_ms"), Op.EQ, Number(span.duration_ms))
        )
    for key, value in span.attributes.items():
        if (text := canonical_text(value)) is not None:
            facts.append(
                Comparison(Field("span", f"attributes.{key}"), Op.EQ, String(text))
            )
    return facts
