"""The plan of a row table: the spans or assessments of the traces a filter selects.

``search_spans`` returns one row per selected span, ``search_assessments`` one per
selected assessment (docs/spans.md). Which rows a trace contributes follows the rule
metrics use at ``level="span"`` (`polartrace.plan.metrics.top_level_span_conds`):

* spans: the spans of a selected trace that satisfy the conditions of every span
  group written as a top-level conjunct of the filter; all its spans when there is
  none;
* assessments: the valid assessments that apply to a selected trace (its own and
  its session's) and pass one of the assessment clauses written as top-level
  conjuncts (``feedback.relevance > 0.5``: the relevance feedback above 0.5;
  ``IS NOT NULL``: every one of that name); all of them when there is none.

Rows are ordered by the ``order_by`` keys, then by the tie-breaks they do not name:
the trace search's (``timestamp_ms DESC``, ``request_id ASC``), then the row's time
(``span.start_time`` / ``assessment.create_time`` ascending), then the trace's
position in the input and the row's position in its trace.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

from polartrace.bind.metric_nodes import GroupKey
from polartrace.bind.nodes import BoundFilter, Cond
from polartrace.bind.rows import (
    ASSESSMENT_KEYS,
    SPAN_KEYS,
    RowKey,
    RowSortKey,
    Table,
)
from polartrace.plan.metrics import top_level_span_conds
from polartrace.plan.search import (
    TIE_BREAKS,
    And,
    AssessmentMatch,
    Predicate,
    plan_filter,
)

__all__ = [
    "ASSESSMENT_COLUMNS",
    "SPAN_COLUMNS",
    "Column",
    "RowsPlan",
    "plan_rows",
    "top_level_assessments",
]


class Column(enum.Enum):
    """The type of a row table's column, independent of any dataframe library."""

    TEXT = "text"
    INT = "int"
    FLOAT = "float"
    TIME_NS = "time_ns"  # epoch ns, shown as a UTC datetime in ns
    TIME_MS = "time_ms"  # epoch ms, shown as a UTC datetime in ms


def _llm_columns() -> tuple[tuple[str, Column], ...]:
    fixed = {"span.name", "span.type", "span.status", "span.duration_ms"}
    out = []
    for name, key in SPAN_KEYS.items():
        if name in fixed or key.field is None:
            continue
        if key.text:
            kind = Column.TEXT
        elif name.startswith("span.tokens."):
            kind = Column.INT  # token counts are integers (docs/fields.md)
        else:
            kind = Column.FLOAT
        out.append((key.column, kind))
    return tuple(out)


#: The span table's columns before the ``columns=`` ones, in order.
SPAN_COLUMNS: tuple[tuple[str, Column], ...] = (
    ("trace_id", Column.TEXT),
    ("span_id", Column.TEXT),
    ("parent_id", Column.TEXT),
    ("name", Column.TEXT),
    ("type", Column.TEXT),
    ("status", Column.TEXT),
    ("start_time", Column.TIME_NS),
    ("end_time", Column.TIME_NS),
    ("duration_ms", Column.FLOAT),
    *_llm_columns(),
    ("inputs", Column.TEXT),
    ("outputs", Column.TEXT),
)

#: The assessment table's columns before the ``columns=`` ones, in order.
ASSESSMENT_COLUMNS: tuple[tuple[str, Column], ...] = (
    ("trace_id", Column.TEXT),
    ("assessment_id", Column.TEXT),
    ("kind", Column.TEXT),
    ("name", Column.TEXT),
    ("value", Column.TEXT),
    ("value_number", Column.FLOAT),
    ("source_type", Column.TEXT),
    ("source_id", Column.TEXT),
    ("create_time", Column.TIME_MS),
    ("span_id", Column.TEXT),
    ("session", Column.TEXT),
)

_ROW_TIE_BREAKS: dict[Table, RowKey] = {
    Table.SPANS: SPAN_KEYS["span.start_time"],
    Table.ASSESSMENTS: ASSESSMENT_KEYS["assessment.create_time"],
}


def _keys(values: Iterable[RowSortKey]) -> tuple[RowSortKey, ...]:
    return tuple(values)


def _conds(values: Iterable[Cond]) -> tuple[Cond, ...]:
    return tuple(values)


def _matches(values: Iterable[AssessmentMatch]) -> tuple[AssessmentMatch, ...]:
    return tuple(values)


def _extra(values: Iterable[GroupKey]) -> tuple[GroupKey, ...]:
    return tuple(values)


@attrs.frozen
class RowsPlan:
    """A span or assessment table: which rows, which columns, in which order.

    Attributes:
        table: Spans or assessments.
        text: Names the filter; engines cache what they derive from ``where`` by it.
        where: The traces selected (``None``: all of them).
        span_conds: Spans: the conditions a selected trace's span must satisfy.
        assessment_tests: Assessments: a row passes one of these (none: every row).
        order_by: The ``order_by`` keys.
        extra: The ``columns=`` fields, after the table's own columns.
        offset: Rows skipped.
        limit: At most this many rows (``None``: all).
    """

    table: Table
    text: str
    where: Predicate | None
    span_conds: tuple[Cond, ...] = attrs.field(converter=_conds)
    assessment_tests: tuple[AssessmentMatch, ...] = attrs.field(converter=_matches)
    order_by: tuple[RowSortKey, ...] = attrs.field(converter=_keys)
    extra: tuple[GroupKey, ...] = attrs.field(converter=_extra)
    offset: int = 0
    limit: int | None = None

    @property
    def order(self) -> tuple[RowSortKey, ...]:
        """The ``order_by`` keys, then the tie-breaks they do not name.

        The trace's position and the row's position in its trace break the ties
        that remain: engines sort stably from that order.
        """
        named = {k.identity for k in self.order_by}
        ties = (*TIE_BREAKS, _ROW_TIE_BREAKS[self.table])
        return (*self.order_by, *(k for k in ties if k.identity not in named))

    @property
    def columns(self) -> tuple[str, ...]:
        """The names of the result columns, in order."""
        own = SPAN_COLUMNS if self.table is Table.SPANS else ASSESSMENT_COLUMNS
        return (*(name for name, _ in own), *(g.label for g in self.extra))


def top_level_assessments(where: Predicate | None) -> tuple[AssessmentMatch, ...]:
    """The assessment clauses that are top-level conjuncts of a planned filter.

    ``IS NULL`` (planned as ``Not(exists)``) and clauses under ``OR`` or ``NOT``
    select traces only.

    Example:
        >>> from polartrace.bind.filter import parse_filter
        >>> f = parse_filter("feedback.a > 1 AND (feedback.b = 2 OR status = 'OK')")
        >>> [m.name for m in top_level_assessments(plan_filter(f))]
        ['a']
    """
    items = where.items if isinstance(where, And) else (where,)
    return tuple(item for item in items if isinstance(item, AssessmentMatch))


def plan_rows(
    bound: BoundFilter,
    table: Table,
    order_by: Iterable[RowSortKey] = (),
    extra: Iterable[GroupKey] = (),
    offset: int = 0,
    limit: int | None = None,
) -> RowsPlan:
    """Plan the span or assessment table of the traces ``bound`` selects."""
    where = plan_filter(bound)
    spans = table is Table.SPANS
    return RowsPlan(
        table,
        bound.text,
        where,
        top_level_span_conds(bound) if spans else (),
        () if spans else top_level_assessments(where),
        order_by,
        extra,
        offset,
        limit,
    )
