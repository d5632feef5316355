"""``python -m benchmarks.columns``: a page of ``search_traces`` with ``columns=``.

A 100-row page costs about the same with a few ``columns=`` as without: the
values are read for the page's keys only. Each round runs the page without
columns, then with them (so both see the same machine load), for Polars and
pandas results, with no filter and with ``status = 'OK'``; the table gives the
median of the rounds.

Example::

    python -m benchmarks.columns --traces 100k
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial

import polartrace
from benchmarks.__main__ import _size
from benchmarks.data import jsonl_path, label, log
from polartrace.api.search import ReturnType
from polartrace.frame.trace_frame import TraceFrame

PAGE = 100
CASES = {
    "3 fields": ["user", "tokens.total", "cost.total"],
    "tag, session, latency": ["tags.environment", "session", "latency"],
    "feedback mean": ["feedback.relevance"],
    "span aggregate": ["count(SPAN WHERE type = 'LLM')"],
}


def _ms(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def _page(
    frame: TraceFrame,
    text: str | None,
    return_type: ReturnType,
    columns: list[str] | None,
) -> object:
    return polartrace.search_traces(
        frame, text, max_results=PAGE, return_type=return_type, columns=columns
    )


def run(frame: TraceFrame, name: str, repeat: int) -> None:
    """Time each page without and with each case's columns; print one table."""
    print(f"\n{name}: {len(frame):,} traces, pages of {PAGE}, median of {repeat}")
    print(f"{'result':<8}{'filter':<16}{'columns':<24}{'without':>9}{'with':>9}")
    kinds: tuple[ReturnType, ...] = ("polars", "pandas")
    for return_type in kinds:
        for text in (None, "status = 'OK'"):
            for case, columns in CASES.items():
                plain = partial(_page, frame, text, return_type, None)
                chosen = partial(_page, frame, text, return_type, columns)
                plain(), chosen()
                rounds = [(_ms(plain), _ms(chosen)) for _ in range(repeat)]
                without = statistics.median(r[0] for r in rounds)
                with_ = statistics.median(r[1] for r in rounds)
                print(
                    f"{return_type:<8}{text or '-':<16}{case:<24}"
                    f"{without:>7.1f}ms{with_:>7.1f}ms"
                )


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run each size."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.columns")
    parser.add_argument("--traces", nargs="*", type=_size, default=[])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    for n in args.traces:
        # From the JSONL file: the cached Parquet frame is keyed by a hash of the
        # layout modules, and building it for this checkout replaces another's.
        log(f"reading the generated {label(n)} JSONL")
        frame = polartrace.read_traces(jsonl_path(n))
        run(frame, f"generated {label(n)}", args.repeat)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
