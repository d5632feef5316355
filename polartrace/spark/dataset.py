"""polartrace's Parquet dataset as a Spark DataFrame of trace rows.

`read_dataset` reads the tables a `polartrace convert` / `write_parquet` dataset
holds (``traces``, ``spans``, ``assessments``, ``prompts``, ``json``; split by
``day=YYYY-MM-DD`` directories with ``--partition-by-day``, which Spark reads as a
``day`` partition column) with ``spark.read.parquet`` and assembles one row per
trace in the shape of `polartrace.spark.layout`: per-key columns become maps,
each trace's spans, assessments and prompts become arrays (spans in their order),
joined on the dataset's ``_key``. The ``json`` table's page table rows become the
``page`` struct; a version-1 dataset, which stored whole texts, has them cut into
page rows by the workers (`polartrace.frame.pages.from_texts`).
`to_spark` turns frames or traces in memory into the same shape.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import polars as pl
import pyarrow as pa
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from polartrace.frame.llm import LLM_SPAN_SCHEMA, LLM_TRACE_SCHEMA
from polartrace.frame.pages import PAGE_COLUMNS, from_texts
from polartrace.frame.schema import META_PREFIX, RAW_PREFIX, TAG_PREFIX
from polartrace.frame.session_scope import rescope, scoped_assessments
from polartrace.frame.trace_frame import TraceFrame
from polartrace.io.parquet import read_manifest
from polartrace.model.trace import Trace
from polartrace.spark.layout import (
    ASSESSMENT_FIELDS,
    ASSESSMENTS,
    ATTRIBUTES,
    FRAME_NAMES,
    KEY,
    METADATA,
    PAGE,
    PROMPTS,
    SPAN_FIELDS,
    SPANS,
    TAGS,
    TRACE_COLUMNS,
    rows_from_frame,
    spark_type,
)
from polartrace.spark.pushdown import DAY, column
from polartrace.values.conventions import SESSION_KEY

__all__ = ["read_dataset", "to_spark"]

_TEXT_MAP = "map<string,string>"
LLM_COLUMNS = frozenset(LLM_TRACE_SCHEMA) | frozenset(LLM_SPAN_SCHEMA)
_PAGE_DDL = "struct<" + ", ".join(f"`{n}`: string" for n in PAGE_COLUMNS) + ">"


def _cut_texts(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """A version-1 ``json`` table's whole texts as page table rows (on the workers)."""
    for batch in batches:
        rows = pl.from_arrow(batch)
        assert isinstance(rows, pl.DataFrame)
        pages = from_texts(rows["json"].to_list())
        table = pl.DataFrame({KEY: rows[KEY]}).with_columns(
            pages.select(pl.struct(PAGE_COLUMNS).alias(PAGE))
        )
        yield from table.to_arrow(compat_level=pl.CompatLevel.oldest()).to_batches()


def _typed(columns: Iterable[str], schema: Mapping[str, pl.DataType]) -> list[Column]:
    """The ``schema`` columns, typed under their row names; a missing one is null.

    The LLM columns are left out when the dataset was written without them: the
    workers derive them.
    """
    present = set(columns)
    typed = [(FRAME_NAMES.get(n, n), n, t) for n, t in schema.items()]
    return [
        (column(f) if f in present else F.lit(None)).cast(spark_type(t)).alias(n)
        for f, n, t in typed
        if f in present or f not in LLM_COLUMNS
    ]


def _text_map(columns: Iterable[str], prefix: str) -> Column:
    """The ``prefix`` columns as one map per row, without the missing keys."""
    pairs: list[Column] = []
    for name in columns:
        if name.startswith(prefix):
            pairs += [F.lit(name[len(prefix) :]), column(name).cast("string")]
    if not pairs:
        return F.create_map().cast(_TEXT_MAP)
    return F.map_filter(F.create_map(*pairs), lambda _, v: v.isNotNull())


def _by_span(left: Column, right: Column) -> Column:
    a, b = left["_span"], right["_span"]
    return F.when(a < b, -1).when(a > b, 1).otherwise(0)


def _polars(df: DataFrame) -> pl.DataFrame:
    table = pl.from_arrow(df.toArrow())
    assert isinstance(table, pl.DataFrame)
    return table


def _rescoped(
    spark: SparkSession, stored: DataFrame, traces: DataFrame, pages: DataFrame
) -> DataFrame:
    """The assessment rows with session-scoped ones expanded over the whole dataset.

    A dataset written in parts stores them expanded within their part
    (`polartrace.frame.session_scope`); the rows of the traces they reach are
    rebuilt as `polartrace.io.read_parquet` rebuilds them. Only the assessments
    texts that name the session key, and the keys of their sessions' traces, come to
    the driver; the rebuilt rows replace the stored rows of those traces.
    """
    texts = pages.select(KEY, F.col(PAGE)["assessments"].alias("text"))
    named = _polars(texts.where(F.col("text").contains(SESSION_KEY)))
    scoped = scoped_assessments(named[KEY], named["text"])
    if not scoped:
        return stored
    session = META_PREFIX + SESSION_KEY
    if session in traces.columns:
        names = sorted({str(a.session_id) for _, a in scoped})
        members = _polars(
            traces.select(
                F.col(KEY).cast("bigint").alias(KEY),
                column(session).cast("string").alias("session"),
            ).where(F.col("session").isin(names))
        )
    else:
        members = pl.DataFrame(schema={KEY: pl.Int64(), "session": pl.String()})

    def texts_of(keys: Sequence[int]) -> pl.Series:
        wanted = spark.createDataFrame([(k,) for k in keys], f"{KEY} bigint")
        found = _polars(texts.join(wanted, on=KEY))
        order = pl.DataFrame({KEY: list(keys)}, schema={KEY: pl.Int64()})
        return order.join(found, on=KEY, how="left", maintain_order="left")["text"]

    scope = rescope(scoped, members, texts_of)
    reached = spark.createDataFrame([(int(k),) for k in scope.keys], f"{KEY} bigint")
    rows = scope.rows.with_columns(
        pl.col(KEY).cast(pl.Int64),
        *(pl.col(n).cast(pl.String) for n in ("kind", "name")),
    )
    rebuilt = spark.createDataFrame(rows.to_arrow())
    kept = stored.withColumn(KEY, F.col(KEY).cast("bigint")).join(
        reached, on=KEY, how="left_anti"
    )
    return kept.select(
        *_typed(kept.columns, {KEY: pl.Int64(), **ASSESSMENT_FIELDS})
    ).unionByName(
        rebuilt.select(*_typed(rebuilt.columns, {KEY: pl.Int64(), **ASSESSMENT_FIELDS}))
    )


def read_dataset(spark: SparkSession, path: str | os.PathLike[str]) -> DataFrame:
    """A polartrace Parquet dataset as a DataFrame of trace rows.

    Raises:
        TraceFormatError: If ``path`` is not a polartrace Parquet dataset.
    """
    root = Path(path)
    version = read_manifest(root)["version"]

    def table(name: str) -> DataFrame:
        return spark.read.option("mergeSchema", "true").parquet(str(root / name))

    traces = table("traces")
    trace_columns = traces.columns
    extra = [F.col(DAY)] if DAY in trace_columns else []
    rows = traces.select(
        F.col(KEY).cast("bigint").alias(KEY),
        *_typed(trace_columns, TRACE_COLUMNS),
        _text_map(trace_columns, TAG_PREFIX).alias(TAGS),
        _text_map(trace_columns, META_PREFIX).alias(METADATA),
        *extra,
    )
    spans = table("spans")
    span = F.struct(
        F.col("_span").cast("bigint").alias("_span"),
        *_typed(spans.columns, SPAN_FIELDS),
        _text_map(spans.columns, RAW_PREFIX).alias(ATTRIBUTES),
    )
    span_lists = spans.groupBy(F.col(KEY).cast("bigint").alias(KEY)).agg(
        F.transform(
            F.array_sort(F.collect_list(span), _by_span),
            lambda s: s.dropFields("_span"),
        ).alias(SPANS)
    )
    texts = table("json")
    if version == 1:
        pages = texts.select(F.col(KEY).cast("bigint").alias(KEY), "json").mapInArrow(
            _cut_texts, f"`{KEY}` bigint, `{PAGE}` {_PAGE_DDL}"
        )
    else:
        pages = texts.select(
            F.col(KEY).cast("bigint").alias(KEY),
            F.struct(*(F.col(n).cast("string").alias(n) for n in PAGE_COLUMNS)).alias(
                PAGE
            ),
        )
    assessments = _rescoped(spark, table("assessments"), traces, pages)
    assessment_lists = assessments.groupBy(F.col(KEY).cast("bigint").alias(KEY)).agg(
        F.collect_list(F.struct(*_typed(assessments.columns, ASSESSMENT_FIELDS))).alias(
            ASSESSMENTS
        )
    )
    prompt_lists = (
        table("prompts")
        .groupBy(F.col(KEY).cast("bigint").alias(KEY))
        .agg(F.collect_list(F.col("prompt").cast("string")).alias(PROMPTS))
    )
    for part in (span_lists, assessment_lists, prompt_lists, pages):
        rows = rows.join(part, on=KEY, how="left")
    empty = {
        SPANS: span_lists.schema[SPANS].dataType.simpleString(),
        ASSESSMENTS: assessment_lists.schema[ASSESSMENTS].dataType.simpleString(),
        PROMPTS: "array<string>",
    }
    filled = [
        F.coalesce(F.col(name), F.array().cast(kind)).alias(name)
        for name, kind in empty.items()
    ]
    keep = [c for c in rows.columns if c not in empty]
    shape = [KEY, *TRACE_COLUMNS, TAGS, METADATA, SPANS, ASSESSMENTS, PROMPTS, PAGE]
    ordered = [c for c in shape if c in rows.columns]
    return rows.select(*map(column, keep), *filled).select(
        *map(column, ordered), *(column(c) for c in rows.columns if c not in ordered)
    )


def to_spark(
    spark: SparkSession, traces: TraceFrame | Iterable[Trace], *, partitions: int = 1
) -> DataFrame:
    """Frames or traces in memory as a DataFrame of trace rows (``partitions`` of it).

    Rows are split into ``partitions`` contiguous ranges of ``_key``.
    """
    frame = traces if isinstance(traces, TraceFrame) else TraceFrame.from_traces(traces)
    table = rows_from_frame(frame)
    df = spark.createDataFrame(table)
    if partitions > 1:
        df = df.repartitionByRange(partitions, KEY)
    return df
