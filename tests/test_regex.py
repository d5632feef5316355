"""RLIKE patterns written for MLflow (Python ``re``) mean the same in polartrace.

MLflow runs RLIKE through Python's ``re``; polartrace runs it in Rust's ``regex``
crate. ``_regex.from_python`` rewrites the spellings Python reads as literal text
and the crate rejects or reads otherwise; these tests hold the rewrite to Python's
own answers.
"""

from __future__ import annotations

import re
import warnings

import polars as pl
import pytest

from polartrace import TraceFrame, count, search_traces
from polartrace.api.search import Engine
from polartrace.language.regex import from_python
from polartrace.model.trace import Trace
from polartrace.values.errors import FilterTypeError

SUBJECTS = [
    "",
    "a",
    '{"messages": [1]}',
    "x{}",
    "aaa{2}",
    "a&&b",
    "[x]",
    "]",
    "a~~b",
    "{,3}",
    "aaaa",
    "tilde~",
]
PATTERNS = [
    '^{"',
    "{",
    "}",
    "x{}",
    "a{,3}",
    "a{,}",
    "a{2}",
    "a{2,}",
    "a{2,3}",
    "a{ 2}",
    "a{x}",
    r"\{2\}",
    "[[]",
    "[]]",
    "[^]a]",
    "[a&&b]",
    "[a~~b]",
    "[{}]",
    "^[^{]*$",
    r"[\]]",
    r"\d{1,2}",
]


@pytest.mark.parametrize("pattern", PATTERNS)
def test_rewritten_pattern_matches_what_python_matches(pattern: str) -> None:
    rewritten, origin = from_python(pattern)
    assert len(origin) == len(rewritten)
    got = pl.Series(SUBJECTS, dtype=pl.String).str.contains(rewritten).to_list()
    with warnings.catch_warnings():
        # Python warns that "[[" and "&&" may mean sets one day; today they are text.
        warnings.simplefilter("ignore", FutureWarning)
        assert got == [re.search(pattern, s) is not None for s in SUBJECTS]


def test_valid_rust_patterns_are_kept() -> None:
    for pattern in [r"^\d{3}$", "(a|b)+", "[a-z]{2,}", r"\bword\b", "(?i)ok"]:
        assert from_python(pattern)[0] == pattern


def _trace(trace_id: str, inputs: str) -> Trace:
    return Trace.from_dict(
        {
            "info": {
                "trace_id": trace_id,
                "trace_location": {
                    "type": "MLFLOW_EXPERIMENT",
                    "mlflow_experiment": {"experiment_id": "0"},
                },
                "request_time": "2024-01-01T00:00:00Z",
                "state": "OK",
                "trace_metadata": {"mlflow.traceInputs": inputs},
                "tags": {},
            },
            "data": {"spans": []},
        }
    )


@pytest.fixture(scope="module")
def json_frame() -> TraceFrame:
    return TraceFrame.from_traces(
        [
            _trace("tr-1", '{"messages": []}'),
            _trace("tr-2", "plain {text}"),
            _trace("tr-3", "{{double}}"),
        ]
    )


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("metadata.`mlflow.traceInputs` RLIKE '^{\"'", ["tr-1"]),
        ("metadata.`mlflow.traceInputs` RLIKE '{text}$'", ["tr-2"]),
        ("metadata.`mlflow.traceInputs` RLIKE '^{{'", ["tr-3"]),
        ("metadata.`mlflow.traceInputs` RLIKE '[{]d'", ["tr-3"]),
        ("metadata.`mlflow.traceInputs` RLIKE 'xt{,1}}$'", ["tr-2"]),
    ],
)
def test_python_spelled_rlike_searches(
    json_frame: TraceFrame, engine: Engine, filter_string: str, expected: list[str]
) -> None:
    got = search_traces(json_frame, filter_string, return_type="list", engine=engine)
    assert sorted(t.info.trace_id for t in got) == expected
    assert count(json_frame, filter_string, engine=engine) == len(expected)


def test_error_points_into_the_pattern_as_written() -> None:
    # The rewrite lengthens "{,2}" to "{0,2}"; the caret must still land on "(?=".
    with pytest.raises(FilterTypeError, match="look-around") as info:
        count(TraceFrame.from_traces([]), "tags.v RLIKE 'a{,2}(?=a)'")
    assert info.value.position == len("tags.v RLIKE 'a{,2}")


@pytest.mark.parametrize("letter", ["w", "d", "s"], ids=["word", "digit", "space"])
def test_crate_class_tables_equal_what_polars_matches(letter: str) -> None:
    from polartrace.language.regex_classes import CRATE_CLASSES, class_ranges

    points = [*range(0xD800), *range(0xE000, 0x110000)]
    chars = pl.Series([chr(p) for p in points], dtype=pl.String)
    hits = chars.str.contains(rf"^\{letter}$").to_list()
    held = {p for first, last in class_ranges(letter) for p in range(first, last + 1)}
    differ = [p for p, hit in zip(points, hits, strict=True) if hit != (p in held)]
    assert not differ, (
        f"the crate's \\{letter} changed at {len(differ)} code points "
        f"(first U+{differ[0]:04X}); regenerate CRATE_CLASSES[{letter!r}] "
        f"(now {len(CRATE_CLASSES[letter])} characters of ranges)"
    )
