"""The Spark row shape: one row per trace, and the frame a batch of rows rebuilds.

This module is the one place that knows how a trace's frame tables
(`polartrace.frame.schema`) map to one Spark row, both ways; the converters
(`polartrace.spark.dataset`, `polartrace.spark.archive`) and the executors
(`polartrace.spark.partition`) read the shape from here. A row holds:

* ``_key`` (``bigint``): the trace's position in its dataset, unique; the last
  tie-break of every order, as the row order of an in-memory frame is;
* the trace table's typed columns (``trace_id``, ``state``, ``request_time``, ...),
  under their frame names;
* ``tags`` and ``trace_metadata``, ``map<string,string>`` (the frame's ``tag:<key>``
  and ``meta:<key>`` columns);
* ``spans``, an array of structs in span order: the span table's columns and
  ``attributes``, a map of each attribute's raw JSON text (the ``raw:<key>`` columns);
* ``assessments``, an array of structs: the valid assessments that apply to the trace,
  session-scoped ones included;
* ``prompts``, the linked prompt versions (``name/version``);
* ``page``: a struct of the trace's page table row (`polartrace.frame.pages`: the
  info and spans texts, tags, metadata, assessments, request and response), read
  only to build output rows; it is the trace's MLflow JSON text cut once into the
  parts a result page reads, as polartrace's Parquet dataset stores it.

Every column is derived from the frame schema, so a typed column added to the trace
or span table is a column or struct field here too. A trace is one row, so no trace
straddles two partitions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import polars as pl
import pyarrow as pa

from polartrace.frame.llm import LLM_SPAN_SCHEMA, LLM_TRACE_SCHEMA, with_llm_columns
from polartrace.frame.pages import PAGE_COLUMNS, PAGE_SCHEMA
from polartrace.frame.schema import (
    _ASSESSMENT_SCHEMA,
    _SPAN_SCHEMA,
    _TRACE_SCHEMA,
    META_PREFIX,
    RAW_PREFIX,
    TAG_PREFIX,
)
from polartrace.frame.trace_frame import TraceFrame, _compact, compact_categoricals

__all__ = [
    "ASSESSMENTS",
    "ASSESSMENT_FIELDS",
    "ATTRIBUTES",
    "FRAME_NAMES",
    "KEY",
    "LLM_TRACE_COLUMNS",
    "METADATA",
    "PAGE",
    "PROMPTS",
    "SPANS",
    "SPAN_FIELDS",
    "TAGS",
    "TRACE_COLUMNS",
    "arrow_schema",
    "frame_from_rows",
    "row_name",
    "rows_from_frame",
    "spark_ddl",
    "spark_type",
]

KEY: Final = "_key"
TAGS: Final = "tags"
METADATA: Final = "trace_metadata"
SPANS: Final = "spans"
ATTRIBUTES: Final = "attributes"
ASSESSMENTS: Final = "assessments"
PROMPTS: Final = "prompts"
PAGE: Final = "page"


def row_name(frame_name: str) -> str:
    """A frame column's name in the row shape.

    Spark resolves a dot as a struct field, so the LLM columns' dots
    (``tokens.total``) become underscores (``tokens_total``).
    """
    return frame_name.replace(".", "_")


#: The trace table's typed columns, the span and assessment struct fields, by their
#: row names; the LLM columns (`polartrace.frame.llm`) travel as the frame holds
#: them, so a worker reads a trace's token totals without its spans.
TRACE_COLUMNS: Final = {
    row_name(n): t
    for n, t in {**_TRACE_SCHEMA, **LLM_TRACE_SCHEMA}.items()
    if n != "_key"
}
SPAN_FIELDS: Final = {
    row_name(n): t
    for n, t in {**_SPAN_SCHEMA, **LLM_SPAN_SCHEMA}.items()
    if n not in ("_key", "_span")
}
#: The row names of the trace-level LLM columns (a dataset may lack them).
LLM_TRACE_COLUMNS: Final = frozenset(map(row_name, LLM_TRACE_SCHEMA))
#: Each row name's frame column name.
FRAME_NAMES: Final = {
    row_name(n): n for n in (*_TRACE_SCHEMA, *_SPAN_SCHEMA, *LLM_SPAN_SCHEMA)
}
ASSESSMENT_FIELDS: Final = {n: t for n, t in _ASSESSMENT_SCHEMA.items() if n != "_key"}
#: The frame's key-per-column prefixes and the map each becomes.
TRACE_MAPS: Final = {TAG_PREFIX: TAGS, META_PREFIX: METADATA}

_MAP = pl.List(pl.Struct({"key": pl.String(), "value": pl.String()}))


def spark_type(dtype: pl.DataType) -> str:
    """The Spark SQL type of a frame column's dtype.

    Raises:
        TypeError: For a dtype the shape has no type for.
    """
    if isinstance(dtype, pl.String | pl.Enum | pl.Categorical):
        return "string"
    if isinstance(dtype, pl.Int64 | pl.UInt32 | pl.Int32 | pl.UInt64):
        return "bigint"
    if isinstance(dtype, pl.Float64 | pl.Float32):
        return "double"
    if isinstance(dtype, pl.Boolean):
        return "boolean"
    msg = f"no Spark type for frame dtype {dtype}"
    raise TypeError(msg)


def _arrow_type(dtype: pl.DataType) -> pa.DataType:
    return {
        "string": pa.string(),
        "bigint": pa.int64(),
        "double": pa.float64(),
        "boolean": pa.bool_(),
    }[spark_type(dtype)]


def _struct_ddl(fields: Mapping[str, pl.DataType], extra: str = "") -> str:
    inner = [f"`{n}`: {spark_type(t)}" for n, t in fields.items()]
    return "struct<" + ", ".join([*inner, *([extra] if extra else [])]) + ">"


def spark_ddl() -> str:
    """The Spark schema of the row shape, as a DDL string."""
    columns = [f"`{KEY}` bigint"]
    columns += [f"`{n}` {spark_type(t)}" for n, t in TRACE_COLUMNS.items()]
    columns += [f"`{TAGS}` map<string,string>", f"`{METADATA}` map<string,string>"]
    spans = _struct_ddl(SPAN_FIELDS, f"`{ATTRIBUTES}`: map<string,string>")
    columns += [
        f"`{SPANS}` array<{spans}>",
        f"`{ASSESSMENTS}` array<{_struct_ddl(ASSESSMENT_FIELDS)}>",
        f"`{PROMPTS}` array<string>",
        f"`{PAGE}` struct<" + ", ".join(f"`{n}`: string" for n in PAGE_COLUMNS) + ">",
    ]
    return ", ".join(columns)


def arrow_schema() -> pa.Schema:
    """The Arrow schema of the row shape (what `rows_from_frame` returns)."""
    text_map = pa.map_(pa.string(), pa.string())
    span = pa.struct(
        [pa.field(n, _arrow_type(t)) for n, t in SPAN_FIELDS.items()]
        + [pa.field(ATTRIBUTES, text_map)]
    )
    assessment = pa.struct(
        [pa.field(n, _arrow_type(t)) for n, t in ASSESSMENT_FIELDS.items()]
    )
    return pa.schema(
        [pa.field(KEY, pa.int64())]
        + [pa.field(n, _arrow_type(t)) for n, t in TRACE_COLUMNS.items()]
        + [
            pa.field(TAGS, text_map),
            pa.field(METADATA, text_map),
            pa.field(SPANS, pa.list_(span)),
            pa.field(ASSESSMENTS, pa.list_(assessment)),
            pa.field(PROMPTS, pa.list_(pa.string())),
            pa.field(PAGE, pa.struct([pa.field(n, pa.string()) for n in PAGE_COLUMNS])),
        ]
    )


# --- frame -> rows ------------------------------------------------------------------


def _entries(table: pl.DataFrame, prefix: str) -> pl.Expr:
    """The ``prefix`` columns of ``table`` as one list of (key, value) per row."""
    names = [c for c in table.columns if c.startswith(prefix)]
    if not names:
        return pl.lit([], dtype=_MAP)
    pairs = pl.concat_list(
        pl.struct(
            pl.lit(name[len(prefix) :]).alias("key"),
            pl.col(name).cast(pl.String).alias("value"),
        )
        for name in names
    )
    return pairs.list.filter(pl.element().struct.field("value").is_not_null())


def _plain(name: str, dtype: pl.DataType) -> pl.Expr:
    """A frame column as the row shape holds it: dictionary columns as strings."""
    column = pl.col(FRAME_NAMES[name])
    typed = column.cast(pl.String) if spark_type(dtype) == "string" else column
    return typed.alias(name)


def _nested(table: pl.DataFrame, name: str, value: pl.Expr) -> pl.DataFrame:
    """``value`` gathered into one list per ``_key``, in row order, as ``name``."""
    return table.group_by("_key", maintain_order=True).agg(value.alias(name))


def rows_from_frame(frame: TraceFrame, offset: int = 0) -> pa.Table:
    """The frame's traces as rows of the shape (``_key``: frame key + ``offset``)."""
    traces = frame.traces
    rows = traces.select(
        (pl.col("_key").cast(pl.Int64) + offset).alias(KEY),
        *(_plain(n, t) for n, t in TRACE_COLUMNS.items()),
        *(_entries(traces, p).alias(m) for p, m in TRACE_MAPS.items()),
    )
    spans = frame.spans
    span = pl.struct(
        *(_plain(n, t) for n, t in SPAN_FIELDS.items()),
        _entries(spans, RAW_PREFIX).alias(ATTRIBUTES),
    )
    assessment = pl.struct(
        pl.col(n).cast(pl.String) if n in ("kind", "name") else pl.col(n)
        for n in ASSESSMENT_FIELDS
    )
    parts = [
        _nested(spans, SPANS, span),
        _nested(frame.assessments, ASSESSMENTS, assessment),
        _nested(frame.prompts, PROMPTS, pl.col("prompt")),
    ]
    keys = traces.select("_key")
    for part, name in zip(parts, (SPANS, ASSESSMENTS, PROMPTS), strict=True):
        joined = keys.join(part, on="_key", how="left", maintain_order="left")[name]
        rows = rows.with_columns(joined.fill_null(pl.lit([], dtype=joined.dtype)))
    rows = rows.with_columns(frame.pages.select(pl.struct(PAGE_COLUMNS).alias(PAGE)))
    return _with_maps(rows.to_arrow(compat_level=pl.CompatLevel.oldest()))


def _map(entries: pa.Array) -> pa.MapArray:
    """A list of (key, value) structs as an Arrow map (no null lists)."""
    values = entries.values
    return pa.MapArray.from_arrays(
        entries.offsets, values.field("key"), values.field("value")
    )


def _with_maps(table: pa.Table) -> pa.Table:
    """Cast Polars' Arrow output to `arrow_schema`, lists of pairs becoming maps."""
    schema = arrow_schema()
    plain = pa.schema([pa.field(f.name, _unmapped(f.type)) for f in schema])
    table = table.select(schema.names).cast(plain).combine_chunks()
    columns = []
    for field, column in zip(schema, table.columns, strict=True):
        array = (
            column.combine_chunks()
            if column.num_chunks
            else pa.array([], type=field.type)
        )
        columns.append(_remap(array, field.type))
    return pa.Table.from_arrays(columns, schema=schema)


def _unmapped(dtype: pa.DataType) -> pa.DataType:
    """``dtype`` with each map written as a list of (key, value) structs."""
    if pa.types.is_map(dtype):
        return pa.list_(
            pa.struct([pa.field("key", pa.string()), pa.field("value", pa.string())])
        )
    if pa.types.is_list(dtype):
        return pa.list_(_unmapped(dtype.value_type))
    if pa.types.is_struct(dtype):
        return pa.struct([pa.field(f.name, _unmapped(f.type)) for f in dtype])
    return dtype


def _remap(array: pa.Array, dtype: pa.DataType) -> pa.Array:
    """``array`` (of `_unmapped` type) as ``dtype``, its lists of pairs as maps."""
    if pa.types.is_map(dtype):
        return _map(array)
    if pa.types.is_list(dtype) and _has_map(dtype):
        values = _remap(array.values, dtype.value_type)
        return pa.ListArray.from_arrays(array.offsets, values, mask=array.is_null())
    if pa.types.is_struct(dtype) and _has_map(dtype):
        children = [_remap(array.field(f.name), f.type) for f in dtype]
        return pa.StructArray.from_arrays(
            children, fields=list(dtype), mask=array.is_null()
        )
    return array


def _pairs(array: pa.Array) -> pa.Array:
    """``array`` with each map as a list of (key, value) structs (`_unmapped`)."""
    dtype = array.type
    if not _has_map(dtype):
        return array
    if pa.types.is_map(dtype):
        entries = pa.StructArray.from_arrays(
            [array.keys, array.items], names=["key", "value"]
        )
        return pa.ListArray.from_arrays(array.offsets, entries, mask=array.is_null())
    if pa.types.is_list(dtype):
        return pa.ListArray.from_arrays(
            array.offsets, _pairs(array.values), mask=array.is_null()
        )
    children = [_pairs(array.field(f.name)) for f in dtype]
    return pa.StructArray.from_arrays(
        children, names=[f.name for f in dtype], mask=array.is_null()
    )


def _has_map(dtype: pa.DataType) -> bool:
    if pa.types.is_map(dtype):
        return True
    if pa.types.is_list(dtype):
        return _has_map(dtype.value_type)
    if pa.types.is_struct(dtype):
        return any(_has_map(f.type) for f in dtype)
    return False


# --- rows -> frame ------------------------------------------------------------------


def _spread(
    table: pl.DataFrame, index: str, column: str, prefix: str
) -> pl.DataFrame | None:
    """A list-of-pairs column as one column per key (``prefix + key``), by ``index``."""
    long = (
        table.select(index, column)
        .explode(column)
        .drop_nulls(column)
        .unnest(column)
        .drop_nulls("value")
    )
    if long.is_empty():
        return None
    wide = long.pivot(on="key", index=index, values="value")
    return wide.rename({c: prefix + c for c in wide.columns if c != index})


def _typed(table: pl.DataFrame, schema: Mapping[str, pl.DataType]) -> list[pl.Expr]:
    """The ``schema`` columns (row names) of ``table``, typed, as frame columns."""
    return [
        (pl.col(n).cast(t) if n in table.columns else pl.lit(None, dtype=t)).alias(
            FRAME_NAMES.get(n, n)
        )
        for n, t in schema.items()
    ]


def _widen(table: pl.DataFrame, wide: pl.DataFrame | None, on: str) -> pl.DataFrame:
    """``table`` with the columns of ``wide`` joined on, as dictionary columns."""
    if wide is None:
        return table
    wide = wide.with_columns(pl.exclude(on).cast(pl.Categorical))
    wide = wide.with_columns(pl.col(on).cast(table.schema[on]))
    joined = table.join(wide, on=on, how="left", maintain_order="left")
    return compact_categoricals(joined)


def _exploded(df: pl.DataFrame, column: str) -> pl.DataFrame:
    return df.select("_key", column).explode(column).drop_nulls(column).unnest(column)


def frame_from_rows(batch: pa.RecordBatch | pa.Table) -> tuple[TraceFrame, pl.Series]:
    """The frame of a batch of rows, and each frame key's ``_key`` in the shape.

    The rows are taken in ``_key`` order, so the frame's row order is the dataset's.
    Columns of the shape the batch lacks (tables a plan does not read) become empty
    tables; a missing ``page`` leaves the frame with a page table of nulls (it
    searches; no output is built from it).
    """
    if isinstance(batch, pa.Table):
        batch = (
            batch.combine_chunks().to_batches()[0]
            if batch.num_rows
            else (pa.RecordBatch.from_pylist([], schema=batch.schema))
        )
    columns = [_pairs(column) for column in batch.columns]
    df = pl.from_arrow(pa.Table.from_arrays(columns, names=batch.schema.names))
    assert isinstance(df, pl.DataFrame)
    df = df.sort(KEY)
    positions = df[KEY]
    df = df.with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_key"))
    traces = df.select(pl.col("_key"), *_typed(df, TRACE_COLUMNS))
    for prefix, name in TRACE_MAPS.items():
        if name in df.columns:
            traces = _widen(traces, _spread(df, "_key", name, prefix), "_key")
    span_schema = {"_key": pl.UInt32(), **SPAN_FIELDS}
    if SPANS in df.columns:
        found = _exploded(df, SPANS).with_columns(
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("_span")
        )
        spans = found.select(
            pl.col("_key"), pl.col("_span"), *_typed(found, SPAN_FIELDS)
        )
        spans = spans.with_columns(
            pl.col(n).cast(pl.Categorical) for n in ("name", "type")
        )
        spans = compact_categoricals(spans)
        if ATTRIBUTES in found.columns:
            raw = _spread(found, "_span", ATTRIBUTES, RAW_PREFIX)
            if raw is not None:
                raw = raw.with_columns(pl.col("_span").cast(pl.UInt32))
                spans = spans.join(raw, on="_span", how="left", maintain_order="left")
    else:
        spans = pl.DataFrame(schema={**span_schema, "_span": pl.UInt32()})
    spans = spans.select("_key", "_span", pl.exclude("_key", "_span"))
    if ASSESSMENTS in df.columns:
        found = _exploded(df, ASSESSMENTS)
        assessments = compact_categoricals(
            found.select(
                pl.col("_key"), *_typed(found, ASSESSMENT_FIELDS)
            ).with_columns(pl.col(n).cast(pl.Categorical) for n in ("kind", "name"))
        )
    else:
        assessments = pl.DataFrame(schema=_ASSESSMENT_SCHEMA)
    if PROMPTS in df.columns:
        prompts = (
            df.select("_key", pl.col(PROMPTS).alias("prompt"))
            .explode("prompt")
            .drop_nulls("prompt")
        )
    else:
        prompts = pl.DataFrame(schema={"_key": pl.UInt32(), "prompt": pl.String()})
    if PAGE in df.columns:
        pages = df.select(pl.col(PAGE).struct.unnest()).cast(pl.Schema(PAGE_SCHEMA))
    else:
        pages = pl.DataFrame(
            [pl.Series(n, [None] * df.height, dtype=t) for n, t in PAGE_SCHEMA.items()]
        )
    if not set(df.columns) >= LLM_TRACE_COLUMNS:
        # Rows of a dataset written without the LLM columns: derived as a Parquet
        # read derives them (the spans travel whenever these columns do not).
        llm = [*LLM_TRACE_SCHEMA, *LLM_SPAN_SCHEMA]
        traces, spans = with_llm_columns(
            traces.drop(llm, strict=False), spans.drop(llm, strict=False), _compact
        )
    frame = TraceFrame(traces, spans, assessments, prompts, pages=pages)
    return frame, positions
