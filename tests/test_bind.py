"""The binder: field resolution, operator and value checks, conversions, span groups."""

from __future__ import annotations

import pytest

from polartrace import FilterError, parse_filter
from polartrace.bind.filter import (
    AllOf,
    AnyOf,
    Cond,
    Dynamic,
    Negate,
    SpanGroup,
    bind_order_by,
)
from polartrace.language.ast import Op
from polartrace.values.errors import (
    FilterSyntaxError,
    FilterTypeError,
    OrderByError,
    SearchArgumentError,
    UnknownFieldError,
    UnsupportedOperatorError,
)

# (filter, error class, message fragment, 0-based position, hint fragment or None)
MISTAKES = [
    (
        "attributes.stauts = 'OK'",
        UnknownFieldError,
        "unknown field 'attributes.stauts'",
        0,
        "attributes.status",
    ),
    ("STATUS = 'OK'", UnknownFieldError, "unknown field 'STATUS'", 0, "'status'"),
    ("Name = 'x'", UnknownFieldError, "unknown field 'Name'", 0, "'name'"),
    (
        "TAGS.environment = 'x'",
        UnknownFieldError,
        "unknown prefix 'TAGS'",
        0,
        "tags.environment",
    ),
    ("spans.name = 'x'", UnknownFieldError, "unknown prefix 'spans'", 0, "span.name"),
    (
        "assessment.tone = 'x'",
        UnknownFieldError,
        "unknown prefix 'assessment'",
        0,
        "feedback.tone",
    ),
    (
        "attr.timestamp_ms > 1",
        UnknownFieldError,
        "unknown prefix 'attr'",
        0,
        "attributes.timestamp_ms",
    ),
    (
        "request_time > 0",
        UnknownFieldError,
        "unknown field 'request_time'",
        0,
        "timestamp_ms",
    ),
    (
        "execution_duration > 0",
        UnknownFieldError,
        "unknown field 'execution_duration'",
        0,
        "execution_time_ms",
    ),
    (
        "environment = 'production'",
        UnknownFieldError,
        "unknown field 'environment'",
        0,
        "tags.<key>",
    ),
    (
        "`tags.environment` = 'x'",
        UnknownFieldError,
        "unknown field 'tags.environment'",
        0,
        "tags.`environment`",
    ),
    (
        "span.NAME = 'x'",
        UnknownFieldError,
        "unknown span field 'span.NAME'",
        0,
        "span.name",
    ),
    (
        "span.attribute.model = 'x'",
        UnknownFieldError,
        "unknown span field",
        0,
        "span.attributes.model",
    ),
    (
        "span.duration > 5",
        UnknownFieldError,
        "unknown span field 'span.duration'",
        0,
        "span.duration_ms",
    ),
    (
        "span.attributes. LIKE '%x%'",
        UnknownFieldError,
        "empty span attribute name",
        0,
        None,
    ),
    (
        "issue.name = 'x'",
        UnknownFieldError,
        "unknown issue field 'issue.name'",
        0,
        "issue.id",
    ),
    (
        "status = 'OK' AND tags.env = 'a' AND stauts = 'OK'",
        UnknownFieldError,
        "unknown field 'stauts'",
        37,
        "'status'",
    ),
    (
        "experiment_id = '1'",
        UnsupportedOperatorError,
        "order_by but not in a filter",
        0,
        None,
    ),
    (
        "status > 'A'",
        UnsupportedOperatorError,
        "operator '>' is not supported for 'status'",
        7,
        None,
    ),
    (
        "status IS NULL",
        UnsupportedOperatorError,
        "operator 'IS NULL' is not supported for 'status'",
        7,
        None,
    ),
    (
        "latency LIKE '1%'",
        UnsupportedOperatorError,
        "operator 'LIKE' is not supported for 'latency'",
        8,
        None,
    ),
    (
        "timestamp_ms RLIKE '^17'",
        UnsupportedOperatorError,
        "operator 'RLIKE'",
        13,
        None,
    ),
    (
        "tags.environment > 'a'",
        UnsupportedOperatorError,
        "operator '>' is not supported",
        17,
        "ordering",
    ),
    (
        "trace.text = 'x'",
        UnsupportedOperatorError,
        "operator '=' is not supported for 'trace.text'",
        11,
        "LIKE",
    ),
    (
        "text NOT LIKE '%x%'",
        UnsupportedOperatorError,
        "operator 'NOT LIKE'",
        5,
        "NOT text LIKE",
    ),
    (
        "span.name IS NULL",
        UnsupportedOperatorError,
        "operator 'IS NULL' is not supported for 'span.name'",
        10,
        None,
    ),
    ("span.content = 'x'", UnsupportedOperatorError, "operator '='", 13, None),
    (
        "prompt LIKE 'qa%'",
        UnsupportedOperatorError,
        "operator 'LIKE' is not supported for 'prompt'",
        7,
        None,
    ),
    ("issue.id != 'i'", UnsupportedOperatorError, "operator '!='", 9, None),
    ("request_id IS NULL", UnsupportedOperatorError, "operator 'IS NULL'", 11, None),
    (
        "tags.environment = 1",
        FilterTypeError,
        "'tags.environment' compares strings; 1 is a number",
        19,
        "quote it",
    ),
    ("status = 1", FilterTypeError, "'status' compares strings", 9, "quote it"),
    (
        "span.name = 1.5",
        FilterTypeError,
        "'span.name' compares strings",
        12,
        "quote it",
    ),
    ("metadata.user IN ('a', 1)", FilterTypeError, "1 is a number", 23, "quote it"),
    ("status = 'ok'", FilterTypeError, "unknown status value 'ok'", 9, "'OK'"),
    (
        "status IN ('OK', 'Error')",
        FilterTypeError,
        "unknown status value 'Error'",
        17,
        "'ERROR'",
    ),
    (
        "span.status = 'STATUS_CODE_OK'",
        FilterTypeError,
        "unknown span.status value",
        14,
        None,
    ),
    (
        "timestamp_ms > 'yesterday'",
        FilterTypeError,
        "needs epoch milliseconds or an ISO-8601 date",
        15,
        "2024-01-31",
    ),
    ("timestamp_ms > '2024-13-01'", FilterTypeError, "ISO-8601", 15, None),
    (
        "execution_time_ms > '1 s'",
        FilterTypeError,
        "'execution_time_ms' needs a number",
        20,
        "without quotes",
    ),
    (
        "feedback.relevance > '0.5'",
        FilterTypeError,
        "needs a number literal, not the string '0.5'",
        21,
        "0.5",
    ),
    ("span.attributes.k < 'a'", FilterTypeError, "needs a number literal", 20, None),
    ("tags.env LIKE 5", FilterTypeError, "LIKE needs a quoted pattern", 14, "quote it"),
    (
        "name RLIKE '(unclosed'",
        FilterTypeError,
        "invalid regular expression '(unclosed': unclosed group",
        12,
        "Rust regex",
    ),
    ("tags.v RLIKE '(?<=a)b'", FilterTypeError, "look-around", 14, None),
    (
        "prompt = 'qa'",
        FilterTypeError,
        "a prompt is written name/version",
        9,
        "qa-prompt/1",
    ),
    ("prompt = 'a/b/c'", FilterTypeError, "name/version", 9, None),
    ("prompt IN ('a/1', '/2')", FilterTypeError, "name/version", 18, None),
]


@pytest.mark.parametrize(
    ("text", "cls", "fragment", "position", "hint"),
    MISTAKES,
    ids=[m[0] for m in MISTAKES],
)
def test_mistake_is_reported_with_class_message_and_position(
    text: str, cls: type[FilterError], fragment: str, position: int, hint: str | None
) -> None:
    with pytest.raises(cls) as info:
        parse_filter(text)
    error = info.value
    assert fragment in error.message
    assert error.position == position
    assert error.filter_string == text
    if hint is None:
        return
    assert error.hint is not None
    assert hint in error.hint


def test_error_text_has_a_caret_under_the_problem() -> None:
    with pytest.raises(FilterError) as info:
        parse_filter("tags.environment = 1")
    lines = str(info.value).splitlines()
    assert lines[1] == "  tags.environment = 1"
    assert lines[2] == "                     ^"
    assert lines[3] == "Hint: quote it: '1'"


def test_filter_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="unknown field"):
        parse_filter("stauts = 'OK'")


def test_non_string_filter_is_an_argument_error() -> None:
    with pytest.raises(SearchArgumentError, match="must be a str"):
        parse_filter(42)  # type: ignore[arg-type]


def test_none_and_empty_mean_no_filter() -> None:
    assert parse_filter(None).root is None
    assert parse_filter("").root is None


def test_whitespace_only_filter_is_rejected() -> None:
    with pytest.raises(FilterSyntaxError):
        parse_filter("   ")


def test_repeated_filter_is_served_from_the_cache() -> None:
    assert parse_filter("status = 'OK' AND latency > 5") is parse_filter(
        "status = 'OK' AND latency > 5"
    )


@pytest.mark.parametrize(
    ("text", "name", "key"),
    [
        ("latency > 1", "execution_time_ms", None),
        ("execution_time > 1", "execution_time_ms", None),
        ("trace_id = 'x'", "request_id", None),
        ("state = 'OK'", "status", None),
        ("timestamp > 1", "timestamp_ms", None),
        ("end_time > 1", "end_time_ms", None),
        ("name = 'x'", "name", "mlflow.traceName"),
        ("tags.`mlflow.traceName` = 'x'", "name", "mlflow.traceName"),
        ("tags.name = 'x'", "tags.<key>", "name"),
        ("tags.prompt = 'x'", "tags.<key>", "prompt"),
        ("run_id = 'r'", "run_id", "mlflow.sourceRun"),
        ("metadata.`mlflow.sourceRun` = 'r'", "run_id", "mlflow.sourceRun"),
        ("metadata.run_id = 'r'", "metadata.<key>", "run_id"),
        ("tags.`mlflow.linkedPrompts` = 'p/1'", "prompt", "mlflow.linkedPrompts"),
        ("feedback.name = 'x'", "feedback.<name>", "name"),
        (
            "span.attributes.mlflow.spanType = 'LLM'",
            "span.attributes.<key>",
            "mlflow.spanType",
        ),
        ("request_metadata.k = 'v'", "metadata.<key>", "k"),
        ("trace.text LIKE '%a%'", "text", None),
        ("text LIKE '%a%'", "text", None),
    ],
    ids=lambda v: str(v),
)
def test_alias_and_reserved_key_resolution(
    text: str, name: str, key: str | None
) -> None:
    cond = parse_filter(text).root
    assert isinstance(cond, Cond | SpanGroup)
    if isinstance(cond, SpanGroup):
        cond = cond.conds[0]
    assert cond.field.name == name
    assert cond.key == key


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("timestamp_ms > '2023-11-14'", 1699920000000),
        ("timestamp_ms > '2023-11-14T22:13:20Z'", 1700000000000),
        ("timestamp_ms > '2023-11-14T22:13:20.5Z'", 1700000000500),
        ("timestamp_ms > '2023-11-14 23:13:20+01:00'", 1700000000000),
        ("timestamp_ms > '2023-11-14T22:13'", 1699999980000),
        ("timestamp_ms > '1700000000000'", 1700000000000),
        ("timestamp_ms > 1e3", 1000.0),
        ("timestamp_ms > +5", 5),
        ("execution_time_ms = '150'", 150),
        ("status = 'TRACE_STATUS_UNSPECIFIED'", "STATE_UNSPECIFIED"),
    ],
    ids=lambda v: str(v),
)
def test_literal_conversion(text: str, value: object) -> None:
    cond = parse_filter(text).root
    assert isinstance(cond, Cond)
    assert cond.value == value
    assert type(cond.value) is type(value)


def test_dynamic_literals_keep_text_and_number() -> None:
    root = parse_filter("feedback.x IN ('3.0', 'a', 2)").root
    assert isinstance(root, Cond)
    assert root.value == (
        Dynamic("3.0", 3.0, is_number=False),
        Dynamic("a", None, is_number=False),
        Dynamic("2", 2.0, is_number=True),
    )


def test_span_comparisons_of_one_chain_form_one_group() -> None:
    root = parse_filter(
        "(span.name = 'a') AND (status = 'OK' AND span.type = 'LLM')"
    ).root
    assert isinstance(root, AllOf)
    groups = [item for item in root.items if isinstance(item, SpanGroup)]
    assert len(groups) == 1
    assert [c.field.name for c in groups[0].conds] == ["span.name", "span.type"]


def test_span_comparisons_under_or_form_separate_groups() -> None:
    root = parse_filter("span.name = 'a' OR span.type = 'LLM'").root
    assert isinstance(root, AnyOf)
    assert all(
        isinstance(item, SpanGroup) and len(item.conds) == 1 for item in root.items
    )


def test_span_comparison_under_not_is_its_own_group() -> None:
    root = parse_filter("span.name = 'a' AND NOT span.type = 'LLM'").root
    assert isinstance(root, AllOf)
    first, second = root.items
    assert isinstance(first, SpanGroup)
    assert len(first.conds) == 1
    assert isinstance(second, Negate)
    assert isinstance(second.item, SpanGroup)


def test_operator_is_kept_on_the_condition() -> None:
    root = parse_filter("tags.env not ilike 'x%'").root
    assert isinstance(root, Cond)
    assert root.op is Op.NOT_ILIKE


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (["latency DESC"], [("execution_time_ms", None, True)]),
        (["tags.name"], [("tags.<key>", "name", False)]),
        (
            ["name", "tags.name"],
            [("name", "mlflow.traceName", False), ("tags.<key>", "name", False)],
        ),
        (
            ["metadata.`mlflow.trace.user` desc"],
            [("metadata.<key>", "mlflow.trace.user", True)],
        ),
        ("timestamp", [("timestamp_ms", None, False)]),
    ],
    ids=lambda v: str(v),
)
def test_order_by_resolution(
    order_by: list[str], expected: list[tuple[str, str | None, bool]]
) -> None:
    keys = bind_order_by(order_by)
    got = [(k.field.name, k.key, k.descending) for k in keys]  # type: ignore[union-attr]
    assert got == expected


@pytest.mark.parametrize(
    ("order_by", "fragment"),
    [
        (["STATUS"], "cannot order by 'STATUS'"),
        (["timestamp_ms DESCENDING"], "unknown direction"),
        (["timestamp_ms DESC, status ASC"], "cannot parse"),
        (["timestamp_ms", "timestamp"], "same key twice"),
        (["run_id", "metadata.mlflow.sourceRun"], "same key twice"),
        (["span.name"], "only trace attributes, tags and metadata"),
        (["feedback.x"], "only trace attributes, tags and metadata"),
        (["text"], "cannot order by 'text'"),
        ([""], "cannot parse"),
    ],
    ids=lambda v: str(v),
)
def test_bad_order_by_is_rejected(order_by: list[str], fragment: str) -> None:
    with pytest.raises(OrderByError, match=fragment.replace("(", r"\(")):
        bind_order_by(order_by)
