"""Property 5: ordering, paging and counts equal the reference engine's own.

The reference engine orders and pages from docs/semantics.md with its own code
(``engines/reference.py``), so these properties check the Polars engine's ordering
and its fast paths, all through ``search_traces`` and ``count``
(``api/search.py``):

- every orderable field and tag or metadata key, ASC and DESC, nulls and ties;
- pages walked with their tokens, each page and their concatenation;
- pure request-time filters (the time-window binary search), single and OR-ed
  ranges, empty ranges, bounds equal to trace timestamps or one beside them, ISO
  dates; constant filters (none, absent keys only) and their counts;
- request times drawn from three values, so pages of one to seven rows cut inside
  runs of equal times;
- a frame of more than 10,000 traces for pages past the small-page path.
"""

from __future__ import annotations

import functools

import attrs
import pytest
from hypothesis import example, given, note, settings
from hypothesis import strategies as st

from polartrace import (
    SearchArgumentError,
    Trace,
    TraceFrame,
    TraceInfo,
    count,
    search_traces,
)
from polartrace.language.ast import unparse
from polartrace.model.trace import TraceState
from polartrace.output.paged import PagedList
from polartrace.testing import BASE_TIME_MS, filters, order_by_lists, trace_lists
from polartrace.testing._vocab import _ISO_TIMES
from property_tests._support import ENGINES, Engine, examples

#: Few request times: most frames hold runs of equal times.
TIED_TIMES = (BASE_TIME_MS, BASE_TIME_MS + 500, BASE_TIME_MS + 1000)


@st.composite
def tied_trace_lists(draw: st.DrawFn, max_size: int = 9) -> list[Trace]:
    """Trace lists whose request times come from `TIED_TIMES` (and one other)."""
    traces = draw(trace_lists(0, max_size, max_spans=2, max_assessments=2))
    times = st.sampled_from((*TIED_TIMES, BASE_TIME_MS + 60_000))
    return [
        attrs.evolve(trace, info=attrs.evolve(trace.info, request_time=draw(times)))
        for trace in traces
    ]


_OPS = (">", ">=", "<", "<=")
_FIELDS = ("timestamp_ms", "attributes.timestamp_ms", "timestamp")
# Request times the traces hold and the milliseconds beside them, plus ISO dates.
_BOUNDS = st.one_of(
    st.tuples(
        st.sampled_from((*TIED_TIMES, BASE_TIME_MS + 60_000)),
        st.sampled_from((0, 0, -1, 1)),
    ).map(lambda p: str(p[0] + p[1])),
    st.sampled_from(_ISO_TIMES).map(lambda iso: f"'{iso}'"),
    st.sampled_from((BASE_TIME_MS - 10**6, BASE_TIME_MS + 10**6)).map(str),
)
_TEST = st.tuples(st.sampled_from(_FIELDS), st.sampled_from(_OPS), _BOUNDS).map(
    " ".join
)
# Integer bounds on the other time fields: ranges the time window must not take.
_OTHER_TEST = st.tuples(
    st.sampled_from(("end_time_ms", "execution_time_ms")),
    st.sampled_from(_OPS),
    st.sampled_from((0, 150, 1000, BASE_TIME_MS + 500)).map(str),
).map(" ".join)
_RANGE = st.lists(_TEST, min_size=1, max_size=3).map(" AND ".join)
#: Filters that read no column of the frame: no filter, absent keys only.
CONSTANT_FILTERS = (
    None,
    "",
    "tags.missing IS NULL",
    "tags.missing = 'x'",
    "NOT tags.missing = 'x'",
    "metadata.x IS NOT NULL",
    "tags.missing IS NULL OR metadata.x = 'y'",
)


def _or_ranges(ranges: list[str]) -> str:
    return " OR ".join(f"({r})" for r in ranges)


#: Time windows: single bounds, ANDed bounds (empty when they cross), OR-ed ranges,
#: a negated range, a range with another condition; ranges on other time fields;
#: and the constant filters.
WINDOW_FILTERS = st.one_of(
    _RANGE,
    _RANGE,
    st.lists(_OTHER_TEST, min_size=1, max_size=2).map(" AND ".join),
    st.lists(st.one_of(_TEST, _OTHER_TEST), min_size=2, max_size=2).map(" AND ".join),
    st.lists(_RANGE, min_size=2, max_size=2).map(_or_ranges),
    _RANGE.map(lambda r: f"NOT ({r})"),
    _RANGE.map(lambda r: f"{r} AND status != 'ERROR'"),
    st.sampled_from(CONSTANT_FILTERS),
)


def ids(rows: PagedList) -> list[tuple[str, str, int | None]]:
    """Each row's trace id, state and duration: duplicate ids told apart."""
    return [
        (t.info.trace_id, t.info.state.value, t.info.execution_duration) for t in rows
    ]


def _search(
    frame: TraceFrame,
    text: str | None,
    order_by: list[str] | None,
    engine: Engine,
    size: int | None,
    token: str | None = None,
) -> PagedList:
    page = search_traces(
        frame,
        text,
        order_by=order_by,
        max_results=size,
        page_token=token,
        return_type="list",
        engine=engine,
    )
    assert isinstance(page, PagedList)
    return page


def _pages(
    frame: TraceFrame,
    text: str | None,
    order_by: list[str] | None,
    engine: Engine,
    size: int,
) -> list[list[tuple[str, str, int | None]]]:
    """Every page of ``size`` rows, following the tokens."""
    pages = [_search(frame, text, order_by, engine, size)]
    while (token := pages[-1].token) is not None:
        pages.append(_search(frame, text, order_by, engine, size, token))
    return [ids(page) for page in pages]


def _assert_same_pages(
    frame: TraceFrame, text: str | None, order_by: list[str] | None, size: int
) -> None:
    """Both engines give the same pages, which concatenate to the whole result."""
    whole = ids(_search(frame, text, order_by, "reference", None))
    assert ids(_search(frame, text, order_by, "polars", None)) == whole
    for engine in ENGINES:
        assert count(frame, text, engine=engine) == len(whole), engine
    polars_pages = _pages(frame, text, order_by, "polars", size)
    reference_pages = _pages(frame, text, order_by, "reference", size)
    assert polars_pages == reference_pages
    assert [tid for page in polars_pages for tid in page] == whole


def _trace(trace_id: str, ms: int, **info: object) -> Trace:
    return Trace(TraceInfo(trace_id=trace_id, request_time=ms, **info))  # type: ignore[arg-type]


_TIED = [
    _trace("tr-c", BASE_TIME_MS + 500),
    _trace("tr-a", BASE_TIME_MS + 500),
    _trace("tr-b", BASE_TIME_MS + 500),
    _trace("tr-d", BASE_TIME_MS),
]


@example(traces=_TIED, text=None, order_by=None, size=2).via(
    "a page of the default order cut inside three equal times"
)
@example(traces=_TIED, text=None, order_by=["timestamp_ms ASC"], size=1).via(
    "ASC keeps the trace-id tie break"
)
@settings(max_examples=examples(1.0))
@given(
    traces=tied_trace_lists(),
    text=st.none() | filters(max_leaves=2).map(unparse),
    order_by=order_by_lists(),
    size=st.integers(1, 7),
)
def test_pages_equal_the_reference_pages(
    traces: list[Trace], text: str | None, order_by: list[str] | None, size: int
) -> None:
    note(f"filter: {text!r}")
    _assert_same_pages(TraceFrame.from_traces(traces), text, order_by, size)


@example(
    traces=_TIED, text=f"timestamp_ms > {BASE_TIME_MS}", order_by=None, size=1
).via("> on a time the traces hold (the window's lower bound)")
@example(
    traces=_TIED,
    text=f"timestamp_ms >= {BASE_TIME_MS + 500} AND timestamp_ms < {BASE_TIME_MS}",
    order_by=None,
    size=1,
).via("an empty range counts 0, not a negative number")
@example(
    traces=_TIED,
    text=f"timestamp_ms < {BASE_TIME_MS + 1} OR timestamp > {BASE_TIME_MS + 499}",
    order_by=None,
    size=3,
).via("two ranges ORed, not ANDed")
@example(traces=_TIED, text="tags.missing IS NULL", order_by=None, size=3).via(
    "a constant filter counts every trace"
)
@settings(max_examples=examples(1.0))
@given(
    traces=tied_trace_lists(),
    text=WINDOW_FILTERS,
    order_by=order_by_lists(),
    size=st.integers(1, 7),
)
def test_time_windows_and_constant_filters_equal_the_reference(
    traces: list[Trace], text: str | None, order_by: list[str] | None, size: int
) -> None:
    note(f"filter: {text!r}")
    _assert_same_pages(TraceFrame.from_traces(traces), text, order_by, size)


# --- pages past 10,000 rows ------------------------------------------------------

#: More traces than the small-page path orders (`ordering._PAGE_ROWS`).
BIG = 10_050


@functools.cache
def _big_frame() -> TraceFrame:
    """``BIG`` traces over 37 request times; ids in no relation to the row order.

    Every 500th trace shares its id and time with the trace 37 rows before it:
    duplicate ids are kept, and their ties keep the input order.
    """
    states = (TraceState.OK, TraceState.ERROR, TraceState.IN_PROGRESS)
    traces = [
        _trace(
            f"tr-{(i - 37 * (i % 500 == 37)) * 2_654_435_761 % 2**32:08x}",
            BASE_TIME_MS + (i * 7 % 37) * 10,
            state=states[i % 3],
            execution_duration=None if i % 3 == 2 else i % 50,
        )
        for i in range(BIG)
    ]
    return TraceFrame.from_traces(traces)


_CUT = BASE_TIME_MS + 120  # inside the run of times


@pytest.mark.parametrize(
    ("text", "order_by", "size"),
    [
        pytest.param(None, None, 10_001, id="all-default-order"),
        pytest.param(f"timestamp_ms >= {BASE_TIME_MS}", None, 10_001, id="window"),
        pytest.param(f"timestamp_ms >= {_CUT}", None, 5_000, id="part-window"),
        pytest.param("status != 'ERROR'", None, 4_000, id="mask"),
        pytest.param(
            f"timestamp_ms < {_CUT} OR status = 'OK'", None, 5_000, id="or-mask"
        ),
        pytest.param(None, ["execution_time_ms DESC"], 10_001, id="ordered"),
    ],
)
def test_pages_of_more_than_ten_thousand_rows_equal_the_reference(
    text: str | None, order_by: list[str] | None, size: int
) -> None:
    _assert_same_pages(_big_frame(), text, order_by, size)


@settings(max_examples=examples(0.25))
@given(bad=st.one_of(st.integers(max_value=-1), st.booleans(), st.floats()))
def test_a_bad_max_results_is_refused(bad: object) -> None:
    frame = TraceFrame.from_traces(_TIED)
    for engine in ENGINES:
        with pytest.raises(SearchArgumentError, match="max_results must be"):
            search_traces(frame, None, max_results=bad, engine=engine)  # type: ignore[arg-type]
        empty = _search(frame, None, None, engine, 0)  # 0 is valid: no rows, no token
        assert (list(empty), empty.token) == ([], None)
