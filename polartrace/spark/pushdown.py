"""Conjuncts of a plan that Spark can test itself, so its file skipping applies.

The top-level ``AND`` of a plan's ``where`` may hold `ColumnTest`s on trace
columns: the time window, status, experiment, tags, metadata. Those this module can
translate exactly become one Spark ``where``, so Parquet row groups and ``day``
partitions are skipped before a row reaches Python. Everything else (LIKE patterns,
span, assessment and text tests, ``OR``) is left to the engine, which runs the whole
filter on the rows that remain: the pushed conjuncts only drop rows the filter drops
anyway, so answers do not depend on what is pushed.

The translation follows docs/semantics.md#missing-values: a test on a missing
value is false, and so is its negation (``!=``, ``NOT IN``). Spark's ``where``
drops a row whose condition is null, and ``NOT`` of null is null, so the plain
Spark comparison drops exactly the rows the engine drops.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from pyspark.sql import Column
from pyspark.sql import functions as F

from polartrace.bind.nodes import Cond
from polartrace.catalogue.fields import Source, ValueType
from polartrace.catalogue.operators import OPERATORS, Base
from polartrace.plan.search import And, ColumnTest, Predicate
from polartrace.spark.layout import METADATA, TAGS, row_name

__all__ = ["DAY", "column", "pushed"]

#: The partition column of a dataset split by day (`polartrace convert
#: --partition-by-day`), when the DataFrame has it: the UTC date of request time.
DAY = "day"
_MS_PER_DAY = 86_400_000
_RANGES = (Base.LT, Base.LE, Base.GT, Base.GE)


def column(name: str) -> Column:
    """A column by its exact name (tag and attribute keys hold dots)."""
    return F.col("`" + name.replace("`", "``") + "`")


def _column(cond: Cond, columns: Collection[str]) -> Column | None:
    spec = cond.field
    if spec.source is Source.TAG:
        return F.try_element_at(F.col(TAGS), F.lit(str(cond.key)))
    if spec.source is Source.METADATA:
        return F.try_element_at(F.col(METADATA), F.lit(str(cond.key)))
    name = row_name(str(spec.frame_column))
    return column(name) if spec.source is Source.INFO and name in columns else None


def _plain(value: object) -> bool:
    return type(value) in (str, int, float)


def _base(column: Column, cond: Cond, base: Base) -> Column | None:
    value = cond.value
    numeric = cond.field.value_type in (ValueType.TIME, ValueType.NUMBER)
    match base:
        case Base.IS_NULL:
            return column.isNull()
        case Base.EQ if _plain(value) and numeric == (type(value) is not str):
            return column == F.lit(value)
        case Base.IN if isinstance(value, tuple) and all(map(_plain, value)):
            if numeric:
                return column.cast("double").isin([float(v) for v in value])  # type: ignore[arg-type]
            return column.isin(list(value))
        case _ if base in _RANGES and numeric and type(value) in (int, float):
            literal = F.lit(value)
            return {
                Base.LT: column < literal,
                Base.LE: column <= literal,
                Base.GT: column > literal,
                Base.GE: column >= literal,
            }[base]
    return None


def _translate(cond: Cond, columns: Collection[str]) -> Column | None:
    column = _column(cond, columns)
    if column is None:
        return None
    spec = OPERATORS[cond.op]
    test = _base(column, cond, spec.base)
    if test is None:
        return None
    return ~test if spec.negated else test


def _day(cond: Cond) -> Column | None:
    """The ``day`` partitions a request-time bound allows (a superset of its rows)."""
    spec = OPERATORS[cond.op]
    value = cond.value
    if (
        cond.field.source is not Source.INFO
        or str(cond.field.frame_column) != "request_time"
        or spec.negated
        or spec.base not in (Base.EQ, *_RANGES)
        or type(value) not in (int, float)
    ):
        return None
    try:
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        day = (epoch + dt.timedelta(milliseconds=float(value))).date()  # type: ignore[arg-type]
    except OverflowError:
        return None
    column, literal = F.col(DAY), F.lit(day)
    if spec.base is Base.EQ:
        return column == literal
    return column <= literal if spec.base in (Base.LT, Base.LE) else column >= literal


#: At most this many conjuncts are pushed: Catalyst's rules recurse over a chain of
#: ANDs, so thousands of them overflow the JVM's stack. What is not pushed is still
#: decided by the engine.
MAX_PUSHED = 64


def pushed(where: Predicate | None, columns: Collection[str]) -> Column | None:
    """The Spark condition of the conjuncts of ``where`` that translate exactly.

    ``columns``: the DataFrame's columns (an info field it lacks is not pushed; a
    ``day`` column, when present, gets the day bounds of the request-time bounds).
    ``None`` when nothing translates. A conjunct written twice is pushed once.
    """
    items = where.items if isinstance(where, And) else (where,)
    conds = list(dict.fromkeys(i.cond for i in items if isinstance(i, ColumnTest)))
    tests: list[Column] = []
    for cond in conds:
        test = _translate(cond, columns)
        if test is not None:
            tests.append(test)
        day = _day(cond) if DAY in columns else None
        if day is not None:
            tests.append(day)
    if not tests:
        return None
    combined = tests[0]
    for test in tests[1:MAX_PUSHED]:
        combined = combined & test
    return combined
