"""Benchmark data: generated JSONL per size, cached, and a cached frame per size.

``benchmarks/data/`` (gitignored) holds, per size ``n`` and seed:

``traces-<n>-seed<s>-g<generator version>.jsonl``
    ``polartrace.generate.write_jsonl(path, n, seed=s)``; about 5.3 KB a trace, so
    1M traces is 5.3 GB, written once.
``frame-<n>-seed<s>-<fingerprint>/``
    The frame of that file as a polartrace Parquet dataset, so that a run loads 1M
    traces in seconds. The fingerprint hashes the modules that decide the frame's
    layout, so a layout change rebuilds it. It is built in chunks of ``CHUNK``
    traces through ``Trace`` objects: neither a 1M-trace frame of objects nor the
    columnar reader's whole-file read of 5.3 GB would fit in the benchmark
    machine's 24 GB. The page tables hold ``Trace.to_json``'s texts,
    which equal the generated lines. Chunks only differ from one frame when a
    session-scoped assessment spans a chunk boundary, which does not change any
    benchmark query.

``POLARTRACE_BENCH_DATASET_<LABEL>`` (e.g. ``POLARTRACE_BENCH_DATASET_1M``) names
an existing dataset to use instead, for measuring code whose changes do not touch
the layout against a dataset built by an earlier commit (a 1M build takes 10-25
minutes). Datasets of other fingerprints are left in place: the data directory
may be shared by several working trees.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import shutil
import sys
import time
from pathlib import Path

import polartrace
from polartrace.frame.trace_frame import TraceFrame
from polartrace.generate import GENERATOR_VERSION, write_jsonl
from polartrace.model.trace import Trace

DATA = Path(__file__).resolve().parent / "data"
CHUNK = 100_000
#: The modules (and packages) that decide what a cached dataset holds: the frame's
#: tables, its page table (the JSON texts and result parts), and the Parquet layout.
_LAYOUT_MODULES = (
    "frame", "model", "values", "generate", "io/parquet.py", "io/_columnar.py",
)  # fmt: skip


def label(n: int) -> str:
    """``10k``, ``100k``, ``1m``; other sizes as digits."""
    if n % 1_000_000 == 0:
        return f"{n // 1_000_000}m"
    if n % 1_000 == 0:
        return f"{n // 1_000}k"
    return str(n)


def log(message: str) -> None:
    """Progress on stderr, so stdout stays the table."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def jsonl_path(n: int, seed: int = 0) -> Path:
    """The generated JSONL file of ``n`` traces, written on first use."""
    DATA.mkdir(parents=True, exist_ok=True)
    path = DATA / f"traces-{label(n)}-seed{seed}-g{GENERATOR_VERSION}.jsonl"
    if not path.exists():
        log(f"generating {n:,} traces into {path.name} (cached for later runs)")
        partial = path.with_suffix(".jsonl.partial")
        write_jsonl(partial, n, seed=seed)
        partial.replace(path)
    return path


def fingerprint() -> str:
    """A short hash of the modules that decide the frame layout."""
    root = Path(polartrace.__file__).resolve().parent
    digest = hashlib.sha256()
    for name in _LAYOUT_MODULES:
        path = root / name
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        for file in files:
            digest.update(file.read_bytes())
    return digest.hexdigest()[:10]


def dataset_path(n: int, seed: int = 0) -> Path:
    """The cached Parquet dataset of the frame of ``n`` traces, built on first use."""
    chosen = os.environ.get(f"POLARTRACE_BENCH_DATASET_{label(n).upper()}")
    if chosen:
        if not (Path(chosen) / "manifest.json").exists():
            msg = f"POLARTRACE_BENCH_DATASET_{label(n).upper()}={chosen} is no dataset"
            raise SystemExit(msg)
        log(f"using the dataset {chosen} (from the environment)")
        return Path(chosen)
    path = DATA / f"frame-{label(n)}-seed{seed}-{fingerprint()}"
    if (path / "manifest.json").exists():
        return path
    source = jsonl_path(n, seed)
    from polartrace.io.parquet import DatasetWriter

    start = time.perf_counter()
    partial = path.with_name(path.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    with DatasetWriter(partial) as writer:
        log(f"building the {label(n)} frame in chunks of {CHUNK:,}")
        with source.open(encoding="utf-8") as handle:
            while chunk := list(itertools.islice(handle, CHUNK)):
                traces = [Trace.from_json(line) for line in chunk if line.strip()]
                writer.write(TraceFrame.from_traces(traces))
                del traces
                log(f"  {writer.traces:,} traces")
    os.replace(partial, path)
    log(f"cached {path.name} in {time.perf_counter() - start:.0f} s")
    return path


def load_frame(n: int, seed: int = 0) -> TraceFrame:
    """The frame of ``n`` generated traces, from the cached dataset."""
    return polartrace.read_traces(dataset_path(n, seed), format="parquet")
