"""Diagnose a filter that does not parse: one FilterError with position and hint.

Lark's exceptions are translated here, in one function (`_translate`); the
parser calls it and knows nothing of the wording.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from lark import Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedToken, VisitError

from polartrace.language.tokens import _OPS, _clip, _loc
from polartrace.values.errors import FilterError, FilterSyntaxError


class _Seen(NamedTuple):
    """A token near an error; kind is a terminal name, "CHAR" (unlexable) or "$END"."""

    kind: str
    text: str
    start: int
    end: int


def _table(text: str) -> dict[tuple[str, str], tuple[str, str]]:
    """Read "context kind[,kind] message [| hint]" lines; a hint may go below."""
    table: dict[tuple[str, str], tuple[str, str]] = {}
    keys: list[tuple[str, str]] = []
    for line in text.strip().splitlines():
        if line.startswith(" "):  # the hint of the row above, on its own line
            table |= {key: (table[key][0], line.strip()) for key in keys}
            continue
        context, kinds, rest = line.split(maxsplit=2)
        message, _, hint = rest.partition(" | ")
        # Patterns may hold commas; other kinds are comma-separated lists.
        kinds_ = [kinds] if context == "char" else kinds.split(",")
        keys = [(context, kind) for kind in kinds_]
        table |= dict.fromkeys(keys, (message, hint))
    return table


# What the user most likely did wrong, by where the parser stood (see _context) and
# the kind of token it met (see _refine); "*" is any kind. "char" rows are instead
# tried in order as patterns at a character nothing could lex, and "symbol" rows
# are hints for runs of symbols that are no operator. Messages and hints see m0-m2
# (a pattern's match and groups), got (the token), word (its text), inner (word
# without quotes), before/prev (the previous token, quoted/bare), wanted, generic,
# field/op (of "'OK' = status"), bare/quoted (the whole unquoted value that starts
# at the token, as written and as a string literal; see _bare_value) and items
# (the values after an IN without parentheses, as a list).
_MISTAKES = _table(r"""
char (['"])(?=[\s\S]*\\\1)[\s\S]* unterminated string {m0}
    close the string with {m1}; \{m1} is an escaped quote, write \\ for a backslash
char (['"])[\s\S]* unterminated string {m0} | close the string with {m1}
char `[\s\S]* unterminated name {m0} | close the name with `
char ; ';' is not allowed: a filter is one expression
    join conditions with AND, or remove the ';'
char --|/\* SQL comments ('{m0}') are not supported | remove the comment
char ([+-])\s+(\.?[0-9][\w.]*) the sign '{m1}' is separated from its number
    write {m1}{m2}
char [+-]?\.?[0-9](?:[\w.]|(?<=[eE])[+-])* invalid number '{m0}'
    numbers are decimal (10, -1.5, 1e3); quote text: {quoted}
char (?<=\w)-[\w\-]* '-' is not allowed in a field name without a prefix
    quote the name with backticks, e.g. `my-field`
char [^\W\d_] unexpected character '{m0}'
    names are ASCII letters, digits and '_'; quote others with backticks
char [\s\S] unexpected character {got} after {before}: expected {wanted}
symbol ==,=== use '='
symbol <>,><,=!,! use '!='
symbol =< use '<='
symbol => use '>='
symbol &,&& use AND
symbol |,|| use OR
operator BETWEEN BETWEEN is not supported | write {prev} >= low AND {prev} <= high
operator KEYPART expected an operator after {before}, got {got}
    quote a key that holds spaces: {spaced}
operator NULL expected an operator after {before}, got {got} | use IS NULL
operator LPAR expected an operator after {before}, got {got}
    use IN for a list: IN ('a', 'b')
operator STRING,NUMBER missing operator between {before} and {got}
    for example: {prev} = {word}
operator * expected an operator after {before}, got {got}
negated * {before} needs a condition after it, got {got}
    NOT needs a condition after it
condition REVERSED expected a field, got the value {got}
    the field goes on the left: {field} {op} {word}
condition STRING expected a field, got the string {got}
    write field names without quotes: {inner}
condition QUOTED expected a field, got the string {got}
    quote field names with backticks: `{inner}`
condition KEYWORD expected a condition, got the keyword {got}
    quote a field with this name in backticks: `{word}`
condition * expected a condition, got {got}
value FIELD expected a value after {before}, got the unquoted text {bare}
    quote it: {quoted}
value BOOL expected a value after {before}, got the keyword {got}
    quote it: '{word}'
value KEYWORD expected a value after {before}, got the keyword {got}
    use IS NULL to test for a missing value, or quote it: '{word}'
value BACKTICKED backticks quote names, not values: {got} | quote it: '{inner}'
value LPAR {before} cannot take a list | use IN for a list: IN ('a', 'b')
value * expected a value after {before}, got {got}
list_item RPAR empty list '()' | a list needs at least one value: ('a')
list_item COMMA empty item in the list | remove the extra ','
list_item LPAR nested parentheses in a list | write one flat list: IN ('a', 'b')
list_next STRING,NUMBER missing ',' before {got} in the list
    separate list items with ','
list STRING,NUMBER,FIELD {before} needs a list in parentheses, got {got}
    write {prev} ({items})
list * {before} needs a list in parentheses, got {got} | write {prev} ('a', 'b')
null * {generic} | IS only tests for a missing value; compare with '=' or '!='
not_op EQ {generic} | use '!=', or put NOT in front of the condition
not_op * {generic} | to negate a condition, put NOT in front of it
end HAS 'HAS' is not allowed after {before}: it follows one span group
    write ANY SPAN (<conditions>) HAS CHILD (<conditions>); join more with AND
operator HAS_AXIS '{prev} {word}' needs a span group before it
    write ANY SPAN (<conditions>) HAS {word} (<conditions>)
operator QUANTIFIER expected SPAN after {before}, got {got}
    write {prev} SPAN (<conditions>)
quantifier * expected SPAN after {before}, got {got} | write {prev} SPAN (<conditions>)
span_group * expected '(' after {before}, got {got}
    a span group is parenthesised: {prev} (type = 'LLM')
axis * expected {wanted} after {before}, got {got}
    for example: HAS DESCENDANT (status = 'ERROR')
count * count takes SPAN, got {got} | write count(SPAN WHERE type = 'LLM')
aggregate * expected an operator after {before}, got {got}
    compare the aggregate, e.g. count(SPAN) >= 2
end SPLIT_NUMBER a number cannot hold a space: {prev} {word} | write {prev}{word}
end FIELD,STRING,NUMBER,LPAR,NOT {generic} | join conditions with AND or OR
""")
_CHAR_MISTAKES = [
    (re.compile(kind), message, hint)
    for (context, kind), (message, hint) in _MISTAKES.items()
    if context == "char"
]
_SYMBOL_RUN = re.compile(r"[=<>!&|]+")
# Phrases for expected terminals, in the order a message lists them.
_EXPECTED = {
    "FIELD": "a field", "SYMBOL_OP": "an operator", "LIKE_OP": "LIKE, ILIKE, RLIKE",
    "IN": "IN", "IS": "IS", "NOT": "NOT", "NULL": "NULL", "STRING": "a quoted string",
    "NUMBER": "a number", "LPAR": "'('", "COMMA": "','", "RPAR": "')'", "AND": "AND",
    "OR": "OR", "$END": "the end of the filter", "SPAN": "SPAN", "HAS": "HAS",
    "AXIS": "CHILD, DESCENDANT, PARENT, ANCESTOR, SIBLING or NO", "WHERE": "WHERE",
}  # fmt: skip
_BARE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# A value, an operator, then a field: "'OK' = status".
_REVERSED = re.compile(
    r"\s*(!=|<=|>=|=|<|>|(?i:[ir]?like)\b)\s*([A-Za-z_][\w.]*|`[^`]*`)"
)
_OPERATOR_AHEAD = re.compile(r"\s*(?:[=<>!]|(?i:[ir]?like|in|is|not)\b)")
# An unquoted value: words up to AND/OR, a parenthesis, a comma or the next
# condition's field (a word followed by an operator), so "gpt-4o" and "foo bar" are
# taken whole.
_BARE_VALUE = re.compile(
    r"[^\s,()]+(?:\s+(?!(?i:and|or)\b|[^\s,()=<>!]+\s*(?:[=<>!]"
    r"|(?i:[ir]?like|in|is|not)\b))[^\s,()]+)*"
)
# A string or number literal (the grammar's STRING and NUMBER), and a list's comma.
_LIST_ITEM = re.compile(
    r"'(?:[^'\\]|\\.|'')*'"
    r"|[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?(?![\w.])"
)
_LIST_COMMA = re.compile(r"\s*,\s*")
_QUOTED_OR_PAREN = re.compile(
    r"'(?:[^'\\]|\\.|'')*'|\"(?:[^\"\\]|\\.|\"\")*\"|`[^`]*`|[()]"
)


def _translate(exc: LarkError, text: str) -> FilterError:
    """Turn any lark exception into the FilterError that explains it.

    The only place that reads lark's exceptions: it reduces them to the token found,
    the terminals the parser would have accepted and the token before, and leaves
    the explaining to :func:`_diagnose`.
    """
    if isinstance(exc, VisitError):
        if isinstance(exc.orig_exc, FilterError):
            return exc.orig_exc
        error = FilterSyntaxError(f"internal error: {exc.orig_exc!r}", text, 0)
        error.__cause__ = exc.orig_exc
        return error
    if isinstance(exc, UnexpectedToken) and exc.token.type == "$END":
        end = len(text.rstrip())
        found = _Seen("$END", "", end, end)
    elif isinstance(exc, UnexpectedToken):
        loc = _loc(exc.token)
        found = _Seen(exc.token.type, str(exc.token), loc.start, loc.end)
    elif isinstance(exc, UnexpectedCharacters):
        pos = exc.pos_in_stream or 0
        found = _Seen("CHAR", text[pos], pos, pos + 1)
    else:
        return FilterSyntaxError(f"cannot parse the filter: {exc}", text, 0)
    # The parser's value stack holds the tokens read so far, the last one possibly
    # inside a reduced subtree. accepts() is exact where LALR's merged states make
    # exc.expected too generous (a ',' after "status = 'OK'").
    interactive = getattr(exc, "interactive_parser", None)
    stack: list[Any] = list(interactive.parser_state.value_stack if interactive else [])
    expected = getattr(exc, "expected", None) or getattr(exc, "allowed", None) or ()
    prev = None
    while stack and prev is None:
        value = stack.pop()
        if isinstance(value, Tree):
            stack.extend(value.children)
        elif isinstance(value, Token):
            loc = _loc(value)
            prev = _Seen(value.type, str(value), loc.start, loc.end)
    accepts = interactive.accepts() if interactive else expected
    return _diagnose(text, found, frozenset(accepts), prev)


def _diagnose(
    text: str, found: _Seen, expected: frozenset[str], prev: _Seen | None
) -> FilterSyntaxError:
    """Explain a syntax error from the token found, what was expected and before."""
    start, end, word, context = found.start, found.end, found.text, "char"
    if found.kind != "CHAR":
        context = _context(expected, prev)
    shown = expected  # where a condition may start, AND/OR/')' are not what's missing
    if "FIELD" in expected:
        shown = expected - {"AND", "OR", "RPAR", "$END"}
    names = [phrase for name, phrase in _EXPECTED.items() if name in shown]
    wanted = " or ".join([", ".join(names[:-1]), names[-1]] if names[1:] else names)
    before = _show(prev) if prev else "the start"
    bare = _bare_value(text, start)
    flip = _REVERSED.match(text, end)
    fields = {
        "got": _show(found), "word": word, "inner": word[1:-1], "before": before,
        "prev": prev.text if prev else "", "wanted": wanted,
        "generic": f"expected {wanted} after {before}, got {_show(found)}",
        "field": flip[2] if flip else "", "op": flip[1] if flip else "",
        "spaced": prev.text.replace(".", ".`", 1) + f" {word}`" if prev else "",
        "bare": f"'{_clip(bare)}'", "quoted": _quoted(bare),
        "items": _list_items(text, start),
    }  # fmt: skip
    message, hint, run = "", "", ""
    if found.kind in ("CHAR", "SYMBOL_OP"):  # widen to the whole "==", "<>", "&&"
        spans = (m.span() for m in _SYMBOL_RUN.finditer(text) if m.end() > start)
        run_start, run_end = next(spans, (start, start))
        run = text[run_start:run_end] if run_start <= start else ""
    if run and run not in _OPS:
        start, end = run_start, run_end
        hint = _MISTAKES.get(("symbol", run), ("use one of = != < <= > >=", ""))[0]
        hint = "use NOT" if run == "!" and "SYMBOL_OP" not in expected else hint
        what = "a connective" if hint in ("use AND", "use OR") else "an operator"
        message = "'{run}' is not " + what
    elif context == "char":
        # The last pattern matches any character, so next() always finds one.
        match, message, hint = next(
            (m, msg, h) for p, msg, h in _CHAR_MISTAKES if (m := p.match(text, start))
        )
        groups = [_clip(match[0]), *(g or "" for g in match.groups()), "", ""]
        fields |= {f"m{i}": group for i, group in enumerate(groups[:3])}
        end = match.end()
    elif found.kind == "RPAR" and not _open_parens(text, start):
        message = "unbalanced parenthesis: ')' has no matching '('"
        hint = "remove the ')' or add the missing '('"
    elif found.kind == "$END" and "RPAR" in expected and _open_parens(text, start):
        opened = _open_parens(text, start)
        start, end = opened[-1], opened[-1] + 1
        message = "unbalanced parenthesis: '(' at {start} is never closed"
        hint = "add the missing ')'"
    elif found.kind == "$END":
        message = "the filter ends after {before}: expected {wanted}"
        hint = _MISTAKES[("negated", "*")][1] if context == "negated" else ""
        hint = _MISTAKES[("aggregate", "*")][1] if context == "aggregate" else hint
        start, end = (prev.start, prev.end) if prev else (start, end)
    else:
        kind = _refine(found, text, prev)
        rows = ((context, kind), (context, found.kind), (context, "*"))
        message, hint = next((_MISTAKES[r] for r in rows if r in _MISTAKES), ("", ""))
        if context == "list_item" and not message:
            message, hint = _MISTAKES.get(("value", kind), _MISTAKES[("value", "*")])
        if (context, found.kind) == ("list_item", "RPAR") and prev:
            start = prev.start  # underline the whole "()"
        if kind == "SPLIT_NUMBER" and prev:
            start = prev.start  # underline "1 000" whole
    if "{quoted}" in hint and bare:
        end = start + len(bare)  # the caret marks what the quoted hint replaces
    # Messages are templates: user text only ever enters as a field's value.
    fields |= {"run": _clip(run), "start": str(start)}
    message, hint = (message or "{generic}").format(**fields), hint.format(**fields)
    return FilterSyntaxError(message, text, start, end=end, hint=hint or None)


def _context(expected: frozenset[str], prev: _Seen | None) -> str:
    """Name the place in a condition where the parser stood, from what it accepts."""
    after = prev.kind if prev else ""
    if "SPAN" in expected:
        return "quantifier" if after in ("ANY", "NO", "EVERY") else "count"
    if "AXIS" in expected:
        return "axis"  # after HAS
    if "LPAR" in expected and after in ("SPAN", "AXIS"):
        return "span_group"
    if "SYMBOL_OP" in expected and "LIKE_OP" not in expected:
        return "aggregate"  # after count(...), sum(...)
    if "SYMBOL_OP" in expected:
        return "operator"  # after a field
    if "FIELD" in expected:
        return "condition" if "AND" in expected else "negated"  # after a unary NOT
    if "LPAR" in expected:
        return "list"  # after IN
    if "NULL" in expected:
        return "null"  # after IS, IS NOT
    if "LIKE_OP" in expected:
        return "not_op"  # after "field NOT"
    if "COMMA" in expected:
        return "list_next"
    if "STRING" in expected:
        return "list_item" if prev and prev.kind in ("LPAR", "COMMA") else "value"
    return "end"  # after a whole condition


def _refine(found: _Seen, text: str, prev: _Seen | None) -> str:
    """Return a finer kind for the tokens that some mistakes hinge on."""
    kind, word = found.kind, found.text
    if kind == "FIELD" and word[0] == word[-1] == "`" and "`" not in word[1:-1]:
        return "BACKTICKED"
    if kind == "FIELD" and word.lower() == "has":
        return "HAS"
    if kind == "FIELD" and prev and prev.text.lower() == "has":
        return "HAS_AXIS"
    if kind == "LPAR" and prev and prev.text.lower() in ("any", "no", "every"):
        return "QUANTIFIER"
    if kind == "FIELD" and word.lower() in ("true", "false", "between"):
        return "BETWEEN" if word.lower() == "between" else "BOOL"
    if kind == "FIELD" and prev and prev.kind == "FIELD" and "." in prev.text:
        # "tags.my key = 'x'": a key with a space, not a misspelt operator.
        return "KEYPART" if _OPERATOR_AHEAD.match(text, found.end) else kind
    if kind in ("STRING", "NUMBER") and _REVERSED.match(text, found.end):
        return "REVERSED"
    if kind == "STRING" and not _BARE_NAME.match(word[1:-1]):
        return "QUOTED"
    if kind in ("LIKE_OP", "IN", "IS", "NULL"):
        return "KEYWORD"
    if kind == "NUMBER" and prev and prev.kind == "NUMBER":
        return "SPLIT_NUMBER"  # "latency > 1 000"
    return "EQ" if word == "=" else kind


def _bare_value(text: str, start: int) -> str:
    """Return the unquoted value that starts at ``start`` (empty if none does)."""
    match = _BARE_VALUE.match(text, start)
    return match[0] if match else ""


def _quoted(value: str) -> str:
    """Return ``value`` as a string literal of the filter language."""
    return "'" + value.replace("'", "''") + "'"


def _list_items(text: str, start: int) -> str:
    """Return the comma-separated values at ``start`` as list items, quoting bare ones.

    For "IN 'a', 'b'" and "IN a, b"; stops at the first thing that is not a value.
    """
    items: list[str] = []
    pos = start
    while match := _LIST_ITEM.match(text, pos) or _BARE_VALUE.match(text, pos):
        literal = match.re is _LIST_ITEM
        items.append(match[0] if literal else _quoted(match[0]))
        comma = _LIST_COMMA.match(text, match.end())
        if comma is None:
            break
        pos = comma.end()
    return ", ".join(items) or "'a', 'b'"


def _show(seen: _Seen) -> str:
    if seen.kind == "$END":
        return "the end of the filter"
    return _clip(seen.text) if seen.kind == "STRING" else f"'{_clip(seen.text)}'"


def _open_parens(text: str, upto: int) -> list[int]:
    """Return the offsets of the '(' still open at ``upto``, skipping quoted text."""
    opened: list[int] = []
    for match in _QUOTED_OR_PAREN.finditer(text, 0, upto):
        if match[0] == "(":
            opened.append(match.start())
        elif match[0] == ")" and opened:
            opened.pop()
    return opened
