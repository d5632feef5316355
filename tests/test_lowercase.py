"""ILIKE folds case alike in both engines, newer Unicode capitals included."""

from __future__ import annotations

import polars as pl
import pytest

from polartrace import Trace, TraceFrame, TraceInfo, search_traces
from polartrace.catalogue.lowercase import LATER_CAPITALS, lower

_POINTS = [p for p in range(0x110000) if not 0xD800 <= p < 0xE000]


def test_lower_equals_polars_on_every_code_point() -> None:
    chars = [chr(p) for p in _POINTS]
    polars = pl.Series(chars).str.to_lowercase().to_list()
    differ = [
        hex(ord(c)) for c, low in zip(chars, polars, strict=True) if lower(c) != low
    ]
    assert differ == []


def test_the_table_holds_only_capitals_python_leaves_unchanged_or_agrees_on() -> None:
    for capital, small in LATER_CAPITALS.items():
        assert chr(capital).lower() in (chr(capital), chr(small)), hex(capital)


@pytest.mark.parametrize("engine", ["polars", "reference"])
def test_ilike_matches_a_garay_capital_by_its_small_letter(engine: str) -> None:
    info = TraceInfo(trace_id="tr-1", request_time=0, tags={"t": "\U00010d50x"})
    rows = search_traces(
        TraceFrame.from_traces([Trace(info)]),
        "tags.t ILIKE '\U00010d70%'",
        return_type="list",
        engine=engine,  # type: ignore[arg-type]
    )
    assert [t.info.trace_id for t in rows] == ["tr-1"]
