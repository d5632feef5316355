"""The reference engine's row tables: a `RowsPlan` computed from ``Trace`` objects.

Plain Python, written from docs/semantics.md#span-and-assessment-tables and
borrowing nothing from the Polars executor: traces are selected with the reference
evaluator, a trace's rows are its spans (or the valid assessments that apply to it)
that pass the plan's row tests, the rows are sorted one stable sort per key (nulls
last) and sliced, and each row's values are read from the objects. The property
tests hold the Polars executor to these answers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs

from polartrace.bind.metric_nodes import GroupKey, Scope
from polartrace.bind.rows import SPAN_KEYS, RowKey, RowSortKey, Table
from polartrace.engines.reference import (
    _absent,
    _apply,
    _Context,
    _sort_value,
    field_value,
)
from polartrace.engines.reference_metrics import _convert, _present, _span_value
from polartrace.model.trace import Assessment, Span, Trace
from polartrace.plan.rows import RowsPlan
from polartrace.plan.search import AssessmentMatch
from polartrace.values.conventions import SPAN_INPUTS, SPAN_OUTPUTS
from polartrace.values.json_values import numeric_value

__all__ = ["run_rows"]


@attrs.frozen
class _Row:
    """One row: its trace (by key), its position in the trace and the object."""

    key: int
    position: tuple[int, int]
    item: Span | Assessment


def _passes(match: AssessmentMatch, assessment: Assessment) -> bool:
    if assessment.kind != match.kind or assessment.name != match.name:
        return False
    return match.test is None or _apply(match.test, assessment.value, quoted_form=True)


def _session_assessments(
    traces: Sequence[Trace],
) -> dict[str, list[tuple[int, int, Assessment]]]:
    """Valid session-scoped assessments by session: (owner key, index, assessment)."""
    found: dict[str, list[tuple[int, int, Assessment]]] = {}
    for key, trace in enumerate(traces):
        for i, a in enumerate(trace.info.assessments):
            if a.is_valid and a.session_id is not None:
                found.setdefault(a.session_id, []).append((key, i, a))
    return found


def _rows(traces: Sequence[Trace], plan: RowsPlan) -> list[_Row]:
    context = _Context(traces)
    selected = [k for k, t in enumerate(traces) if context.node(plan.where, t)]
    rows: list[_Row] = []
    if plan.table is Table.SPANS:
        for key in selected:
            for i, span in enumerate(traces[key].data.spans):
                if all(context.span_cond(c, span) for c in plan.span_conds):
                    rows.append(_Row(key, (key, i), span))
        return rows
    sessions = _session_assessments(traces)
    tests = plan.assessment_tests
    for key in selected:
        info = traces[key].info
        own = [(key, i, a) for i, a in enumerate(info.assessments) if a.is_valid]
        shared = sessions.get(info.session_id, []) if info.session_id else []
        applying = sorted(
            [*own, *(s for s in shared if s[0] != key)], key=lambda s: s[:2]
        )
        rows.extend(
            _Row(key, (owner, i), a)
            for owner, i, a in applying
            if not tests or any(_passes(m, a) for m in tests)
        )
    return rows


def _row_value(key: RowKey, item: Span | Assessment) -> Any:
    if isinstance(item, Span):
        if key.field is not None and key.field.read_span is not None:
            return key.field.read_span(item)
        return item.start_time_ns if key.column == "start_ns" else item.end_time_ns
    match key.name:
        case "assessment.create_time":
            return item.create_time_ms
        case "assessment.name":
            return item.name
        case "assessment.kind":
            return item.kind.value
    return numeric_value(item.value)  # assessment.value


def _sort(
    rows: list[_Row], traces: Sequence[Trace], order: Sequence[RowSortKey]
) -> list[_Row]:
    """``rows`` by ``order``, then by trace key, then position; nulls last."""
    ordered = sorted(rows, key=lambda r: (r.key, r.position))
    for sort_key in reversed(order):
        if isinstance(sort_key, RowKey):
            values = [_row_value(sort_key, r.item) for r in ordered]
        else:
            values = [_sort_value(sort_key, traces[r.key]) for r in ordered]
        pairs = list(zip(values, ordered, strict=True))
        present = [p for p in pairs if not _absent(p[0])]
        missing = [p for p in pairs if _absent(p[0])]
        present.sort(key=lambda p: p[0], reverse=sort_key.descending)
        ordered = [r for _, r in present + missing]
    return ordered


def _extra(group: GroupKey, trace: Trace, span: Span | None) -> Any:
    ref, output = group.ref, group.output
    if ref.scope is Scope.SPAN:
        assert span is not None  # span fields are bound at span level only
        return _convert(_span_value(ref, span, text=group.by_text), ref, output)
    return _convert(_present(field_value(ref.field, ref.key, trace)), ref, output)


def _span_record(trace: Trace, span: Span, plan: RowsPlan) -> tuple[Any, ...]:
    llm = [
        key.field.read_span(span)
        for name, key in SPAN_KEYS.items()
        if key.field is not None
        and key.field.read_span is not None
        and name not in ("span.name", "span.type", "span.status", "span.duration_ms")
    ]
    raw = span.raw_attributes
    return (
        trace.info.trace_id,
        span.span_id,
        span.parent_id,
        span.name,
        span.span_type,
        span.status.code.value,
        span.start_time_ns,
        span.end_time_ns,
        span.duration_ms,
        *llm,
        raw.get(SPAN_INPUTS),
        raw.get(SPAN_OUTPUTS),
        *(_extra(g, trace, span) for g in plan.extra),
    )


def _assessment_record(
    trace: Trace, assessment: Assessment, plan: RowsPlan
) -> tuple[Any, ...]:
    source, value = assessment.source, assessment.value
    return (
        trace.info.trace_id,
        assessment.assessment_id,
        assessment.kind.value,
        assessment.name,
        None if value is None else json.dumps(value, ensure_ascii=False),
        numeric_value(value),
        None if source is None else source.source_type,
        None if source is None else source.source_id,
        assessment.create_time_ms,
        assessment.span_id,
        assessment.session_id,
        *(_extra(g, trace, None) for g in plan.extra),
    )


def run_rows(traces: Sequence[Trace], plan: RowsPlan) -> list[tuple[Any, ...]]:
    """The plan's page of rows, one tuple of ``plan.columns`` values each.

    Times are epoch nanoseconds (span start and end) or milliseconds (creation).
    """
    ordered = _sort(_rows(traces, plan), traces, plan.order)
    end = None if plan.limit is None else plan.offset + plan.limit
    out = []
    for row in ordered[plan.offset : end]:
        trace = traces[row.key]
        if isinstance(row.item, Span):
            out.append(_span_record(trace, row.item, plan))
        else:
            out.append(_assessment_record(trace, row.item, plan))
    return out
