"""The reference engine's RLIKE is bounded in time: backtracking raises, never hangs.

Python's regular expressions backtrack, so ``(a|a)+$`` over thirty ``a`` and a ``b``
takes exponential time (Python's ``re`` takes minutes on ``(a+)+$`` too, which the
``regex`` package answers at once); the Polars engine's regex crate answers both in
linear time.
The search runs in a child process with a timeout, so a regression fails here
instead of hanging the suite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from polartrace import Trace, TraceFrame, TraceInfo, search_traces
from polartrace.values.errors import RegexTimeoutError

ROOT = Path(__file__).resolve().parent.parent

_CHILD = """
from polartrace import Trace, TraceInfo, search_traces
from polartrace.engines import reference
from polartrace.values.errors import RegexTimeoutError
reference.REGEX_SECONDS = 0.2
traces = [Trace(TraceInfo(trace_id="tr-1", request_time=0, tags={"t": "a" * 30 + "b"}))]
try:
    search_traces(traces, "tags.t RLIKE '(a|a)+$'", engine="reference")
except RegexTimeoutError as exc:
    print(type(exc).__name__, exc.pattern)
"""


def test_a_catastrophic_pattern_raises_in_the_reference_engine() -> None:
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "RegexTimeoutError (a|a)+$"


def test_both_engines_answer_nested_quantifiers_the_regex_package_handles() -> None:
    info = TraceInfo(trace_id="tr-1", request_time=0, tags={"t": "a" * 30 + "b"})
    frame = TraceFrame.from_traces([Trace(info)])
    for engine in ("polars", "reference"):
        rows = search_traces(
            frame, "tags.t RLIKE '(a+)+$'", return_type="list", engine=engine
        )
        assert rows == [], engine


def test_the_polars_engine_answers_the_pattern_the_reference_refuses() -> None:
    info = TraceInfo(trace_id="tr-1", request_time=0, tags={"t": "a" * 30 + "b"})
    rows = search_traces(
        TraceFrame.from_traces([Trace(info)]),
        "tags.t RLIKE '(a|a)+$'",
        return_type="list",
    )
    assert rows == []


def test_the_timeout_error_names_the_pattern() -> None:
    error = RegexTimeoutError("(a+)+$", 2.0)
    assert error.pattern == "(a+)+$"
    assert "RLIKE '(a+)+$' took more than 2 s" in str(error)
