"""Adversarial filters: a FilterError at the position, a correct answer, no hang."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

import pytest

from polartrace import Trace, TraceFrame, TraceInfo, parse_filter, search_traces
from polartrace.catalogue.like import like_match
from polartrace.values.errors import FilterSyntaxError, FilterTypeError


@pytest.mark.parametrize(
    ("text", "position"),
    [
        pytest.param("name LIKE '%\udcff%'", 12, id="like"),
        pytest.param("name = '\ud800'", 8, id="equals"),
        pytest.param("tags.`k\udc80` = 'v'", 7, id="key"),
    ],
)
def test_lone_surrogate_is_refused_at_its_position(text: str, position: int) -> None:
    with pytest.raises(FilterSyntaxError, match="lone surrogate") as info:
        parse_filter(text)
    assert info.value.position == position


def test_lone_surrogate_is_refused_by_both_engines(
    oracle_frame: TraceFrame, engine: str
) -> None:
    with pytest.raises(FilterSyntaxError, match="lone surrogate"):
        search_traces(oracle_frame, "name RLIKE '\udcff'", engine=engine)  # type: ignore[arg-type]


# --- LIKE: bounded size, no backtracking -------------------------------------------


def test_like_pattern_beyond_the_regex_size_limit_is_refused() -> None:
    text = "name LIKE '" + "_" * 30_000 + "'"
    with pytest.raises(FilterTypeError, match="30,000 characters is too large") as info:
        parse_filter(text)
    assert info.value.position == 10


def test_like_pattern_below_the_size_limit_binds() -> None:
    assert parse_filter("name LIKE '" + "_" * 5_000 + "'") is not None


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        pytest.param("%e%e%e%e%e%q", "e" * 5_000, False, id="catastrophic"),
        pytest.param("%e%e%e%e%e%", "e" * 5_000, True, id="many-equal-runs"),
        pytest.param("a_b", "a\nb", True, id="underscore-is-newline"),
        pytest.param("%ab%ab%", "ab", False, id="segments-do-not-overlap"),
        pytest.param("ab%ba", "aba", False, id="ends-do-not-overlap"),
        pytest.param("a%%", "a", True, id="percent-run"),
        pytest.param("_%_", "x", False, id="two-characters-at-least"),
        pytest.param("", "", True, id="empty-matches-empty"),
    ],
)
def test_like_match_decides_without_backtracking(
    pattern: str, value: str, expected: bool
) -> None:
    with _deadline(5):
        assert like_match(value, pattern) is expected


def test_reference_like_on_a_catastrophic_pattern_finishes() -> None:
    # A backtracking regex needs about 300**5 steps for this one trace.
    info = TraceInfo(trace_id="tr-e", request_time=0, request_preview="e" * 300)
    frame = TraceFrame.from_traces([Trace(info)])
    with _deadline(20):
        found = search_traces(
            frame, "text LIKE '%e%e%e%e%e%q'", engine="reference", return_type="list"
        )
    assert [t.info.trace_id for t in found] == []


@contextlib.contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    """Fail instead of hanging: what this guards against takes minutes."""

    def expired(*_: object) -> None:
        msg = f"took more than {seconds} s"
        raise TimeoutError(msg)

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
