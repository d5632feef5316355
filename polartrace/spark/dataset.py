"""polartrace's Parquet dataset as a Spark DataFrame of trace rows.

`read_dataset` reads the tables a `polartrace convert` / `write_parquet` dataset
holds (``traces``, ``spans``, ``assessments``, ``prompts``, ``json``; split by
``day=YYYY-MM-DD`` directories with ``--partition-by-day``, which Spark reads as a
``day`` partition column) with ``spark.read.parquet`` and assembles one row per
trace in the shape of `polartrace.spark.layout`: per-key columns become maps,
each trace's spans, assessments and prompts become arrays (spans in their order),
joined on the dataset's ``_key``. Of the ``json`` table only the text is read.
`to_spark` turns frames or traces in memory into the same shape.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

import polars as pl
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from polartrace.frame.schema import META_PREFIX, RAW_PREFIX, TAG_PREFIX
from polartrace.frame.trace_frame import TraceFrame
from polartrace.io.parquet import read_manifest
from polartrace.model.trace import Trace
from polartrace.spark.layout import (
    ASSESSMENT_FIELDS,
    ASSESSMENTS,
    ATTRIBUTES,
    JSON,
    KEY,
    METADATA,
    PROMPTS,
    SPAN_FIELDS,
    SPANS,
    TAGS,
    TRACE_COLUMNS,
    rows_from_frame,
    spark_type,
)
from polartrace.spark.pushdown import DAY

__all__ = ["read_dataset", "to_spark"]

_TEXT_MAP = "map<string,string>"


def _col(name: str) -> Column:
    """A column by its exact name (tag and attribute keys hold dots and colons)."""
    return F.col("`" + name.replace("`", "``") + "`")


def _typed(columns: Iterable[str], schema: Mapping[str, pl.DataType]) -> list[Column]:
    present = set(columns)
    return [
        (_col(n) if n in present else F.lit(None)).cast(spark_type(t)).alias(n)
        for n, t in schema.items()
    ]


def _text_map(columns: Iterable[str], prefix: str) -> Column:
    """The ``prefix`` columns as one map per row, without the missing keys."""
    pairs: list[Column] = []
    for name in columns:
        if name.startswith(prefix):
            pairs += [F.lit(name[len(prefix) :]), _col(name).cast("string")]
    if not pairs:
        return F.create_map().cast(_TEXT_MAP)
    return F.map_filter(F.create_map(*pairs), lambda _, v: v.isNotNull())


def _by_span(left: Column, right: Column) -> Column:
    a, b = left["_span"], right["_span"]
    return F.when(a < b, -1).when(a > b, 1).otherwise(0)


def read_dataset(spark: SparkSession, path: str | os.PathLike[str]) -> DataFrame:
    """A polartrace Parquet dataset as a DataFrame of trace rows.

    Raises:
        TraceFormatError: If ``path`` is not a polartrace Parquet dataset.
    """
    root = Path(path)
    read_manifest(root)

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
    assessments = table("assessments")
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
    texts = table("json").select(
        F.col(KEY).cast("bigint").alias(KEY), F.col(JSON).cast("string").alias(JSON)
    )
    for part in (span_lists, assessment_lists, prompt_lists, texts):
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
    ordered = [KEY, *TRACE_COLUMNS, TAGS, METADATA, SPANS, ASSESSMENTS, PROMPTS, JSON]
    return rows.select(*keep, *filled).select(
        *ordered, *(c for c in rows.columns if c not in ordered)
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
