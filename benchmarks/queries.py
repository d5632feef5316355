"""The benchmark filters, each with its hand-written Polars query and DuckDB SQL.

Every query answers the same question four ways:

* ``filter``: the polartrace / MLflow filter string;
* ``mask``: a hand-written Polars predicate over a trace table (sub-queries on the
  span, assessment and unit tables run eagerly inside, so their cost is timed);
* ``count``: an optional hand-written count that skips the trace table where an
  expert would (a span group counts distinct trace keys directly);
* ``sql``: a DuckDB ``WHERE`` clause over the same Arrow tables.

``mlflow`` is the filter MLflow 3.17 accepts for the question, or ``None`` when it has
no equivalent (``OR``, ``NOT``, trace-level questions). ``loop`` is, for the
trace-level questions, the count a plain Python loop over ``Trace`` objects gives: the
baseline a user without polartrace would write.

The values (user, trace name, week) come from the generator's documented
distribution (``polartrace/generate/``), so selectivities match its docstring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl

from polartrace.generate import DEFAULT_START_MS

DAY_MS = 86_400_000
WEEK_START = DEFAULT_START_MS + 7 * DAY_MS
WEEK_END = DEFAULT_START_MS + 14 * DAY_MS
USER = "rupert.dubois@my_company.com"
TRACE_NAME = "support_agent"


@dataclass(frozen=True)
class Tables:
    """The tables a hand-written query reads (polartrace's own, or a re-laid copy)."""

    traces: pl.DataFrame
    spans: pl.DataFrame
    assessments: pl.DataFrame
    units: pl.DataFrame
    layout: str


def _keys(table: pl.DataFrame, predicate: pl.Expr) -> pl.Series:
    return (
        table.lazy().filter(predicate).select(pl.col("_key").unique()).collect()["_key"]
    )


def _key_in(keys: pl.Series) -> pl.Expr:
    return pl.col("_key").is_in(keys.implode())


def _n_unique(table: pl.DataFrame, predicate: pl.Expr) -> int:
    out = table.lazy().filter(predicate).select(pl.col("_key").n_unique()).collect()
    return int(out.item())


def _span_pred_group(t: Tables) -> pl.Expr:
    return (pl.col("type") == "LLM") & (pl.col("status") == "ERROR")


def _span_pred_name(t: Tables) -> pl.Expr:
    return pl.col("name") == "retriever"


def _feedback_pred(t: Tables) -> pl.Expr:
    return (
        (pl.col("kind") == "feedback")
        & (pl.col("name") == "relevance")
        & (pl.col("number") > 0.5)
    )


MODEL = "gpt-4o"
TOKENS = 1000


def _model_pred(t: Tables) -> pl.Expr:
    return pl.col("model") == MODEL


def _tokens(t: Tables) -> pl.Expr:
    return pl.col("tokens.total") > TOKENS


def _text_pred(t: Tables) -> pl.Expr:
    return pl.col("unit").str.contains("refund", literal=True)


def _name_like(t: Tables) -> pl.Expr:
    # LIKE '%_agent': at least one character, then "agent".
    name = pl.col("tag:mlflow.traceName")
    dtype = t.traces.schema["tag:mlflow.traceName"]
    if isinstance(dtype, pl.Enum):
        # Decide on the dictionary, then test the codes.
        cats = dtype.categories
        hits = cats.filter(cats.str.ends_with("agent") & (cats.str.len_chars() > 5))
        return name.is_in(hits.implode())
    if dtype == pl.Categorical:
        return name.cat.ends_with("agent") & (name.cat.len_chars() > 5)
    return name.str.ends_with("agent") & (name.str.len_chars() > 5)


def _time_range(t: Tables) -> pl.Expr:
    return pl.col("request_time").is_between(WEEK_START, WEEK_END, closed="left")


@dataclass(frozen=True)
class Query:
    """One benchmark question (see the module docstring)."""

    id: str
    filter: str
    mask: Callable[[Tables], pl.Expr]
    sql: str
    mlflow: str | None
    count: Callable[[Tables], int] | None = None
    note: str = ""
    loop: Callable[[list[Any]], int] | None = None


def _time_count(t: Tables) -> int:
    if t.layout == "best":  # sorted request_time: two binary searches
        times = t.traces["request_time"]
        lo = times.search_sorted(WEEK_START, side="left")
        hi = times.search_sorted(WEEK_END, side="left")
        return int(hi - lo)
    return int(t.traces.select(_time_range(t).sum()).item())


def _simple_count(pred: Callable[[Tables], pl.Expr]) -> Callable[[Tables], int]:
    def count(t: Tables) -> int:
        return int(t.traces.select(pred(t).fill_null(value=False).sum()).item())

    return count


def _status_ok(t: Tables) -> pl.Expr:
    return pl.col("state") == "OK"


def _latency(t: Tables) -> pl.Expr:
    return pl.col("execution_duration") > 2500


def _user(t: Tables) -> pl.Expr:
    return pl.col("meta:mlflow.trace.user") == USER


def _env(t: Tables) -> pl.Expr:
    return pl.col("tag:environment") == "production"


def _name(t: Tables) -> pl.Expr:
    return pl.col("tag:mlflow.traceName") == TRACE_NAME


def _and(t: Tables) -> pl.Expr:
    return _status_ok(t) & _env(t) & _latency(t)


def _or(t: Tables) -> pl.Expr:
    return (pl.col("state") == "ERROR") | (
        pl.col("execution_duration") > 10_000
    ).fill_null(value=False)


def _not(t: Tables) -> pl.Expr:
    return ~_env(t).fill_null(value=False)


# --- trace-level questions --------------------------------------------------------

#: ``sum(span.duration_ms) > DURATION_SUM``: about a quarter of the generated traces.
DURATION_SUM = 5000


def _no_tool(t: Tables) -> pl.Expr:
    return ~_key_in(_keys(t.spans, pl.col("type") == "TOOL"))


def _failing_tool_below_agent(t: Tables) -> pl.Series:
    """Keys of traces with an AGENT span above a failing TOOL span, by hand.

    Walk up from each failing tool span one parent at a time (a semi-join on
    ``(_key, span_id)``), keeping the agent spans met, until no parent is left.
    """
    spans = t.spans.select("_key", "span_id", "parent_id", "type")
    failing = (pl.col("type") == "TOOL") & (pl.col("status") == "ERROR")
    front = t.spans.filter(failing).select("_key", pl.col("parent_id").alias("span_id"))
    found = []
    while front.height:
        parents = spans.join(front.drop_nulls(), on=["_key", "span_id"], how="semi")
        found.append(parents.filter(pl.col("type") == "AGENT")["_key"])
        front = parents.select("_key", pl.col("parent_id").alias("span_id")).unique()
    return pl.concat([pl.Series("_key", [], pl.UInt32), *found]).unique()


def _llm_counts(t: Tables) -> pl.Series:
    llm = t.spans.lazy().filter(pl.col("type") == "LLM").group_by("_key").len()
    return llm.filter(pl.col("len") >= 2).collect()["_key"]


def _duration_sums(t: Tables) -> pl.Series:
    sums = t.spans.lazy().group_by("_key").agg(pl.col("duration_ms").sum())
    return sums.filter(pl.col("duration_ms") > DURATION_SUM).collect()["_key"]


def _loop_no_tool(traces: list[Any]) -> int:
    return sum(not any(s.span_type == "TOOL" for s in t.data.spans) for t in traces)


def _loop_failing_tool_below_agent(traces: list[Any]) -> int:
    hits = 0
    for trace in traces:
        by_id = {s.span_id: s for s in trace.data.spans}
        found = False
        for span in trace.data.spans:
            if span.span_type != "TOOL" or span.status.code.value != "ERROR":
                continue
            parent = by_id.get(span.parent_id) if span.parent_id else None
            while parent is not None and not found:
                found = parent.span_type == "AGENT"
                parent = by_id.get(parent.parent_id) if parent.parent_id else None
            if found:
                break
        hits += found
    return hits


def _loop_llm_count(traces: list[Any]) -> int:
    return sum(sum(s.span_type == "LLM" for s in t.data.spans) >= 2 for t in traces)


def _loop_duration_sum(traces: list[Any]) -> int:
    return sum(
        sum(s.duration_ms or 0 for s in t.data.spans) > DURATION_SUM for t in traces
    )


_DESCENDANT_SQL = """_key IN (
    WITH RECURSIVE up(_key, span_id) AS (
        SELECT _key, parent_id FROM spans
        WHERE type = 'TOOL' AND status = 'ERROR' AND parent_id IS NOT NULL
        UNION
        SELECT p._key, p.parent_id FROM spans p
        JOIN up ON p._key = up._key AND p.span_id = up.span_id
        WHERE p.parent_id IS NOT NULL
    )
    SELECT a._key FROM spans a JOIN up ON a._key = up._key AND a.span_id = up.span_id
    WHERE a.type = 'AGENT')"""

TRACE_LEVEL: tuple[Query, ...] = (
    Query(
        "no_tool",
        "NO SPAN (type = 'TOOL')",
        _no_tool,
        "_key NOT IN (SELECT _key FROM spans WHERE type = 'TOOL')",
        None,
        loop=_loop_no_tool,
    ),
    Query(
        "descendant",
        "ANY SPAN (type = 'AGENT') HAS DESCENDANT (type = 'TOOL' AND status = 'ERROR')",
        lambda t: _key_in(_failing_tool_below_agent(t)),
        _DESCENDANT_SQL,
        None,
        lambda t: len(_failing_tool_below_agent(t)),
        note="DuckDB: a recursive CTE up the parent ids",
        loop=_loop_failing_tool_below_agent,
    ),
    Query(
        "llm_count",
        "count(SPAN WHERE type = 'LLM') >= 2",
        lambda t: _key_in(_llm_counts(t)),
        "_key IN (SELECT _key FROM spans WHERE type = 'LLM' GROUP BY _key "
        "HAVING count(*) >= 2)",
        None,
        lambda t: len(_llm_counts(t)),
        loop=_loop_llm_count,
    ),
    Query(
        "duration_sum",
        f"sum(span.duration_ms) > {DURATION_SUM}",
        lambda t: _key_in(_duration_sums(t)),
        f"_key IN (SELECT _key FROM spans GROUP BY _key "
        f"HAVING sum(duration_ms) > {DURATION_SUM})",
        None,
        lambda t: len(_duration_sums(t)),
        note="stands in for sum(span.tokens.total) > N until the token fields exist",
        loop=_loop_duration_sum,
    ),
)

QUERIES: tuple[Query, ...] = (
    Query(
        "status",
        "attributes.status = 'OK'",
        _status_ok,
        "state = 'OK'",
        "attributes.status = 'OK'",
        _simple_count(_status_ok),
    ),
    Query(
        "week",
        f"attributes.timestamp_ms >= {WEEK_START} AND attributes.timestamp_ms < "
        f"{WEEK_END}",
        _time_range,
        f"request_time >= {WEEK_START} AND request_time < {WEEK_END}",
        f"attributes.timestamp_ms >= {WEEK_START} AND attributes.timestamp_ms < "
        f"{WEEK_END}",
        _time_count,
    ),
    Query(
        "latency",
        "attributes.execution_time_ms > 2500",
        _latency,
        "execution_duration > 2500",
        "attributes.execution_time_ms > 2500",
        _simple_count(_latency),
    ),
    Query(
        "user",
        f"metadata.`mlflow.trace.user` = '{USER}'",
        _user,
        f"\"meta:mlflow.trace.user\" = '{USER}'",
        f"metadata.`mlflow.trace.user` = '{USER}'",
        _simple_count(_user),
    ),
    Query(
        "environment",
        "tags.environment = 'production'",
        _env,
        "\"tag:environment\" = 'production'",
        "tags.environment = 'production'",
        _simple_count(_env),
    ),
    Query(
        "trace_name",
        f"tags.`mlflow.traceName` = '{TRACE_NAME}'",
        _name,
        f"\"tag:mlflow.traceName\" = '{TRACE_NAME}'",
        f"tags.`mlflow.traceName` = '{TRACE_NAME}'",
        _simple_count(_name),
    ),
    Query(
        "and",
        "attributes.status = 'OK' AND tags.environment = 'production' "
        "AND attributes.execution_time_ms > 2500",
        _and,
        "state = 'OK' AND \"tag:environment\" = 'production' "
        "AND execution_duration > 2500",
        "attributes.status = 'OK' AND tags.environment = 'production' "
        "AND attributes.execution_time_ms > 2500",
        _simple_count(_and),
    ),
    Query(
        "name_like",
        "name LIKE '%_agent'",
        _name_like,
        "\"tag:mlflow.traceName\" LIKE '%_agent'",
        "name LIKE '%_agent'",
        _simple_count(_name_like),
    ),
    Query(
        "or",
        "attributes.status = 'ERROR' OR attributes.execution_time_ms > 10000",
        _or,
        "state = 'ERROR' OR coalesce(execution_duration > 10000, false)",
        None,
        _simple_count(_or),
    ),
    Query(
        "not",
        "NOT tags.environment = 'production'",
        _not,
        "NOT coalesce(\"tag:environment\" = 'production', false)",
        None,
        _simple_count(_not),
    ),
    Query(
        "span_group",
        "span.type = 'LLM' AND span.status = 'ERROR'",
        lambda t: _key_in(_keys(t.spans, _span_pred_group(t))),
        "_key IN (SELECT _key FROM spans WHERE type = 'LLM' AND status = 'ERROR')",
        "span.type = 'LLM' AND span.status = 'ERROR'",
        lambda t: _n_unique(t.spans, _span_pred_group(t)),
    ),
    Query(
        "span_name",
        "span.name = 'retriever'",
        lambda t: _key_in(_keys(t.spans, _span_pred_name(t))),
        "_key IN (SELECT _key FROM spans WHERE name = 'retriever')",
        "span.name = 'retriever'",
        lambda t: _n_unique(t.spans, _span_pred_name(t)),
    ),
    Query(
        "tokens",
        f"tokens.total > {TOKENS}",
        _tokens,
        f'"tokens.total" > {TOKENS}',
        None,
        _simple_count(_tokens),
        note="MLflow cannot compare token usage numerically",
    ),
    Query(
        "model",
        f"span.model = '{MODEL}'",
        lambda t: _key_in(_keys(t.spans, _model_pred(t))),
        f"_key IN (SELECT _key FROM spans WHERE model = '{MODEL}')",
        None,
        lambda t: _n_unique(t.spans, _model_pred(t)),
        note="MLflow has no normalised model field",
    ),
    Query(
        "feedback",
        "feedback.relevance > 0.5",
        lambda t: _key_in(_keys(t.assessments, _feedback_pred(t))),
        "_key IN (SELECT _key FROM assessments WHERE kind = 'feedback' "
        "AND name = 'relevance' AND number > 0.5)",
        "feedback.relevance > 0.5",
        lambda t: _n_unique(t.assessments, _feedback_pred(t)),
    ),
    Query(
        "text",
        "text LIKE '%refund%'",
        lambda t: _key_in(_keys(t.units, _text_pred(t))),
        "_key IN (SELECT _key FROM units WHERE unit LIKE '%refund%')",
        "trace.text LIKE '%refund%'",
        lambda t: _n_unique(t.units, _text_pred(t)),
        note="MLflow searches raw span JSON, keys included (compatibility.md)",
    ),
    *TRACE_LEVEL,
)


def by_id(ids: list[str] | None) -> tuple[Query, ...]:
    """Return the queries named in ``ids`` (all of them for ``None``)."""
    if not ids:
        return QUERIES
    known = {q.id: q for q in QUERIES}
    unknown = [i for i in ids if i not in known]
    if unknown:
        msg = f"unknown query ids {unknown}; known: {sorted(known)}"
        raise SystemExit(msg)
    return tuple(known[i] for i in ids)


def hand_count(query: Query, tables: Tables) -> int:
    """Count the matches of ``query`` the way an expert would write it."""
    if query.count is not None:
        return query.count(tables)
    return int(tables.traces.select(query.mask(tables).sum()).item())


def hand_keys(query: Query, tables: Tables, limit: int | None = None) -> pl.Series:
    """The ``_key`` of the matches in the default order (newest first, then id).

    For a page, an expert sorts only the rows at or above the time of the
    ``limit``-th newest match (a top-k on the integer time), not every match.
    """
    by, desc = ["request_time", "trace_id"], [True, False]
    matches = tables.traces.lazy().filter(query.mask(tables))
    if limit is None:
        return matches.sort(by, descending=desc).select("_key").collect()["_key"]
    rows = matches.select("_key", "request_time", "trace_id").collect()
    if rows.height > limit:
        cutoff = rows["request_time"].top_k(limit).min()
        rows = rows.filter(pl.col("request_time") >= cutoff)
    return rows.sort(by, descending=desc).head(limit)["_key"]


def summary(query: Query) -> dict[str, Any]:
    """The JSON-able description of a query."""
    return {"id": query.id, "filter": query.filter, "sql": query.sql,
            "mlflow": query.mlflow, "note": query.note}  # fmt: skip
