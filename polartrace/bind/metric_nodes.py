"""The bound parts of a metrics query: metrics, group keys, time buckets.

Plain frozen data with no dependency on a backend: `polartrace.bind.metrics` makes
them from what the user wrote, the plan (`polartrace.plan.metrics`) holds them and
the engines read them.
"""

from __future__ import annotations

import enum

import attrs

from polartrace.catalogue.fields import FieldSpec, ValueType

__all__ = [
    "Aggregate",
    "Bucket",
    "FieldRef",
    "GroupKey",
    "Level",
    "Metric",
    "Output",
    "Scope",
]


class Level(enum.Enum):
    """What one aggregated row is: a trace or a span."""

    TRACE = "trace"
    SPAN = "span"


class Scope(enum.Enum):
    """How many values a field has: one per trace, one per span, or per assessment."""

    TRACE = "trace"
    SPAN = "span"
    ASSESSMENT = "assessment"


class Output(enum.Enum):
    """The type of a result column, independent of any dataframe library."""

    INT = "int"
    FLOAT = "float"
    STRING = "string"
    TIME = "time"  # epoch ms, shown as a UTC datetime


class Aggregate(enum.Enum):
    """The aggregates a metric may name."""

    COUNT = "count"
    ERROR_COUNT = "error_count"
    ERROR_RATE = "error_rate"
    PERCENTILE = "p"
    AVG = "avg"
    SUM = "sum"
    MIN = "min"
    MAX = "max"
    COUNT_DISTINCT = "count_distinct"


@attrs.frozen
class FieldRef:
    """A field a metric or group key reads, resolved against the catalogue.

    Attributes:
        field: The catalogue entry.
        key: The tag/metadata/attribute key or assessment name (fixed-key fields
            carry their key, as in a filter).
        written: The field as the user wrote it.
        scope: Whether it has one value per trace, per span, or per assessment.
    """

    field: FieldSpec
    key: str | None
    written: str
    scope: Scope

    @property
    def numeric(self) -> bool:
        """Whether it is read as a number (a dynamic value: its numeric reading)."""
        return self.field.value_type in (ValueType.NUMBER, ValueType.DYNAMIC)

    @property
    def output(self) -> Output:
        """The type of the field's values in a result column."""
        match self.field.value_type:
            case ValueType.NUMBER:
                return Output.FLOAT
            case ValueType.TIME:
                return Output.TIME
            case ValueType.DYNAMIC:
                return Output.FLOAT  # its numeric reading
        return Output.STRING


@attrs.frozen
class Metric:
    """One result column: an aggregate, over a field for most aggregates.

    Attributes:
        aggregate: What is computed.
        label: The column name (the metric as written, unless the caller names it).
        output: The column's type.
        unit: The unit of its values for chart axes (``ms``, ``traces``), if any.
        ref: The field aggregated; ``None`` for ``count`` and the error aggregates.
        fraction: The percentile's fraction in [0, 1] (``p95`` is 0.95).
    """

    aggregate: Aggregate
    label: str
    output: Output
    unit: str | None = None
    ref: FieldRef | None = None
    fraction: float | None = None


@attrs.frozen
class GroupKey:
    """A field the rows are grouped by; ``label`` names its column."""

    ref: FieldRef
    label: str

    @property
    def by_text(self) -> bool:
        """Whether rows group by the value's canonical text (a span attribute)."""
        return self.ref.field.value_type is ValueType.DYNAMIC

    @property
    def output(self) -> Output:
        """The type of the group column."""
        return Output.STRING if self.by_text else self.ref.output


@attrs.frozen
class Bucket:
    """Time buckets of ``width_ms``, starting at ``offset_ms`` + k * ``width_ms``.

    Buckets are aligned to the Unix epoch in UTC; week buckets start on Mondays
    (``offset_ms`` is four days: 1970-01-05 was the first Monday).
    """

    text: str
    width_ms: int
    offset_ms: int = 0

    def start(self, time_ms: int) -> int:
        """The start of the bucket that holds ``time_ms``."""
        return (time_ms - self.offset_ms) // self.width_ms * self.width_ms + (
            self.offset_ms
        )
