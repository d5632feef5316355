"""``python -m benchmarks.llm_cost PATH``: what the LLM normalisation costs a load.

Reads a JSONL file with ``read_traces`` (the whole build, the LLM columns included),
then times `polartrace.frame.llm.with_llm_columns` alone on the frame's trace and
span tables without those columns, and prints the share. Run it in a fresh process
each time: ``read_traces`` caches frames by path.

Example::

    python -m benchmarks.llm_cost benchmarks/data/traces-100k-seed0-g2.jsonl
"""

from __future__ import annotations

import sys
import time

import polartrace
from polartrace.frame.llm import LLM_SPAN_SCHEMA, LLM_TRACE_SCHEMA, with_llm_columns
from polartrace.frame.trace_frame import _compact


def main() -> int:
    start = time.perf_counter()
    frame = polartrace.read_traces(sys.argv[1])
    build = time.perf_counter() - start
    traces = frame.traces.drop(list(LLM_TRACE_SCHEMA))
    spans = frame.spans.drop(list(LLM_SPAN_SCHEMA))
    start = time.perf_counter()
    with_llm_columns(traces, spans, _compact)
    norm = time.perf_counter() - start
    print(f"build {build:.2f} s, normalisation {norm:.3f} s, share {norm / build:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
