"""Bind ``columns=`` of ``search_traces``: one flat, typed column per trace field.

A column's value for a trace is the value ``order_by`` sorts that trace by, so a
column entry is bound by the ``order_by`` binder (`polartrace.bind.filter.
bind_order_by`): the same names, aliases, prefixes and backquoted keys as filters,
and aggregates over spans (``count(SPAN WHERE type = 'TOOL')``,
``sum(span.tokens.total)``). ``feedback.<name>`` and ``expectation.<name>`` are
columns too, though not orderable: the mean of the numeric values of the valid
assessments of that name that apply to the trace (as ``avg(feedback.<name>)`` in
``metrics``). Anything with many values per trace (a span field, ``models``) is
refused with a hint naming the call that has one row per value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeAlias

import attrs

from polartrace.bind.filter import bind_order_by
from polartrace.bind.metric_nodes import Output
from polartrace.bind.nodes import Measure
from polartrace.bind.order_by import AggregateKey, OrderKey, _split_field
from polartrace.catalogue.fields import (
    PREFIXES,
    Prefix,
    Source,
    ValueType,
    suggest_field,
    unprefixed,
)
from polartrace.values.conventions import RESULT_COLUMNS
from polartrace.values.errors import ColumnError, OrderByError, SearchArgumentError
from polartrace.values.llm import FIELDS_BY_NAME, Kind

__all__ = [
    "RESULT_COLUMNS",
    "AssessmentValue",
    "ColumnKey",
    "TraceColumn",
    "bind_trace_column",
    "bind_trace_columns",
]

#: The columns of a ``search_traces`` result that ``columns=`` may not shadow.


@attrs.frozen
class AssessmentValue:
    """The mean numeric value of a trace's valid assessments of one kind and name.

    Attributes:
        kind: ``feedback`` or ``expectation``.
        name: The assessment name.
    """

    kind: str
    name: str


#: What one column reads: an ``order_by`` key, or an assessment value.
ColumnKey: TypeAlias = OrderKey | AggregateKey | AssessmentValue


@attrs.frozen
class TraceColumn:
    """One ``columns=`` entry, bound.

    Attributes:
        label: The column's name in the result: the entry as written, stripped.
        key: What it reads.
        output: The type of its values (`Output.TIME`: epoch ms, shown as a UTC
            datetime).
    """

    label: str
    key: ColumnKey
    output: Output


_DIRECTION = re.compile(r"\s+(?P<word>(?i:asc|desc))\s*\Z")
_ASSESSMENT_PREFIXES = {Prefix.FEEDBACK: "feedback", Prefix.EXPECTATION: "expectation"}
_MANY = (
    "search_spans(traces, filter, columns=[...]) has one row per span, with its "
    "model, tokens and cost; a per-trace aggregate such as 'sum(span.tokens.total)', "
    "'max(span.duration_ms)' or \"count(SPAN WHERE model = 'gpt-4o')\" is a column"
)


def output_of(key: ColumnKey) -> Output:
    """The type of the values a column of ``key`` holds.

    Counts (tokens and their sums, minima and maxima, ``count(...)``,
    ``span_count``, ``depth``) and trace durations in ms are integers; costs,
    feedback, averages and other aggregates over spans are floats;
    timestamps are epoch ms (`Output.TIME`); the rest is text.
    """
    if isinstance(key, AssessmentValue):
        return Output.FLOAT
    if isinstance(key, AggregateKey):
        aggregate = key.aggregate
        if aggregate.measure in (Measure.COUNT, Measure.DEPTH):
            return Output.INT
        counted = aggregate.field is not None and _is_count(aggregate.field.column)
        whole = aggregate.measure in (Measure.SUM, Measure.MIN, Measure.MAX)
        return Output.INT if counted and whole else Output.FLOAT
    spec = key.field
    match spec.value_type:
        case ValueType.TIME:
            return Output.TIME
        case ValueType.NUMBER:
            if spec.column in FIELDS_BY_NAME and spec.source is Source.INFO:
                return Output.INT if _is_count(spec.column) else Output.FLOAT
            return Output.INT  # execution_time_ms: whole ms
    return Output.STRING


def _is_count(column: str | None) -> bool:
    """Whether an LLM field's column holds counts (tokens), integers."""
    llm = FIELDS_BY_NAME.get(str(column))
    return llm is not None and llm.kind is Kind.COUNT


def _column_key(entry: str) -> ColumnKey:
    """Bind one entry; raise `ColumnError` for one that has no value per trace."""
    text = entry.strip()
    direction = _DIRECTION.search(entry)
    if direction is not None:
        msg = "a column has no direction"
        hint: str | None = (
            f"write the field alone: {entry[: direction.start()].strip()!r}"
        )
        at, to = direction.start("word"), direction.end("word")
        raise ColumnError(msg, entry, position=at, end=to, hint=hint)
    at = len(entry) - len(entry.lstrip())
    field = _split_field(text)
    prefix_text, key = unprefixed(field.prefix, field.key)
    prefix = PREFIXES.get(prefix_text)
    end = at + len(text)
    if prefix in _ASSESSMENT_PREFIXES:
        if not key:
            msg = "empty assessment name"
            raise ColumnError(msg, entry, position=at, end=end)
        return AssessmentValue(_ASSESSMENT_PREFIXES[prefix], key)
    if prefix is Prefix.ISSUE:
        msg = f"{text!r} is no column: a trace has any number of issues"
        hint = "search_assessments has one row per assessment"
        raise ColumnError(msg, entry, position=at, end=end, hint=hint)
    if prefix is Prefix.SPAN:
        msg = f"{text!r} has one value per span, not one per trace"
        raise ColumnError(msg, entry, position=at, end=end, hint=_MANY)
    if prefix is Prefix.ATTRIBUTE and key == "models":
        msg = "'models' has one value per model a trace called, not one per trace"
        raise ColumnError(msg, entry, position=at, end=end, hint=_MANY)
    try:
        (bound,) = bind_order_by([entry])
    except OrderByError as exc:
        message = exc.message.replace("cannot order by", "no column for")
        message = message.replace("order_by entry", "columns entry")
        message = message.replace("orderable", "columns")
        hint = exc.hint
        if hint is None and (guess := suggest_field(text, orderable=True)):
            hint = f"did you mean {guess!r}?"
        raise ColumnError(
            message, entry, position=exc.position, end=exc.end, hint=hint
        ) from None
    return bound


def bind_trace_columns(columns: Sequence[str] | str | None) -> tuple[TraceColumn, ...]:
    """Resolve ``columns=`` of ``search_traces``: one column per entry, in order.

    Args:
        columns: Field names as in filters and ``order_by`` (``tags.env``,
            ``metadata.`mlflow.trace.user```, ``tokens.total``, ``latency``,
            ``feedback.relevance``, ``count(SPAN WHERE type = 'TOOL')``); one
            string is one entry.

    Returns:
        The columns, each labelled as written (surrounding spaces stripped).

    Raises:
        ColumnError: For an unknown field (with a did-you-mean hint), a field with
            many values per trace, a direction, a name that a result column has
            already, or an entry written twice. Two spellings of one field
            (``user`` and ``metadata.`mlflow.trace.user```) are two columns.
        SearchArgumentError: For ``columns`` that is not a list of strings.

    Example:
        >>> [(c.label, c.output.value) for c in bind_trace_columns(
        ...     ["tags.env", "tokens.total", "latency"])]
        [('tags.env', 'string'), ('tokens.total', 'int'), ('latency', 'int')]
    """
    if columns is None:
        return ()
    entries = [columns] if isinstance(columns, str) else columns
    if not isinstance(entries, Sequence) or not all(
        isinstance(e, str) for e in entries
    ):
        msg = f"columns must be a list of field names, not {columns!r}"
        raise SearchArgumentError(msg)
    bound: list[TraceColumn] = []
    seen: dict[str, str] = {}
    for entry in entries:
        label = entry.strip()
        if not label:
            msg = "empty columns entry"
            hint = "name a field, e.g. 'tags.environment' or 'tokens.total'"
            raise ColumnError(msg, entry, end=len(entry), hint=hint)
        if label in RESULT_COLUMNS:
            msg = f"{label!r} is a column of the result already"
            hint = _clash_hint(label)
            raise ColumnError(msg, entry, end=len(entry), hint=hint)
        if label in seen:
            msg = f"columns names {label!r} twice"
            hint = "a result has one column of each name"
            raise ColumnError(msg, entry, end=len(entry.rstrip()), hint=hint)
        seen[label] = entry
        bound.append(bind_trace_column(entry))
    return tuple(bound)


def bind_trace_column(entry: str) -> TraceColumn:
    """Bind one ``columns`` entry that reads one value per trace.

    The row tables (``search_spans``, ``search_assessments``) bind their trace
    fields here too, so a trace field is the same column in every table.

    Raises:
        ColumnError: For an unknown field or one with many values per trace.

    Example:
        >>> bind_trace_column(" cost.total ").label
        'cost.total'
    """
    key = _column_key(entry)
    return TraceColumn(entry.strip(), key, output_of(key))


def _clash_hint(label: str) -> str:
    if label in ("trace_id", "state"):
        other = "request_id" if label == "trace_id" else "status"
        return f"the result has it; for a typed copy of it write {other!r}"
    return "the result has it; pick the field by its filter name"
