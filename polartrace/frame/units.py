"""Build the full-text ``units`` table of a frame (docs/semantics.md#full-text).

``_text.span_units`` is the per-span definition that the reference evaluator reads;
this module lays the same units out as one table, ``_key``, ``_span`` (the span's
row number, null for the trace's request/response previews) and ``unit``, without a
Python loop over spans. Spans repeat their raw values (the same prompt, the same
model name, the same tool output), so each raw column is reduced to its distinct
values, only those are decoded in Python, and their leaves are joined back onto
the span rows. The property tests hold this table and ``span_units`` together.

Rows come in a fixed order: previews, span names, then each attribute column in
table order, then events; within each, in span order, and a value's leaves in
document order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import polars as pl

from polartrace.values.conventions import SPAN_INPUTS, SPAN_OUTPUTS
from polartrace.values.json_values import (
    LONG_INTEGER,
    append_leaves,
    decode_attribute_fast,
)

__all__ = ["UNIT_SCHEMA", "build_units"]

UNIT_SCHEMA: dict[str, pl.DataType] = {
    "_key": pl.UInt32(),
    "_span": pl.UInt32(),
    "unit": pl.String(),
}
_RAW_PREFIX = "raw:"
# Attributes whose key starts with "mlflow." are left out, but for these two.
_TEXT_KEYS = (SPAN_INPUTS, SPAN_OUTPUTS)


def build_units(traces: pl.DataFrame, spans: pl.DataFrame) -> pl.DataFrame:
    """Return the units table of a frame's ``traces`` and ``spans`` tables.

    Args:
        traces: The frame's trace table (``_key`` and the two preview columns).
        spans: The frame's span table (``_key``, ``name``, ``events`` and one
            ``raw:<key>`` column of JSON text per attribute key).

    Returns:
        One row per unit, with the schema `UNIT_SCHEMA`.
    """
    parts: list[pl.LazyFrame] = [
        _non_empty(
            traces.lazy().select(
                pl.col("_key"),
                pl.lit(None, dtype=pl.UInt32).alias("_span"),
                pl.col(column).alias("unit"),
            )
        )
        for column in ("request_preview", "response_preview")
    ]
    parts.append(_non_empty(_span_rows(spans, "name", "unit")))
    for column in spans.columns:
        if not column.startswith(_RAW_PREFIX):
            continue
        key = column[len(_RAW_PREFIX) :]
        if key.startswith("mlflow.") and key not in _TEXT_KEYS:
            continue
        parts.append(_leaf_rows(spans, column, append_leaves))
    parts.append(_leaf_rows(spans, "events", _event_leaves))
    units = pl.concat(
        [
            part.select(pl.col(n).cast(t) for n, t in UNIT_SCHEMA.items())
            for part in parts
        ]
    )
    return units.collect()


def _span_rows(spans: pl.DataFrame, column: str, name: str) -> pl.LazyFrame:
    """``_key``, ``_span`` (the row number) and ``column`` renamed ``name``."""
    return spans.lazy().select(
        pl.col("_key"),
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_span"),
        pl.col(column).alias(name),
    )


def _non_empty(part: pl.LazyFrame) -> pl.LazyFrame:
    # A null or empty name or preview adds no unit; an empty leaf does.
    unit = pl.col("unit").cast(pl.String)
    return part.with_columns(unit).filter(unit.is_not_null() & (unit != ""))


def _decoded(texts: pl.Series) -> Iterator[Any]:
    """Yield ``decode_attribute(text)`` for each text (orjson where it agrees).

    The long-integer check runs once over all texts, in Polars.
    """
    may_be_long = texts.str.contains(LONG_INTEGER).to_list()
    for text, flag in zip(texts.to_list(), may_be_long, strict=True):
        yield decode_attribute_fast(text, flag)


def _event_leaves(events: Any, out: list[str]) -> None:
    # The events column is the JSON list of SpanEvent.to_dict(): each event adds
    # its name (when not empty) and the leaves of its attributes (plain values).
    if not isinstance(events, list):
        msg = f"span events are not a JSON list: {events!r:.80}"
        raise TypeError(msg)
    for event in events:
        if event.get("name"):
            out.append(event["name"])
        append_leaves(event.get("attributes") or {}, out)


def _leaf_rows(
    spans: pl.DataFrame, column: str, leaves_of: Callable[[Any, list[str]], None]
) -> pl.LazyFrame:
    """The units of one column of JSON text: its distinct values decoded once.

    Each distinct value gets a number; its leaves become rows of (number, leaf);
    the span rows are joined to their value's number, then to its leaves.
    """
    distinct = spans.get_column(column).drop_nulls().unique(maintain_order=True)
    counts: list[int] = []
    units: list[str] = []
    for value in _decoded(distinct):
        before = len(units)
        leaves_of(value, units)
        counts.append(len(units) - before)
    numbers = pl.int_range(len(distinct), dtype=pl.UInt32, eager=True)
    values = pl.DataFrame({"raw": distinct, "_value": numbers})
    leaf_table = pl.DataFrame(
        {
            "_value": numbers.repeat_by(pl.Series(counts, dtype=pl.UInt32)).explode(
                empty_as_null=False
            ),
            "unit": pl.Series(units, dtype=pl.String),
        }
    )
    span_rows = _span_rows(spans, column, "raw").filter(pl.col("raw").is_not_null())
    return (
        span_rows.join(values.lazy(), on="raw", maintain_order="left")
        .join(leaf_table.lazy(), on="_value", maintain_order="left_right")
        .select("_key", "_span", "unit")
    )
