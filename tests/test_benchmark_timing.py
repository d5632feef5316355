"""The benchmark harness's alternating rounds (``benchmarks/timing.py``).

Ratios in docs/performance.md come from `interleaved`: every contender sampled
once per round, the order rotating, fast calls given more rounds. These pin the
round count and the order, without timing anything that could make them flaky.
"""

from __future__ import annotations

import time

from benchmarks.timing import Contender, interleaved


def _recorder(log: list[str], name: str, pause: float = 0.0) -> Contender:
    def call() -> str:
        log.append(name)
        if pause:
            time.sleep(pause)
        return name

    return Contender(call)


def test_rounds_rotate_and_keep_the_last_values() -> None:
    log: list[str] = []
    contenders = {n: _recorder(log, n) for n in "abc"}
    timings, results = interleaved(contenders, 3, warmup=1, collect=False)
    assert log == list("abcbcacababc")
    assert {name: t.samples for name, t in timings.items()} == dict.fromkeys("abc", 3)
    assert results == {n: n for n in "abc"}


def test_a_budget_gives_fast_calls_more_rounds_up_to_most() -> None:
    log: list[str] = []
    contenders = {n: _recorder(log, n) for n in "ab"}
    timings, _ = interleaved(contenders, 5, collect=False, budget=1.0, most=17)
    assert timings["a"].samples == timings["b"].samples == 17
    assert len(log) == 2 * (1 + 17)


def test_a_budget_never_gives_fewer_rounds_than_asked() -> None:
    log: list[str] = []
    contenders = {"slow": _recorder(log, "slow", pause=0.02)}
    timings, _ = interleaved(contenders, 3, collect=False, budget=0.01, most=50)
    assert timings["slow"].samples == 3
