"""The parsing stage: filter text to AST nodes, locations, and syntax errors."""

from __future__ import annotations

import doctest
import importlib.resources
import random
from pathlib import Path

import pytest

from polartrace.language import parser
from polartrace.language.ast import (
    And,
    Comparison,
    Expr,
    Field,
    Loc,
    Not,
    Number,
    Op,
    Or,
    String,
    ValueList,
    unparse,
)
from polartrace.language.parser import _LARK, _ToAst, parse
from polartrace.values.errors import FilterError, FilterSyntaxError
from tests.conftest import load_jsonl

ROUNDTRIP = Path(__file__).parent / "fixtures" / "roundtrip-filters.txt"
FILTER_CASES = load_jsonl("filter-cases.jsonl")


def eq(name: str, value: str | float, prefix: str | None = None) -> Comparison:
    """``name = value`` without locations, for comparing trees."""
    literal = String(value) if isinstance(value, str) else Number(value)
    return Comparison(Field(prefix, name), Op.EQ, literal)


A, B, C = eq("a", 1), eq("b", 2), eq("c", 3)


# --- no filter ---------------------------------------------------------------------


@pytest.mark.parametrize("text", [None, ""], ids=["none", "empty"])
def test_no_filter_parses_to_none(text: str | None) -> None:
    assert parse(text) is None


@pytest.mark.parametrize(
    "text", ["AND", " and AND ", "AND\nAND"], ids=["one", "two", "newline"]
)
def test_filter_of_only_ands_parses_to_none(text: str) -> None:
    assert parse(text) is None


@pytest.mark.parametrize(
    "text", ["   ", "\t\n", "\u00a0"], ids=["spaces", "tab-nl", "nbsp"]
)
def test_blank_filter_is_a_syntax_error(text: str) -> None:
    with pytest.raises(FilterSyntaxError, match="the filter is blank") as info:
        parse(text)
    assert (info.value.position, info.value.end) == (0, len(text))


# --- tree shape --------------------------------------------------------------------


def test_single_comparison_is_returned_bare() -> None:
    assert parse("a = 1") == A


def test_and_chain_is_one_flat_node() -> None:
    assert parse("a = 1 AND b = 2 AND c = 3") == And((A, B, C))


def test_or_chain_is_one_flat_node() -> None:
    assert parse("a = 1 OR b = 2 OR c = 3") == Or((A, B, C))


def test_parenthesised_and_stays_a_nested_node() -> None:
    assert parse("(a = 1 AND b = 2) AND c = 3") == And((And((A, B)), C))


def test_parenthesised_and_on_the_right_stays_nested() -> None:
    assert parse("a = 1 AND (b = 2 AND c = 3)") == And((A, And((B, C))))


@pytest.mark.parametrize(
    "text", ["(a = 1)", "((a = 1))", "( ( (a = 1) ) )"], ids=["1", "2", "3"]
)
def test_parentheses_leave_no_node(text: str) -> None:
    assert parse(text) == A


def test_and_binds_tighter_than_or() -> None:
    assert parse("a = 1 OR b = 2 AND c = 3") == Or((A, And((B, C))))


def test_not_binds_tighter_than_and() -> None:
    assert parse("NOT a = 1 AND b = 2 OR c = 3") == Or((And((Not(A), B)), C))


def test_parentheses_override_precedence() -> None:
    assert parse("(a = 1 OR b = 2) AND c = 3") == And((Or((A, B)), C))


def test_not_applies_to_a_parenthesised_group() -> None:
    assert parse("NOT (a = 1 OR b = 2)") == Not(Or((A, B)))


def test_not_may_repeat() -> None:
    assert parse("NOT NOT a = 1") == Not(Not(A))


def test_nested_groups_keep_their_shape() -> None:
    expected = Or(
        (A, And((B, Or((C, Not(Comparison(Field(None, "d"), Op.IS_NULL, None)))))))
    )
    assert parse("(a = 1 OR (b = 2 AND (c = 3 OR NOT d IS NULL)))") == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AND a = 1", A),
        ("a = 1 AND", A),
        ("a = 1 AND AND b = 2", And((A, B))),
        ("AND a = 1 AND AND AND b = 2 AND", And((A, B))),
        ("(AND a = 1)", A),
        ("(a = 1 AND) OR b = 2", Or((A, B))),
        ("NOT (AND a = 1 AND)", Not(A)),
    ],
    ids=[
        "leading",
        "trailing",
        "doubled",
        "everywhere",
        "in-parens",
        "before-paren",
        "under-not",
    ],
)
def test_empty_conditions_between_ands_are_skipped(text: str, expected: Expr) -> None:
    assert parse(text) == expected


def test_deep_parentheses_do_not_exhaust_the_stack() -> None:
    assert parse("(" * 5000 + "a = 1" + ")" * 5000) == A


def test_nesting_up_to_the_limit_is_accepted() -> None:
    tree = parse("NOT " * 99 + "a = 1")
    for _ in range(99):
        assert isinstance(tree, Not)
        tree = tree.operand
    assert tree == A


def test_wide_and_chain_is_not_deep() -> None:
    text = " AND ".join(f"tags.k{i} = 'v'" for i in range(2000))
    tree = parse(text)
    assert isinstance(tree, And)
    assert len(tree.operands) == 2000


# --- operators ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "op"),
    [
        ("=", Op.EQ),
        ("!=", Op.NE),
        ("<", Op.LT),
        ("<=", Op.LE),
        (">", Op.GT),
        (">=", Op.GE),
        ("LIKE", Op.LIKE),
        ("like", Op.LIKE),
        ("ILike", Op.ILIKE),
        ("rlike", Op.RLIKE),
        ("NOT LIKE", Op.NOT_LIKE),
        ("not ilike", Op.NOT_ILIKE),
        ("Not\tRLIKE", Op.NOT_RLIKE),
    ],
    ids=lambda v: str(v).replace("\t", "TAB").replace(" ", "_"),
)
def test_binary_operator_maps_to_op(written: str, op: Op) -> None:
    tree = parse(f"name {written} 'x'")
    assert tree == Comparison(Field(None, "name"), op, String("x"))


@pytest.mark.parametrize(
    ("written", "op"),
    [
        ("IN", Op.IN),
        ("in", Op.IN),
        ("NOT IN", Op.NOT_IN),
        ("not  in", Op.NOT_IN),
        ("NOT\nIN", Op.NOT_IN),
    ],
    ids=["upper", "lower", "not-in", "two-spaces", "newline"],
)
def test_list_operator_maps_to_op(written: str, op: Op) -> None:
    tree = parse(f"status {written} ('OK')")
    assert tree == Comparison(Field(None, "status"), op, ValueList([String("OK")]))


@pytest.mark.parametrize(
    ("written", "op"),
    [
        ("IS NULL", Op.IS_NULL),
        ("is null", Op.IS_NULL),
        ("IS\nNULL", Op.IS_NULL),
        ("IS NOT NULL", Op.IS_NOT_NULL),
        ("IS  NOT  NULL", Op.IS_NOT_NULL),
        ("Is\tNot\r\nNull", Op.IS_NOT_NULL),
    ],
    ids=["upper", "lower", "newline", "not", "two-spaces", "mixed-whitespace"],
)
def test_null_test_maps_to_op_without_value(written: str, op: Op) -> None:
    assert parse(f"tags.env {written}") == Comparison(Field("tags", "env"), op, None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status='OK'", Comparison(Field(None, "status"), Op.EQ, String("OK"))),
        ("timestamp>5", Comparison(Field(None, "timestamp"), Op.GT, Number(5))),
        ("tags.env!='prod'", Comparison(Field("tags", "env"), Op.NE, String("prod"))),
        ("x<=-1", Comparison(Field(None, "x"), Op.LE, Number(-1))),
        (
            "x IN('a','b')",
            Comparison(Field(None, "x"), Op.IN, ValueList([String("a"), String("b")])),
        ),
        ("(x=1)AND(y=2)", And((eq("x", 1), eq("y", 2)))),
        ("x='a'and y='b'", And((eq("x", "a"), eq("y", "b")))),
    ],
    ids=[
        "eq",
        "gt-number",
        "ne-tag",
        "le-negative",
        "in-list",
        "parens",
        "keyword-after-quote",
    ],
)
def test_whitespace_is_optional_around_symbols(text: str, expected: Expr) -> None:
    assert parse(text) == expected


# --- fields ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "prefix", "key"),
    [
        ("status", None, "status"),
        ("timestamp", None, "timestamp"),
        ("text", None, "text"),
        ("STATUS", None, "STATUS"),
        ("tags.environment", "tags", "environment"),
        ("Tags.environment", "Tags", "environment"),
        ("tags.mlflow.traceName", "tags", "mlflow.traceName"),
        ("`tags`.environment", "tags", "environment"),
        ("`tags.environment`", None, "tags.environment"),
        ("`my field`", None, "my field"),
        ("span.attributes.`mlflow.spanType`", "span", "attributes.mlflow.spanType"),
        ('tags."env.region"', "tags", "env.region"),
        ("tags.'my key'", "tags", "my key"),
        ("tags.`my key`", "tags", "my key"),
        ("metadata.weird.key-1", "metadata", "weird.key-1"),
        ("tags.env-x", "tags", "env-x"),
        ("tags.and", "tags", "and"),
        ("tags.from", "tags", "from"),
        ("tags.or", "tags", "or"),
        ("tags.NOT", "tags", "NOT"),
        ("tags.1", "tags", "1"),
        ("tags.a`b c`\"d\"'e'", "tags", "ab cde"),
        ("tags.`ü`", "tags", "ü"),
        ("and.x", "and", "x"),
        ("android", None, "android"),
        ("order_id", None, "order_id"),
        ("notes", None, "notes"),
        ("inside", None, "inside"),
        ("island", None, "island"),
        ("isolation", None, "isolation"),
        ("nullable", None, "nullable"),
        ("likely", None, "likely"),
        ("Oracle", None, "Oracle"),
        ("true", None, "true"),
    ],
    ids=lambda v: str(v),
)
def test_field_is_recorded_as_written(
    written: str, prefix: str | None, key: str
) -> None:
    tree = parse(f"{written} = 'x'")
    assert isinstance(tree, Comparison)
    assert (tree.field.prefix, tree.field.key) == (prefix, key)


def test_keyword_like_names_work_after_not() -> None:
    expected = Not(Comparison(Field(None, "notes"), Op.IS_NOT_NULL, None))
    assert parse("NOT notes IS NOT NULL") == expected


def test_field_location_spans_the_whole_identifier() -> None:
    tree = parse("  tags.`my key` = 'x'")
    assert isinstance(tree, Comparison)
    assert tree.field.loc == Loc(2, 15)


# --- values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "value"),
    [
        pytest.param("'OK'", "OK", id="single"),
        pytest.param('"OK"', "OK", id="double"),
        pytest.param("''", "", id="empty"),
        pytest.param("'it''s'", "it's", id="doubled-single"),
        pytest.param('"say ""hi"""', 'say "hi"', id="doubled-double"),
        pytest.param("'it\\'s'", "it's", id="backslash-quote"),
        pytest.param('"a\\"b"', 'a"b', id="backslash-dquote"),
        pytest.param("'a\\\\b'", "a\\b", id="double-backslash"),
        pytest.param("'a\\\\'", "a\\", id="trailing-backslash"),
        pytest.param("'^\\d+$'", "^\\d+$", id="regex-kept"),
        pytest.param("'a\\%b'", "a\\%b", id="percent-kept"),
        pytest.param("'a\\_b'", "a\\_b", id="underscore-kept"),
        pytest.param('"it\\\'s"', "it\\'s", id="other-quote-kept"),
        pytest.param("'say \\\"hi\\\"'", 'say \\"hi\\"', id="other-dquote-kept"),
        pytest.param('"it\'s"', "it's", id="single-in-double"),
        pytest.param("'a\"b'", 'a"b', id="double-in-single"),
        pytest.param("'line1\nline2'", "line1\nline2", id="newline"),
        pytest.param("'ünï ✓'", "ünï ✓", id="unicode"),
        pytest.param("'a AND b'", "a AND b", id="keyword-inside"),
    ],
)
def test_string_value_resolves_escapes(written: str, value: str) -> None:
    tree = parse(f"name = {written}")
    assert isinstance(tree, Comparison)
    assert tree.value == String(value)


@pytest.mark.parametrize(
    ("written", "value"),
    [
        ("1", 1),
        ("-1", -1),
        ("+5", 5),
        ("0", 0),
        ("007", 7),
        ("9223372036854775807", 2**63 - 1),
        ("-9223372036854775808", -(2**63)),
        ("1.5", 1.5),
        (".5", 0.5),
        ("1.", 1.0),
        ("-.5", -0.5),
        ("1e3", 1000.0),
        ("1.5E-2", 0.015),
        ("1e+30", 1e30),
        ("1e30", 1e30),
        ("99999999999999999999.0", 1e20),
        ("1e-400", 0.0),
    ],
    ids=lambda v: str(v),
)
def test_number_value_is_int_or_float_as_written(written: str, value: float) -> None:
    tree = parse(f"x > {written}")
    assert isinstance(tree, Comparison)
    assert isinstance(tree.value, Number)
    assert tree.value.value == value
    assert type(tree.value.value) is type(value)


def test_list_keeps_items_in_order_and_mixes_types() -> None:
    tree = parse("x IN ('a', 1, 2.5, -3,)")
    assert isinstance(tree, Comparison)
    assert tree.value == ValueList([String("a"), Number(1), Number(2.5), Number(-3)])


def test_single_item_list_is_a_list() -> None:
    tree = parse("x IN ('a')")
    assert isinstance(tree, Comparison)
    assert tree.value == ValueList([String("a")])


# --- locations ---------------------------------------------------------------------


def test_comparison_locations() -> None:
    text = "tags.env NOT  LIKE 'p%'"
    tree = parse(text)
    assert isinstance(tree, Comparison)
    assert (tree.loc, tree.op_loc, tree.field.loc) == (
        Loc(0, 23),
        Loc(9, 18),
        Loc(0, 8),
    )
    assert isinstance(tree.value, String)
    assert tree.value.loc == Loc(19, 23)


def test_null_test_locations_cover_the_keywords() -> None:
    tree = parse("x IS NOT NULL")
    assert isinstance(tree, Comparison)
    assert (tree.loc, tree.op_loc) == (Loc(0, 13), Loc(2, 13))


def test_list_locations() -> None:
    tree = parse("x IN (1, 'b')")
    assert isinstance(tree, Comparison)
    assert isinstance(tree.value, ValueList)
    assert tree.value.loc == Loc(5, 13)
    assert [item.loc for item in tree.value.items] == [Loc(6, 7), Loc(9, 12)]
    assert tree.loc == Loc(0, 13)


def test_connective_locations_include_parentheses_of_operands() -> None:
    text = "NOT (a = 1 OR b = 2) AND c = 3"
    tree = parse(text)
    assert isinstance(tree, And)
    assert tree.loc == Loc(0, 30)
    negation = tree.operands[0]
    assert isinstance(negation, Not)
    assert negation.loc == Loc(0, 20)
    assert negation.operand.loc == Loc(5, 19)  # the OR itself, without its parentheses


def test_locations_skip_stray_ands() -> None:
    tree = parse("AND a = 1 AND b = 2 AND")
    assert isinstance(tree, And)
    assert tree.loc == Loc(4, 19)


def test_locations_do_not_affect_equality() -> None:
    assert parse("a=1") == parse("   a   =   1")


# --- errors ------------------------------------------------------------------------

# (filter, message part, position, hint part); every case must be a FilterSyntaxError.
SYNTAX_ERRORS = [
    ("status == 'OK'", "'==' is not an operator", 7, "use '='"),
    ("x === 1", "'===' is not an operator", 2, "use '='"),
    ("status <> 'OK'", "'<>' is not an operator", 7, "use '!='"),
    ("x =< 1", "'=<' is not an operator", 2, "use '<='"),
    ("x => 1", "'=>' is not an operator", 2, "use '>='"),
    ("x =! 1", "'=!' is not an operator", 2, "use '!='"),
    ("status ! = 'x'", "'!' is not an operator", 7, "use '!='"),
    ("!status = 'x'", "'!' is not an operator", 0, "use NOT"),
    ("a = 'x' && b = 'y'", "'&&' is not a connective", 8, "use AND"),
    ("a = 'x' & b = 'y'", "'&' is not a connective", 8, "use AND"),
    ("a = 'x' || b = 'y'", "'||' is not a connective", 8, "use OR"),
    ("a = 'x'; b = 'y'", "';' is not allowed", 7, "join conditions with AND"),
    ("a = 'x';", "';' is not allowed", 7, "remove the ';'"),
    ("a = 'x' -- note", "SQL comments ('--')", 8, "remove the comment"),
    ("a = 'x' /* note */", "SQL comments ('/*')", 8, "remove the comment"),
    ("status = OK", "got the unquoted text 'OK'", 9, "quote it: 'OK'"),
    ("status = tags.x", "got the unquoted text 'tags.x'", 9, "quote it: 'tags.x'"),
    ("status = true", "got the keyword 'true'", 9, "quote it: 'true'"),
    ("status = FALSE", "got the keyword 'FALSE'", 9, "quote it: 'FALSE'"),
    ("status = null", "got the keyword 'null'", 9, "use IS NULL"),
    ("status = `OK`", "backticks quote names, not values", 9, "quote it: 'OK'"),
    (
        "'OK' = status",
        "got the value 'OK'",
        0,
        "the field goes on the left: status = 'OK'",
    ),
    ("5 < latency", "got the value '5'", 0, "the field goes on the left: latency < 5"),
    ("\"status\" = 'OK'", 'got the string "status"', 0, "without quotes: status"),
    ("'my field' = 'x'", "got the string 'my field'", 0, "backticks: `my field`"),
    ("(status = 'OK'", "'(' at 0 is never closed", 0, "add the missing ')'"),
    ("a = 1 AND (b = 2 OR (c = 3)", "'(' at 10 is never closed", 10, "missing ')'"),
    ("status = 'OK')", "')' has no matching '('", 13, "remove the ')'"),
    ("NOT )", "')' has no matching '('", 4, "add the missing '('"),
    ("()", "empty parentheses", 0, "put a condition between the parentheses"),
    ("a = 1 AND (AND)", "empty parentheses", 10, "or remove them"),
    ("a = 1 OR", "'OR' has no condition on its right", 6, "OR needs two conditions"),
    ("OR a = 1", "'OR' has no condition on its left", 0, "OR needs two conditions"),
    ("a = 1 OR OR b = 2", "follows another OR", 9, "OR needs two conditions"),
    ("a = 1 AND OR b = 2", "'OR' follows AND", 10, "OR needs two conditions"),
    ("a = 1 or AND b = 2", "'or' is followed by AND", 6, "OR needs two conditions"),
    ("(a = 1 OR) AND b = 2", "'OR' has no condition on its right", 7, "two conditions"),
    ("NOT", "the filter ends after 'NOT'", 0, "NOT needs a condition after it"),
    ("NOT AND a = 1", "'NOT' needs a condition after it", 4, "NOT needs a condition"),
    ("status IN ()", "empty list '()'", 10, "at least one value"),
    ("status IN (('OK'))", "nested parentheses in a list", 11, "one flat list"),
    (
        "status IN ('OK' 'ERROR')",
        "missing ',' before 'ERROR'",
        16,
        "separate list items",
    ),
    ("status IN ('a',, 'b')", "empty item in the list", 15, "remove the extra ','"),
    ("status IN (, 'b')", "empty item in the list", 11, "remove the extra ','"),
    ("status IN (a, b)", "got the unquoted text 'a'", 11, "quote it: 'a'"),
    ("status IN 'OK'", "'IN' needs a list in parentheses", 10, "write IN ('OK')"),
    ("status NOT IN 1", "'IN' needs a list in parentheses", 14, "write IN (1)"),
    ("status = ('OK')", "'=' cannot take a list", 9, "use IN for a list"),
    ("status IN ('a'", "'(' at 10 is never closed", 10, "add the missing ')'"),
    (
        "tags.quote = 'it\\'",
        "unterminated string 'it\\'",
        13,
        "close the string with '",
    ),
    ('status = "OK', 'unterminated string "OK', 9, 'close the string with "'),
    (
        "status = 'OK' AND x = 'y",
        "unterminated string 'y",
        22,
        "close the string with '",
    ),
    ("x = `OK", "unterminated name `OK", 4, "close the name with `"),
    ("timestamp_ms > - 1", "the sign '-' is separated from its number", 15, "write -1"),
    ("x = + 5.5", "the sign '+' is separated", 4, "write +5.5"),
    ("x = 0x10", "invalid number '0x10'", 4, "numbers are decimal"),
    ("x = 1.5.3", "invalid number '1.5.3'", 4, "quote text: '1.5.3'"),
    ("x = 1e", "invalid number '1e'", 4, "numbers are decimal"),
    ("x = 12abc", "invalid number '12abc'", 4, "numbers are decimal"),
    (
        "x = 99999999999999999999",
        "integer 99999999999999999999 out of range",
        4,
        "64-bit",
    ),
    ("x = 9223372036854775808", "out of range", 4, "write a float such as 1e30"),
    ("x = -9223372036854775809", "out of range", 4, "signed 64-bit"),
    ("x = 1e400", "number 1e400 is too large", 4, "finite"),
    ("tags. = 'x'", "empty key after 'tags.'", 0, "write the key after the dot"),
    ("tags.`` = 'x'", "empty key after 'tags.'", 0, "tags.environment"),
    ('span.attributes.x = 1 AND tags."" IS NULL', "empty key after 'tags.'", 26, "key"),
    ("`` = 'x'", "empty field name", 0, None),
    ("tags.-x = 'a'", "key '-x' cannot start with '-'", 0, "quote the key: tags.`-x`"),
    ("tags..x = 'a'", "key '.x' cannot start with '.'", 0, "quote the key"),
    ("status BETWEEN 1 AND 2", "BETWEEN is not supported", 7, "status >= low AND"),
    ("status", "the filter ends after 'status': expected an operator", 0, None),
    ("status =", "the filter ends after '='", 7, None),
    ("status IS", "the filter ends after 'IS': expected NOT or NULL", 7, None),
    ("status IS 'x'", "expected NOT or NULL after 'IS'", 10, "compare with '='"),
    ("status IS NOT 'x'", "expected NULL after 'NOT'", 14, "only tests for a missing"),
    (
        "status NOT = 'x'",
        "expected LIKE, ILIKE, RLIKE or IN after 'NOT'",
        11,
        "use '!='",
    ),
    ("status 'OK'", "missing operator between 'status' and 'OK'", 7, "status = 'OK'"),
    ("tags.my key = 'x'", "expected an operator", 8, "tags.`my key`"),
    ("my-field = 'x'", "'-' is not allowed in a field name", 2, "backticks"),
    ("été = 1", "unexpected character 'é'", 0, "ASCII"),
    ("x = 1 @", "unexpected character '@' after '1'", 6, None),
    ("status = 'OK' foo", "got 'foo'", 14, "join conditions with AND or OR"),
    ("a = 1 NOT b = 2", "got 'NOT'", 6, "join conditions with AND or OR"),
    ("a = 1 (b = 2)", "got '('", 6, "join conditions with AND or OR"),
    ("like = 1", "got the keyword 'like'", 0, "backticks: `like`"),
    ("= 'x'", "expected a condition, got '='", 0, None),
    # Found by fuzzing: braces in the user's text must not reach str.format.
    ("`a{b}`", "the filter ends after '`a{b}`'", 0, None),
    ("x = {a}", "unexpected character '{' after '='", 4, None),
    ("NOT " * 100 + "a = 1", "nests more than 100 levels", 0, None),
]


@pytest.mark.parametrize(
    ("text", "message", "position", "hint"),
    SYNTAX_ERRORS,
    ids=[case[0].replace("\n", "\\n")[:40] for case in SYNTAX_ERRORS],
)
def test_syntax_error_says_what_and_where(
    text: str, message: str, position: int, hint: str | None
) -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse(text)
    error = info.value
    assert message in error.message
    assert error.position == position
    assert error.filter_string == text
    if hint is None:
        assert error.hint is None
    else:
        assert error.hint is not None
        assert hint in error.hint


def test_syntax_errors_cover_many_distinct_mistakes() -> None:
    assert len({text for text, *_ in SYNTAX_ERRORS}) >= 40


def test_error_end_covers_the_offending_token() -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse("status == 'OK'")
    assert (info.value.position, info.value.end) == (7, 9)


def test_error_message_shows_a_caret_and_the_hint() -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse("status = OK")
    assert str(info.value) == (
        "expected a value after '=', got the unquoted text 'OK' (at position 9)\n"
        "  status = OK\n"
        "           ^^\n"
        "Hint: quote it: 'OK'"
    )


def test_syntax_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="is not an operator"):
        parse("a == 1")


def test_lark_traceback_is_not_chained() -> None:
    with pytest.raises(FilterSyntaxError) as info:
        parse("a == 1")
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


# --- grammar and transformer wiring ------------------------------------------------


def test_grammar_ships_inside_the_package() -> None:
    assert (
        importlib.resources.files("polartrace.language")
        .joinpath("grammar.lark")
        .is_file()
    )


def test_every_grammar_alias_has_a_transformer_method() -> None:
    names = {rule.alias or rule.origin.name for rule in _LARK.rules}
    names = {str(name) for name in names if not str(name).startswith("_")}
    assert names
    assert all(callable(getattr(_ToAst, name, None)) for name in names), names


def test_transformer_default_refuses_unknown_rules() -> None:
    with pytest.raises(NotImplementedError, match="no transformer method"):
        _ToAst("x").__default__("mystery", [], None)


def test_internal_transformer_failure_still_raises_a_filter_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: _ToAst, children: list[object]) -> Number:
        raise ZeroDivisionError

    monkeypatch.setattr(_ToAst, "number", broken)
    with pytest.raises(FilterSyntaxError, match="internal error") as info:
        parse("x = 1")
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_docstring_examples_run() -> None:
    assert doctest.testmod(parser).failed == 0


# --- round trips and the conformance fixtures ---------------------------------------

ROUNDTRIP_LINES = ROUNDTRIP.read_text(encoding="utf-8").splitlines()


def test_roundtrip_fixture_covers_enough_filters() -> None:
    assert len(ROUNDTRIP_LINES) >= 60


@pytest.mark.parametrize(
    "text", ROUNDTRIP_LINES, ids=[f"line{i + 1}" for i in range(len(ROUNDTRIP_LINES))]
)
def test_roundtrip_fixture_line_reparses_to_the_same_tree(text: str) -> None:
    tree = parse(text)
    assert parse(unparse(tree)) == tree


@pytest.mark.parametrize(
    "case", FILTER_CASES, ids=[case["id"] for case in FILTER_CASES]
)
def test_fixture_filter_parses_and_roundtrips_or_raises_filter_error(
    case: dict[str, object],
) -> None:
    text = case["filter"]
    assert isinstance(text, str)
    try:
        tree = parse(text)
    except FilterError:
        assert not case["valid"]  # a valid filter must get past the parser
        return
    assert parse(unparse(tree)) == tree


# Invalid fixture cases that are syntax errors, not binding errors: the parser
# itself must reject them.
FIXTURE_SYNTAX_ERRORS = [
    "   ",
    "()",
    "status == 'OK'",
    "feedback.tone == 'x'",
    "status <> 'OK'",
    "execution_time_ms =< 1000",
    "status = 'OK' && tags.environment = 'production'",
    "status = `OK`",
    "'OK' = status",
    "tags.`` = 'x'",
    "tags. = 'x'",
    "status IN ()",
    "tags.environment IN ()",
    "status IN 'OK'",
    "status IN ('a',, 'b')",
    "status IN (('OK'))",
    "status IN ('OK' 'ERROR')",
    "tags.environment IN ('production' 'staging')",
    "timestamp_ms BETWEEN 1 AND 2",
    "timestamp_ms > - 1",
    "feedback.relevance < 99999999999999999999",
    "status = 'OK' OR OR status = 'ERROR'",
    "OR status = 'OK'",
    "(status = 'OK'",
    "tags.quote = 'it\\'",
]


@pytest.mark.parametrize("text", FIXTURE_SYNTAX_ERRORS, ids=FIXTURE_SYNTAX_ERRORS)
def test_fixture_syntax_error_is_rejected_by_the_parser(text: str) -> None:
    assert any(c["filter"] == text and not c["valid"] for c in FILTER_CASES)
    with pytest.raises(FilterSyntaxError):
        parse(text)


# --- fuzz ----------------------------------------------------------------------------

FRAGMENTS = [
    "status", "tags.env", "`tags`.x", "span.attributes.`a.b`", "metadata.k-1", "tags.",
    "`x`", "android", "timestamp", "=", "!=", "<", "<=", ">", ">=", "==", "<>", "!",
    "LIKE", "not", "IN", "is", "NULL", "AND", "or", "NOT", "BETWEEN", "(", ")", ",",
    "'OK'", '"x"', "'it''s'", r"'a\'b'", r"'\d'", "1", "-1", "+5", "1e3", ".5", "1.",
    "0x10", "- 1", "9" * 25, "1e400", "true", "null", "&&", "||", ";", "--", "/*",
    "'", '"', "`", "\\", "\n", "\t", " ", "é", "\x00", "\ud800", "%", "''", "tags.``",
]  # fmt: skip
ALPHABET = "ab=!<>()'\"`\\,.-+ \t\n0123456789eE_;&|%é{}[]@#$"


def _fuzz_inputs(count: int) -> list[str]:
    rng = random.Random(20240611)
    inputs = []
    seeds = [case["filter"] for case in FILTER_CASES] + ROUNDTRIP_LINES
    for i in range(count):
        if i % 2:
            pieces = rng.choices(FRAGMENTS, k=rng.randint(1, 12))
            inputs.append(rng.choice(["", " "]).join(pieces))
            continue
        chars = list(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            where = rng.randrange(len(chars) + 1)
            action = rng.choice(["insert", "delete", "replace", "duplicate"])
            if action == "insert" or not chars:
                chars.insert(where, rng.choice(ALPHABET))
            elif action == "delete":
                del chars[min(where, len(chars) - 1)]
            elif action == "replace":
                chars[min(where, len(chars) - 1)] = rng.choice(ALPHABET)
            else:
                chars[where:where] = chars[where : where + rng.randint(1, 6)]
        inputs.append("".join(chars))
    return inputs


def test_fuzzed_filters_raise_only_filter_errors() -> None:
    failures = []
    for text in _fuzz_inputs(2000):
        try:
            tree = parse(text)
        except FilterError as error:
            if not (0 <= error.position <= len(text) and error.message):
                failures.append((text, f"bad error fields: {error.position}"))
            str(error)  # rendering the caret line must not fail either
            continue
        except Exception as error:  # anything else is the bug looked for
            failures.append((text, repr(error)))
            continue
        if tree is not None and parse(unparse(tree)) != tree:
            failures.append((text, "round trip changed the tree"))
    assert failures == []
