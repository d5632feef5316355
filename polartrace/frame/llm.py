"""The LLM columns of a frame: model, provider, tokens and cost, derived at load.

Every builder (from ``Trace`` objects, from JSONL column by column, from Parquet
written without them) calls `with_llm_columns` on its finished trace and span tables.
The values come from the stored attribute and metadata texts by the rules of
`polartrace.values.llm`, which the reference engine applies to one span at a time:
each distinct text is decoded once in Python and the results are mapped onto the
rows, so the per-row work is Polars'. The span columns are named by the fields
(``model``, ``tokens.input``, ``cost.total``), as are the trace totals.

A trace total sums the spans MLflow's rule counts (`polartrace.values.conventions.
counted_spans`): a reporting span counts unless an ancestor reports too. The walk up
the ancestors is a few joins, one per level; the traces it cannot settle that way
(repeated span ids, a parent cycle, a chain deeper than `_MAX_DEPTH`) are settled by
the rule itself, in Python, one trace at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import polars as pl

from polartrace.frame.schema import (
    ATTR_PREFIX,
    META_PREFIX,
    NUM_PREFIX,
    RAW_PREFIX,
    TAG_PREFIX,
)
from polartrace.values.conventions import counted_spans
from polartrace.values.json_values import decode_attribute_fast
from polartrace.values.llm import (
    SPAN_FIELDS,
    TOTAL_PARTS,
    TRACE_FIELDS,
    Kind,
    LlmField,
    member,
    normalise,
)

__all__ = [
    "LLM_NAME_COLUMNS",
    "LLM_SPAN_SCHEMA",
    "LLM_TRACE_SCHEMA",
    "with_llm_columns",
]

_DTYPES: Final[dict[Kind, pl.DataType]] = {
    Kind.COUNT: pl.Int64(),
    Kind.COST: pl.Float64(),
    Kind.NAME: pl.String(),
    Kind.SECONDS: pl.Float64(),
}
_BY_NAME: Final = {field.name: field for field in SPAN_FIELDS}
#: The span columns and their dtypes (model and provider may be dictionary-encoded).
LLM_SPAN_SCHEMA: Final = {f.name: _DTYPES[f.kind] for f in SPAN_FIELDS}
#: The string span columns, dictionary-encoded as the span names are.
LLM_NAME_COLUMNS: Final = tuple(f.name for f in SPAN_FIELDS if f.kind is Kind.NAME)
#: The trace columns and their dtypes.
LLM_TRACE_SCHEMA: Final = {name: _DTYPES[_BY_NAME[name].kind] for name in TRACE_FIELDS}
_ATTRIBUTE_PREFIXES: Final = (RAW_PREFIX, ATTR_PREFIX, NUM_PREFIX)
# Ancestor levels walked with joins before a trace is settled in Python.
_MAX_DEPTH: Final = 32

Compact = Callable[[pl.Series], pl.Series]


def with_llm_columns(
    traces: pl.DataFrame, spans: pl.DataFrame, compact: Compact
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Add the LLM columns to a frame's trace and span tables.

    Args:
        traces: The trace table, with its ``meta:<key>`` columns.
        spans: The span table, with its ``raw:<key>`` columns.
        compact: Dictionary-encodes a string column of few values (the frame's
            ``_compact``), applied to ``model`` and ``provider``.

    Returns:
        Both tables with the LLM columns added (or replaced).
    """
    decoded = _Decoded()
    columns = {field.name: _span_column(field, spans, decoded) for field in SPAN_FIELDS}
    for name, parts in TOTAL_PARTS.items():
        first, second = (columns[part] for part in parts)
        columns[name] = columns[name].fill_null(first + second)
    span_columns = [
        compact(column) if name in LLM_NAME_COLUMNS else column
        for name, column in columns.items()
    ]
    # As the other typed columns: before the attribute columns.
    keyed = [c for c in spans.columns if c.startswith(_ATTRIBUTE_PREFIXES)]
    fixed = [c for c in spans.columns if c not in keyed and c not in columns]
    spans = spans.select(*fixed, *span_columns, *keyed)
    families = {f.family for f in SPAN_FIELDS if f.family is not None}
    counted = {family: _counted(spans, family) for family in sorted(families)}
    metadata = _Decoded()
    totals = [
        _trace_column(name, traces, spans, counted, metadata) for name in TRACE_FIELDS
    ]
    # As the other typed columns: before the tags and metadata.
    keyed = [c for c in traces.columns if c.startswith((TAG_PREFIX, META_PREFIX))]
    info = [c for c in traces.columns if c not in keyed and c not in TRACE_FIELDS]
    return traces.select(*info, *totals, *keyed), spans


# --- span columns ----------------------------------------------------------------


class _Decoded:
    """Each raw column's distinct texts, decoded once, and each row's distinct index.

    A column read for several fields (``mlflow.chat.tokenUsage`` holds six) is
    hashed once; each field is then a gather of its normalised distinct values.
    """

    def __init__(self) -> None:
        self.cache: dict[str, tuple[pl.Series, list[Any]]] = {}

    def __call__(self, column: pl.Series) -> tuple[pl.Series, list[Any]]:
        found = self.cache.get(column.name)
        if found is None:
            text = column.cast(pl.String)
            distinct = text.drop_nulls().unique()
            values = [decode_attribute_fast(v) for v in distinct.to_list()]
            index = text.replace_strict(
                distinct,
                pl.int_range(len(distinct), dtype=pl.UInt32, eager=True),
                default=None,
                return_dtype=pl.UInt32,
            )
            found = self.cache[column.name] = (index, values)
        return found


def _mapped(
    column: pl.Series, decoded: _Decoded, pick: str | None, kind: Kind, name: str
) -> pl.Series:
    index, values = decoded(column)
    normalised = [normalise(kind, member(value, pick)) for value in values]
    return pl.Series(name, normalised, dtype=_DTYPES[kind]).gather(index)


def _span_column(field: LlmField, spans: pl.DataFrame, decoded: _Decoded) -> pl.Series:
    """The first valid source of ``field`` per span, null where none is."""
    out: pl.Series | None = None
    for source in field.sources:
        raw = RAW_PREFIX + source.key
        if raw not in spans.columns:
            continue
        values = _mapped(spans[raw], decoded, source.member, field.kind, field.name)
        out = values if out is None else out.fill_null(values)
    if out is None:
        return pl.Series(field.name, [None] * spans.height, dtype=_DTYPES[field.kind])
    return out


# --- trace columns ---------------------------------------------------------------


def _metadata_column(
    name: str, traces: pl.DataFrame, decoded: _Decoded
) -> pl.Series | None:
    source = TRACE_FIELDS[name]
    if source is None or META_PREFIX + source.key not in traces.columns:
        return None
    column = traces[META_PREFIX + source.key]
    kind = _BY_NAME[name].kind
    return _mapped(column, decoded, source.member, kind, name)


def _trace_column(
    name: str,
    traces: pl.DataFrame,
    spans: pl.DataFrame,
    counted: dict[str, pl.Series],
    decoded: _Decoded,
) -> pl.Series:
    dtype = _DTYPES[_BY_NAME[name].kind]
    sums = (
        spans.lazy()
        .filter(counted[str(_BY_NAME[name].family)])
        .group_by("_key")
        .agg(pl.when(pl.col(name).count() > 0).then(pl.col(name).sum()).alias(name))
        .collect()
    )
    out = pl.Series(name, [None] * traces.height, dtype=dtype)
    if sums.height:
        out = out.scatter(sums["_key"].cast(pl.Int64), sums[name].cast(dtype))
    metadata = _metadata_column(name, traces, decoded)
    return out if metadata is None else metadata.fill_null(out)


def _counted(spans: pl.DataFrame, family: str) -> pl.Series:
    """Whether each span is one the trace totals of ``family`` sum (MLflow's rule)."""
    members = [f.name for f in SPAN_FIELDS if f.family == family]
    reports = spans.select(
        pl.any_horizontal(pl.col(m).is_not_null() for m in members).alias("r")
    ).to_series()
    counted = pl.Series("counted", [False] * spans.height, dtype=pl.Boolean)
    if not reports.any():
        return counted
    table = spans.select(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("row"),
        "_key",
        "span_id",
        pl.when(pl.col("parent_id") != "").then(pl.col("parent_id")).alias("parent"),
        reports.alias("r"),
    )
    busy = table.filter(pl.col("r")).select("_key").unique()
    table = table.join(busy, on="_key", how="semi")
    repeated = (
        table.group_by("_key")
        .agg((pl.col("span_id").n_unique() < pl.len()).alias("dup"))
        .filter("dup")
        .select("_key")
    )
    walk = table.join(repeated, on="_key", how="anti")
    settled, unsettled = _walk(walk)
    rows = settled
    python_keys = pl.concat([repeated["_key"], unsettled]).unique()
    if not python_keys.is_empty():
        rows = pl.concat([rows, _by_rule(table, python_keys)])
    return counted.scatter(rows, True) if not rows.is_empty() else counted


def _walk(table: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    """Walk each reporting span's ancestors, a level per join.

    Returns:
        The rows that count, and the keys of traces left unsettled.
    """
    index = table.select(
        "_key", pl.col("span_id").alias("at"), pl.col("parent").alias("up"), "r"
    )
    walkers = table.filter(pl.col("r")).select(
        "row", "_key", pl.col("parent").alias("at")
    )
    counted: list[pl.Series] = []
    for _ in range(_MAX_DEPTH):
        if walkers.is_empty():
            break
        step = walkers.join(index, on=["_key", "at"], how="left")
        # No parent in the trace: a root of its subtree, reached and uncovered.
        ended = step.filter(pl.col("r").is_null())
        counted.append(ended["row"])
        walkers = step.filter(pl.col("r") == False).select(  # noqa: E712
            "row", "_key", pl.col("up").alias("at")
        )
    rows = pl.concat(counted) if counted else pl.Series("row", [], dtype=pl.Int64)
    return rows, walkers["_key"].unique()


def _by_rule(table: pl.DataFrame, keys: pl.Series) -> pl.Series:
    """The counted rows of the traces ``keys``, by the rule itself."""
    rows: list[int] = []
    part = table.filter(pl.col("_key").is_in(keys.implode()))
    for _, group in part.group_by("_key", maintain_order=True):
        items = list(group.select("span_id", "parent", "r").iter_rows())
        positions = group["row"].to_list()
        rows.extend(positions[i] for i in counted_spans(items))
    return pl.Series("row", rows, dtype=pl.Int64)
