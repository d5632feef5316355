"""The contenders, each reduced to "count the matches" and "return the matches".

* polartrace: ``count`` and ``search_traces(..., return_type="polars")``, cold
  (the frame's compiled-filter cache ``frame._compiled`` cleared before every call,
  the parse cache warm) and warm (compiled filter cached).
* hand-written Polars on polartrace's own tables (``frame`` layout) and on a copy
  re-laid out for these queries (``best``: request time sorted and flagged sorted,
  low-cardinality strings an `Enum` of their values).
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
from polartrace.frame.trace_frame import TraceFrame

#: Rows of a "page" search (MLflow fetches 100 a page).
PAGE = 100

#: Output columns a "search" returns besides the JSON ones
#: (docs/semantics.md#result-columns).
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
    spans = _as_enums(frame.spans, ["name", "type", "model"])
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
    tables: Tables,
    query: Query,
    limit: int | None,
    texts: pl.Series | None,
    keys: pl.Series | None = None,
) -> pl.DataFrame:
    """Matches in the default order: the flat output columns and the trace JSON.

    ``keys``: the matches' ``_key`` in order, when already found.
    """
    if keys is None:
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


_SPANS_MARK = '"data": {"spans": '
_INPUTS, _OUTPUTS = "raw:mlflow.spanInputs", "raw:mlflow.spanOutputs"


def _root_attributes(spans: pl.DataFrame, keys: pl.Series) -> pl.LazyFrame:
    """``_key``, ``request`` and ``response``: each key's root-span attribute text.

    The frame stores spans grouped by trace in key order, so an expert takes each
    trace's run of spans by binary search rather than a pass over every span; the
    root is the first span of the run without a parent.
    """
    span_keys = spans["_key"]
    runs = pl.DataFrame(
        {
            "lo": span_keys.search_sorted(keys, side="left"),
            "hi": span_keys.search_sorted(keys, side="right"),
        }
    )
    rows = runs.select(pl.int_ranges("lo", "hi", dtype=pl.UInt32).explode())
    present = [
        pl.col(name).first() if name in spans.columns else pl.lit(None, pl.String)
        for name in (_INPUTS, _OUTPUTS)
    ]
    return (
        spans[rows.to_series().drop_nulls()]
        .lazy()
        .filter(pl.col("parent_id").is_null())
        .group_by("_key")
        .agg(present[0].alias("request"), present[1].alias("response"))
    )


def hand_page_columns(tables: Tables, query: Query, texts: pl.Series) -> pl.DataFrame:
    """The first ``PAGE`` matches with MLflow's twelve columns, nested ones as JSON.

    Written in Polars on the frame's own tables and kept JSON texts: the flat
    columns gathered; ``trace`` the kept text; ``spans`` cut out of it by
    position (the text ends with ``"data": {"spans": [...]}}``); metadata, tags
    and assessments read by a JSON path from the info part alone (half the text
    to parse); ``request``/``response`` the root span's stored attribute text.
    Nested cells are JSON text of MLflow's cells (Polars writes compact JSON and
    its own key order; absent metadata, tags and assessments are ``{}``/``[]``);
    polartrace's page types them (lists of structs), and decoded they hold the
    same values (tests/test_benchmarks.py).
    """
    keys = hand_keys(query, tables, PAGE)
    page = hand_search(tables, query, PAGE, texts, keys=keys)
    text = pl.col("trace")
    at = text.str.find(_SPANS_MARK, literal=True)
    start = at + len(_SPANS_MARK)
    info = pl.concat_str(text.str.slice(0, at - 2), pl.lit("}"))

    def part(name: str, empty: str) -> pl.Expr:
        found = pl.col("_info").str.json_path_match(f"$.info.{name}")
        return found.fill_null(empty).alias(name)

    return (
        page.with_columns(_key=keys)
        .lazy()
        .join(_root_attributes(tables.spans, keys), on="_key", how="left",
              maintain_order="left")
        .with_columns(_info=info)
        .select(
            "trace_id", "trace", "client_request_id", "state", "request_time",
            "execution_duration", "request", "response",
            part("trace_metadata", "{}"), part("tags", "{}"),
            text.str.slice(start, text.str.len_chars() - start - 2).alias("spans"),
            part("assessments", "[]"),
        )
        .collect()
    )  # fmt: skip


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
    from polartrace.engines.reference import evaluate

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
                "_key",
                "_span",
                "name",
                "type",
                "model",
                pl.col("status").cast(pl.String),
                "span_id",
                "parent_id",
                "duration_ms",
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
