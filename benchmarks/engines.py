"""The contenders, each reduced to "count the matches" and "return the matches".

* polartrace: ``count`` and ``search_traces(..., return_type="polars")``, cold
  (the frame's compiled-filter cache ``frame._compiled`` cleared before every call,
  the parse cache warm) and warm (compiled filter cached).
* hand-written Polars on polartrace's own tables (``frame`` layout) and on a copy
  re-laid out for these queries (``best``: request time sorted and flagged sorted,
  low-cardinality strings Categorical).
* the reference evaluator on ``Trace`` objects (built once, untimed).
* DuckDB on the same tables, imported as native DuckDB tables (its fastest mode).

MLflow's store lives in ``mlflow_store``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl

import polartrace
from benchmarks.queries import Query, Tables, hand_count, hand_keys
from polartrace.frame import TraceFrame

#: Rows of a "page" search (MLflow fetches 100 a page).
PAGE = 100

#: Output columns a "search" returns besides the JSON ones (design.md section 6).
FLAT_COLUMNS = (
    "trace_id",
    "client_request_id",
    "state",
    "request_time",
    "execution_duration",
)


def frame_tables(frame: TraceFrame) -> Tables:
    """polartrace's own tables (the frame's units built first, untimed)."""
    return Tables(frame.traces, frame.spans, frame.assessments, frame.units, "frame")


def _enum(series: pl.Series) -> pl.DataType | None:
    """An Enum of the values of a low-cardinality string column, else ``None``."""
    if series.dtype not in (pl.String, pl.Categorical):
        return None
    values = series.cast(pl.String).drop_nulls().unique()
    if len(values) > max(64, series.len() // 20):
        return None
    return pl.Enum(values.sort())


def _as_enums(table: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    casts = []
    for c in columns:
        dtype = _enum(table[c])
        if dtype is not None:
            casts.append(pl.col(c).cast(dtype))
    return table.with_columns(casts) if casts else table


def best_tables(frame: TraceFrame) -> Tables:
    """A copy laid out for these queries: what an expert would build by hand.

    Rows sorted by request time (flagged sorted), and every low-cardinality string
    column (tags, metadata, span name and type, assessment kind and name) an Enum
    of its values, so a comparison is an integer test and a LIKE runs on the
    dictionary.
    """
    traces = frame.traces.sort("request_time", maintain_order=True)
    keyed = [c for c in traces.columns if c.startswith(("tag:", "meta:"))]
    traces = _as_enums(traces, keyed).with_columns(pl.col("request_time").set_sorted())
    spans = _as_enums(frame.spans, ["name", "type"])
    assessments = _as_enums(frame.assessments, ["kind", "name"])
    return Tables(traces, spans, assessments, frame.units, "best")


# --- polartrace ------------------------------------------------------------------


def polartrace_count(frame: TraceFrame, query: Query) -> int:
    """``polartrace.count``."""
    return int(polartrace.count(frame, query.filter))


def polartrace_search(
    frame: TraceFrame, query: Query, limit: int | None = None
) -> pl.DataFrame:
    """``polartrace.search_traces(..., return_type="polars", max_results=limit)``."""
    result = polartrace.search_traces(
        frame, query.filter, max_results=limit, return_type="polars"
    )
    assert isinstance(result, pl.DataFrame)
    return result


def cold(frame: TraceFrame) -> Callable[[], None]:
    """A setup that empties the frame's compiled-filter cache."""

    def clear() -> None:
        frame._compiled.clear()

    return clear


# --- hand-written Polars ----------------------------------------------------------


def hand_search(
    tables: Tables, query: Query, limit: int | None, texts: pl.Series | None
) -> pl.DataFrame:
    """Matches in the default order: the flat output columns and the trace JSON."""
    keys = hand_keys(query, tables, limit)
    # _key is the row number in the frame layout; the best layout is re-sorted.
    if tables.layout == "frame":
        rows = tables.traces[keys]
    else:
        rows = pl.DataFrame({"_key": keys}).join(
            tables.traces, on="_key", how="left", maintain_order="left"
        )
    out = rows.select(
        pl.col("trace_id"),
        pl.col("client_request_id"),
        pl.col("state").cast(pl.String),
        pl.col("request_time"),
        pl.col("execution_duration"),
    )
    if texts is not None:
        out = out.with_columns(trace=texts.gather(keys))
    return out


def hand(
    tables: Tables, query: Query, kind: str, texts: pl.Series | None = None
) -> Any:
    """Hand-written ``count``, ``page`` (first ``PAGE`` matches) or ``all``."""
    if kind == "count":
        return hand_count(query, tables)
    return hand_search(tables, query, PAGE if kind == "page" else None, texts)


# --- reference -------------------------------------------------------------------


def reference_count(traces: list[Any], query: Query) -> int:
    """The reference evaluator over ``Trace`` objects."""
    from polartrace.reference import evaluate

    return sum(evaluate(polartrace.parse_filter(query.filter), traces))


# --- DuckDB ----------------------------------------------------------------------


class Duck:
    """DuckDB with the frame's tables imported as native tables."""

    def __init__(self, frame: TraceFrame, threads: int) -> None:
        import duckdb

        self.con = duckdb.connect(config={"threads": threads})
        tables = {
            "traces": frame.traces,
            "spans": frame.spans.select(
                "_key", "_span", "name", "type", pl.col("status").cast(pl.String)
            ),
            "assessments": frame.assessments,
            "units": frame.units,
        }
        for name, table in tables.items():
            arrow = table.with_columns(
                pl.col(pl.Enum, pl.Categorical).cast(pl.String)
            ).to_arrow()
            self.con.register(f"_arrow_{name}", arrow)
            self.con.execute(f"CREATE TABLE {name} AS SELECT * FROM _arrow_{name}")
            self.con.unregister(f"_arrow_{name}")

    def count(self, query: Query) -> int:
        """``SELECT count(*)``."""
        row = self.con.sql(f"SELECT count(*) FROM traces WHERE {query.sql}").fetchall()[
            0
        ]
        assert row is not None
        return int(row[0])

    def search(self, query: Query, limit: int | None) -> pl.DataFrame:
        """Matches in the default order with the flat output columns, as Polars."""
        sql = (
            "SELECT trace_id, client_request_id, state, request_time, "
            f"execution_duration FROM traces WHERE {query.sql} "
            "ORDER BY request_time DESC, trace_id ASC"
        )
        if limit is not None:
            sql += f" LIMIT {limit}"
        arrow = self.con.sql(sql).to_arrow_table()
        return pl.from_arrow(arrow)  # type: ignore[return-value]

    def run(self, query: Query, kind: str) -> Any:
        """``count``, ``page`` or ``all``."""
        if kind == "count":
            return self.count(query)
        return self.search(query, PAGE if kind == "page" else None)
