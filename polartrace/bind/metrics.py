"""Bind the metrics of ``polartrace.metrics``: metric specs, group keys, time buckets.

A metric is written ``name`` or ``name(field)``: ``count``, ``error_rate``,
``p95(latency)``, ``avg(feedback.relevance)``, ``count_distinct(metadata.`x`)``. The
field is resolved by the filter binder's own rules (prefixes, aliases, reserved
keys), so every catalogue field is a metric field the moment it is declared; its
value type decides which aggregates apply. A group key is a field; ``every`` is an
interval such as ``15m``, ``1h``, ``1d`` or ``1w``. Everything here is plain data:
the plan (`polartrace.plan.metrics`) combines it with the filter and the engines
compute it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from polartrace.bind.filter import _Binder
from polartrace.bind.metric_nodes import (
    Aggregate,
    Bucket,
    FieldRef,
    GroupKey,
    Level,
    Metric,
    Output,
    Scope,
)
from polartrace.bind.order_by import _split_field
from polartrace.catalogue.fields import FIELDS, FieldSpec, Source, ValueType
from polartrace.values.errors import FilterError, MetricError, closest_match

__all__ = [
    "AGGREGATE_NAMES",
    "Aggregate",
    "Bucket",
    "FieldRef",
    "GroupKey",
    "Level",
    "Metric",
    "Output",
    "Scope",
    "bind_every",
    "bind_group_key",
    "bind_metric",
    "labels_unique",
]


#: The names a metric is written with (a percentile is any ``p<number>``).
AGGREGATE_NAMES: tuple[str, ...] = (
    "count", "error_rate", "error_count", "p50", "p90", "p95", "p99", "avg", "sum",
    "min", "max", "count_distinct",
)  # fmt: skip
_ALIASES = {"mean": "avg", "median": "p50", "average": "avg", "total": "sum"}
_ROW_AGGREGATES = (Aggregate.COUNT, Aggregate.ERROR_COUNT, Aggregate.ERROR_RATE)
_NUMERIC_AGGREGATES = (Aggregate.PERCENTILE, Aggregate.AVG, Aggregate.SUM)
_METRIC_RE = re.compile(
    r"\s*(?P<name>[A-Za-z_][A-Za-z0-9_.]*)\s*(?:\((?P<arg>.*)\))?\s*\Z", re.DOTALL
)
_PERCENTILE_RE = re.compile(r"p(\d+(?:\.\d+)?)\Z")


# --- fields ------------------------------------------------------------------------


def _scope(spec: FieldSpec) -> Scope | None:
    match spec.source:
        case Source.INFO if spec.read is not None and spec.frame_column is not None:
            return Scope.TRACE
        case Source.TAG | Source.METADATA:
            return Scope.TRACE
        case Source.SPAN if spec.keyed and spec.column == "attributes":
            return Scope.SPAN
        case Source.SPAN if spec.read_span is not None and spec.frame_column:
            return Scope.SPAN
        case Source.ASSESSMENT if spec.keyed:
            return Scope.ASSESSMENT
    return None


def _numeric_names() -> str:
    names = [
        s.name
        for s in FIELDS
        if s.value_type is ValueType.NUMBER and _scope(s) is not None
    ]
    return ", ".join([*names, "feedback.<name>", "span.attributes.<key>"])


def _field(text: str, written: str, level: Level, context: str) -> FieldRef:
    """Resolve ``text`` (the field part of ``written``) and check it can be read."""
    field = _split_field(text.strip())
    try:
        spec, key = _Binder(text).resolve(field)
    except FilterError as exc:
        msg = f"{exc.message} in {context} {written!r}"
        raise MetricError(msg, written, hint=exc.hint) from None
    scope = _scope(spec)
    if scope is None:
        msg = f"{context} {written!r}: '{spec.name}' has no single value to aggregate"
        hint = "use a field with one value per trace or span: " + _numeric_names()
        raise MetricError(msg, written, hint=hint)
    if scope is Scope.SPAN and level is Level.TRACE:
        msg = f"{context} {written!r}: '{spec.name}' has one value per span"
        raise MetricError(msg, written, hint="pass level='span' (CLI: --level span)")
    if scope is Scope.ASSESSMENT and level is Level.SPAN:
        msg = f"{context} {written!r}: assessments belong to traces, not spans"
        raise MetricError(msg, written, hint="use level='trace'")
    return FieldRef(spec, key, text.strip(), scope)


# --- metrics -----------------------------------------------------------------------


def _unit(aggregate: Aggregate, ref: FieldRef | None, level: Level) -> str | None:
    if aggregate in (Aggregate.COUNT, Aggregate.ERROR_COUNT):
        return f"{level.value}s"
    if aggregate is Aggregate.ERROR_RATE:
        return "share of " + f"{level.value}s"
    if ref is None or aggregate is Aggregate.COUNT_DISTINCT:
        return None
    name = ref.field.name
    if name.endswith("_ms"):
        return "ms"
    if name.startswith(("tokens.", "span.tokens.")):
        return "tokens"
    return None


def _aggregate(name: str, written: str) -> tuple[Aggregate, float | None]:
    lowered = _ALIASES.get(name.lower(), name.lower())
    percentile = _PERCENTILE_RE.match(lowered)
    if percentile is not None:
        value = float(percentile[1])
        if not 0 <= value <= 100:
            msg = f"percentile {name!r} in {written!r} is outside p0 to p100"
            raise MetricError(msg, written, hint="e.g. p50, p95, p99.9")
        return Aggregate.PERCENTILE, value / 100
    try:
        return Aggregate(lowered), None
    except ValueError:
        pass
    guess = closest_match(lowered, list(AGGREGATE_NAMES))
    msg = f"unknown metric {name!r} in {written!r}; metrics are " + ", ".join(
        AGGREGATE_NAMES
    )
    raise MetricError(
        msg, written, hint=f"did you mean {guess!r}?" if guess else None
    ) from None


def bind_metric(
    written: str, level: Level = Level.TRACE, label: str | None = None
) -> Metric:
    """Resolve one metric, such as ``"p95(latency)"``, against the catalogue.

    Args:
        written: ``name`` or ``name(field)``.
        level: Whether rows are traces or spans (span fields need spans).
        label: The column name; by default the metric as written.

    Raises:
        MetricError: For an unknown metric or field, a field the aggregate cannot
            use (``avg`` of a string), or a field missing where one is needed.

    Example:
        >>> m = bind_metric("p95(latency)")
        >>> m.aggregate.name, m.fraction, m.ref.field.name, m.unit
        ('PERCENTILE', 0.95, 'execution_time_ms', 'ms')
    """
    if not isinstance(written, str):
        msg = f"a metric must be a str, not {type(written).__name__}"
        raise MetricError(msg, repr(written))
    match = _METRIC_RE.match(written)
    if match is None:
        msg = f"cannot parse metric {written!r}"
        hint = "write name or name(field), e.g. 'count' or 'p95(latency)'"
        raise MetricError(msg, written, hint=hint)
    aggregate, fraction = _aggregate(match["name"], written)
    arg = match["arg"]
    label = label or written.strip()
    if aggregate in _ROW_AGGREGATES:
        if arg is not None and arg.strip():
            msg = f"{aggregate.value} takes no field, but {written!r} names one"
            hint = "count_distinct(field) counts the distinct values of a field"
            raise MetricError(msg, written, hint=hint)
        output = Output.FLOAT if aggregate is Aggregate.ERROR_RATE else Output.INT
        return Metric(aggregate, label, output, _unit(aggregate, None, level))
    if arg is None or not arg.strip():
        msg = f"{match['name']} needs a field, e.g. {match['name']}(latency)"
        raise MetricError(msg, written)
    ref = _field(arg, written, level, "metric")
    output = _metric_output(aggregate, ref, written)
    return Metric(aggregate, label, output, _unit(aggregate, ref, level), ref, fraction)


def _metric_output(aggregate: Aggregate, ref: FieldRef, written: str) -> Output:
    if aggregate is Aggregate.COUNT_DISTINCT:
        return Output.INT
    if aggregate in _NUMERIC_AGGREGATES and not ref.numeric:
        vtype = ref.field.value_type.value
        msg = f"{written!r}: {aggregate.value} needs a numeric field, not a {vtype}"
        hint = "numeric fields: " + _numeric_names()
        if aggregate is not Aggregate.SUM:
            hint += "; min, max and count_distinct take any field"
        raise MetricError(msg, written, hint=hint)
    return ref.output


# --- group keys and buckets -----------------------------------------------------------


def bind_group_key(written: str, level: Level = Level.TRACE) -> GroupKey:
    """Resolve one ``group_by`` key, such as ``"tags.environment"``.

    Raises:
        MetricError: For an unknown field, or one with no single value per row.

    Example:
        >>> bind_group_key("status").ref.field.name
        'status'
    """
    if not isinstance(written, str) or not written.strip():
        msg = f"a group_by key must be a non-empty str, not {written!r}"
        raise MetricError(msg, repr(written))
    ref = _field(written, written, level, "group_by key")
    if ref.scope is Scope.ASSESSMENT:
        msg = f"cannot group by {written!r}: a trace has any number of assessments"
        raise MetricError(
            msg, written, hint="aggregate it instead: avg(" + written + ")"
        )
    return GroupKey(ref, written.strip())


_UNITS_MS = {
    "ms": 1,
    "s": 1000,
    "m": 60_000,
    "h": 3_600_000,
    "d": 86_400_000,
    "w": 7 * 86_400_000,
}
_UNIT_WORDS = {
    "sec": "s", "second": "s", "seconds": "s", "min": "m", "minute": "m",
    "minutes": "m", "hour": "h", "hours": "h", "hr": "h", "day": "d", "days": "d",
    "week": "w", "weeks": "w",
}  # fmt: skip
_EVERY_RE = re.compile(r"\s*(\d+)\s*([A-Za-z]+)\s*\Z")
_MONDAY_MS = 4 * 86_400_000  # 1970-01-05, the first Monday after the epoch


def bind_every(every: str) -> Bucket:
    """Parse a bucket interval: a count and a unit of ``ms s m h d w``.

    Raises:
        MetricError: For anything else (months and years have no fixed width).

    Example:
        >>> bind_every("15m").width_ms, bind_every("1w").offset_ms
        (900000, 345600000)
    """
    text = every if isinstance(every, str) else repr(every)
    match = _EVERY_RE.match(text) if isinstance(every, str) else None
    hint = "write a count and a unit of ms, s, m, h, d, w, e.g. '15m', '1h', '1d'"
    if match is None:
        if isinstance(every, str) and every.strip().isalpha():
            hint = f"a count comes first: '1{_UNIT_WORDS.get(every.strip(), 'h')}'"
        msg = f"cannot read every={text!r}"
        raise MetricError(msg, text, hint=hint)
    count, unit = int(match[1]), match[2]
    if unit not in _UNITS_MS:
        word = _UNIT_WORDS.get(unit.lower())
        if word is not None:
            hint = f"write {count}{word}"
        elif unit.lower() in ("mo", "month", "months", "y", "year", "years"):
            hint = "months and years have no fixed width; use e.g. '30d' or '4w'"
        msg = f"unknown unit {unit!r} in every={text!r}"
        raise MetricError(msg, text, hint=hint)
    if count == 0:
        msg = f"every={text!r} is empty"
        raise MetricError(msg, text, hint="e.g. '1h'")
    offset = _MONDAY_MS if unit == "w" else 0
    return Bucket(f"{count}{unit}", count * _UNITS_MS[unit], offset)


def labels_unique(labels: Sequence[str]) -> None:
    """Refuse two result columns of the same name."""
    seen: set[str] = set()
    for label in labels:
        if label in seen:
            msg = f"two result columns are named {label!r}"
            raise MetricError(msg, label, hint="name each metric and key once")
        seen.add(label)
