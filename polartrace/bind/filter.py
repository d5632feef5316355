"""Bind a parsed filter to the field catalogue: names, operators, values, span groups.

Binding turns "what was written" (``ast``) into "what to test" (this module's bound
nodes): aliases and reserved keys are resolved through ``fields``, every operator and
literal is checked against the field, literals are converted once (ISO dates to epoch
ms, numeric strings to numbers, dynamic literals to their canonical text), RLIKE
patterns are compiled, and span predicates of one AND-chain are grouped so that they
must hold on the same span. Everything the engines receive is already valid; they
never raise on a filter. ``order_by`` entries are bound in `polartrace.bind.order_by`,
re-exported here.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Sequence

from polartrace.bind.nodes import (
    Aggregate,
    AggregateCond,
    AllOf,
    AnyOf,
    BoundFilter,
    BoundValue,
    Cond,
    Dynamic,
    Measure,
    Negate,
    Node,
    Quantified,
    Scalar,
    SpanGroup,
    SpanRelation,
)
from polartrace.bind.order_by import AggregateKey, OrderKey, SortKey, bind_order_keys
from polartrace.bind.structure import StructureBinder, measure_of
from polartrace.catalogue.fields import (
    ATTRIBUTE_FIELDS,
    FIELDS,
    ISSUE_ID,
    MODELS,
    PREFIXES,
    RESERVED_KEYS,
    SPAN_ATTRIBUTES,
    SPAN_FIELDS,
    SPAN_MODEL,
    SPAN_STATUS_VALUES,
    STATE_VALUES,
    FieldSpec,
    Prefix,
    Source,
    ValueType,
    suggest_field,
    suggest_prefix,
    unprefixed,
)
from polartrace.catalogue.operators import OPERATORS, LikeKind, like_plan, parse_number
from polartrace.language import ast
from polartrace.language.ast import Op
from polartrace.language.parser import parse, parse_order_aggregate
from polartrace.language.regex import from_python, regex_problem
from polartrace.language.regex_python import RegexMismatch, python_pattern
from polartrace.values.conventions import MLFLOW2_STATE_UNSPECIFIED
from polartrace.values.errors import (
    FilterError,
    FilterTypeError,
    OrderByError,
    SearchArgumentError,
    UnknownFieldError,
    UnsupportedOperatorError,
    closest_match,
)
from polartrace.values.json_values import canonical_text

__all__ = [
    "Aggregate",
    "AggregateCond",
    "AggregateKey",
    "AllOf",
    "AnyOf",
    "BoundFilter",
    "Cond",
    "Dynamic",
    "Measure",
    "Negate",
    "Node",
    "OrderKey",
    "Quantified",
    "SortKey",
    "SpanGroup",
    "SpanRelation",
    "bind",
    "bind_order_by",
    "parse_filter",
]


# --- entry points ------------------------------------------------------------------


@functools.lru_cache(maxsize=2048)
def _parse_and_bind(text: str) -> BoundFilter:
    return bind(parse(text), text)


def parse_filter(text: str | None) -> BoundFilter:
    """Parse and bind a filter string, serving repeated strings from a cache.

    Args:
        text: An MLflow-style filter such as ``"status = 'OK' AND tags.env = 'prod'"``;
            ``None`` or ``""`` means no filter.

    Returns:
        The bound filter that both engines evaluate.

    Raises:
        FilterError: For every filter a search would reject, with the position of the
            problem, a caret line and, where it helps, a hint.
        SearchArgumentError: If ``text`` is not a string.

    Example:
        >>> parse_filter("latency > 1000").root.field.name
        'execution_time_ms'
    """
    if text is None:
        return BoundFilter("", None)
    if not isinstance(text, str):
        msg = f"filter_string must be a str or None, not {type(text).__name__}"
        raise SearchArgumentError(msg)
    return _parse_and_bind(text)


def bind(expr: ast.Expr | None, text: str) -> BoundFilter:
    """Bind a parsed filter; ``text`` is the filter source used in error messages."""
    if expr is None:
        return BoundFilter(text, None)
    return BoundFilter(text, _Binder(text).node(expr))


def bind_order_by(order_by: Sequence[str] | str | None) -> tuple[SortKey, ...]:
    """Resolve ``order_by`` entries (``"key [ASC|DESC]"``) against the catalogue.

    A key is a field (`polartrace.bind.order_by`), a trace measure (``span_count``,
    ``depth``) or an aggregate over spans (``"count(SPAN WHERE type = 'TOOL')
    DESC"``).

    Raises:
        OrderByError: For an unparsable entry, an unknown or unorderable key, a bad
            direction, or a key named twice (also through an alias).

    Example:
        >>> [k.descending for k in bind_order_by(["count(SPAN) DESC", "latency"])]
        [True, False]
    """
    return bind_order_keys(order_by, _aggregate_key)


_AGGREGATE_ENTRY = re.compile(r"\s*(?i:count|sum|min|max|avg)\s*\(")
_MEASURE_ENTRY = re.compile(r"\s*(\w+)(?:\s+(\S+))?\s*\Z")


def _aggregate_key(entry: str) -> AggregateKey | None:
    """The aggregate or measure an ``order_by`` entry sorts by (``None``: neither)."""
    measure = _MEASURE_ENTRY.match(entry)
    if measure and (found := measure_of(ast.Field(None, measure[1]))) is not None:
        direction = (measure[2] or "ASC").upper()
        if direction in ("ASC", "DESC"):
            return AggregateKey(found, direction == "DESC", measure[1])
        return None  # the field binder explains a bad direction
    if not _AGGREGATE_ENTRY.match(entry):
        return None
    try:
        node, descending = parse_order_aggregate(entry)
        aggregate = StructureBinder(_Binder(entry)).aggregate(node)
    except FilterError as exc:
        raise OrderByError(
            exc.message, entry, position=exc.position, end=exc.end, hint=exc.hint
        ) from None
    written = entry[node.loc.start : node.loc.end]
    return AggregateKey(aggregate, descending, written)


# --- the binder --------------------------------------------------------------------

_ILIKE = (Op.ILIKE, Op.NOT_ILIKE)
_ASSESSMENT_PREFIXES = {Prefix.FEEDBACK: "feedback", Prefix.EXPECTATION: "expectation"}
_ISO_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?\Z"
)


class _Binder:
    """Binds one filter; holds the source text for error positions."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.written = ""  # the field of the comparison being bound, as typed
        self.structure = StructureBinder(self)

    # -- errors --

    def _fail(
        self,
        cls: type[FilterError],
        message: str,
        loc: ast.Loc,
        hint: str | None = None,
    ) -> FilterError:
        return cls(message, self.text, loc.start, end=loc.end, hint=hint)

    # -- boolean structure and span groups --

    def node(self, expr: ast.Expr) -> Node:
        match expr:
            case ast.Comparison():
                return self.chain([expr])
            case ast.And():
                return self.chain(list(_flatten_and(expr)))
            case ast.Or(operands=operands):
                return AnyOf(self.node(child) for child in operands)
            case ast.Not(operand=operand):
                return Negate(self.node(operand))
            case ast.SpanQuantifier():
                return self.structure.quantified(expr)
            case ast.AggregateComparison():
                return self.structure.aggregate_cond(expr)
        msg = f"not a filter node: {expr!r}"  # pragma: no cover - parser invariant
        raise TypeError(msg)

    def chain(self, members: list[ast.Expr]) -> Node:
        """Bind one AND-chain: its span comparisons form a single span group."""
        items: list[Node] = []
        span_conds: list[Cond] = []
        for member in members:
            measure = None
            if isinstance(member, ast.Comparison):
                measure = measure_of(member.field)
            if measure is not None:
                items.append(self.structure.measure_cond(member, measure))  # type: ignore[arg-type]
            elif isinstance(member, ast.Comparison):
                cond = self.comparison(member)
                if cond.field is MODELS:
                    items.append(_models(cond))
                elif cond.field.source is Source.SPAN:
                    if not span_conds:
                        items.append(SpanGroup(()))  # placeholder keeps source order
                    span_conds.append(cond)
                else:
                    items.append(cond)
            else:
                items.append(self.node(member))
        if span_conds:
            items = [SpanGroup(span_conds) if _is_placeholder(i) else i for i in items]
        return items[0] if len(items) == 1 else AllOf(items)

    # -- one comparison --

    def comparison(self, comp: ast.Comparison) -> Cond:
        self.written = self.text[comp.field.loc.start : comp.field.loc.end]
        spec, key = self.resolve(comp.field)
        if comp.op not in spec.ops:
            raise self._operator_error(spec, comp)
        value = self.value(spec, key, comp)
        if spec is ISSUE_ID:
            # An issue link is an assessment whose name is the issue id, so
            # ``issue.id = 'i'`` means "an issue assessment named 'i' exists": the
            # same test as ``feedback.<name> IS NOT NULL``, and no engine needs to
            # know about issues.
            return Cond(spec, str(value), Op.IS_NOT_NULL, None, comp.loc)
        return Cond(spec, key, comp.op, value, comp.loc)

    def resolve(self, field: ast.Field) -> tuple[FieldSpec, str | None]:
        """Resolve a written field to its catalogue entry and key."""
        written_prefix, key = unprefixed(field.prefix, field.key)
        prefix = PREFIXES.get(written_prefix)
        if prefix is None:
            raise self._unknown_prefix(field)
        if prefix is Prefix.ATTRIBUTE:
            spec = ATTRIBUTE_FIELDS.get(key)
            if spec is None:
                raise self._unknown_attribute(field)
            if spec.source in (Source.TAG, Source.METADATA, Source.PROMPT):
                return spec, spec.column
            return spec, None
        if not key:
            raise self._fail(UnknownFieldError, "empty key", field.loc)
        if prefix in (Prefix.TAG, Prefix.METADATA):
            reserved = RESERVED_KEYS.get((prefix, key))
            if reserved is not None:
                return reserved, reserved.column
            spec = next(s for s in FIELDS if s.keyed and s.prefix is prefix)
            return spec, key
        if prefix is Prefix.SPAN:
            return self._resolve_span(field)
        if prefix is Prefix.ISSUE:
            if key != "id":
                raise self._fail(
                    UnknownFieldError,
                    f"unknown issue field 'issue.{key}'; issues are searched by id",
                    field.loc,
                    hint="write issue.id = '<issue id>'",
                )
            return ISSUE_ID, None
        spec = next(s for s in FIELDS if s.keyed and s.prefix is prefix)
        return spec, key

    def _resolve_span(self, field: ast.Field) -> tuple[FieldSpec, str | None]:
        key = field.key
        if key.startswith("attributes."):
            name = key[len("attributes.") :]
            if not name:
                raise self._fail(
                    UnknownFieldError,
                    "empty span attribute name after 'span.attributes.'",
                    field.loc,
                    hint="quote dotted names: span.attributes.`mlflow.spanType`",
                )
            return SPAN_ATTRIBUTES, name
        spec = SPAN_FIELDS.get(key)
        if spec is None:
            names = [*SPAN_FIELDS, "attributes.<key>"]
            guess = closest_match(key, list(SPAN_FIELDS))
            if key == "attribute" or key.startswith("attribute."):
                guess = "attributes." + key.partition(".")[2]
            raise self._fail(
                UnknownFieldError,
                f"unknown span field 'span.{key}'; span fields are " + ", ".join(names),
                field.loc,
                hint=f"did you mean 'span.{guess}'?" if guess else None,
            )
        return spec, None

    def _unknown_prefix(self, field: ast.Field) -> FilterError:
        written = field.prefix or ""
        known = [p for p in PREFIXES if p]
        guess = suggest_prefix(written)
        return self._fail(
            UnknownFieldError,
            f"unknown prefix '{written}' in '{written}.{field.key}'; prefixes are "
            + ", ".join(known),
            field.loc,
            hint=f"did you mean '{guess}.{field.key}'?" if guess else None,
        )

    def _unknown_attribute(self, field: ast.Field) -> FilterError:
        key = field.key
        written = f"{field.prefix}.{key}" if field.prefix else key
        lead = f"{field.prefix}." if field.prefix else ""
        if not key:
            return self._fail(UnknownFieldError, "empty field name", field.loc)
        guess = suggest_field(key)
        if "." in key and field.prefix is None:
            head = key.split(".", 1)[0]
            rest = key[len(head) + 1 :]
            hint = f"a prefix is written outside the quotes: {head}.`{rest}`"
        elif guess and "<" in guess:  # a keyed field: tags.<key>, feedback.<name>
            hint = f"'{written}' needs a key: {guess}"
        elif guess:
            hint = f"did you mean '{lead}{guess}'?"
        else:
            hint = "tags and metadata need their prefix: tags.<key>, metadata.<key>"
        return self._fail(
            UnknownFieldError,
            f"unknown field '{written}'",
            field.loc,
            hint=hint,
        )

    def _operator_error(self, spec: FieldSpec, comp: ast.Comparison) -> FilterError:
        if not spec.ops:
            return self._fail(
                UnsupportedOperatorError,
                f"'{spec.name}' can be used in order_by but not in a filter",
                comp.field.loc,
            )
        accepted = " ".join(op.value for op in Op if op in spec.ops)
        hint = None
        if spec.value_type is ValueType.TEXT and comp.op in (Op.NOT_LIKE, Op.NOT_ILIKE):
            hint = f"write NOT {spec.name} {comp.op.value.split()[1]} ... instead"
        elif spec.value_type is ValueType.TEXT:
            hint = "full text is searched with LIKE '%word%' or ILIKE"
        elif comp.op in (Op.IS_NULL, Op.IS_NOT_NULL) and spec.source is Source.SPAN:
            hint = "every span has a name, type and status"
        elif comp.op in (Op.LT, Op.LE, Op.GT, Op.GE):
            hint = "ordering comparisons work on times, durations and numeric values"
        return self._fail(
            UnsupportedOperatorError,
            f"operator '{comp.op.value}' is not supported for '{self.written}'; "
            f"it accepts {accepted}",
            comp.op_loc,
            hint=hint,
        )

    # -- values --

    def value(
        self, spec: FieldSpec, key: str | None, comp: ast.Comparison
    ) -> BoundValue:
        value = comp.value
        op_spec = OPERATORS[comp.op]
        if value is None:
            return None
        if isinstance(value, ast.ValueList):
            if comp.op not in (Op.IN, Op.NOT_IN):  # pragma: no cover - grammar
                raise self._fail(
                    FilterTypeError, "a list needs IN or NOT IN", value.loc
                )
            return tuple(self.scalar(spec, comp.op, item) for item in value.items)
        if op_spec.pattern:
            if not isinstance(value, ast.String):
                raise self._fail(
                    FilterTypeError,
                    f"{comp.op.value} needs a quoted pattern, not the number "
                    f"{value.value!r}",
                    value.loc,
                    hint=f"quote it: '{value.value}'",
                )
            if op_spec.base.value == "RLIKE":
                pattern, origin = from_python(value.value)
                problem = regex_problem(pattern)
                if problem is not None:
                    at = origin[problem.offset] if problem.offset < len(origin) else 0
                    start = value.loc.start + 1 + at
                    message = (
                        f"invalid regular expression {value.value!r}: {problem.message}"
                    )
                    raise FilterTypeError(
                        message,
                        self.text,
                        min(start, max(value.loc.end - 1, value.loc.start)),
                        hint="RLIKE uses Rust regex syntax (no look-around or "
                        "back-references)",
                    )
                try:
                    python_pattern(pattern, exact=False)
                except RegexMismatch as exc:
                    at = origin[exc.offset] if exc.offset < len(origin) else 0
                    msg = (
                        f"RLIKE pattern {value.value!r} cannot be evaluated alike by "
                        f"both engines: {exc.message}"
                    )
                    raise FilterTypeError(
                        msg,
                        self.text,
                        value.loc.start + 1 + at,
                        hint="write it with the syntax Python's re and Rust's regex "
                        "share",
                    ) from None
                return pattern
            self._check_like_size(comp, value)
            return value.value
        return self.scalar(spec, comp.op, value)

    def _check_like_size(self, comp: ast.Comparison, value: ast.String) -> None:
        """Refuse a LIKE pattern whose regex exceeds the crate's size limit."""
        pattern = value.value.lower() if comp.op in _ILIKE else value.value
        plan = like_plan(pattern)
        if plan.kind is LikeKind.REGEX and regex_problem(plan.literal) is not None:
            raise self._fail(
                FilterTypeError,
                f"{comp.op.value} pattern of {len(value.value):,} characters is too "
                "large to evaluate",
                value.loc,
                hint="each '_' costs as much as a character class; use fewer, or '%'",
            )

    def scalar(self, spec: FieldSpec, op: Op, lit: ast.Literal) -> Scalar:
        """Check and convert one literal for ``=``-like or ordering operators."""
        vtype = spec.value_type
        if vtype in (ValueType.TIME, ValueType.NUMBER):
            return self._number(spec, lit)
        if vtype is ValueType.DYNAMIC:
            return self._dynamic(spec, op, lit)
        if not isinstance(lit, ast.String):
            raise self._fail(
                FilterTypeError,
                f"'{self.written}' compares strings; {lit.value!r} is a number",
                lit.loc,
                hint=f"quote it: '{lit.value}'",
            )
        if vtype is ValueType.STATE:
            return self._member(spec, lit, STATE_VALUES)
        if vtype is ValueType.SPAN_STATUS:
            return self._member(spec, lit, SPAN_STATUS_VALUES)
        if vtype is ValueType.PROMPT:
            name, slash, version = lit.value.partition("/")
            if not (slash and name and version) or "/" in version:
                raise self._fail(
                    FilterTypeError,
                    f"a prompt is written name/version, not {lit.value!r}",
                    lit.loc,
                    hint="for example prompt = 'qa-prompt/1'",
                )
        return lit.value

    def _member(self, spec: FieldSpec, lit: ast.String, values: dict[str, str]) -> str:
        stored = values.get(lit.value)
        if stored is None:
            guess = closest_match(lit.value, list(values))
            raise self._fail(
                FilterTypeError,
                f"unknown {spec.name} value {lit.value!r}; it is one of "
                + ", ".join(v for v in values if v != MLFLOW2_STATE_UNSPECIFIED),
                lit.loc,
                hint=f"did you mean '{guess}'? (values are case-sensitive)"
                if guess
                else None,
            )
        return stored

    def _number(self, spec: FieldSpec, lit: ast.Literal) -> int | float:
        if isinstance(lit, ast.Number):
            return lit.value
        number = parse_number(lit.value)
        if number is not None:
            return number
        if spec.value_type is ValueType.TIME:
            millis = _iso_to_ms(lit.value)
            if millis is not None:
                return millis
            raise self._fail(
                FilterTypeError,
                f"'{self.written}' needs epoch milliseconds or an ISO-8601 date, not "
                f"{lit.value!r}",
                lit.loc,
                hint="for example '2024-01-31' or '2024-01-31T12:00:00Z'",
            )
        raise self._fail(
            FilterTypeError,
            f"'{self.written}' needs a number, not {lit.value!r}",
            lit.loc,
            hint="write milliseconds as a number without quotes, e.g. 1000",
        )

    def _dynamic(self, spec: FieldSpec, op: Op, lit: ast.Literal) -> Dynamic:
        if isinstance(lit, ast.Number):
            number = float(lit.value)
            return Dynamic(_number_text(lit.value), number, is_number=True)
        if OPERATORS[op].ordering:
            raise self._fail(
                FilterTypeError,
                f"'{op.value}' on '{self.written}' needs a number literal, not the "
                f"string {lit.value!r}",
                lit.loc,
                hint=f"write it without quotes: {lit.value}"
                if parse_number(lit.value) is not None
                else None,
            )
        parsed = parse_number(lit.value)
        return Dynamic(
            lit.value, None if parsed is None else float(parsed), is_number=False
        )


def _number_text(value: int | float) -> str:
    # Canonical text of a number, by the one definition the frame and the reference
    # use for stored values (_json.canonical_text): integral floats are written as
    # integers only below 1e16, so 1e20 is "1e+20" (it was "100000000000000000000",
    # which made "span.attributes.k = 1e20" miss the string value "1e+20").
    text = canonical_text(value)
    assert text is not None  # a number is never null
    return text


def _iso_to_ms(text: str) -> int | float | None:
    match = _ISO_RE.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    try:
        tz = dt.UTC
        if zone and zone != "Z":
            sign = 1 if zone[0] == "+" else -1
            offset = dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
            tz = dt.timezone(sign * offset)
        moment = dt.datetime(
            int(year), int(month), int(day), int(hour or 0), int(minute or 0),
            int(second or 0), tzinfo=tz,
        )  # fmt: skip
    except ValueError:
        return None
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    millis = (moment - epoch) // dt.timedelta(milliseconds=1)
    if fraction:
        extra = int(fraction) / 10 ** len(fraction) * 1000
        return millis + int(extra) if extra.is_integer() else millis + extra
    return millis


_POSITIVE = {
    Op.NE: Op.EQ,
    Op.NOT_IN: Op.IN,
    Op.NOT_LIKE: Op.LIKE,
    Op.NOT_ILIKE: Op.ILIKE,
    Op.NOT_RLIKE: Op.RLIKE,
}


def _models(cond: Cond) -> Node:
    """``models`` as span groups of its own on ``span.model`` (docs/fields.md).

    A test that matches holds when some span's model passes it; its negation when
    the trace called some model and no model passes; ``IS NULL`` when it called none.
    """

    def some(op: Op, value: BoundValue = None) -> SpanGroup:
        return SpanGroup([Cond(SPAN_MODEL, None, op, value, cond.loc)])

    if cond.op is Op.IS_NULL:
        return Negate(some(Op.IS_NOT_NULL))
    positive = _POSITIVE.get(cond.op)
    if positive is None:
        return some(cond.op, cond.value)
    return AllOf([some(Op.IS_NOT_NULL), Negate(some(positive, cond.value))])


def _flatten_and(expr: ast.Expr) -> list[ast.Expr]:
    # Parentheses around ANDs do not matter: one chain, one span group.
    if isinstance(expr, ast.And):
        return [leaf for child in expr.operands for leaf in _flatten_and(child)]
    return [expr]


def _is_placeholder(node: Node) -> bool:
    return isinstance(node, SpanGroup) and not node.conds
