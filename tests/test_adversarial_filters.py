"""Adversarial filters: a FilterError at the position, a correct answer, no hang."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pytest

from polartrace import (
    Trace,
    TraceFrame,
    TraceInfo,
    count,
    parse_filter,
    scan_traces,
    search_traces,
    write_parquet,
)
from polartrace.catalogue.like import like_match
from polartrace.model.trace import Span, TraceData
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


# --- RLIKE: both engines read a pattern alike, or it is refused ------------------

_RLIKE_CASES = [
    # (pattern, value, expected): the value is the span name of a one-span trace.
    pytest.param("a$", "a\n", False, id="dollar-not-before-final-newline"),
    pytest.param("(?m)a$", "a\n", True, id="multiline-dollar-before-newline"),
    pytest.param(r"a\Z", "a\n", False, id="python-end-of-text"),
    pytest.param(r"a\z", "a", True, id="rust-end-of-text"),
    pytest.param(r"^\w$", "²", False, id="superscript-is-no-word-character"),
    pytest.param(r"^\W$", "²", True, id="superscript-is-a-non-word-character"),
    pytest.param(r"\s", "\x1c", False, id="file-separator-is-no-space"),
    pytest.param(r"\S", "\x1c", True, id="file-separator-is-a-non-space"),
    pytest.param(r"\b", "²", False, id="no-word-boundary-at-superscript"),
    pytest.param(r"^\B$", "", True, id="non-boundary-in-empty-text"),
    pytest.param(r"(?<n>c)", "abc", True, id="rust-named-group"),
    pytest.param(r"\x{63}", "abc", True, id="rust-braced-hex"),
    pytest.param("(?U)a+b", "aab", True, id="swap-greed"),
    pytest.param("x(?i)B|c", "C", True, id="mid-pattern-flag-scopes-alternatives"),
    pytest.param("x(?i)B|c", "b", False, id="mid-pattern-flag-stays-in-branch"),
]


@pytest.mark.parametrize(("pattern", "value", "expected"), _RLIKE_CASES)
def test_rlike_agrees_between_engines(
    engine: str, pattern: str, value: str, expected: bool
) -> None:
    frame = TraceFrame.from_traces([_named("tr-r", value)])
    quoted = pattern.replace("\\", "\\\\").replace("'", "\\'")
    found = search_traces(
        frame,
        f"span.name RLIKE '{quoted}'",
        engine=engine,  # type: ignore[arg-type]
        return_type="list",
    )
    assert [t.info.trace_id for t in found] == (["tr-r"] if expected else [])


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        pytest.param(r"\pL", r"'\\p' has no equivalent", id="unicode-class"),
        pytest.param(r"\PL", r"'\\P' has no equivalent", id="negated-unicode-class"),
        pytest.param("(?-u)a", "ASCII mode", id="ascii-mode"),
        pytest.param("(?R)a$", "CRLF mode", id="crlf-mode"),
    ],
)
def test_rlike_only_rust_reads_is_refused_at_bind(pattern: str, message: str) -> None:
    quoted = pattern.replace("\\", "\\\\")
    with pytest.raises(FilterTypeError, match=message) as info:
        parse_filter(f"span.name RLIKE '{quoted}'")
    assert "cannot be evaluated alike by both engines" in info.value.message
    assert info.value.position >= len("span.name RLIKE '")


def _named(trace_id: str, name: str) -> Trace:
    span = Span(name=name, span_id="01" * 8, otel_trace_id="02" * 16, start_time_ns=0)
    return Trace(TraceInfo(trace_id=trace_id, request_time=0), TraceData([span]))


# --- long chains: linear in the number of terms, in every engine -------------------

_TERMS = 3000


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(" AND ".join(["status = 'OK'"] * _TERMS), ["tr-a"], id="and"),
        pytest.param(" OR ".join(["status = 'OK'"] * _TERMS), ["tr-a"], id="or"),
        pytest.param(
            " OR ".join(f"span.name = 'n{i}'" for i in range(_TERMS)),
            ["tr-a", "tr-b"],
            id="or-of-distinct-span-terms",
        ),
        pytest.param(
            "ANY SPAN (" + " AND ".join(["name LIKE 'n%'"] * _TERMS) + ")",
            ["tr-a", "tr-b"],
            id="span-test-and",
        ),
        pytest.param(
            "ANY SPAN (" + " OR ".join(["name = 'n1'"] * _TERMS) + ")",
            ["tr-a"],
            id="span-test-or",
        ),
    ],
)
@pytest.mark.parametrize("engine", ["polars", "reference", "lazy"])
def test_thousands_of_terms_finish_with_the_answer(
    text: str, expected: list[str], engine: str, tmp_path: Path
) -> None:
    # Polars' optimizer takes time cubic in the depth of a chain of & (hours for a
    # few thousand repeated terms); the engines build flat expressions instead.
    frame = TraceFrame.from_traces(
        [
            _with_status(_named("tr-a", "n1"), "OK"),
            _with_status(_named("tr-b", "n2"), "ERROR"),
        ]
    )
    if engine == "lazy":
        write_parquet(frame, tmp_path / "d.parquet")
        lazy = scan_traces(tmp_path / "d.parquet")
        traces, counted = _within(
            60, lambda: (lazy.search(text, return_type="list"), lazy.count(text))
        )
    else:
        traces, counted = _within(
            60,
            lambda: (
                search_traces(
                    frame,
                    text,
                    engine=engine,  # type: ignore[arg-type]
                    return_type="list",
                ),
                count(frame, text, engine=engine),  # type: ignore[arg-type]
            ),
        )
    assert counted == len(expected)
    found = sorted(t.info.trace_id for t in traces)
    assert found == expected


def _with_status(trace: Trace, status: str) -> Trace:
    return attrs.evolve(trace, info=attrs.evolve(trace.info, state=status))


def _within(
    seconds: int, call: Callable[[], tuple[list[Trace], int]]
) -> tuple[list[Trace], int]:
    """``call()``, or a failure after ``seconds``: a signal would wait for Polars'
    native code to return, so the call runs in a thread the test stops waiting for."""
    done: list[tuple[list[Trace], int]] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            done.append(call())
        except BaseException as error:
            failed.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if failed:
        raise failed[0]
    if not done:
        pytest.fail(f"took more than {seconds} s")
    return done[0]
