"""Property 2: ``parse(unparse(tree)) == tree``, and fixture filters survive it.

Trees come from ``polartrace.testing.filters`` twice: once with the shared
vocabulary, once with arbitrary text in keys, strings and patterns and arbitrary
64-bit integers and finite floats, which is what stresses the unparser's quoting.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polartrace.language.ast import Expr, unparse
from polartrace.language.parser import parse
from polartrace.testing import filters
from polartrace.values.errors import FilterError
from property_tests._support import examples
from tests.conftest import load_jsonl

# Anything but lone surrogates, which no filter string (or Polars) can hold.
ANY_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)

CASES = load_jsonl("filter-cases.jsonl")


def _assert_round_trip(tree: Expr) -> None:
    text = unparse(tree)
    assert parse(text) == tree, text
    assert unparse(parse(text)) == text  # canonical text is a fixed point


@settings(max_examples=examples(2))
@given(filters(max_leaves=8))
def test_unparse_then_parse_gives_the_same_tree(tree: Expr) -> None:
    _assert_round_trip(tree)


@settings(max_examples=examples(2))
@given(filters(max_leaves=4, text=ANY_TEXT))
def test_unparse_then_parse_gives_the_same_tree_for_any_text(tree: Expr) -> None:
    _assert_round_trip(tree)


def test_fixture_file_has_cases() -> None:
    assert len(CASES) > 300


@pytest.mark.parametrize("case", CASES, ids=[case["id"] for case in CASES])
def test_fixture_filter_survives_parse_unparse_parse(case: dict[str, Any]) -> None:
    try:
        tree = parse(case["filter"])
    except FilterError:
        assert not case["valid"]  # every valid case parses
        return
    if tree is None:
        assert unparse(tree) == ""
        return
    _assert_round_trip(tree)
