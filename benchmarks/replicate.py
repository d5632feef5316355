"""``python -m benchmarks.replicate``: a bigger dataset from copies of a generated one.

Generating and building 10M traces takes hours on the benchmark machine; a scan's
throughput does not depend on which traces it reads. This writes ``--copies``
copies of a polartrace Parquet dataset as one dataset: copy ``c`` gets keys shifted
by ``c`` times the source's size and ``-c<c>`` appended to its trace ids and session
ids (so ids stay unique and sessions stay within a copy). The ``json`` table (the
page texts) is copied as it is: output built from a copy shows the source's ids, so
the result is for timing searches and counts, not for reading pages.

Example::

    python -m benchmarks.replicate benchmarks/data/frame-1m-seed0-<fp> \\
        benchmarks/data/replicated-10m --copies 10
    POLARTRACE_BENCH_DATASET_10M=benchmarks/data/replicated-10m \\
        python -m benchmarks.scaling --traces 10m --engines lazy
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--copies", type=int, default=10)
    args = parser.parse_args()
    replicate(args.source, args.out, args.copies)
    return 0


if __name__ == "__main__":
    sys.exit(main())
