"""``python -m benchmarks.replicate``: a bigger dataset from copies of a generated one.

Generating and building 10M traces would take over 80 minutes and 56 GB of JSONL on
the benchmark machine (1M: 8 minutes, 5.6 GB); a scan's
throughput does not depend on which traces it reads. This writes ``--copies``
copies of a polartrace Parquet dataset as one dataset: copy ``c`` gets keys shifted
by ``c`` times the source's size and ``-c<c>`` appended to its trace ids and session
ids (so ids stay unique and sessions stay within a copy). The ``json`` table (the
page texts) is copied as it is: output built from a copy shows the source's ids, so
the result is for timing searches and counts, not for reading pages.

``--spark-rows`` copies Spark rows (``polartrace.spark`` layout, e.g. the
``spark-rows-frame-1m-...`` that ``benchmarks.scaling`` converts) the same way, in
Spark and without a shuffle: the same rows ``read_dataset`` makes of the replicated
dataset. Converting 10M traces with ``read_dataset`` joins five tables, and its
shuffle outgrew the benchmark machine's 47 GB of free disk.

Example::

    python -m benchmarks.replicate benchmarks/data/frame-1m-seed0-<fp> \\
        benchmarks/data/replicated-10m --copies 10
    python -m benchmarks.replicate --spark-rows \\
        benchmarks/data/spark-rows-frame-1m-seed0-<fp> \\
        benchmarks/data/spark-rows-replicated-10m --copies 10
    POLARTRACE_BENCH_DATASET_10M=benchmarks/data/replicated-10m \\
        python -m benchmarks.scaling --traces 10m --engines lazy,spark
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

import polars as pl

from benchmarks.data import log
from polartrace.frame.schema import META_PREFIX
from polartrace.io.parquet import MANIFEST, TABLES, read_manifest, table_files
from polartrace.values.conventions import SESSION_KEY

_SESSION = META_PREFIX + SESSION_KEY


def replicate(source: Path, out: Path, copies: int) -> None:
    """Write ``copies`` copies of the dataset ``source`` as the dataset ``out``."""
    manifest = read_manifest(source)
    size = int(manifest["traces"])
    if out.exists():
        shutil.rmtree(out)
    for name in TABLES:
        (out / name).mkdir(parents=True)
    start = time.perf_counter()
    for copy in range(copies):
        for name in TABLES:
            for i, file in enumerate(table_files(source, name)):
                table = pl.read_parquet(file)
                shifted = [pl.col("_key") + copy * size]
                if name == "traces":
                    suffix = f"-c{copy}" if copy else ""
                    shifted.append(pl.col("trace_id") + suffix)
                    if _SESSION in table.columns:  # one dtype in every part
                        shifted.append(pl.col(_SESSION).cast(pl.String) + suffix)
                table = table.with_columns(shifted)
                part = copy * len(table_files(source, name)) + i
                table.write_parquet(out / name / f"part-{part:05d}.parquet")
        log(f"copy {copy + 1}/{copies} written ({time.perf_counter() - start:.0f} s)")
    manifest.update(traces=size * copies, parts=int(manifest["parts"]) * copies)
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def replicate_rows(source: Path, out: Path, copies: int) -> None:
    """Write ``copies`` copies of the Spark rows ``source`` as the rows ``out``.

    Copy ``c`` is shifted as `replicate` shifts it: ``_key``, ``trace_id`` and the
    session in ``trace_metadata``. The ``page`` struct is copied as it is, as the
    ``json`` table is.
    """
    from pyspark.sql import functions as F

    from benchmarks.scaling import spark_session

    spark = spark_session()
    rows = spark.read.parquet(str(source))
    size = rows.count()
    partial = out.with_name(out.name + ".partial")
    start = time.perf_counter()
    for copy in range(copies):
        # withColumn on an existing name keeps the column's position.
        shifted = rows.withColumn("_key", F.col("_key") + copy * size)
        if copy:
            suffix = F.lit(f"-c{copy}")
            shifted = shifted.withColumn(
                "trace_id", F.concat("trace_id", suffix)
            ).withColumn(
                "trace_metadata",
                F.transform_values(
                    "trace_metadata",
                    # Called once, here, to build the column.
                    lambda k, v: F.when(
                        k == SESSION_KEY,
                        F.concat(v, suffix),  # noqa: B023
                    ).otherwise(v),
                ),
            )
        shifted.write.mode("append" if copy else "overwrite").parquet(str(partial))
        log(f"copy {copy + 1}/{copies} written ({time.perf_counter() - start:.0f} s)")
    spark.stop()
    if out.exists():
        shutil.rmtree(out)
    partial.replace(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument(
        "--spark-rows", action="store_true", help="copy Spark rows, not a dataset"
    )
    args = parser.parse_args()
    if args.spark_rows:
        replicate_rows(args.source, args.out, args.copies)
    else:
        replicate(args.source, args.out, args.copies)
    return 0


if __name__ == "__main__":
    sys.exit(main())
