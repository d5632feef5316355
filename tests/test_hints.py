"""The messages and hints of rejected filters and order_by entries, on real typos.

One table per input kind: every case is a mistake seen in practice, and asserts the
error class, what the message says, where it points and the exact hint (``None``
where no hint would be right). A hint must never suggest something wrong: each
suggested fix is also checked to get past the mistake it fixes.
"""

from __future__ import annotations

import pickle

import pytest

from polartrace.bind.filter import Cond, bind_order_by, parse_filter
from polartrace.values.errors import (
    FilterError,
    FilterSyntaxError,
    FilterTypeError,
    OrderByError,
    UnknownFieldError,
)

PREFIXES = (
    "; prefixes are attribute, attributes, trace, tag, tags, metadata, "
    "request_metadata, span, feedback, expectation, issue"
)
ONLY_ORDERABLE = "only trace attributes, tags and metadata are orderable"

FILTER_MISTAKES = [
    pytest.param(
        "attributes.stauts = 'OK'",
        UnknownFieldError,
        "unknown field 'attributes.stauts'",
        0,
        "did you mean 'attributes.status'?",
        id="misspelt-attribute",
    ),
    pytest.param(
        "request_time > 5",
        UnknownFieldError,
        "unknown field 'request_time'",
        0,
        "did you mean 'timestamp_ms'?",
        id="dataframe-request-time",
    ),
    pytest.param(
        "execution_duration > 100",
        UnknownFieldError,
        "unknown field 'execution_duration'",
        0,
        "did you mean 'execution_time_ms'?",
        id="dataframe-execution-duration",
    ),
    pytest.param(
        "request LIKE '%refund%'",
        UnknownFieldError,
        "unknown field 'request'",
        0,
        "did you mean 'text'?",
        id="dataframe-request",
    ),
    pytest.param(
        "trace_metadata.`mlflow.user` = 'x'",
        UnknownFieldError,
        "unknown prefix 'trace_metadata' in 'trace_metadata.mlflow.user'" + PREFIXES,
        0,
        "did you mean 'metadata.mlflow.user'?",
        id="dataframe-trace-metadata",
    ),
    pytest.param(
        "tags = 'x'",
        UnknownFieldError,
        "unknown field 'tags'",
        0,
        "'tags' needs a key: tags.<key>",
        id="tags-without-key",
    ),
    pytest.param(
        "feedback > 0.5",
        UnknownFieldError,
        "unknown field 'feedback'",
        0,
        "'feedback' needs a key: feedback.<name>",
        id="feedback-without-name",
    ),
    pytest.param(
        "tgas.env = 'x'",
        UnknownFieldError,
        "unknown prefix 'tgas' in 'tgas.env'" + PREFIXES,
        0,
        "did you mean 'tags.env'?",
        id="misspelt-prefix",
    ),
    pytest.param(
        "span.duration > 5",
        UnknownFieldError,
        "unknown span field 'span.duration'; span fields are name, type, status, "
        "duration_ms, model, provider, tokens.input, tokens.output, tokens.total, "
        "tokens.cache_read, tokens.cache_write, tokens.reasoning, cost.input, "
        "cost.output, cost.total, time_to_first_token_ms, content, attributes.<key>",
        0,
        "did you mean 'span.duration_ms'?",
        id="misspelt-span-field",
    ),
    pytest.param(
        "status = OK",
        FilterSyntaxError,
        "expected a value after '=', got the unquoted text 'OK'",
        9,
        "quote it: 'OK'",
        id="unquoted-word",
    ),
    pytest.param(
        "name = gpt-4o",
        FilterSyntaxError,
        "expected a value after '=', got the unquoted text 'gpt-4o'",
        7,
        "quote it: 'gpt-4o'",
        id="unquoted-hyphenated",
    ),
    pytest.param(
        "trace_id = tr-abc-123 AND status = 'OK'",
        FilterSyntaxError,
        "expected a value after '=', got the unquoted text 'tr-abc-123'",
        11,
        "quote it: 'tr-abc-123'",
        id="unquoted-id",
    ),
    pytest.param(
        "tags.x = foo bar",
        FilterSyntaxError,
        "expected a value after '=', got the unquoted text 'foo bar'",
        9,
        "quote it: 'foo bar'",
        id="unquoted-words",
    ),
    pytest.param(
        "(tags.x = foo bar) AND status = 'OK'",
        FilterSyntaxError,
        "expected a value after '=', got the unquoted text 'foo bar'",
        10,
        "quote it: 'foo bar'",
        id="unquoted-in-parentheses",
    ),
    pytest.param(
        "name = it's",
        FilterSyntaxError,
        "expected a value after '=', got the unquoted text 'it's'",
        7,
        "quote it: 'it''s'",
        id="unquoted-apostrophe",
    ),
    pytest.param(
        "name LIKE gpt%",
        FilterSyntaxError,
        "expected a value after 'LIKE', got the unquoted text 'gpt%'",
        10,
        "quote it: 'gpt%'",
        id="unquoted-pattern",
    ),
    pytest.param(
        "status IN ('OK', ERROR)",
        FilterSyntaxError,
        "expected a value after ',', got the unquoted text 'ERROR'",
        17,
        "quote it: 'ERROR'",
        id="unquoted-list-item",
    ),
    pytest.param(
        "name = 4o-mini",
        FilterSyntaxError,
        "invalid number '4o'",
        7,
        "numbers are decimal (10, -1.5, 1e3); quote text: '4o-mini'",
        id="digit-led-word",
    ),
    pytest.param(
        "status == 'OK'",
        FilterSyntaxError,
        "'==' is not an operator",
        7,
        "use '='",
        id="double-equals",
    ),
    pytest.param(
        "status <> 'OK'",
        FilterSyntaxError,
        "'<>' is not an operator",
        7,
        "use '!='",
        id="sql-not-equal",
    ),
    pytest.param(
        "status = 'OK' name = 'x'",
        FilterSyntaxError,
        "expected AND, OR or the end of the filter after 'OK', got 'name'",
        14,
        "join conditions with AND or OR",
        id="missing-and",
    ),
    pytest.param(
        "(status = 'OK'",
        FilterSyntaxError,
        "unbalanced parenthesis: '(' at 0 is never closed",
        0,
        "add the missing ')'",
        id="unclosed-parenthesis",
    ),
    pytest.param(
        "status = 'OK')",
        FilterSyntaxError,
        "unbalanced parenthesis: ')' has no matching '('",
        13,
        "remove the ')' or add the missing '('",
        id="extra-parenthesis",
    ),
    pytest.param(
        "status = 'OK",
        FilterSyntaxError,
        "unterminated string 'OK",
        9,
        "close the string with '",
        id="unterminated-string",
    ),
    pytest.param(
        "status IN 'OK', 'ERROR'",
        FilterSyntaxError,
        "'IN' needs a list in parentheses, got 'OK'",
        10,
        "write IN ('OK', 'ERROR')",
        id="in-without-parentheses",
    ),
    pytest.param(
        "status IN OK, ERROR",
        FilterSyntaxError,
        "'IN' needs a list in parentheses, got 'OK'",
        10,
        "write IN ('OK', 'ERROR')",
        id="in-bare-words",
    ),
    pytest.param(
        "latency IN 1, 2",
        FilterSyntaxError,
        "'IN' needs a list in parentheses, got '1'",
        11,
        "write IN (1, 2)",
        id="in-numbers",
    ),
    pytest.param(
        "latency > 1 000",
        FilterSyntaxError,
        "a number cannot hold a space: 1 000",
        10,
        "write 1000",
        id="number-with-space",
    ),
    pytest.param(
        "latency > '1s'",
        FilterTypeError,
        "'latency' needs a number, not '1s'",
        10,
        "write milliseconds as a number without quotes, e.g. 1000",
        id="number-with-unit",
    ),
    pytest.param(
        "timestamp > 'yesterday'",
        FilterTypeError,
        "'timestamp' needs epoch milliseconds or an ISO-8601 date, not 'yesterday'",
        12,
        "for example '2024-01-31' or '2024-01-31T12:00:00Z'",
        id="bad-date",
    ),
    pytest.param(
        "tags.env = 5",
        FilterTypeError,
        "'tags.env' compares strings; 5 is a number",
        11,
        "quote it: '5'",
        id="number-for-tag",
    ),
    pytest.param(
        "status = 'EROR'",
        FilterTypeError,
        "unknown status value 'EROR'; it is one of STATE_UNSPECIFIED, OK, ERROR, "
        "IN_PROGRESS",
        9,
        "did you mean 'ERROR'? (values are case-sensitive)",
        id="misspelt-status-value",
    ),
    pytest.param(
        "latency BETWEEN 1 AND 2",
        FilterSyntaxError,
        "BETWEEN is not supported",
        8,
        "write latency >= low AND latency <= high",
        id="between",
    ),
    pytest.param(
        "status = 'OK' OR",
        FilterSyntaxError,
        "'OR' has no condition on its right",
        14,
        "OR needs two conditions, one on each side",
        id="or-without-right-side",
    ),
]


@pytest.mark.parametrize(
    ("text", "cls", "message", "position", "hint"), FILTER_MISTAKES
)
def test_filter_mistake_is_explained(
    text: str, cls: type[FilterError], message: str, position: int, hint: str | None
) -> None:
    with pytest.raises(FilterError) as info:
        parse_filter(text)
    error = info.value
    assert (type(error), error.message, error.position, error.hint) == (
        cls,
        message,
        position,
        hint,
    )


ORDER_BY_MISTAKES = [
    pytest.param(
        "request_time DESC",
        "cannot order by 'request_time'",
        0,
        "did you mean 'timestamp_ms'?",
        id="order-dataframe-request-time",
    ),
    pytest.param(
        "execution_duration",
        "cannot order by 'execution_duration'",
        0,
        "did you mean 'execution_time_ms'?",
        id="order-dataframe-execution-duration",
    ),
    pytest.param(
        "stauts",
        "cannot order by 'stauts'",
        0,
        "did you mean 'status'?",
        id="order-misspelt",
    ),
    pytest.param(
        "timestamp_ms DSC",
        "unknown direction 'DSC'; use ASC or DESC",
        13,
        "did you mean 'DESC'?",
        id="order-direction-typo",
    ),
    pytest.param(
        "latency DESCENDING",
        "unknown direction 'DESCENDING'; use ASC or DESC",
        8,
        "did you mean 'DESC'?",
        id="order-direction-word",
    ),
    pytest.param(
        "timestamp_ms DESC, name ASC",
        "cannot parse order_by entry: ',' joins two keys",
        17,
        "give each key its own entry: 'timestamp_ms DESC', 'name ASC'",
        id="order-two-keys-one-string",
    ),
    pytest.param(
        "ORDER BY timestamp_ms",
        "cannot parse order_by entry: 'ORDER BY' is not part of it",
        0,
        "write the key alone: 'timestamp_ms'",
        id="order-sql-words",
    ),
    pytest.param(
        "timestamp_ms DESC LIMIT 5",
        "cannot parse order_by entry: unexpected 'LIMIT' after the direction",
        18,
        "an entry is one key and an optional ASC or DESC",
        id="order-limit",
    ),
    pytest.param(
        "tags",
        "cannot order by 'tags'",
        0,
        "'tags' needs a key: tags.<key>",
        id="order-tags-without-key",
    ),
    pytest.param(
        "trace_metadata.x",
        "cannot order by 'trace_metadata.x': " + ONLY_ORDERABLE,
        0,
        "did you mean 'metadata.x'?",
        id="order-trace-metadata",
    ),
    pytest.param(
        "span.name",
        "cannot order by 'span.name': " + ONLY_ORDERABLE,
        0,
        None,
        id="order-span-field",
    ),
    pytest.param("request", "cannot order by 'request'", 0, None, id="order-text"),
]


@pytest.mark.parametrize(("entry", "message", "position", "hint"), ORDER_BY_MISTAKES)
def test_order_by_mistake_is_explained(
    entry: str, message: str, position: int, hint: str | None
) -> None:
    with pytest.raises(OrderByError) as info:
        bind_order_by([entry])
    error = info.value
    assert (error.message, error.position, error.hint) == (message, position, hint)


def _replacement(error: FilterError) -> str | None:
    """The text a hint puts in place of the underlined text, if it says one."""
    hint = error.hint or ""
    for lead in ("quote it: ", "quote text: "):
        if lead in hint:
            return hint.partition(lead)[2]
    if isinstance(error, UnknownFieldError) and hint.startswith("did you mean '"):
        return hint.removeprefix("did you mean '").removesuffix("'?")
    return None


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(case.values[0], id=case.id)
        for case in FILTER_MISTAKES
        if str(case.values[4]).startswith(("quote", "did you mean", "numbers"))
        and case.values[1] is not FilterTypeError
    ],
)
def test_suggested_replacement_fixes_the_mistake(text: str) -> None:
    with pytest.raises(FilterError) as info:
        parse_filter(text)
    error = info.value
    replacement = _replacement(error)
    assert replacement is not None
    end = error.position + 1 if error.end is None else error.end
    fixed = text[: error.position] + replacement + text[end:]
    assert parse_filter(fixed).root is not None


@pytest.mark.parametrize(
    ("text", "field", "key", "value"),
    [
        pytest.param("tag.env = 'prod'", "tags.<key>", "env", "prod", id="tag-prefix"),
        pytest.param(
            "metadata.mlflow.user = 'ann'",
            "metadata.<key>",
            "mlflow.user",
            "ann",
            id="dotted-metadata-key",
        ),
        pytest.param(
            "request_metadata.mlflow.user = 'ann'",
            "metadata.<key>",
            "mlflow.user",
            "ann",
            id="mlflow-2-metadata-prefix",
        ),
        pytest.param("state = 'OK'", "status", None, "OK", id="dataframe-state"),
        pytest.param("trace_id = 'tr-1'", "request_id", None, "tr-1", id="trace-id"),
        pytest.param("name like 'gpt'", "name", "mlflow.traceName", "gpt", id="lower"),
        pytest.param(
            "execution_time_ms > '100'",
            "execution_time_ms",
            None,
            100,
            id="quoted-number",
        ),
        pytest.param(
            "timestamp > '2024-01-01'",
            "timestamp_ms",
            None,
            1704067200000,
            id="iso-date",
        ),
    ],
)
def test_near_mistake_is_accepted(
    text: str, field: str, key: str | None, value: object
) -> None:
    root = parse_filter(text).root
    assert isinstance(root, Cond)
    assert (root.field.name, root.key, root.value) == (field, key, value)


def test_order_by_given_as_one_string_is_one_entry() -> None:
    assert bind_order_by("timestamp_ms DESC") == bind_order_by(["timestamp_ms DESC"])


def test_order_by_error_shows_a_caret_under_the_problem() -> None:
    with pytest.raises(OrderByError) as info:
        bind_order_by(["timestamp_ms DSC"])
    assert str(info.value) == (
        "unknown direction 'DSC'; use ASC or DESC (at position 13 of the order_by "
        "entry)\n"
        "  timestamp_ms DSC\n"
        "               ^^^\n"
        "Hint: did you mean 'DESC'?"
    )


def test_order_by_error_survives_pickling() -> None:
    error = OrderByError("cannot order by 'x'", "x DESC", position=0, end=1, hint="h")
    back = pickle.loads(pickle.dumps(error))
    assert (back.message, back.clause, back.position, back.end, back.hint) == (
        "cannot order by 'x'",
        "x DESC",
        0,
        1,
        "h",
    )
    assert str(back) == str(error)
