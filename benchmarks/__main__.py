"""``python -m benchmarks``: run the benchmarks, print a table, write JSON.

Examples::

    python -m benchmarks --traces 10000 100000          # the quick run
    python -m benchmarks --traces 1000000 --skip-mlflow   # the headline size
    python -m benchmarks --traces 100000 --queries status span_name --repeat 7

Data is generated on first use and cached under ``benchmarks/data/``; the JSON goes
to ``--json`` (default ``benchmarks/results/<timestamp>.json``).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks import queries, report
from benchmarks.run import Options, run


def _size(text: str) -> int:
    text = text.lower().replace("_", "").replace(",", "")
    scale = 1
    if text.endswith("k"):
        scale, text = 1_000, text[:-1]
    elif text.endswith("m"):
        scale, text = 1_000_000, text[:-1]
    return int(float(text) * scale)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--traces",
        nargs="+",
        type=_size,
        default=[10_000, 100_000],
        help="sizes (10000, 100k, 1m); default 10k 100k",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=5,
        help="samples per median (≥5; counts and pages take up to 41 if they fit "
        "in a second)",
    )
    parser.add_argument("--json", type=Path, default=None, help="results file")
    parser.add_argument(
        "--queries",
        nargs="+",
        default=None,
        help=f"query ids: {', '.join(q.id for q in queries.QUERIES)}",
    )
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--skip-duckdb", action="store_true")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument(
        "--skip-build",
        action="store_true",
        help="skip frame build timings (fresh processes)",
    )
    parser.add_argument("--skip-output", action="store_true")
    parser.add_argument(
        "--reference-max",
        type=_size,
        default=100_000,
        help="largest size for the reference evaluator",
    )
    parser.add_argument(
        "--mlflow-max",
        type=_size,
        default=100_000,
        help="largest size for MLflow's store",
    )
    parser.add_argument(
        "--mlflow-repeat",
        type=int,
        default=3,
        help="samples for MLflow (its searches take seconds)",
    )
    parser.add_argument(
        "--mlflow-all-max",
        type=_size,
        default=10_000,
        help="largest size for MLflow returning every match",
    )
    parser.add_argument(
        "--all-max",
        type=_size,
        default=100_000,
        help="largest size for searches returning every match (at 1M, 850k rows of "
        "12 columns next to the frame exceed 24 GB)",
    )
    parser.add_argument(
        "--build-max",
        type=_size,
        default=100_000,
        help="largest size for read_traces(JSONL) and an inferring pl.read_ndjson "
        "(fresh processes; at 1M each needs more than 24 GB)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)  # fmt: skip
    if args.repeat < 5:
        parser.error("--repeat must be at least 5 (medians of five or more)")
    opts = Options(
        sizes=sorted(args.traces),
        repeat=args.repeat,
        queries=queries.by_id(args.queries),
        skip_mlflow=args.skip_mlflow,
        skip_duckdb=args.skip_duckdb,
        skip_reference=args.skip_reference,
        reference_max=args.reference_max,
        mlflow_max=args.mlflow_max,
        mlflow_repeat=args.mlflow_repeat,
        mlflow_all_max=args.mlflow_all_max,
        all_max=args.all_max,
        build_max=args.build_max,
        skip_build=args.skip_build,
        skip_output=args.skip_output,
        seed=args.seed,
    )
    results = run(opts)
    results["options"] = {
        "sizes": opts.sizes, "repeat": opts.repeat,
        "queries": [queries.summary(q) for q in opts.queries],
    }  # fmt: skip
    text = report.render(results)
    print(text)
    out = args.json or Path(__file__).resolve().parent / "results" / (
        time.strftime("%Y%m%d-%H%M%S") + ".json"
    )
    report.write_json(results, out)
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
