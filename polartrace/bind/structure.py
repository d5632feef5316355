"""Bind trace-level questions: span quantifiers, relations between spans, aggregates.

``ANY|NO|EVERY SPAN (group)`` and the groups of ``HAS <axis> (group)`` and of an
aggregate's ``WHERE`` hold conditions on one span: a field in them is a span field
with or without its ``span.`` prefix (``type``, ``span.type`` and, for attributes,
``attributes.k``/``span.attributes.k``), and a trace field there is an error with a
hint. ``span_count`` and ``depth`` are trace-level measures written like fields. The
comparisons themselves are bound by the filter binder (`polartrace.bind.filter`),
which this module reaches through the small `Binds` protocol.
"""

from __future__ import annotations

from typing import Protocol

import attrs

from polartrace.bind.nodes import (
    Aggregate,
    AggregateCond,
    AllOf,
    AnyOf,
    Cond,
    Measure,
    Negate,
    Node,
    Quantified,
    SpanRelation,
)
from polartrace.catalogue.fields import (
    ATTRIBUTE_FIELDS,
    PREFIXES,
    SPAN_FIELDS,
    FieldSpec,
    Prefix,
    Source,
    ValueType,
)
from polartrace.catalogue.operators import parse_number
from polartrace.language import ast
from polartrace.language.ast import Op, Quantifier
from polartrace.values.errors import (
    FilterError,
    FilterTypeError,
    UnknownFieldError,
    UnsupportedOperatorError,
)

__all__ = ["TRACE_MEASURES", "Binds", "StructureBinder", "measure_of"]

#: Trace-level measures written like fields: ``span_count > 5``, ``depth >= 4``.
TRACE_MEASURES: dict[str, Aggregate] = {
    "span_count": Aggregate(Measure.COUNT),
    "depth": Aggregate(Measure.DEPTH),
}
_AGGREGATE_OPS = (Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE)
_SPAN_ATTRIBUTE_PREFIXES = ("attribute", "attributes")


class Binds(Protocol):
    """What this module needs of the filter binder."""

    text: str

    def comparison(self, comp: ast.Comparison) -> Cond:
        """Bind one comparison (field, operator, value) to a condition."""
        ...

    def resolve(self, field: ast.Field) -> tuple[FieldSpec, str | None]:
        """Resolve a written field to its catalogue entry and key."""
        ...

    def _fail(
        self,
        cls: type[FilterError],
        message: str,
        loc: ast.Loc,
        hint: str | None = None,
    ) -> FilterError: ...


def measure_of(field: ast.Field) -> Aggregate | None:
    """The trace measure a field names (``span_count``, ``depth``), if it names one."""
    if PREFIXES.get(field.prefix) is not Prefix.ATTRIBUTE:
        return None
    return TRACE_MEASURES.get(field.key)


def _written(field: ast.Field) -> str:
    return field.key if field.prefix is None else f"{field.prefix}.{field.key}"


class StructureBinder:
    """Binds quantifiers, relations and aggregates through a filter binder."""

    def __init__(self, binder: Binds) -> None:
        self.binder = binder

    # -- quantifiers and relations --

    def quantified(self, node: ast.SpanQuantifier) -> Quantified:
        """Bind ``ANY|NO|EVERY SPAN (group) [HAS [NO] <axis> (group)]``."""
        where = f"{node.quantifier.value} SPAN (...)"
        test = self.span_test(node.group, where)
        relation = node.relation
        if relation is None:
            return Quantified(node.quantifier, test)
        if node.quantifier is Quantifier.EVERY:
            no = "" if relation.negated else "NO "
            raise self.binder._fail(
                FilterTypeError,
                "EVERY SPAN (...) takes no HAS: say which spans must have the relation",
                relation.loc,
                hint=f"every A span with a {relation.axis.value.lower()} B is "
                f"NO SPAN (A) HAS {no}{relation.axis.value} (B)",
            )
        axis = relation.axis.value
        related = self.span_test(relation.group, f"HAS {axis} (...)")
        return Quantified(
            node.quantifier,
            test,
            SpanRelation(relation.axis, relation.negated, related),
        )

    def span_test(self, expr: ast.Expr, where: str) -> Node:
        """Bind a group of conditions that each test one span."""
        match expr:
            case ast.Comparison(field=field):
                if measure_of(field) is not None:
                    raise self._trace_field(field, where)
                span_field = self.span_field(field, where)
                return self.binder.comparison(attrs.evolve(expr, field=span_field))
            case ast.And(operands=operands):
                return AllOf(self.span_test(child, where) for child in operands)
            case ast.Or(operands=operands):
                return AnyOf(self.span_test(child, where) for child in operands)
            case ast.Not(operand=operand):
                return Negate(self.span_test(operand, where))
            case ast.SpanQuantifier() | ast.AggregateComparison():
                raise self.binder._fail(
                    FilterTypeError,
                    f"the conditions of {where} test one span; a quantifier or an "
                    "aggregate cannot be nested in them",
                    expr.loc,
                    hint="move it outside the parentheses and join it with AND",
                )
        msg = f"not a filter node: {expr!r}"  # pragma: no cover - parser invariant
        raise TypeError(msg)

    def span_field(self, field: ast.Field, where: str) -> ast.Field:
        """The ``span.`` field a field in a span group names."""
        if field.prefix == "span":
            return field
        if field.prefix is None and field.key in SPAN_FIELDS:
            return attrs.evolve(field, prefix="span")
        if field.prefix in _SPAN_ATTRIBUTE_PREFIXES:
            return attrs.evolve(field, prefix="span", key=f"attributes.{field.key}")
        known = field.prefix is None and field.key in ATTRIBUTE_FIELDS
        if field.prefix is None and not known:
            return attrs.evolve(field, prefix="span")  # unknown: the span hint
        raise self._trace_field(field, where)

    def _trace_field(self, field: ast.Field, where: str) -> FilterError:
        written = _written(field)
        return self.binder._fail(
            UnknownFieldError,
            f"'{written}' is a trace field; the conditions of {where} test one span",
            field.loc,
            hint=f"move it outside the parentheses: {where} AND {written} ...; span "
            "fields are " + ", ".join(SPAN_FIELDS) + ", attributes.<key>",
        )

    # -- aggregates --

    def aggregate(self, node: ast.Aggregate) -> Aggregate:
        """Bind ``count(SPAN [WHERE g])`` or ``sum|min|max|avg(field [WHERE g])``."""
        func = node.func.value
        where = None
        if node.where is not None:
            where = self.span_test(node.where, f"{func}(... WHERE ...)")
        if node.field is None:
            return Aggregate(Measure.COUNT, None, where)
        spec = self.numeric_field(node.field, func)
        return Aggregate(Measure(func), spec, where)

    def numeric_field(self, field: ast.Field, func: str) -> FieldSpec:
        """The numeric span field ``func`` aggregates, or an error with a hint."""
        numeric = [f"span.{k}" for k, s in SPAN_FIELDS.items() if _is_numeric(s)]
        hint = f"{func} reads a numeric span field: " + ", ".join(numeric)
        if field.prefix is None and field.key.lower() == "span":
            raise self.binder._fail(
                FilterTypeError, f"{func}(SPAN) needs a field", field.loc, hint=hint
            )
        spec, _ = self.binder.resolve(self.span_field(field, f"{func}(...)"))
        if not _is_numeric(spec):
            raise self.binder._fail(
                FilterTypeError,
                f"cannot {func} '{_written(field)}': it is not a numeric span field",
                field.loc,
                hint=hint,
            )
        return spec

    def aggregate_cond(self, node: ast.AggregateComparison) -> AggregateCond:
        """Bind ``aggregate op literal``."""
        written = self.binder.text[node.aggregate.loc.start : node.aggregate.loc.end]
        value = self.number(written, node.value)
        return AggregateCond(self.aggregate(node.aggregate), node.op, value, node.loc)

    def measure_cond(self, comp: ast.Comparison, aggregate: Aggregate) -> AggregateCond:
        """Bind ``span_count op literal`` or ``depth op literal``."""
        written = _written(comp.field)
        if comp.op not in _AGGREGATE_OPS or not isinstance(
            comp.value, ast.String | ast.Number
        ):
            raise self.binder._fail(
                UnsupportedOperatorError,
                f"operator '{comp.op.value}' is not supported for '{written}'; it "
                "accepts " + " ".join(op.value for op in _AGGREGATE_OPS),
                comp.op_loc,
                hint=f"compare it with a number, e.g. {written} >= 3",
            )
        return AggregateCond(
            aggregate, comp.op, self.number(written, comp.value), comp.loc
        )

    def number(self, written: str, literal: ast.Literal) -> int | float:
        """The number an aggregate is compared with."""
        if isinstance(literal, ast.Number):
            return literal.value
        number = parse_number(literal.value)
        if number is None:
            raise self.binder._fail(
                FilterTypeError,
                f"'{written}' is a number; it cannot be compared with "
                f"{literal.value!r}",
                literal.loc,
                hint="write a number without quotes, e.g. 3",
            )
        return number


def _is_numeric(spec: FieldSpec) -> bool:
    return spec.source is Source.SPAN and spec.value_type is ValueType.NUMBER
