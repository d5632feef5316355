"""``python -m benchmarks.metrics``: ``metrics()`` against the same query by hand.

The query is the issue's: ``count``, ``error_rate`` and ``p95(latency)`` by
``tags.environment`` every hour, over every trace. The contenders answer it on the
same traces:

* polartrace: ``polartrace.metrics(frame, metrics=[...], group_by=..., every="1h")``
  returning Polars, on the frame in memory;
* polartrace, scanned (``--traces`` sizes): the same call on
  ``scan_traces(dataset)``, the cached Parquet dataset read out of core (only the
  four columns the query reads, streamed);
* hand-written Polars: one ``group_by`` over the hour (epoch-ms floor division, as
  polartrace buckets) and the environment;
* DuckDB: the same ``GROUP BY`` in SQL over the Arrow table (``quantile_cont`` is
  the linear interpolation polartrace uses);
* MLflow (``--mlflow``, ``--traces`` sizes): ``query_trace_metrics`` on MLflow's
  SQLite store of the same traces (`benchmarks.mlflow_metrics`), two calls per
  environment. MLflow must be installed (``pip install 'mlflow>=3.17,<4'``); the
  store is built on first use (`benchmarks.mlflow_store`, minutes at 100k).

The answers are checked equal before anything is timed: times, groups and counts
exactly, rates and percentiles within 1e-9 relative. polartrace, its scanned
variant and hand-written Polars are timed in alternating rounds
(`benchmarks.timing.interleaved`), so their ratios share the machine's load;
DuckDB and MLflow are timed alone after them. ``--traces`` sizes read the
benchmark's generated data (`benchmarks.data`); ``--synthetic`` sizes build a
trace table of those columns directly (environments, a month of request times,
lognormal latencies, about one error in eight).

Examples::

    python -m benchmarks.metrics --traces 1m --repeat 7
    python -m benchmarks.metrics --traces 100k --mlflow
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
from benchmarks.data import dataset_path, jsonl_path, label, load_frame, log
from benchmarks.timing import Contender, Timing, fmt_seconds, interleaved, measure
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


def with_polartrace(frame: Any) -> pl.DataFrame:
    """The query through ``polartrace.metrics`` (on a frame or a scanned dataset)."""
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


def _rows(table: Any) -> list[tuple[Any, ...]]:
    """``(time ms, env, count, error_rate, p95)`` rows of any contender's answer."""
    frame = pl.from_arrow(table) if not isinstance(table, pl.DataFrame) else table
    assert isinstance(frame, pl.DataFrame)
    first = frame.columns[0]
    if frame.schema[first] != pl.Int64:  # polartrace's UTC datetimes
        frame = frame.with_columns(pl.col(first).dt.epoch("ms"))
    return frame.rows()


def check(answers: dict[str, Any]) -> int:
    """Assert every contender's answer equals the first one's; the row count.

    Times, groups and counts exactly; rates and percentiles within 1e-9 relative
    (the engines interpolate the same way, in different float operations).
    """
    (first, want), *others = ((k, _rows(v)) for k, v in answers.items())
    for name, got in others:
        assert len(got) == len(want), (name, len(got), first, len(want))
        for a, b in zip(want, got, strict=True):
            assert a[:3] == b[:3], (first, a, name, b)
            for x, y in zip(a[3:], b[3:], strict=True):
                if x is None or y is None:  # an hour of in-progress traces only
                    assert x is y, (first, a, name, b)
                    continue
                assert math.isclose(x, y, rel_tol=1e-9), (first, a, name, b)
    return len(want)


def run(
    frame: TraceFrame,
    name: str,
    repeat: int,
    *,
    scanned: Any = None,
    mlflow: Any = None,
) -> dict[str, Timing]:
    """Check the contenders agree, time them and print one table."""
    traces = frame.traces
    duck = duckdb_runner(traces)
    together = {
        "polartrace.metrics": Contender(lambda: with_polartrace(frame)),
        "hand-written Polars": Contender(lambda: by_hand(traces)),
    }
    if scanned is not None:
        together["polartrace, scanned"] = Contender(lambda: with_polartrace(scanned))
    alone = {"DuckDB SQL": duck}
    if mlflow is not None:
        alone["MLflow query_trace_metrics"] = mlflow.query
    answers = {k: c.fn() for k, c in together.items()}
    answers |= {k: fn() for k, fn in alone.items()}
    rows = check(answers)
    del answers
    timings, _ = interleaved(together, repeat, collect=False, budget=1.0)
    for key, fn in alone.items():
        timings[key] = measure(fn, repeat if key == "DuckDB SQL" else 3)[0]
    base = timings["hand-written Polars"].median
    print(f"\n{name}: {len(frame):,} traces, {rows} rows")
    print(f"{'contender':<28}{'median':>10}{'min':>10}{'max':>10}{'vs Polars':>11}")
    for key, timing in timings.items():
        ratio = timing.median / base
        print(
            f"{key:<28}{fmt_seconds(timing.median):>10}{fmt_seconds(timing.low):>10}"
            f"{fmt_seconds(timing.high):>10}{ratio:>10.2f}x"
        )
    return timings


def _mlflow(n: int, frame: TraceFrame) -> Any:
    from benchmarks.mlflow_metrics import MlflowMetrics
    from benchmarks.mlflow_store import build_store

    path, experiment = build_store(jsonl_path(n), n)
    environments = frame.traces[ENV].drop_nulls().unique().cast(pl.String).to_list()
    return MlflowMetrics(path, experiment, sorted(environments))


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run each size."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.metrics")
    parser.add_argument("--traces", nargs="*", type=_size, default=[])
    parser.add_argument("--synthetic", nargs="*", type=_size, default=[])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--mlflow",
        action="store_true",
        help="also MLflow's query_trace_metrics on its SQLite store (--traces sizes)",
    )
    parser.add_argument(
        "--no-scanned",
        action="store_true",
        help="skip the scan_traces contender of --traces sizes",
    )
    args = parser.parse_args(argv)
    for n in args.traces:
        log(f"loading the generated {label(n)} frame")
        frame = load_frame(n)
        scanned = None if args.no_scanned else polartrace.scan_traces(dataset_path(n))
        mlflow = _mlflow(n, frame) if args.mlflow else None
        run(frame, f"generated {label(n)}", args.repeat, scanned=scanned, mlflow=mlflow)
    for n in args.synthetic:
        log(f"building a synthetic {label(n)} trace table")
        run(synthetic_frame(n), f"synthetic {label(n)}", args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
