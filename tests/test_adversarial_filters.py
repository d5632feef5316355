"""Adversarial filters: a FilterError at the position, a correct answer, no hang."""

from __future__ import annotations

import pytest

from polartrace import TraceFrame, parse_filter, search_traces
from polartrace.values.errors import FilterSyntaxError


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
