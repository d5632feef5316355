"""The request and response of a page: its root spans' inputs and outputs as JSON.

MLflow's ``request`` and ``response`` columns are the decoded inputs and outputs
of each trace's root span (its first span without a parent: the rule of
`polartrace.values.conventions.root_span`, applied here to the span table).
Polars output carries them as ``json.dumps`` of the decoded value; this finds the
root spans of a page's keys in the frame's span table and writes their stored
attributes.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import polars as pl

from polartrace.frame.schema import RAW_PREFIX
from polartrace.values.conventions import SPAN_INPUTS, SPAN_OUTPUTS, root_span
from polartrace.values.json_values import decode_attribute_fast

__all__ = ["dumps", "root_texts"]

_INPUTS, _OUTPUTS = RAW_PREFIX + SPAN_INPUTS, RAW_PREFIX + SPAN_OUTPUTS


def _roots(
    spans: pl.DataFrame, keys: pl.Series, columns: list[str]
) -> list[tuple[Any, ...] | None]:
    """``columns`` of each key's root span (its first without a parent), or ``None``.

    Spans are stored grouped by trace in key order, and a trace's root span is
    usually its first: one binary search and one gather of each key's first span
    answer most keys, and the spans of the others are looked through in one more
    gather. A page is a hundred keys: a few Polars calls and a Python pass cost
    less than a group-by and a join (each Polars call costs tens of microseconds,
    whatever its size).
    """
    span_keys = spans["_key"]
    wanted = keys.to_list()
    if not spans.height:
        return [None] * len(wanted)
    read = ["_key", "parent_id", *columns]
    if not (span_keys.flags["SORTED_ASC"] or span_keys.is_sorted()):
        of_key: dict[int, list[tuple[Any, ...]]] = {}
        for row in spans.filter(pl.col("_key").is_in(keys.implode()))[read].rows():
            of_key.setdefault(row[0], []).append(row)
        return [_root_columns(of_key.get(key, ())) for key in wanted]
    first = span_keys.search_sorted(keys, side="left").to_list()
    last = spans.height - 1
    probe = pl.Series([min(row, last) for row in first], dtype=pl.UInt32)
    heads = spans[probe, read].rows()
    out: list[tuple[Any, ...] | None] = []
    later: list[int] = []  # positions of keys whose first span has a parent
    for at, (key, head) in enumerate(zip(wanted, heads, strict=True)):
        if head[0] != key:  # no span at all
            out.append(None)
        elif _parent_of(head) is None:  # the first span is the root (`root_span`)
            out.append(head[2:])
        else:
            out.append(None)
            later.append(at)
    if later:  # their spans, all in one gather
        ends = span_keys.search_sorted(keys.gather(later), side="right").to_list()
        runs = [range(first[at], end) for at, end in zip(later, ends, strict=True)]
        rows = pl.Series(list(itertools.chain(*runs)), dtype=pl.UInt32)
        later_rows = iter(spans[rows, read].rows())
        for at, run in zip(later, runs, strict=True):
            out[at] = _root_columns(list(itertools.islice(later_rows, len(run))))
    return out


def _parent_of(row: tuple[Any, ...]) -> str | None:
    return row[1]  # type: ignore[no-any-return]  # the parent_id column


def _root_columns(rows: Sequence[tuple[Any, ...]]) -> tuple[Any, ...] | None:
    """The read columns of the root span among one trace's span rows, in order."""
    root = root_span(rows, _parent_of)
    return None if root is None else root[2:]


def _writer() -> Callable[[Any], str]:
    """``json.dumps`` with its default arguments, for decoded JSON values.

    ``json.dumps`` builds its C encoder anew on every call, about half the cost of
    writing a root span's inputs; this builds it once. The values written here
    are decoded JSON, which holds no cycles, so the encoder needs no cycle check.
    Where the C encoder is missing or takes other arguments, ``json.dumps`` it is.
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    string = json.encoder.encode_basestring_ascii
    try:
        encode = make(  # type: ignore[misc]  # None is handled below
            None, json.JSONEncoder().default, string, None, ": ", ", ", False,
            False, True,
        )  # fmt: skip
    except TypeError:
        return json.dumps

    def dumps(value: Any) -> str:
        if type(value) is str:
            return string(value)
        return "".join(encode(value, 0))

    probe = {"a": [1, 2.5, -0.0, 1e16, math.nan, math.inf, None, True], "é": "\x7f"}
    return dumps if dumps(probe) == json.dumps(probe) else json.dumps


dumps = _writer()


def _attribute_json(raw: str) -> str | None:
    """``json.dumps`` of a stored attribute as `decode_attribute` reads it.

    orjson decodes; where it may have read an integer beyond 64 bits as a float
    (a float of magnitude 2**63 or more, whose text always has an exponent), json
    decodes again. Looking for ``e+`` in the written text is cheaper than walking
    the value, and a string holding ``e+`` only costs the exact path.
    """
    value = decode_attribute_fast(raw, may_be_long=False)
    text = None if value is None else dumps(value)
    if text is not None and "e+" in text:
        value = decode_attribute_fast(raw, may_be_long=True)
        text = None if value is None else dumps(value)
    return text


def root_texts(spans: pl.DataFrame, keys: pl.Series) -> tuple[list[Any], list[Any]]:
    """Each key's root-span inputs and outputs as JSON text (``None`` if absent).

    The text is ``json.dumps`` of the decoded value, as for ``Trace`` objects;
    each distinct stored text is decoded and written once.
    """
    names = [_INPUTS, _OUTPUTS]
    present = [name for name in names if name in spans.columns]
    stored = [
        {} if root is None else dict(zip(present, root, strict=True))
        for root in _roots(spans, keys, present)
    ]
    written: dict[str, str | None] = {}

    def write(raw: str | None) -> str | None:
        if raw is None:
            return None
        if raw not in written:
            written[raw] = _attribute_json(raw)
        return written[raw]

    return (
        [write(values.get(names[0])) for values in stored],
        [write(values.get(names[1])) for values in stored],
    )
