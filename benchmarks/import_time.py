"""``python -m benchmarks.import_time``: what starting polartrace costs a process.

Each command runs in a fresh interpreter, timed from the parent (wall time of the
whole process, start-up and exit included), in alternating rounds: every command once
per round, each round starting one command later, so that load on a shared machine
falls on all of them alike. One untimed warm-up round fills the file cache.

    python -m benchmarks.import_time --rounds 15

Targets: ``import polartrace`` within 0.15 s of ``import polars`` (the median of the
per-round differences), and ``polartrace --help`` under 0.5 s (its median). The public
names load on first use, so ``import polartrace`` alone loads almost nothing;
``from polartrace import search_traces``, what a program pays before its first search
(Polars, the parser, the engine), is held to the same 0.15 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from benchmarks.timing import Timing, fmt_seconds

ROOT: Final = Path(__file__).resolve().parents[1]

POLARS: Final = "import polars"
POLARTRACE: Final = "import polartrace"
FIRST_USE: Final = "from polartrace import search_traces"
HELP: Final = "polartrace --help"

# Row -> the command line after the interpreter. Run from the repository root, so
# the children import this checkout's polartrace.
COMMANDS: Final[dict[str, tuple[str, ...]]] = {
    POLARS: ("-c", "import polars"),
    POLARTRACE: ("-c", "import polartrace"),
    FIRST_USE: ("-c", "from polartrace import search_traces"),
    HELP: ("-m", "polartrace.cli.main", "--help"),
}

IMPORT_TARGET: Final = 0.15  # seconds more than import polars, at most
HELP_TARGET: Final = 0.5  # seconds, below


def run_once(args: Sequence[str]) -> float:
    """Wall seconds of one fresh interpreter running ``args``."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=True,
        timeout=120,
    )
    return time.perf_counter() - start


def sample(rounds: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per command per round, in alternating rounds after ``warmup``."""
    names = list(COMMANDS)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(warmup + rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            seconds = run_once(COMMANDS[name])
            if round_ >= warmup:
                samples[name].append(seconds)
    return samples


def summary(values: Sequence[float]) -> Timing:
    """Median and spread of ``values``."""
    return Timing(statistics.median(values), min(values), max(values), len(values))


def _verdict(met: bool) -> str:
    return "met" if met else "missed"


def render(samples: dict[str, list[float]]) -> str:
    """The table of medians and spreads, and each target met or missed."""
    rounds = len(samples[POLARS])
    lines = [
        f"process wall time, {rounds} alternating round{'s' * (rounds != 1)} "
        "(median, min-max)",
        "",
    ]
    for name, values in samples.items():
        t = summary(values)
        spread = f"{fmt_seconds(t.low)} - {fmt_seconds(t.high)}"
        lines.append(f"  {name:40s} {fmt_seconds(t.median):>9s}   {spread}")
    lines.append("")
    for name in (POLARTRACE, FIRST_USE):
        diff = summary(
            [a - b for a, b in zip(samples[name], samples[POLARS], strict=True)]
        )
        row = (
            f"  {name} - {POLARS}: {diff.median * 1e3:+.0f} ms "
            f"({diff.low * 1e3:+.0f} to {diff.high * 1e3:+.0f} ms, paired by round)"
        )
        met = diff.median <= IMPORT_TARGET
        row += f"; target <= +{IMPORT_TARGET * 1e3:.0f} ms: {_verdict(met)}"
        lines.append(row)
    help_ = summary(samples[HELP])
    lines.append(
        f"  {HELP}: {fmt_seconds(help_.median)}; target < "
        f"{fmt_seconds(HELP_TARGET)}: {_verdict(help_.median < HELP_TARGET)}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, sample, print the table."""
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.import_time",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--rounds", type=int, default=15, help="timed rounds (default 15)"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    print(render(sample(args.rounds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
