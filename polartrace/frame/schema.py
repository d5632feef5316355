"""The frame tables' layout: enums, column prefixes and schemas.

The prefixes are defined in `polartrace.values.columns`, below the query core, so
that the field catalogue can name a field's column; they are re-exported here next
to the dtypes. The enums' categories are MLflow's names
(`polartrace.values.conventions`).
"""

from __future__ import annotations

import polars as pl

from polartrace.values.columns import (
    ATTR_PREFIX,
    META_PREFIX,
    NUM_PREFIX,
    RAW_PREFIX,
    TAG_PREFIX,
)
from polartrace.values.conventions import SPAN_STATUS_CODES, TRACE_STATES

__all__ = [
    "ATTR_PREFIX",
    "META_PREFIX",
    "NUM_PREFIX",
    "RAW_PREFIX",
    "SPAN_STATUS_ENUM",
    "STATE_ENUM",
    "TAG_PREFIX",
    "duration_ms",
]


# Sorted categories: sorting the codes sorts the names.
STATE_ENUM = pl.Enum(sorted(TRACE_STATES))
SPAN_STATUS_ENUM = pl.Enum(sorted(SPAN_STATUS_CODES))


_TRACE_SCHEMA: dict[str, pl.DataType] = {
    "_key": pl.UInt32(),
    "trace_id": pl.String(),
    "client_request_id": pl.String(),
    "state": STATE_ENUM,
    "request_time": pl.Int64(),
    "execution_duration": pl.Int64(),
    "end_time": pl.Int64(),
    "experiment_id": pl.String(),
    "request_preview": pl.String(),
    "response_preview": pl.String(),
}
_SPAN_SCHEMA: dict[str, pl.DataType] = {
    "_key": pl.UInt32(),
    "_span": pl.UInt32(),
    "span_id": pl.String(),
    "parent_id": pl.String(),
    "name": pl.String(),
    "type": pl.String(),
    "status": SPAN_STATUS_ENUM,
    "start_ns": pl.Int64(),
    "end_ns": pl.Int64(),
    "duration_ms": pl.Float64(),
    "events": pl.String(),
}
_ASSESSMENT_SCHEMA: dict[str, pl.DataType] = {
    "_key": pl.UInt32(),
    "kind": pl.String(),
    "name": pl.String(),
    "text": pl.String(),
    "quoted": pl.String(),
    "number": pl.Float64(),
}
_PROMPT_SCHEMA: dict[str, pl.DataType] = {"_key": pl.UInt32(), "prompt": pl.String()}


def _per_million(ns: pl.Series) -> pl.Series:
    # By a column of divisors, element by element: Polars multiplies by the
    # reciprocal of a scalar divisor, one float step off ``ns / 1e6`` for about a
    # third of durations.
    million = pl.repeat(1e6, len(ns), dtype=pl.Float64, eager=True)
    return ns.cast(pl.Float64) / million


def duration_ms(start_ns: pl.Expr, end_ns: pl.Expr) -> pl.Expr:
    """A span's duration in ms from its times in ns, exactly as `Span.duration_ms`.

    Python's ``(end - start) / 1e6``: the integer difference, rounded to a float,
    divided by a million (one IEEE division). Null where either time is null.
    """
    return (
        (end_ns - start_ns)
        .map_batches(_per_million, return_dtype=pl.Float64)
        .alias("duration_ms")
    )
