"""``python -m benchmarks.spans``: ``search_spans`` against the same table by hand.

The issue's target: a span table of 100k spans to Polars in under a second. Two
queries on the benchmark's generated data (`benchmarks.data`):

* ``llm``: every LLM span, newest trace first (``"span.type = 'LLM'"``, the
  default order), with the trace's user as a column;
* ``top``: the 100,000 spans with the most tokens (``order_by=["span.tokens.total
  DESC"]``, ``max_results=100_000``).

Each runs through ``polartrace.search_spans(..., return_type="polars")`` and as
hand-written Polars over the frame's own tables (filter, join the trace columns,
sort, slice), which knows the layout and builds fewer columns. The row ids are
checked equal before anything is timed.

Example::

    python -m benchmarks.spans --traces 100k
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import polars as pl

import polartrace
from benchmarks.__main__ import _size
from benchmarks.data import label, load_frame, log
from benchmarks.timing import fmt_seconds, measure
from polartrace.frame.trace_frame import TraceFrame

USER = "meta:mlflow.trace.user"
TOP = 100_000


def _hand(frame: TraceFrame, query: str) -> pl.DataFrame:
    """The query written in Polars by someone who knows the frame's tables."""
    traces = frame.traces.select(
        "_key",
        "trace_id",
        "request_time",
        pl.col(USER).cast(pl.String).alias("user"),
    )
    spans = frame.spans.lazy()
    if query == "llm":
        spans = spans.filter(pl.col("type") == "LLM")
    table = spans.join(traces.lazy(), on="_key").with_columns(
        pl.col("start_ns").cast(pl.Datetime("ns", "UTC")).alias("start_time"),
        pl.col("end_ns").cast(pl.Datetime("ns", "UTC")).alias("end_time"),
    )
    if query == "llm":
        table = table.sort(
            ["request_time", "trace_id", "start_ns", "_key", "_span"],
            descending=[True, False, False, False, False],
        )
    else:
        table = table.sort(
            ["tokens.total", "request_time", "trace_id", "start_ns", "_key", "_span"],
            descending=[True, True, False, False, False, False],
            nulls_last=True,
        ).head(TOP)
    return table.select(
        "trace_id", "span_id", "name", "model", "tokens.total", "duration_ms"
    ).collect()


def _ours(frame: TraceFrame, query: str) -> pl.DataFrame:
    if query == "llm":
        table = polartrace.search_spans(frame, "span.type = 'LLM'", columns=["user"])
    else:
        table = polartrace.search_spans(
            frame, order_by=["span.tokens.total DESC"], max_results=TOP
        )
    assert isinstance(table, pl.DataFrame)
    return table


def run(frame: TraceFrame, name: str, repeat: int) -> None:
    """Check both answers agree, time them and print one table."""
    print(f"\n{name}: {len(frame):,} traces, {frame.spans.height:,} spans")
    print(f"{'query':<6}{'rows':>9}{'search_spans':>14}{'by hand':>10}{'ratio':>8}")
    for query in ("llm", "top"):
        ours, hand = _ours(frame, query), _hand(frame, query)
        ids = ["trace_id", "span_id"]
        assert ours.select(ids).equals(hand.select(ids)), query
        calls: dict[str, Callable[[], object]] = {
            "ours": lambda q=query: _ours(frame, q),  # type: ignore[misc]
            "hand": lambda q=query: _hand(frame, q),  # type: ignore[misc]
        }
        timings = {k: measure(fn, repeat)[0] for k, fn in calls.items()}
        a, b = timings["ours"].median, timings["hand"].median
        print(
            f"{query:<6}{ours.height:>9,}{fmt_seconds(a):>14}{fmt_seconds(b):>10}"
            f"{a / b:>7.2f}x"
        )


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run each size."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.spans")
    parser.add_argument("--traces", nargs="*", type=_size, default=[])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    for n in args.traces:
        log(f"loading the generated {label(n)} frame")
        run(load_frame(n), f"generated {label(n)}", args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
