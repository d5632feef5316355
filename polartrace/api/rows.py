"""``search_spans`` and ``search_assessments``: one row per span or assessment.

Binds the filter, the row ``order_by`` (`polartrace.bind.rows`) and the
``columns=`` fields, plans the table (`polartrace.plan.rows`) with the page a token
points at, runs it on the Polars executor (row numbers of the frame's tables) or the
reference engine (tuples read from ``Trace`` objects) and shapes the result
(`polartrace.output.spans`). docs/spans.md describes the tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import attrs
import polars as pl

from polartrace.api.arguments import check_max_results
from polartrace.api.search import Engine, _as_frame, _check_engine
from polartrace.bind.filter import parse_filter
from polartrace.bind.metric_nodes import GroupKey, Scope
from polartrace.bind.rows import Table, bind_columns, bind_row_order
from polartrace.engines.polars.rows import row_numbers
from polartrace.engines.reference_rows import run_rows
from polartrace.frame.trace_frame import TraceFrame
from polartrace.output.spans import from_frame, from_records, shaped
from polartrace.plan.paging import (
    decode_page_token,
    encode_page_token,
    page_fingerprint,
)
from polartrace.plan.rows import (
    ASSESSMENT_COLUMNS,
    SPAN_COLUMNS,
    RowsPlan,
    plan_rows,
)
from polartrace.values.errors import SearchArgumentError

__all__ = ["search_assessments", "search_spans"]

ReturnType = Literal["polars", "pandas", "arrow", "list"]
_RETURN_TYPES = ("polars", "pandas", "arrow", "list")


def _frame(traces: Any) -> TraceFrame:
    # Imported here: the lazy engine reads Parquet through pyarrow, which a search
    # of anything else does not load.
    from polartrace.engines.lazy import ScannedTraces

    if isinstance(traces, ScannedTraces):
        msg = (
            "span and assessment tables are built from a frame in memory: .collect() "
            "a scanned dataset first (or narrow it with a filter and collect that)"
        )
        raise SearchArgumentError(msg)
    return _as_frame(traces)


def _labelled(extra: tuple[GroupKey, ...], table: Table) -> tuple[GroupKey, ...]:
    """``columns=`` keys; a trace field named like a row column gets ``trace.``."""
    own = {
        name
        for name, _ in (SPAN_COLUMNS if table is Table.SPANS else ASSESSMENT_COLUMNS)
    }
    return tuple(
        attrs.evolve(g, label="trace." + g.label)
        if g.label in own and g.ref.scope is Scope.TRACE
        else g
        for g in extra
    )


def _check(return_type: str | None, max_results: int | None, engine: str) -> str:
    chosen = "polars" if return_type is None else return_type
    if chosen not in _RETURN_TYPES:
        msg = f"return_type must be one of {_RETURN_TYPES}, not {return_type!r}"
        raise SearchArgumentError(msg)
    _check_engine(engine)
    check_max_results(max_results)
    return chosen


def _run(frame: TraceFrame, plan: RowsPlan, engine: str) -> pl.DataFrame:
    if engine == "reference":
        traces = frame.traces_at(range(len(frame)))
        return from_records(run_rows(traces, plan), plan)
    return from_frame(frame, row_numbers(frame, plan), plan)


def _search(
    table: Table,
    traces: Any,
    filter_string: str | None,
    order_by: Sequence[str] | str | None,
    max_results: int | None,
    page_token: str | None,
    return_type: str | None,
    columns: Sequence[str] | str | None,
    engine: str,
) -> Any:
    shape = _check(return_type, max_results, engine)
    keys = bind_row_order(order_by, table)
    extra = _labelled(bind_columns(columns, table), table)
    bound = parse_filter(filter_string)
    frame = _frame(traces)
    fingerprint = page_fingerprint(
        filter_string, [table.value, order_by, [g.label for g in extra]]
    )
    offset = 0 if page_token is None else decode_page_token(page_token, fingerprint)
    # One row past the page tells whether there is a next page.
    limit = None if max_results is None else max_results + 1
    plan = plan_rows(bound, table, keys, extra, offset, limit)
    clash = [g.label for g in extra if plan.columns.count(g.label) > 1]
    if clash:
        msg = f"columns {clash} name a column the {table.value} table has already"
        raise SearchArgumentError(msg)
    result = _run(frame, plan, engine)
    token = None
    if max_results is not None and result.height > max_results:
        result = result.head(max_results)
        if max_results:  # a page of no rows has no next page
            token = encode_page_token(offset + max_results, fingerprint)
    return shaped(result, plan, shape, token)


def search_spans(
    traces: Any = None,
    filter_string: str | None = None,
    *,
    order_by: Sequence[str] | str | None = None,
    max_results: int | None = None,
    page_token: str | None = None,
    return_type: ReturnType | None = "polars",
    columns: Sequence[str] | str | None = None,
    engine: Engine = "polars",
) -> Any:
    """One row per span of the matching traces that satisfies the filter's span clauses.

    The filter selects traces as ``search_traces`` does; the span clauses written
    as top-level conjuncts (``span.type = 'LLM' AND ...``) also pick the spans of
    a selected trace, and a filter without any keeps all its spans
    (docs/spans.md, docs/semantics.md#span-and-assessment-tables).

    Args:
        traces: What ``search_traces`` accepts (a frame, traces, paths, a store,
            ``None``); a scanned dataset is refused: collect it first.
        filter_string: The filter; ``None`` selects every span of every trace.
        order_by: ``"key [ASC|DESC]"`` entries over span keys (``span.duration_ms``,
            ``span.tokens.total``, ``span.start_time``, ... ) or any key a trace
            search orders by (``timestamp_ms``, ``tags.team``); ties fall back to
            ``timestamp_ms DESC``, ``request_id``, ``span.start_time``, then the
            trace's and the span's position.
        max_results: At most this many rows (``None``: all of them).
        page_token: The token of a previous page of the same search
            (`polartrace.next_page_token`).
        return_type: ``"polars"`` (default), ``"pandas"``, ``"arrow"`` or
            ``"list"`` (of dicts).
        columns: Trace fields (``tags.environment``, ``user``, ``session``,
            ``metadata.<key>``, ``tokens.total``) or span attributes
            (``span.attributes.<key>``, as canonical text), one more column each,
            named as written; a trace field named like a span column is
            prefixed ``trace.`` (``tokens.total`` -> ``trace.tokens.total``).
        engine: ``"polars"`` or ``"reference"`` (plain Python; the same answers).

    Returns:
        The table: ``trace_id``, ``span_id``, ``parent_id``, ``name``, ``type``,
        ``status``, ``start_time`` and ``end_time`` (UTC datetimes),
        ``duration_ms``, ``model``, ``provider``, ``tokens.*``, ``cost.*``,
        ``time_to_first_token_ms``, ``inputs`` and ``outputs`` (the stored JSON
        text), then the ``columns``.

    Raises:
        FilterError: For a rejected filter.
        OrderByError: For a bad ``order_by`` entry.
        PageTokenError: For a token of another search.
        MetricError: For a ``columns`` field that is unknown or has many values.
        SearchArgumentError: For other bad arguments.

    Example:
        >>> from polartrace.testing import example_traces
        >>> search_spans(example_traces(), "span.type = 'LLM'").select(
        ...     "name", "duration_ms").rows()
        [('llm', 2500.0)]
    """
    return _search(
        Table.SPANS,
        traces,
        filter_string,
        order_by,
        max_results,
        page_token,
        return_type,
        columns,
        engine,
    )


def search_assessments(
    traces: Any = None,
    filter_string: str | None = None,
    *,
    order_by: Sequence[str] | str | None = None,
    max_results: int | None = None,
    page_token: str | None = None,
    return_type: ReturnType | None = "polars",
    columns: Sequence[str] | str | None = None,
    engine: Engine = "polars",
) -> Any:
    """One row per valid assessment of the matching traces.

    The filter selects traces as ``search_traces`` does; its assessment clauses
    written as top-level conjuncts (``feedback.relevance > 0.5 AND ...``) also
    pick the assessments: a row passes one of them. Without any, every valid
    assessment that applies to a selected trace (its own and its session's) is a
    row.

    Args:
        traces: What ``search_traces`` accepts; a scanned dataset is refused.
        filter_string: The filter; ``None`` selects every assessment.
        order_by: ``"key [ASC|DESC]"`` entries over ``assessment.create_time``,
            ``assessment.name``, ``assessment.kind``, ``assessment.value`` (its
            number) or any trace key; ties fall back to ``timestamp_ms DESC``,
            ``request_id``, ``assessment.create_time``, then positions.
        max_results: At most this many rows.
        page_token: The token of a previous page of the same search.
        return_type: ``"polars"`` (default), ``"pandas"``, ``"arrow"``, ``"list"``.
        columns: Trace fields, one more column each (``user``, ``tags.env``).
        engine: ``"polars"`` or ``"reference"``.

    Returns:
        The table: ``trace_id`` (the trace it applies to), ``assessment_id``,
        ``kind``, ``name``, ``value`` (JSON text), ``value_number`` (a numeric value,
        else null), ``source_type``, ``source_id``,
        ``create_time`` (UTC datetime), ``span_id``, ``session`` (set for a
        session-scoped assessment), then the ``columns``.

    Raises:
        FilterError: For a rejected filter.
        OrderByError: For a bad ``order_by`` entry.
        PageTokenError: For a token of another search.
        MetricError: For a ``columns`` field that is unknown or has many values.
        SearchArgumentError: For other bad arguments.

    Example:
        >>> from polartrace.testing import example_traces
        >>> search_assessments(example_traces(), "feedback.correctness IS NOT NULL"
        ...     ).select("kind", "name", "value").rows()
        [('feedback', 'correctness', 'true')]
    """
    return _search(
        Table.ASSESSMENTS,
        traces,
        filter_string,
        order_by,
        max_results,
        page_token,
        return_type,
        columns,
        engine,
    )
