"""The longer ``polartrace`` commands: ``demo`` and ``generate``.

Kept apart from ``cli.py`` (argument parsing, output formats and exit codes) so that
each stays short; nothing here is public API.
"""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Any, Final, TextIO

from polartrace.api.metrics import metrics
from polartrace.api.search import count, search_traces
from polartrace.cli.table import render_table
from polartrace.frame.trace_frame import TraceFrame
from polartrace.generate import generate_jsonl_lines, write_jsonl
from polartrace.io import DatasetWriter, read_traces, write_parquet
from polartrace.model.trace import Trace

__all__ = ["generate", "output_kind", "run_demo"]

#: The tutorial's quick reference, adapted to the generated data.
DEMO_SEARCHES: Final = (
    ("by status", "status = 'ERROR'"),
    ("a date range", "timestamp_ms >= '2025-01-08' AND timestamp_ms < '2025-01-15'"),
    ("slow requests", "execution_time_ms > 2500"),
    ("one user", "metadata.`mlflow.trace.user` = 'rupert.dubois@my_company.com'"),
    ("a tag", "tags.environment = 'production'"),
    ("by trace name", "name LIKE '%_agent'"),
    ("combined", "status = 'OK' AND tags.environment = 'production' AND latency < 500"),
    ("has a span", "span.name = 'retriever'"),
    ("one failing LLM span", "span.type = 'LLM' AND span.status = 'ERROR'"),
    ("feedback", "feedback.relevance > 0.5"),
    ("full text", "text LIKE '%refund%'"),
    ("OR / NOT", "status = 'ERROR' OR NOT tags.environment = 'production'"),
)
_CHUNK: Final = 10_000


def output_kind(path: str | Path) -> str:
    """``jsonl``, ``json`` or ``parquet`` (a dataset directory), from the name."""
    name = str(path).lower().removesuffix(".gz")
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    return "json" if name.endswith(".json") else "parquet"


def generate(n: int, out: str | Path, *, seed: int = 0) -> str:
    """Write ``n`` synthetic traces to ``out`` in the format its name implies.

    Parquet datasets are written in chunks, so memory stays flat for any ``n``.
    """
    kind = output_kind(out)
    if kind == "jsonl":
        write_jsonl(out, n, seed=seed)
    elif kind == "json":
        lines = generate_jsonl_lines(n, seed=seed)
        Path(out).write_text("[" + ",\n".join(lines) + "]\n", encoding="utf-8")
    else:
        lines = generate_jsonl_lines(n, seed=seed)
        with DatasetWriter(out, overwrite=True) as writer:
            while chunk := list(itertools.islice(lines, _CHUNK)):
                writer.write(TraceFrame.from_traces(Trace.from_json(t) for t in chunk))
    return kind


# --- demo -----------------------------------------------------------------------------


def _timed(fn: Any, *args: Any, **kwargs: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - start


#: The demo's metrics: the issue's example query, by day over the demo's month.
DEMO_METRICS: Final = ("count", "error_rate", "p95(latency)")


def _demo_metrics(
    frame: TraceFrame, directory: Path, out: TextIO, *, kept: bool
) -> None:
    """Print the metrics by environment and chart them by day into ``directory``."""
    table = metrics(
        frame, metrics=list(DEMO_METRICS), group_by="tags.environment",
        return_type="polars",
    )  # fmt: skip
    out.write("Metrics by environment (polartrace.metrics / polartrace stats):\n")
    out.write(render_table(table.rows(), table.columns) + "\n\n")
    try:
        import matplotlib  # noqa: F401  (the optional 'chart' extra)
    except ImportError:
        out.write("Install matplotlib (pip install 'matplotlib>=3.8') for charts.\n\n")
        return
    from polartrace.cli.stats import chart_columns, write_chart

    every = "1d"
    by_day = metrics(
        frame, metrics=list(DEMO_METRICS), group_by="tags.environment", every=every,
        return_type="polars",
    )  # fmt: skip
    chart = directory / "metrics.png"
    columns = chart_columns(list(DEMO_METRICS), ["tags.environment"], every, "trace")
    title = ", ".join(DEMO_METRICS) + " by tags.environment every 1d"
    write_chart(by_day.to_dicts(), columns, str(chart), title)
    gone = "" if kept else " (removed with the temporary directory; use --dir)"
    out.write(f"Chart of those metrics by day: {chart}{gone}\n\n")


def run_demo(directory: Path, n: int, out: TextIO, *, kept: bool) -> int:
    """Generate ``n`` traces under ``directory``, load them and run example searches.

    ``kept`` says whether ``directory`` outlives the command (``--dir``); if not, the
    closing hints point at ``demo-data/`` and say how to create it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    jsonl = directory / "traces.jsonl.gz"
    parquet = directory / "traces.parquet"
    _, t_gen = _timed(write_jsonl, jsonl, n, seed=0)
    frame, t_load = _timed(read_traces, jsonl)
    _, t_write = _timed(write_parquet, frame, parquet, overwrite=True)
    frame, t_parquet = _timed(read_traces, parquet)
    out.write(
        f"polartrace demo: {n:,} synthetic GenAI traces in {directory}\n"
        f"  generated {jsonl.name} ({jsonl.stat().st_size / 1e6:.1f} MB) "
        f"in {t_gen:.1f} s\n"
        f"  loaded it in {t_load:.1f} s; wrote the Parquet dataset {parquet.name} in "
        f"{t_write:.1f} s; loaded that in {t_parquet:.2f} s\n\n"
    )
    rows = []
    for what, text in DEMO_SEARCHES:
        count(frame, text)  # the first run derives columns; time the second
        matched, seconds = _timed(count, frame, text)
        rows.append([what, text, matched, seconds * 1000])
    out.write(
        render_table(rows, ["what", "filter", "matches", "ms"], width=70) + "\n\n"
    )
    slow = search_traces(
        frame,
        "status = 'ERROR'",
        order_by=["execution_time_ms DESC"],
        max_results=5,
        return_type="list",
    )
    out.write("The five slowest failed traces (order_by execution_time_ms DESC):\n")
    table = [
        [
            t.info.trace_id,
            t.info.trace_name,
            t.info.execution_duration,
            (t.info.request_preview or "")[:40],
        ]
        for t in slow
    ]
    out.write(render_table(table, ["trace_id", "name", "ms", "request"]) + "\n\n")
    _demo_metrics(frame, directory, out, kept=kept)
    where = directory if kept else Path("demo-data")
    keep = (
        ""
        if kept
        else "  polartrace demo --dir demo-data     # keep the data this time\n"
    )
    out.write(
        "Try it yourself:\n"
        f"{keep}"
        f"  polartrace search {where / parquet.name} "
        "\"span.type = 'LLM' AND span.status = 'ERROR'\" --max-results 5\n"
        f'  polartrace count {where / jsonl.name} "feedback.relevance > 0.5"\n'
        "  polartrace explain \"tags.environment = 'production' OR latency > 2500\"\n"
        f"  polartrace stats {where / parquet.name} --metric 'p95(latency)' "
        "--metric error_rate --by tags.environment --every 1d --chart chart.png\n"
        "  polartrace fields\n"
    )
    return 0
