"""Bind the ``order_by`` of a span or assessment table (``search_spans``, ...).

An entry orders by a key of the row itself (``"span.duration_ms DESC"``,
``"assessment.create_time"``) or by anything a trace search orders by
(``"timestamp_ms DESC"``, ``"tags.team"``, ``"count(SPAN) DESC"``), which every row
of a trace shares. Row keys are listed in `SPAN_KEYS` and `ASSESSMENT_KEYS`.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from typing import Any, TypeAlias

import attrs

from polartrace.bind.filter import bind_order_by
from polartrace.bind.metric_nodes import GroupKey, Level, Scope
from polartrace.bind.metrics import _field
from polartrace.bind.order_by import SortKey
from polartrace.catalogue.fields import FIELDS, FieldSpec, Source, ValueType
from polartrace.values.errors import (
    MetricError,
    OrderByError,
    SearchArgumentError,
    closest_match,
)

__all__ = [
    "ASSESSMENT_KEYS",
    "SPAN_KEYS",
    "RowKey",
    "RowSortKey",
    "Table",
    "bind_columns",
    "bind_row_order",
]


class Table(enum.Enum):
    """What one row of a row table is."""

    SPANS = "spans"
    ASSESSMENTS = "assessments"


@attrs.frozen
class RowKey:
    """An ``order_by`` key read from the row (a span, an assessment), not its trace.

    Attributes:
        name: The key as written, e.g. ``span.duration_ms``.
        column: The column of the frame's span or assessment table that holds it.
        field: The catalogue entry of a span field (its ``read_span`` reads it from
            a ``Span``); ``None`` for the keys the catalogue has no filter field for.
        text: Whether it sorts as text (by code point), else as a number.
        descending: The direction.
    """

    name: str
    column: str
    field: FieldSpec | None = attrs.field(eq=False)
    text: bool
    descending: bool = False

    @property
    def identity(self) -> tuple[str, str]:
        """What the key reads; two entries with the same identity are duplicates."""
        return ("row", self.name)


#: One sort key of a row table: the row's own key, or its trace's.
RowSortKey: TypeAlias = RowKey | SortKey


def _span_keys() -> dict[str, RowKey]:
    keys = {
        spec.name: RowKey(
            spec.name,
            str(spec.frame_column),
            spec,
            text=spec.value_type is not ValueType.NUMBER,
        )
        for spec in FIELDS
        if spec.source is Source.SPAN
        and spec.read_span is not None
        and spec.name.startswith("span.")
    }
    keys["span.start_time"] = RowKey("span.start_time", "start_ns", None, text=False)
    keys["span.end_time"] = RowKey("span.end_time", "end_ns", None, text=False)
    return keys


#: The span keys: every span field with one value per span, start and end times.
SPAN_KEYS: dict[str, RowKey] = _span_keys()

#: The assessment keys.
ASSESSMENT_KEYS: dict[str, RowKey] = {
    "assessment.create_time": RowKey(
        "assessment.create_time", "create_time", None, text=False
    ),
    "assessment.name": RowKey("assessment.name", "name", None, text=True),
    "assessment.kind": RowKey("assessment.kind", "kind", None, text=True),
    "assessment.value": RowKey("assessment.value", "number", None, text=False),
}

_ENTRY = re.compile(r"\s*(?P<key>[^\s`]+)(?:\s+(?P<direction>\S+))?\s*\Z")
_ROW_PREFIXES = {Table.SPANS: "span.", Table.ASSESSMENTS: "assessment."}


def bind_row_order(
    order_by: Sequence[str] | str | None, table: Table
) -> tuple[RowSortKey, ...]:
    """Resolve the ``order_by`` entries of a row table.

    Raises:
        OrderByError: For an unknown row key, a bad direction, an entry a trace
            search refuses, or a key named twice.

    Example:
        >>> [k.name for k in bind_row_order("span.tokens.total DESC", Table.SPANS)]
        ['span.tokens.total']
    """
    if order_by is None:
        return ()
    entries = [order_by] if isinstance(order_by, str) else list(order_by)
    keys: list[RowSortKey] = []
    seen: dict[Any, str] = {}
    for entry in entries:
        if not isinstance(entry, str):
            msg = f"order_by entries must be strings, not {type(entry).__name__}"
            raise SearchArgumentError(msg)
        row_key = _row_key(entry, table)
        key: RowSortKey
        if row_key is None:
            (key,) = bind_order_by([entry])
        else:
            key = row_key
        if key.identity in seen:
            msg = "order_by names the same key twice"
            hint = f"{seen[key.identity]!r} already orders by it"
            raise OrderByError(msg, entry, end=len(entry.rstrip()), hint=hint)
        seen[key.identity] = entry
        keys.append(key)
    return tuple(keys)


def _row_key(entry: str, table: Table) -> RowKey | None:
    """The row key an entry names; ``None`` when it names no row (a trace key)."""
    match = _ENTRY.match(entry)
    prefix = _ROW_PREFIXES[table]
    if match is None or not match["key"].lower().startswith(prefix):
        return None
    known = SPAN_KEYS if table is Table.SPANS else ASSESSMENT_KEYS
    name = match["key"]
    found = known.get(name)
    if found is None:
        guess = closest_match(name, list(known))
        raise OrderByError(
            f"cannot order {table.value} by {name!r}; row keys are " + ", ".join(known),
            entry,
            position=match.start("key"),
            end=match.end("key"),
            hint=f"did you mean {guess!r}?" if guess else None,
        )
    written = match["direction"] or "ASC"
    if written.upper() not in ("ASC", "DESC"):
        msg = f"unknown direction {written!r}; use ASC or DESC"
        raise OrderByError(
            msg, entry, position=match.start("direction"), end=match.end("direction")
        )
    return attrs.evolve(found, descending=written.upper() == "DESC")


def bind_columns(
    columns: Sequence[str] | str | None, table: Table
) -> tuple[GroupKey, ...]:
    """Resolve ``columns=``: fields with one value per row, each one more column.

    A span table takes trace fields (``tags.environment``, ``user``,
    ``tokens.total``) and span fields (``span.attributes.<key>``); an assessment
    table takes trace fields.

    Raises:
        MetricError: For an unknown field, or one with no single value per row.
        SearchArgumentError: For a ``columns`` that is no list of str, or a name
            that a table column already has.

    Example:
        >>> [g.label for g in bind_columns(["tags.env", "user"], Table.SPANS)]
        ['tags.env', 'user']
    """
    if columns is None:
        return ()
    entries = [columns] if isinstance(columns, str) else columns
    if not isinstance(entries, Sequence) or not all(
        isinstance(e, str) and e.strip() for e in entries
    ):
        msg = f"columns must be a list of field names, not {columns!r}"
        raise SearchArgumentError(msg)
    level = Level.SPAN if table is Table.SPANS else Level.TRACE
    keys = []
    for entry in entries:
        ref = _field(entry, entry, level, "columns entry")
        if ref.scope is Scope.ASSESSMENT:
            msg = f"columns entry {entry!r}: a trace has any number of assessments"
            hint = "search_assessments has one row per assessment"
            raise MetricError(msg, entry, hint=hint)
        keys.append(GroupKey(ref, entry.strip()))
    labels = [k.label for k in keys]
    if len(set(labels)) != len(labels):
        msg = f"columns names a field twice: {labels}"
        raise SearchArgumentError(msg)
    return tuple(keys)
