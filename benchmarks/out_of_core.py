"""Out-of-core search: peak memory of ``scan_traces`` versus the size of the dataset.

Generates N traces into a polartrace Parquet dataset chunk by chunk (memory stays flat
while writing), then runs searches with ``scan_traces`` in a fresh child process and
reports that process's peak RSS next to the dataset's size on disk. With ``--eager``
it also loads the whole dataset with ``read_traces`` in another child, for contrast.

    python benchmarks/out_of_core.py --traces 200000          # ~300 MB on disk
    python benchmarks/out_of_core.py --traces 200000 --eager

The dataset is cached under ``benchmarks/data/`` (git-ignored) and reused. The
latest results are in docs/performance.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
QUERIES = (
    "status = 'ERROR'",
    "timestamp_ms >= '2025-01-08' AND timestamp_ms < '2025-01-15'",
    "tags.environment = 'production' AND execution_time_ms > 2500",
    "span.type = 'LLM' AND span.status = 'ERROR'",
    "feedback.relevance > 0.5",
    "text LIKE '%refund%'",
    "span.attributes.`mlflow.spanType` = 'RETRIEVER' OR NOT name LIKE '%_agent'",
)


def build(path: Path, n: int, chunk: int) -> float:
    from polartrace import Trace, TraceFrame
    from polartrace.generate import generate_jsonl_lines
    from polartrace.io import DatasetWriter

    start = time.perf_counter()
    lines = generate_jsonl_lines(n, seed=0)
    partial = path.with_name(path.name + ".partial")
    with DatasetWriter(partial, overwrite=True) as writer:
        while batch := list(itertools.islice(lines, chunk)):
            writer.write(TraceFrame.from_traces(Trace.from_json(t) for t in batch))
            print(f"  wrote {writer.traces:,} traces", file=sys.stderr)
    partial.replace(path)
    return time.perf_counter() - start


def peak_rss_mb() -> float:
    """Peak resident memory of this process (VmHWM; ru_maxrss survives fork+exec)."""
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child_lazy(path: str, batch_rows: int) -> None:
    from polartrace.api.lazy import LazyTraceFrame

    baseline = peak_rss_mb()
    lazy = LazyTraceFrame(path, batch_rows=batch_rows)
    results = []
    for query in QUERIES:
        start = time.perf_counter()
        matched = lazy.count(query)
        results.append((query, matched, time.perf_counter() - start))
    start = time.perf_counter()
    page = lazy.search(
        "status = 'ERROR'",
        order_by=["execution_time_ms DESC"],
        max_results=10,
        return_type="list",
    )
    results.append(
        ("search top 10 slowest errors", len(page), time.perf_counter() - start)
    )
    print(json.dumps({"baseline": baseline, "peak": peak_rss_mb(), "results": results}))


def child_eager(path: str) -> None:
    from polartrace import count, read_traces

    baseline = peak_rss_mb()
    start = time.perf_counter()
    frame = read_traces(path, format="parquet")
    load = time.perf_counter() - start
    results = [("read_traces (eager)", len(frame), load)]
    for query in QUERIES:
        start = time.perf_counter()
        results.append((query, count(frame, query), time.perf_counter() - start))
    print(json.dumps({"baseline": baseline, "peak": peak_rss_mb(), "results": results}))


def run_child(*args: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def report(title: str, data: dict[str, object]) -> None:
    print(
        f"\n{title}: peak RSS {data['peak']:.0f} MB "
        f"(after imports {data['baseline']:.0f} MB)"
    )
    for query, matched, seconds in data["results"]:  # type: ignore[attr-defined]
        print(f"  {seconds * 1000:9.1f} ms  {matched:>9,}  {query}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=200_000)
    parser.add_argument("--chunk", type=int, default=20_000)
    parser.add_argument("--batch-rows", type=int, default=20_000)
    parser.add_argument("--eager", action="store_true", help="also measure read_traces")
    parser.add_argument("--child", choices=("lazy", "eager"), help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "lazy":
        child_lazy(args.path, args.batch_rows)
        return
    if args.child == "eager":
        child_eager(args.path)
        return
    path = ROOT / "data" / f"out-of-core-{args.traces}"
    if not (path / "manifest.json").exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        seconds = build(path, args.traces, args.chunk)
        print(f"built {args.traces:,} traces in {seconds:.0f} s", file=sys.stderr)
    size = sum(f.stat().st_size for f in path.rglob("*.parquet")) / 1e6
    print(f"dataset: {args.traces:,} traces, {size:.0f} MB of Parquet at {path}")
    report(
        "scan_traces (streaming)",
        run_child(
            "--child", "lazy", "--path", str(path), "--batch-rows", str(args.batch_rows)
        ),
    )
    if args.eager:
        report(
            "read_traces (in memory)",
            run_child("--child", "eager", "--path", str(path)),
        )


if __name__ == "__main__":
    main()
