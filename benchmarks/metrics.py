"""``python -m benchmarks.metrics``: ``metrics()`` against the same query by hand.

The query is the issue's: ``count``, ``error_rate`` and ``p95(latency)`` by
``tags.environment`` every hour, over every trace. Three contenders answer it on the
same trace table:

* polartrace: ``polartrace.metrics(frame, metrics=[...], group_by=..., every="1h")``
  returning Polars;
* hand-written Polars: one ``group_by`` over the hour (epoch-ms floor division, as
  polartrace buckets) and the environment;
* DuckDB: the same ``GROUP BY`` in SQL over the Arrow table (``quantile_cont`` is
  the linear interpolation polartrace uses).

The answers are checked equal before anything is timed. ``--traces`` sizes read the
benchmark's generated data (`benchmarks.data`); ``--synthetic`` sizes build a trace
table of those columns directly (environments, a month of request times, lognormal
latencies, about one error in eight), for sizes whose generated data would not fit
the machine: the metrics read nothing else.

Examples::

    python -m benchmarks.metrics --traces 100k
    python -m benchmarks.metrics --synthetic 1m --repeat 7
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np
import polars as pl

import polartrace
from benchmarks.__main__ import _size
from benchmarks.data import label, load_frame, log
from benchmarks.timing import fmt_seconds, measure
from polartrace.frame.schema import (
    _ASSESSMENT_SCHEMA,
    _PROMPT_SCHEMA,
    _SPAN_SCHEMA,
    STATE_ENUM,
)
from polartrace.frame.trace_frame import TraceFrame
from polartrace.generate import DEFAULT_START_MS

HOUR_MS = 3_600_000
METRICS = ["count", "error_rate", "p95(latency)"]
ENV = "tag:environment"


def synthetic_frame(n: int, seed: int = 0) -> TraceFrame:
    """A frame of ``n`` traces holding only what the metrics read (no spans)."""
    rng = np.random.default_rng(seed)
    envs = rng.choice(["production", "staging", "dev"], n, p=[0.68, 0.2, 0.12])
    traces = pl.DataFrame(
        {
            "_key": pl.Series(np.arange(n), dtype=pl.UInt32),
            "trace_id": [f"tr-{i:032x}" for i in range(n)],
            "state": pl.Series(
                np.where(rng.random(n) < 0.125, "ERROR", "OK"), dtype=STATE_ENUM
            ),
            "request_time": DEFAULT_START_MS
            + rng.integers(0, 30 * 24 * HOUR_MS, n, dtype=np.int64),
            "execution_duration": rng.lognormal(7, 1, n).astype(np.int64),
            ENV: pl.Series(envs).cast(pl.Enum(["dev", "production", "staging"])),
        }
    )
    spans = pl.DataFrame(schema=_SPAN_SCHEMA)
    assessments = pl.DataFrame(schema=_ASSESSMENT_SCHEMA)
    prompts = pl.DataFrame(schema=_PROMPT_SCHEMA)
    return TraceFrame(traces, spans, assessments, prompts, objects=[])


def with_polartrace(frame: TraceFrame) -> pl.DataFrame:
    """The query through ``polartrace.metrics``."""
    table = polartrace.metrics(
        frame,
        metrics=METRICS,
        group_by="tags.environment",
        every="1h",
        return_type="polars",
    )
    assert isinstance(table, pl.DataFrame)
    return table


def by_hand(traces: pl.DataFrame) -> pl.DataFrame:
    """The query written in Polars by someone who knows the table."""
    hour = pl.col("request_time").floordiv(HOUR_MS) * HOUR_MS
    return (
        traces.group_by(hour.alias("time"), pl.col(ENV).cast(pl.String))
        .agg(
            pl.len().alias("count"),
            (pl.col("state") == "ERROR").mean().alias("error_rate"),
            pl.col("execution_duration").quantile(0.95, "linear").alias("p95"),
        )
        .sort("time", ENV, nulls_last=True)
    )


_SQL = """
SELECT request_time // 3600000 * 3600000 AS time, env,
       count(*) AS count,
       avg(CASE WHEN state = 'ERROR' THEN 1.0 ELSE 0.0 END) AS error_rate,
       quantile_cont(execution_duration, 0.95) AS p95
FROM t GROUP BY ALL ORDER BY time, env NULLS LAST
"""


def duckdb_runner(traces: pl.DataFrame) -> Any:
    """A call that runs the query in DuckDB over the Arrow table (loaded once)."""
    import duckdb

    con = duckdb.connect()
    arrow = traces.select(
        "request_time",
        "execution_duration",
        pl.col("state").cast(pl.String),
        pl.col(ENV).cast(pl.String).alias("env"),
    ).to_arrow()
    con.register("t", arrow)
    return lambda: con.sql(_SQL).to_arrow_table()


def _check(ours: pl.DataFrame, hand: pl.DataFrame, duck: Any) -> None:
    theirs = pl.from_arrow(duck)
    assert isinstance(theirs, pl.DataFrame)
    assert ours.height == hand.height == theirs.height
    for a, b, c in zip(ours.rows(), hand.rows(), theirs.rows(), strict=True):
        assert a[1:3] == b[1:3] == c[1:3], (a, b, c)
        for x, y, z in zip(a[3:], b[3:], c[3:], strict=True):
            if None in (x, y, z):  # an hour of in-progress traces has no latency
                assert x is y is z, (a, b, c)
                continue
            assert math.isclose(x, y, rel_tol=1e-9), (a, b)
            assert math.isclose(x, z, rel_tol=1e-9), (a, c)


def run(frame: TraceFrame, name: str, repeat: int) -> None:
    """Check the contenders agree, time them and print one table."""
    traces = frame.traces
    duck = duckdb_runner(traces)
    _check(with_polartrace(frame), by_hand(traces), duck())
    contenders = {
        "polartrace.metrics": lambda: with_polartrace(frame),
        "hand-written Polars": lambda: by_hand(traces),
        "DuckDB SQL": duck,
    }
    timings = {k: measure(fn, repeat)[0] for k, fn in contenders.items()}
    base = timings["hand-written Polars"].median
    print(f"\n{name}: {len(frame):,} traces, {with_polartrace(frame).height} rows")
    print(f"{'contender':<22}{'median':>10}{'min':>10}{'vs Polars':>11}")
    for key, timing in timings.items():
        ratio = timing.median / base
        print(
            f"{key:<22}{fmt_seconds(timing.median):>10}{fmt_seconds(timing.low):>10}"
            f"{ratio:>10.2f}x"
        )


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run each size."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.metrics")
    parser.add_argument("--traces", nargs="*", type=_size, default=[])
    parser.add_argument("--synthetic", nargs="*", type=_size, default=[])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    for n in args.traces:
        log(f"loading the generated {label(n)} frame")
        run(load_frame(n), f"generated {label(n)}", args.repeat)
    for n in args.synthetic:
        log(f"building a synthetic {label(n)} trace table")
        run(synthetic_frame(n), f"synthetic {label(n)}", args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
