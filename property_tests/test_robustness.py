"""Property 3: for any text, ``parse_filter`` returns a filter or raises FilterError.

Nothing else escapes: no lark exception, no RecursionError, no IndexError. Three
sources of text: arbitrary strings, "token soup" (filter tokens in random order,
which reaches deep into the grammar's error paths), and valid filters mutated by
dropped quotes, swapped tokens, truncation and inserted keywords. A filter error
must point into the text and render; a filter that binds must then run on both
engines without raising.
"""

from __future__ import annotations

import re

from hypothesis import given, note, settings
from hypothesis import strategies as st

from polartrace import FilterError, TraceFrame, parse_filter
from polartrace.testing import example_traces, filter_strings
from property_tests._support import ENGINES, examples, outcome

FRAME = TraceFrame.from_traces(example_traces())

TOKENS = (
    "status", "timestamp_ms", "latency", "name", "text", "prompt", "tags.env",
    "tags.`my key`", "metadata.\"a.b\"", "span.name", "span.attributes.model",
    "feedback.relevance", "expectation.x", "issue.id", "trace.text", "tags.", "`",
    "AND", "or", "NOT", "not", "IN", "IS", "NULL", "null", "LIKE", "ilike", "RLIKE",
    "=", "!=", "<", "<=", ">", ">=", "==", "<>", "&&", "(", ")", ",", "'OK'", '"x"',
    "'%a_'", "'^\\d+$'", "'(unclosed'", "''", "'it''s'", "1", "-1", "1.5e3", "+5",
    "99999999999999999999", "1e999", "'2023-11-14'", "'qa/1'", "true", "`OK`", ";",
    "--", "'", '"', "\\",
)  # fmt: skip
# Where a mutation may cut or insert: quoted strings and names stay whole.
TOKEN_RE = re.compile(r"'(?:[^']|'')*'|`[^`]*`|[A-Za-z_][\w.]*|\S")
INSERTS = (
    "AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "(", ")", ",", "'", '"', "`",
    "=", "!", "NOT NOT", "AND OR", "IS NOT", "%", "\\", "\n",
)  # fmt: skip


def _assert_only_filter_errors(text: str) -> None:
    note(f"text: {text!r}")
    error: FilterError | None = None
    try:
        bound = parse_filter(text)
    except FilterError as exc:
        error = exc
    if error is not None:
        assert 0 <= error.position <= len(text)
        assert str(error)  # the caret line renders
        return
    for engine in ENGINES:  # a filter that binds never makes an engine raise
        assert isinstance(outcome(FRAME, bound.text, engine), list)


@settings(max_examples=examples(2))
@given(st.text(st.characters(exclude_categories=["Cs"])))
def test_arbitrary_text_raises_only_filter_errors(text: str) -> None:
    _assert_only_filter_errors(text)


@settings(max_examples=examples(2))
@given(st.lists(st.sampled_from(TOKENS), max_size=12), st.sampled_from(("", " ")))
def test_token_soup_raises_only_filter_errors(tokens: list[str], sep: str) -> None:
    _assert_only_filter_errors(sep.join(tokens))  # "" glues: status='OK'AND(


@st.composite
def mutated(draw: st.DrawFn, text: str) -> str:
    """Apply one to three random edits to ``text``."""
    for _ in range(draw(st.integers(1, 3))):
        tokens = [m.span() for m in TOKEN_RE.finditer(text)] or [(0, 0)]
        start, end = draw(st.sampled_from(tokens))
        edit = draw(st.sampled_from(("quote", "swap", "cut", "insert", "drop", "case")))
        if edit == "quote" and (
            quotes := [i for i, c in enumerate(text) if c in "'\"`"]
        ):
            at = draw(st.sampled_from(quotes))
            text = text[:at] + text[at + 1 :]
        elif edit == "swap":
            other_start, other_end = draw(st.sampled_from(tokens))
            if (start, end) > (other_start, other_end):
                start, end, other_start, other_end = other_start, other_end, start, end
            if end <= other_start:
                text = (
                    text[:start] + text[other_start:other_end] + text[end:other_start]
                    + text[start:end] + text[other_end:]
                )  # fmt: skip
        elif edit == "cut":
            text = text[: draw(st.integers(0, len(text)))]
        elif edit == "insert":
            word = draw(st.sampled_from(INSERTS))
            at = draw(st.sampled_from((start, end)))
            text = f"{text[:at]} {word} {text[at:]}"
        elif edit == "drop":
            text = text[:start] + text[end:]
        else:
            text = text[:start] + text[start:end].swapcase() + text[end:]
    return text


@settings(max_examples=examples(2))
@given(st.data())
def test_mutated_filters_raise_only_filter_errors(data: st.DataObject) -> None:
    text = data.draw(filter_strings(errors=True), label="filter")
    _assert_only_filter_errors(data.draw(mutated(text), label="mutated"))
