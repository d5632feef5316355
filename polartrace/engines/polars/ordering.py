"""Order and page the matches of a frame: the plan's sort keys, and the fast paths.

A pure request-time range is a binary search of the frame's time order (the
executor recognises the shape in the plan; it is no plan node); the default order
of a small page reads the newest hits first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import polars as pl

from polartrace.bind.order_by import AggregateKey, SortKey
from polartrace.catalogue.fields import Source
from polartrace.engines.polars.compile import span_table
from polartrace.engines.polars.exprs import sort_column
from polartrace.engines.polars.structure import trace_values
from polartrace.frame.trace_frame import TraceFrame
from polartrace.language.ast import Op
from polartrace.plan.search import And, ColumnTest, Predicate, SearchPlan

_Side = Literal["left", "right"]
_LOWER: dict[Op, _Side] = {Op.GT: "right", Op.GE: "left"}
_UPPER: dict[Op, _Side] = {Op.LT: "left", Op.LE: "right"}


def _time_window(where: Predicate | None, frame: TraceFrame) -> tuple[int, int] | None:
    """Row range of ``frame.time_order`` a pure request-time range filter selects.

    For a filter that is only ``timestamp_ms`` bounds (``>``, ``>=``, ``<``,
    ``<=`` against integers, ANDed), the matches are one run of the frame's
    time-sorted keys, found by binary search; ``None`` for any other filter.
    """
    tests = [where] if isinstance(where, ColumnTest) else None
    if isinstance(where, And) and all(isinstance(t, ColumnTest) for t in where.items):
        tests = list(where.items)  # type: ignore[arg-type]
    if not tests:
        return None
    conds = [t.cond for t in tests]
    for cond in conds:
        if (
            cond.field.source is not Source.INFO
            or cond.field.column != "request_time"
            or cond.op not in _LOWER | _UPPER
            or type(cond.value) is not int
        ):
            return None
    if frame.traces["request_time"].null_count():
        return None
    times, _ = frame.time_order
    # Every bound in one query: a Polars call costs more than its binary search.
    found = times.to_frame("t").select(
        pl.col("t")
        .search_sorted(
            int(c.value),  # type: ignore[arg-type]  # an int, checked above
            side=_LOWER.get(c.op) or _UPPER[c.op],
        )
        .alias(str(i))
        for i, c in enumerate(conds)
    )
    lo, hi = 0, len(times)
    for cond, at in zip(conds, found.row(0), strict=True):
        if cond.op in _LOWER:
            lo = max(lo, at)
        else:
            hi = min(hi, at)
    return lo, max(lo, hi)


def _sort_spec(
    frame: TraceFrame, keys: Sequence[SortKey]
) -> tuple[list[pl.Expr], list[bool]]:
    """Sort expressions and directions of the plan's sort keys.

    An aggregate key sorts by a column `_aggregate_columns` adds.
    """
    columns = frame.traces.columns
    exprs = [
        pl.col(f"_sort{i}") if isinstance(k, AggregateKey) else sort_column(k, columns)
        for i, k in enumerate(keys)
    ]
    return exprs, [k.descending for k in keys]


def _aggregate_columns(frame: TraceFrame, keys: Sequence[SortKey]) -> list[pl.Expr]:
    """The per-trace values of the aggregate sort keys, as trace-table columns."""
    height = frame.traces.height
    return [
        pl.lit(trace_values(span_table(frame), k.aggregate, height)).alias(f"_sort{i}")
        for i, k in enumerate(keys)
        if isinstance(k, AggregateKey)
    ]


def sort_values(
    frame: TraceFrame, keys: pl.Series, order: Sequence[SortKey]
) -> pl.DataFrame:
    """``_key`` and the value of each sort key (``_sort<i>``) of the traces ``keys``.

    The values this engine sorts by, for an executor that orders the traces of
    several frames together (`polartrace.spark`): with the same directions, nulls
    last and the key as the last tie-break, their order is this engine's.
    """
    exprs, _ = _sort_spec(frame, order)
    return (
        frame.traces.lazy()
        .with_columns(_aggregate_columns(frame, order))
        .filter(pl.col("_key").is_in(keys.implode()))
        .select(
            pl.col("_key"),
            *(e.alias(f"_sort{i}") for i, e in enumerate(exprs)),
        )
        .collect()
    )


def _ordered_keys(
    frame: TraceFrame, mask: pl.Expr | tuple[int, int], plan: SearchPlan
) -> pl.Series:
    """Keys of the rows ``mask`` selects, in the plan's order and page.

    One query: filter, sort and slice, so a page sorts only what it returns (Polars
    turns a sort followed by a slice into a top-k). ``mask`` may be a row range of
    ``frame.time_order`` (see `_time_window`).
    """
    offset, limit = plan.offset, plan.limit
    if not plan.order_by:
        return _newest_first(frame, mask, plan)
    if isinstance(mask, tuple):
        lo, hi = mask
        mask = pl.col("_key").is_in(frame.time_order[1][lo:hi].implode())
    exprs, descending = _sort_spec(frame, plan.order)
    return (
        frame.traces.lazy()
        .with_columns(_aggregate_columns(frame, plan.order))
        .filter(mask)
        .sort(exprs, descending=descending, nulls_last=True, maintain_order=True)
        .slice(offset, limit)
        .select("_key")
        .collect()["_key"]
    )


def _newest_first(
    frame: TraceFrame, mask: pl.Expr | tuple[int, int], plan: SearchPlan
) -> pl.Series:
    """The default order (``timestamp_ms DESC``, then ``request_id``), fast.

    Sorting on the integer time alone is much cheaper than on (time, id), and ties
    on the time are rare: sort by time, then re-sort only the rows that
    tie. A page needs only its first ``offset + limit`` rows: those are the rows at
    or above the time of the ``offset + limit``-th newest match (`_page_rows`).
    """
    traces, offset, limit = frame.traces, plan.offset, plan.limit
    wanted = None if limit is None else offset + limit
    if (
        wanted is not None
        and 0 < wanted <= _PAGE_ROWS
        and not traces["request_time"].null_count()
    ):
        page_keys, page_times = _page_rows(frame, mask, wanted)
        return _in_order(frame, page_keys, page_times)[offset:wanted]
    if isinstance(mask, tuple):  # a time window: its rows come in time order
        times, keys = frame.time_order
        lo, hi = mask
        rows = pl.DataFrame(
            {"_key": keys[lo:hi], "request_time": times[lo:hi]}
        ).reverse()
        mask = pl.col("_key").is_in(rows["_key"].implode())
    else:
        rows = traces.lazy().filter(mask).select("_key", "request_time").collect()
    if rows["request_time"].null_count():  # not from a trace; the general sort
        exprs, descending = _sort_spec(frame, plan.order)
        return (
            traces.lazy()
            .filter(mask)
            .sort(exprs, descending=descending, nulls_last=True, maintain_order=True)
            .slice(offset, limit)
            .select("_key")
            .collect()["_key"]
        )
    if limit is not None:
        wanted = offset + limit
        if rows.height > wanted > 0:
            cutoff = rows["request_time"].top_k(wanted).min()
            rows = rows.filter(pl.col("request_time") >= cutoff)
    rows = rows.sort("request_time", descending=True, maintain_order=True)
    times = rows["request_time"]
    tied = (times == times.shift(1)) | (times == times.shift(-1))
    if tied.any():
        at = tied.arg_true()
        ties = rows[at].with_columns(traces["trace_id"].gather(rows["_key"][at]))
        # Then the key: a window's rows come reversed, others in key order.
        ties = ties.sort(
            ["request_time", "trace_id", "_key"], descending=[True, False, False]
        )
        rows = rows.with_columns(rows["_key"].scatter(at, ties["_key"]))
    return rows["_key"].slice(offset, limit)


#: Pages of at most this many rows (offset included) are ordered in Python.
_PAGE_ROWS = 10_000


def _page_rows(
    frame: TraceFrame, mask: pl.Expr | tuple[int, int], wanted: int
) -> tuple[list[int], list[int]]:
    """Keys and times of the matches at or above the ``wanted``-th newest time.

    A time window's rows are a run of the frame's time order: the newest are its
    last ``wanted`` rows, widened to every row that shares the oldest of their
    times, one binary search instead of a pass over the window. Other filters are
    evaluated to one boolean per trace (what ``count`` costs) and read in time
    order from the newest trace back (`_newest_hits`).
    """
    times, keys = frame.time_order
    if isinstance(mask, tuple):
        lo, hi = mask
        if hi - lo > wanted:
            cutoff = times[hi - wanted]
            lo = max(lo, times.search_sorted(cutoff, side="left"))
        return keys[lo:hi].to_list(), times[lo:hi].to_list()
    if not mask.meta.root_names():  # may be one scalar: make it one value per row
        mask = pl.col("_key").is_not_null() & mask
    hits = frame.traces.select(mask).to_series()
    at = _newest_hits(hits, keys, wanted)
    if at is None:  # sparse matches: filter them all, then the top times
        rows = frame.traces.filter(hits).select("_key", "request_time")
        if rows.height > wanted:
            cutoff = rows["request_time"].top_k(wanted).min()
            rows = rows.filter(pl.col("request_time") >= cutoff)
        return rows["_key"].to_list(), rows["request_time"].to_list()
    # Every trace sharing the time of the wanted-th newest match: the order breaks
    # ties by trace id, not by position.
    lo = at
    if at and times[at - 1] == times[at]:
        lo = times.search_sorted(times[at], side="left")
    tail = hits.gather(keys[lo:])
    return keys[lo:].filter(tail).to_list(), times[lo:].filter(tail).to_list()


#: `_newest_hits` reads at least this many traces a round (and, first, ``wanted``).
_FIRST_READ = 4096


def _newest_hits(hits: pl.Series, keys: pl.Series, wanted: int) -> int | None:
    """Position in time order of the ``wanted``-th newest match (0: fewer match).

    ``hits``: one boolean per trace, by key; ``keys``: the trace keys in time
    order. Reads the hits of the newest traces, then of older ones, each round as
    many as the matches seen so far say are needed (with a margin), until
    ``wanted`` are found. A page of a common filter reads a few thousand booleans
    instead of filtering every match and taking the top of their times. ``None``
    before reading more than half the traces: the matches are too sparse for this
    to pay.
    """
    n = len(keys)
    hi, found, size = n, 0, max(_FIRST_READ, wanted)
    while hi:
        lo = max(0, hi - size)
        part = hits.gather(keys[lo:hi])
        more = int(part.sum())
        if found + more >= wanted:
            # The wanted-th newest match, counted back from the end of this part.
            return lo + int(part.arg_true()[more - (wanted - found)])
        found, hi = found + more, lo
        read = n - hi
        size = max(_FIRST_READ, 3 * read * (wanted - found) // (2 * found or 1))
        if read + size > n // 2 and hi:
            return None
    return 0  # fewer matches than wanted: all of them


def _in_order(frame: TraceFrame, keys: list[int], times: list[int]) -> pl.Series:
    """``keys`` newest first, ties on the time by trace id, then in key order.

    A page is a hundred rows or so: a Python sort costs less than the Polars
    calls that sort and re-sort ties, and the ids are read only when times tie.
    Python's sort is stable, and it compares strings by code point, which is
    Polars' byte order for UTF-8.
    """
    rows = sorted(range(len(keys)), key=keys.__getitem__)  # key order first
    if len(set(times)) == len(times):
        rows.sort(key=times.__getitem__, reverse=True)
    else:
        at = pl.Series(keys, dtype=pl.UInt32)
        ids = frame.traces["trace_id"].gather(at).to_list()
        rows.sort(key=lambda i: (-times[i], ids[i]))
    return pl.Series("_key", [keys[i] for i in rows], dtype=pl.UInt32)
