"""Scaling: the in-memory engine, ``scan_traces`` and Spark local mode, same queries.

    python -m benchmarks.scaling --traces 100k

Builds (once, cached under ``benchmarks/data/``) the generated dataset of N traces as
a polartrace Parquet dataset, chunk by chunk (`benchmarks.data.dataset_path`), and
its Spark rows (`polartrace.spark.read_dataset`, written back as Parquet). Each
engine then runs in its own child process, so each peak memory is its own:

* ``memory``: ``read_traces`` of the dataset, then ``count`` per filter;
* ``lazy``: ``scan_traces`` (out of core), ``count`` per filter;
* ``spark``: ``polartrace.spark.count`` per filter on the Spark rows, ``local[2]``.

The filters are the tutorial's twelve quick-reference searches (``polartrace demo``)
and eight extension filters (trace-level questions, ``ILIKE``, ``RLIKE``, ``IN``).
Agreement: every engine's counts, and every engine's ordered keys (the default
order) must be equal; the script exits 1 otherwise. The keys are of *every* match
when the in-memory engine runs, else of the first ``PAGE`` matches: every match of
20 filters at 10M traces is tens of millions of keys on the driver. Throughput is
traces scanned per second of ``count``.
Peak memory is the child's resident high-water mark; for Spark it is the sum over
the driver, its JVM and the Python workers.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks import data
from benchmarks.data import log
from polartrace.cli.demo import DEMO_SEARCHES

EXTENSIONS = (
    "ANY SPAN (type = 'AGENT') HAS CHILD (type = 'LLM')",
    "ANY SPAN (type = 'CHAIN') HAS NO DESCENDANT (status = 'ERROR')",
    "EVERY SPAN (status = 'OK') AND span_count > 3",
    "count(SPAN WHERE type = 'LLM') >= 2",
    "max(span.duration_ms WHERE type = 'LLM') > 2000",
    "name ILIKE '%AGENT%' AND tags.environment IN ('production', 'staging')",
    "request_id RLIKE '^tr-[0-9a-f]{2}7'",
    "depth >= 4 OR status = 'ERROR'",
)
FILTERS = tuple(text for _, text in DEMO_SEARCHES) + EXTENSIONS
#: How many matches of each filter are compared in order without the in-memory engine.
PAGE = 1_000
SPARK_CONF = {
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    # Local mode runs the executors in the driver's JVM.
    "spark.driver.memory": os.environ.get("POLARTRACE_SPARK_MEMORY", "2g"),
    # Every match of 20 filters at 1M is more than Spark's default 1 GB of results.
    "spark.driver.maxResultSize": "0",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.driver.host": "127.0.0.1",
    "spark.driver.bindAddress": "127.0.0.1",
}


def spark_session() -> Any:
    from pyspark.sql import SparkSession

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    builder = SparkSession.builder.master("local[2]").appName("polartrace-scaling")
    for key, value in SPARK_CONF.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def rows_path(n: int) -> Path:
    """The Spark rows of the dataset of ``n`` traces, converted on first use."""
    source = data.dataset_path(n)
    path = data.DATA / f"spark-rows-{source.name}"
    if not (path / "_SUCCESS").exists():
        from polartrace.spark import read_dataset

        spark = spark_session()
        start = time.perf_counter()
        read_dataset(spark, source).write.mode("overwrite").parquet(str(path))
        log(f"converted to Spark rows in {time.perf_counter() - start:.0f} s")
        spark.stop()
    return path


def _rss_mb(pid: int) -> float:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in text.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _tree_rss_mb() -> float:
    """Peak RSS of this process and every descendant still running."""
    found = subprocess.run(
        ["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True, check=True
    )
    children: dict[int, list[int]] = {}
    for line in found.stdout.splitlines():
        pid, ppid = (int(x) for x in line.split())
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [os.getpid()]
    while todo:
        pid = todo.pop()
        total += _rss_mb(pid)
        todo += children.get(pid, [])
    return total


def child(engine: str, n: int, keys_limit: int | None) -> dict[str, Any]:
    """Run one engine's queries; the result as JSON-able data.

    ``keys`` are the first ``keys_limit`` matches of each filter, in the default
    order (all of them when ``None``); they are timed apart from the counts.
    """
    import polartrace
    from polartrace.spark.partition import search_plan

    result: dict[str, Any] = {"engine": engine, "counts": [], "seconds": []}
    start = time.perf_counter()
    if engine == "memory":
        from polartrace.engines.polars.engine import PolarsEngine

        frame = polartrace.read_traces(data.dataset_path(n), format="parquet")
        result["load_seconds"] = time.perf_counter() - start
        for text in FILTERS:
            t0 = time.perf_counter()
            result["counts"].append(polartrace.count(frame, text))
            result["seconds"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        engine_ = PolarsEngine(frame)
        result["keys"] = [engine_.keys(search_plan(t, (), keys_limit)) for t in FILTERS]
        result["keys_seconds"] = time.perf_counter() - t0
    elif engine == "lazy":
        lazy = polartrace.scan_traces(data.dataset_path(n))
        result["load_seconds"] = time.perf_counter() - start
        for text in FILTERS:
            t0 = time.perf_counter()
            result["counts"].append(lazy.count(text))
            result["seconds"].append(time.perf_counter() - t0)
        from polartrace.engines.lazy import LazyEngine

        t0 = time.perf_counter()
        scanned = LazyEngine(lazy)
        result["keys"] = [scanned.keys(search_plan(t, (), keys_limit)) for t in FILTERS]
        result["keys_seconds"] = time.perf_counter() - t0
    else:
        import polars as pl

        from polartrace import spark as pts
        from polartrace.spark.api import candidates_many, page_keys, searched

        spark = spark_session()
        rows = spark.read.parquet(str(rows_path(n)))
        result["load_seconds"] = time.perf_counter() - start
        pts.count(rows, "status = 'OK'")  # the workers' first import
        for text in FILTERS:
            t0 = time.perf_counter()
            result["counts"].append(pts.count(rows, text))
            result["seconds"].append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        searches = [(t, (), keys_limit) for t in FILTERS]
        plans, found = candidates_many(rows, searches)
        table = pl.from_arrow(found.toArrow())
        assert isinstance(table, pl.DataFrame)
        result["keys"] = [
            page_keys(searched(table, i, plan), plan, keys_limit)
            for i, plan in enumerate(plans)
        ]
        result["keys_seconds"] = time.perf_counter() - t0
        result["peak_rss_mb"] = _tree_rss_mb()
        spark.stop()
        return result
    result["peak_rss_mb"] = _rss_mb(os.getpid())
    return result


def run(n: int, engines: list[str]) -> int:
    data.dataset_path(n)
    if "spark" in engines:
        rows_path(n)
    # Every match when the in-memory engine runs (it holds them all anyway).
    keys_limit = None if "memory" in engines else PAGE
    results = {}
    for engine in engines:
        log(f"{engine}: {len(FILTERS)} filters over {n:,} traces")
        # The child's stderr (progress, Spark's log, a traceback) passes through.
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks.scaling",
                "--child",
                engine,
                "--traces",
                str(n),
                "--keys-limit",
                str(keys_limit or 0),
            ],
            stdout=subprocess.PIPE,
            text=True,
            check=False,
        )
        if done.returncode:
            log(f"{engine} failed (exit {done.returncode}); the others still run")
            continue
        results[engine] = json.loads(done.stdout.strip().splitlines()[-1])
    failed = [e for e in engines if e not in results]
    engines = [e for e in engines if e in results]
    if not results:
        return 1
    base = results[engines[0]]
    agree = all(r["counts"] == base["counts"] for r in results.values())
    keys_agree = all(r["keys"] == base["keys"] for r in results.values())
    print("| filter | matches | " + " | ".join(f"{e} s" for e in engines) + " |")
    print("|---|---:|" + "---:|" * len(engines))
    for i, text in enumerate(FILTERS):
        times = " | ".join(f"{results[e]['seconds'][i]:.3f}" for e in engines)
        print(f"| `{text}` | {base['counts'][i]:,} | {times} |")
    print()
    for engine, result in results.items():
        total = sum(result["seconds"])
        print(
            f"{engine}: load {result['load_seconds']:.1f} s, {len(FILTERS)} counts "
            f"{total:.1f} s, {n * len(FILTERS) / total:,.0f} traces/s, peak RSS "
            f"{result['peak_rss_mb']:,.0f} MB"
        )
    which = "every match" if keys_limit is None else f"the first {keys_limit:,} matches"
    for engine, result in results.items():
        print(
            f"{engine}: {which} of all {len(FILTERS)} filters in order "
            f"{result['keys_seconds']:.1f} s"
        )
    print(f"counts agree: {agree}; ordered keys ({which}) agree: {keys_agree}")
    out = Path(__file__).resolve().parent / "results" / f"scaling-{data.label(n)}.json"
    summary = {
        e: {k: v for k, v in r.items() if k != "keys"} for e, r in results.items()
    }
    summary["agreement"] = {
        "counts": agree,
        "ordered_keys": keys_agree,
        "keys_limit": keys_limit,
    }
    out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if failed:
        print(f"failed: {', '.join(failed)}")
    return 0 if agree and keys_agree and not failed else 1


def _size(text: str) -> int:
    text = text.lower().replace("_", "")
    for suffix, factor in (("m", 1_000_000), ("k", 1_000)):
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=_size, default=100_000)
    parser.add_argument("--engines", default="memory,lazy,spark")
    parser.add_argument("--child", choices=("memory", "lazy", "spark"))
    parser.add_argument("--keys-limit", type=int, default=0, help="0: every match")
    args = parser.parse_args()
    if args.child:
        limit = args.keys_limit or None
        print(json.dumps(child(args.child, args.traces, limit)))
        return 0
    return run(args.traces, args.engines.split(","))


if __name__ == "__main__":
    sys.exit(main())
