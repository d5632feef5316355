"""Decisions of docs/semantics.md#paging and docs/io.md, on both engines.

Duplicate trace ids and negative durations are kept as given; a page token is no
security boundary (a forged token only pages a search the caller can run); the
token does not cover the data, so rows added between pages shift the offset.
"""

from __future__ import annotations

import pytest

from polartrace import (
    PageTokenError,
    Trace,
    TraceFrame,
    TraceInfo,
    count,
    search_traces,
)
from polartrace.api.search import Engine, encode_page_token, page_fingerprint

BASE = 1_700_000_000_000


def _frame(*infos: TraceInfo) -> TraceFrame:
    return TraceFrame.from_traces([Trace(info) for info in infos])


def _ids(rows: object) -> list[str]:
    return [t.info.trace_id for t in rows]  # type: ignore[attr-defined]


def test_duplicate_trace_ids_are_kept_and_both_match(engine: Engine) -> None:
    frame = _frame(
        TraceInfo(trace_id="tr-1", request_time=BASE, state="OK"),
        TraceInfo(trace_id="tr-1", request_time=BASE + 1, state="ERROR"),
    )
    rows = search_traces(
        frame, "request_id = 'tr-1'", return_type="list", engine=engine
    )
    assert [t.info.state.value for t in rows] == ["ERROR", "OK"]
    assert count(frame, "request_id = 'tr-1'", engine=engine) == 2


def test_a_negative_duration_is_kept_and_compares_as_a_number(engine: Engine) -> None:
    frame = _frame(TraceInfo(trace_id="tr-1", request_time=BASE, execution_duration=-5))
    rows = search_traces(
        frame, "execution_time_ms < 0 AND end_time_ms = 1699999999995",
        return_type="list", engine=engine,
    )  # fmt: skip
    assert _ids(rows) == ["tr-1"]


def test_a_forged_token_pages_the_search_it_names(engine: Engine) -> None:
    frame = _frame(
        *(TraceInfo(trace_id=f"tr-{i}", request_time=BASE + i) for i in range(4))
    )
    token = encode_page_token(3, page_fingerprint("", None))
    rows = search_traces(
        frame, "", max_results=2, page_token=token, return_type="list", engine=engine
    )
    assert _ids(rows) == ["tr-0"]


def test_a_token_of_another_search_is_refused(engine: Engine) -> None:
    frame = _frame(TraceInfo(trace_id="tr-1", request_time=BASE))
    token = encode_page_token(1, page_fingerprint("status = 'OK'", None))
    with pytest.raises(PageTokenError, match="belongs to a different search"):
        search_traces(frame, "", max_results=1, page_token=token, engine=engine)


def test_a_trace_added_between_pages_shifts_the_offset(engine: Engine) -> None:
    infos = [TraceInfo(trace_id=f"tr-{i}", request_time=BASE + i) for i in range(4)]
    first = search_traces(
        _frame(*infos), "", max_results=2, return_type="list", engine=engine
    )
    assert _ids(first) == ["tr-3", "tr-2"]
    newer = TraceInfo(trace_id="tr-9", request_time=BASE + 9)
    rest = search_traces(
        _frame(*infos, newer), "", max_results=2, page_token=first.token,
        return_type="list", engine=engine,
    )  # fmt: skip
    assert _ids(rest) == ["tr-2", "tr-1"]  # tr-2 again: the offset moved by one row
