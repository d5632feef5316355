"""Run a plan over a Parquet dataset bigger than memory.

`ScannedTraces` opens a dataset written by `polartrace.io.write_parquet`;
`LazyEngine` runs plans over it, with the Polars tests of
`polartrace.engines.polars.exprs`, so every test means what it means in memory:

* Trace-column tests run on ``pl.scan_parquet`` with predicate pushdown and the
  streaming engine.
* Span, assessment, prompt and full-text matches are "some row of the table
  satisfies ...", so they are evaluated one bounded batch of their table at a
  time: the batch's matching rows give trace keys, and the union over batches is
  the match's key set.
* Quantifiers, relations and aggregates over spans need a trace's spans together,
  so they read the span table in batches of whole traces (a range of keys per
  batch, `ScannedTraces.trace_batches`) and run the in-memory engine's span-table
  functions (`polartrace.engines.polars.structure`) on each.
* ``AND``/``OR``/``NOT`` combine the pieces at the trace level.
* A span table (`LazyEngine.span_rows`, for ``search_spans``) keeps, batch by
  batch, only the identity and row sort keys of the matching spans, orders them as
  the in-memory executor does and reads the rows of the page in a second pass; an
  assessment table (`LazyEngine.assessment_rows`) decodes the stored assessment
  texts batch by batch and keeps the matching ones.

Memory stays bounded by the batch size, one key set (4 bytes per matching trace)
per non-trace match, and the sort of the matching rows' order keys. Keys are the
dataset's own ``_key`` values; `ScannedTraces.pages_at` reads the page table rows of
a page (`polartrace.io.parquet.read_pages`).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final, assert_never

import polars as pl
import pyarrow.parquet as pq

from polartrace.bind.metric_nodes import GroupKey, Scope
from polartrace.bind.nodes import (
    Aggregate,
    AllOf,
    AnyOf,
    Cond,
    Negate,
    Node,
    SpanRelation,
)
from polartrace.bind.order_by import AggregateKey, SortKey
from polartrace.bind.rows import RowKey
from polartrace.engines.polars.exprs import (
    assessment_test,
    column_name,
    column_test,
    prompt_test,
    sort_column,
    span_test,
    unit_test,
)
from polartrace.engines.polars.rows import row_column, sort_names
from polartrace.engines.polars.structure import (
    SpanTable,
    aggregate_keys,
    aggregate_values,
    empty_passes,
    empty_value,
    qualifying_keys,
)
from polartrace.frame.assessment_table import DETAIL_SCHEMA, _detail
from polartrace.frame.llm import LLM_SPAN_SCHEMA, LLM_TRACE_SCHEMA
from polartrace.frame.schema import (
    _ASSESSMENT_SCHEMA,
    _PROMPT_SCHEMA,
    _SPAN_SCHEMA,
    _TRACE_SCHEMA,
    ATTR_PREFIX,
    META_PREFIX,
    NUM_PREFIX,
    RAW_PREFIX,
    duration_ms,
)
from polartrace.frame.session_scope import SessionScope, rescope, scoped_assessments
from polartrace.frame.trace_frame import (
    TraceFrame,
    _assessment_rows,
    _derive_attribute,
)
from polartrace.frame.units import build_units
from polartrace.io.parquet import (
    TABLES,
    read_manifest,
    read_pages,
    read_parquet,
    session_members,
    table_files,
)
from polartrace.language.ast import Op, Quantifier
from polartrace.model.assessment import Assessment, read_assessment
from polartrace.plan.rows import SPAN_COLUMNS, RowsPlan
from polartrace.plan.search import (
    And,
    AssessmentMatch,
    ColumnTest,
    Not,
    Or,
    Predicate,
    PromptMatch,
    SearchPlan,
    SpanAggregate,
    SpanMatch,
    SpanQuantified,
    TextMatch,
)
from polartrace.values.conventions import SESSION_KEY, SPAN_INPUTS, SPAN_OUTPUTS
from polartrace.values.errors import TraceFormatError

__all__ = [
    "ASSESSMENT_DETAILS",
    "BATCH_ROWS",
    "LazyEngine",
    "ScannedTraces",
    "page_span_columns",
    "span_batch",
]

#: Rows per batch when a match streams the span, assessment or prompt table.
BATCH_ROWS: Final = 20_000
_SPAN_BASE: Final = ("_key", "name", "type", "status", "duration_ms")
_SPAN_TREE: Final = ("span_id", "parent_id")
_TIMES: Final = ("start_ns", "end_ns")
_LLM: Final = {"traces": set(LLM_TRACE_SCHEMA), "spans": set(LLM_SPAN_SCHEMA)}
_PREVIEWS: Final = ("_key", "request_preview", "response_preview")
_SCHEMAS: Final = {
    "traces": _TRACE_SCHEMA,
    "spans": _SPAN_SCHEMA,
    "assessments": _ASSESSMENT_SCHEMA,
    "prompts": _PROMPT_SCHEMA,
}


def _scan(files: Sequence[os.PathLike[str]]) -> pl.LazyFrame:
    scans = [pl.scan_parquet(Path(f)) for f in files]
    return pl.concat(scans, how="diagonal_relaxed") if len(scans) > 1 else scans[0]


class ScannedTraces:
    """A polartrace Parquet dataset, opened without loading it into memory.

    Raises:
        TraceFormatError: If ``source`` is not a polartrace Parquet dataset.
    """

    def __init__(
        self, source: str | os.PathLike[str], *, batch_rows: int = BATCH_ROWS
    ) -> None:
        self.path = os.fspath(source)
        root = Path(source)
        self.manifest = read_manifest(root)
        self.batch_rows = batch_rows
        self.files = {name: table_files(root, name) for name in TABLES}
        self.traces = _scan(self.files["traces"])
        self.schema = self.traces.collect_schema()
        span_columns = {
            name for file in self.files["spans"] for name in pq.read_schema(file).names
        }
        # Datasets written before the LLM fields lack their columns: `read_parquet`
        # derives them from whole tables, a scan cannot.
        self.without_llm = not (
            _LLM["traces"] <= set(self.schema.names()) and _LLM["spans"] <= span_columns
        )
        self._scope: SessionScope | None = None
        self._lock = threading.Lock()

    def require(self, columns: Sequence[str]) -> None:
        """Fail naming the field if ``columns`` needs an LLM column the files lack.

        Raises:
            TraceFormatError: Naming the field and how to get its column.
        """
        if not self.without_llm:
            return
        for name in columns:
            if name in _LLM["traces"] or name in _LLM["spans"]:
                msg = (
                    f"field {name!r} needs the LLM columns, which this dataset was "
                    "written without (by an earlier polartrace); convert its source "
                    "again (polartrace convert), or load it whole with read_parquet"
                )
                raise TraceFormatError(msg, source=self.path)

    def __repr__(self) -> str:
        traces = self.manifest.get("traces")
        count = f"{traces:,}" if isinstance(traces, int) else "?"
        return f"{type(self).__name__}({self.path!r}, {count} traces)"

    def __len__(self) -> int:
        return int(self.traces.select(pl.len()).collect(engine="streaming").item())

    def collect(self) -> TraceFrame:
        """Load the whole dataset into an eager ``TraceFrame``."""
        return read_parquet(self.path)

    def scan(self, table: str) -> pl.LazyFrame:
        """One table of the dataset (one of `TABLES`) as a lazy scan of its parts."""
        return _scan(self.files[table])

    def pages_at(self, keys: Sequence[int]) -> pl.DataFrame:
        """The page table rows of the traces ``keys``, in that order (`read_pages`)."""
        wanted = pl.Series("_key", keys, dtype=pl.UInt32)
        order = pl.DataFrame(
            {"_key": wanted, "_order": pl.int_range(len(keys), eager=True)}
        )
        rows = (
            _scan(self.files["json"])
            .filter(pl.col("_key").is_in(wanted.implode()))
            .collect(engine="streaming")
        )
        table = order.join(rows, on="_key").sort("_order")
        return read_pages(table, self.manifest["version"], Path(self.path))

    def session_scope(self) -> SessionScope:
        """The assessment rows of the traces session-scoped assessments reach.

        The stored assessment files expand a session-scoped assessment within its
        own part only; this expands every one over the whole dataset
        (`polartrace.frame.session_scope`): one pass over the page table's
        assessments texts, one scan of the session column for the sessions they
        name, and the texts of the traces reached. Computed on first use, kept.
        """
        with self._lock:
            if self._scope is None:
                self._scope = rescope(
                    self._scoped(),
                    session_members(self.traces),
                    self._assessment_texts,
                )
            return self._scope

    def _assessment_texts(self, keys: Sequence[int]) -> pl.Series:
        """The page table's assessments texts of ``keys``, in that order."""
        if self.manifest["version"] == 1:
            return self.pages_at(keys)["assessments"]
        wanted = pl.Series("_key", keys, dtype=pl.UInt32)
        rows = (
            _scan(self.files["json"])
            .select(pl.col("_key").cast(pl.UInt32), "assessments")
            .filter(pl.col("_key").is_in(wanted.implode()))
            .collect()
        )
        found = wanted.to_frame().join(
            rows, on="_key", how="left", maintain_order="left"
        )
        return found["assessments"]

    def _scoped(self) -> list[tuple[int, Assessment]]:
        version = self.manifest["version"]
        column = "json" if version == 1 else "assessments"  # whole texts in version 1
        found: list[tuple[int, Assessment]] = []
        for file in self.files["json"]:
            reader = pq.ParquetFile(file)
            for batch in reader.iter_batches(
                batch_size=self.batch_rows, columns=["_key", column]
            ):
                table = pl.from_arrow(batch)
                assert isinstance(table, pl.DataFrame)
                table = table.filter(
                    pl.col(column).str.contains(SESSION_KEY, literal=True)
                )
                if table.is_empty():
                    continue
                texts = table[column]
                if version == 1:
                    pages = read_pages(table.select(column), version, Path(self.path))
                    texts = pages["assessments"]
                found += scoped_assessments(table["_key"].cast(pl.UInt32), texts)
        return found

    def raw_columns(self) -> list[str]:
        """Every span attribute column (``raw:<key>``) of the dataset."""
        names: dict[str, None] = {}
        for file in self.files["spans"]:
            for name in pq.read_schema(file).names:
                if name.startswith(RAW_PREFIX):
                    names[name] = None
        return list(names)

    def batches(self, table: str, columns: Sequence[str]) -> Iterator[pl.DataFrame]:
        """``table`` in batches of ``columns``; a column no file has reads as null."""
        self.require(columns)
        schema = _SCHEMAS[table]
        read = _read_columns(table, columns)
        for file in self.files[table]:
            reader = pq.ParquetFile(file)
            present = set(reader.schema_arrow.names)
            wanted = [c for c in read if c in present]
            for batch in reader.iter_batches(
                batch_size=self.batch_rows, columns=wanted
            ):
                df = pl.from_arrow(batch)
                assert isinstance(df, pl.DataFrame)
                df = _with_durations(table, df, columns)
                missing = [
                    pl.lit(None, dtype=schema.get(name, pl.String())).alias(name)
                    for name in columns
                    if name not in df.columns
                ]
                if not df.is_empty():
                    yield df.with_columns(missing) if missing else df

    def trace_batches(self, columns: Sequence[str]) -> Iterator[pl.DataFrame]:
        """The span table in batches that each hold whole traces.

        Every trace's spans are in one file; a file is read a range of keys at a
        time, about ``batch_rows`` spans per range (by the file's spans per key),
        whatever order its rows are in.
        """
        self.require(columns)
        schema = _SCHEMAS["spans"]
        read = _read_columns("spans", columns)
        for file in self.files["spans"]:
            scan = pl.scan_parquet(Path(file))
            present = set(scan.collect_schema().names())
            wanted = [c for c in read if c in present]
            missing = [
                pl.lit(None, dtype=schema.get(name, pl.String())).alias(name)
                for name in columns
                if name not in present
            ]
            key = pl.col("_key")
            lo, hi, rows = _key_range(scan)
            if not rows:
                continue
            step = max(1, self.batch_rows * (hi - lo + 1) // rows)
            for start in range(lo, hi + 1, step):
                batch = (
                    scan.filter(key.is_between(start, start + step - 1))
                    .select(wanted)
                    .collect()
                )
                batch = _with_durations("spans", batch, columns)
                if not batch.is_empty():
                    yield batch.with_columns(missing) if missing else batch


def _read_columns(table: str, columns: Sequence[str]) -> list[str]:
    """The stored columns to read for ``columns`` (`_with_durations`)."""
    if table != "spans" or "duration_ms" not in columns:
        return list(columns)
    return list(dict.fromkeys(c for c in columns if c != "duration_ms")) + [
        t for t in _TIMES if t not in columns
    ]


def _with_durations(
    table: str, batch: pl.DataFrame, columns: Sequence[str]
) -> pl.DataFrame:
    """A batch with ``duration_ms`` computed from the span times, as every frame has it.

    Datasets written by earlier versions store durations one float step off.
    """
    if table != "spans" or "duration_ms" not in columns:
        return batch
    if not set(_TIMES) <= set(batch.columns):
        return batch  # no times: the column reads as null
    batch = batch.with_columns(duration_ms(pl.col("start_ns"), pl.col("end_ns")))
    return batch.select(c for c in columns if c in batch.columns)


def _key_range(scan: pl.LazyFrame) -> tuple[int, int, int]:
    """The smallest and largest key of a span file, and its number of rows."""
    key = pl.col("_key")
    found = scan.select(
        key.min().alias("lo"), key.max().alias("hi"), pl.len().alias("rows")
    ).collect()
    lo, hi, rows = found.row(0)
    return (0, 0, 0) if not rows else (int(lo), int(hi), int(rows))


#: An assessment row of a lazy assessment table: the trace it applies to
#: (``_key``), the trace that holds it and its position there, the columns filters
#: read, then `DETAIL_SCHEMA`'s (the in-memory `assessment_details` columns).
_OWNED_SCHEMA: Final[dict[str, pl.DataType]] = {
    "_owner": pl.UInt32(),
    "_index": pl.Int64(),
    **{k: v for k, v in _ASSESSMENT_SCHEMA.items() if k != "_key"},
    **DETAIL_SCHEMA,
}
ASSESSMENT_DETAILS: Final = ["_key", *_OWNED_SCHEMA]


def _owned(keys: pl.Series, texts: pl.Series) -> pl.DataFrame:
    """The valid assessments of the assessment texts of traces ``keys``."""
    rows = []
    for key, text in zip(keys.to_list(), texts.to_list(), strict=True):
        if text is None or text == "[]":
            continue
        for index, item in enumerate(json.loads(text)):
            assessment = read_assessment(item, f"info.assessments[{index}]")
            if assessment.is_valid:
                (filtered,) = _assessment_rows([(key, assessment)], {})
                rows.append((key, index, *filtered[1:], *_detail(assessment)))
    return pl.DataFrame(rows, schema=_OWNED_SCHEMA, orient="row")


#: The span table columns whose output column is named otherwise.
_SPAN_SOURCES: Final = {
    "start_time": "start_ns",
    "end_time": "end_ns",
    "inputs": RAW_PREFIX + SPAN_INPUTS,
    "outputs": RAW_PREFIX + SPAN_OUTPUTS,
}


def page_span_columns(plan: RowsPlan) -> list[str]:
    """The stored span columns a span table's output reads (`output.spans`)."""
    columns = ["_key", "_span"]
    for name, _ in SPAN_COLUMNS:
        if name != "trace_id":
            columns.append(_SPAN_SOURCES.get(name, name))
    for group in plan.extra:
        if isinstance(group, GroupKey) and group.ref.scope is Scope.SPAN:
            ref = group.ref
            read = ref.field.read_span is not None
            columns.append(
                str(ref.field.frame_column) if read else RAW_PREFIX + str(ref.key)
            )
    return list(dict.fromkeys(columns))


def _span_schema(columns: Sequence[str]) -> dict[str, pl.DataType]:
    known = {
        **_SPAN_SCHEMA,
        **LLM_SPAN_SCHEMA,
        "_key": pl.UInt32(),
        "_span": pl.Int64(),
    }
    return {name: known.get(name, pl.String()) for name in columns}


def span_batch(table: pl.DataFrame) -> _SpanBatch:
    """Rows of the span table that derive attribute columns on demand."""
    return _SpanBatch(table)


class _SpanBatch:
    """One batch of the span table, with the derived columns its tests ask for."""

    def __init__(self, table: pl.DataFrame) -> None:
        self.table = table

    def attribute(self, key: str) -> tuple[str, str] | None:
        raw, text, number = RAW_PREFIX + key, ATTR_PREFIX + key, NUM_PREFIX + key
        if raw not in self.table.columns:
            return None
        if text not in self.table.columns:
            derived = _derive_attribute(self.table[raw], text, number)
            self.table = self.table.with_columns(derived)
        return text, number

    def content(self, units_test: pl.Expr) -> pl.Expr:
        units = build_units(pl.DataFrame(schema=_TRACE_SCHEMA), self.table)
        rows = units.filter(units_test & pl.col("_span").is_not_null())["_span"]
        mask = pl.zeros(self.table.height, pl.Boolean, eager=True)
        return pl.lit(mask.scatter(rows, values=True))  # _span: the row in the batch


class LazyEngine:
    """Runs plans over a `ScannedTraces` dataset, streaming it."""

    def __init__(self, dataset: ScannedTraces) -> None:
        self.dataset = dataset

    def mask(self, where: Predicate | None) -> pl.Expr:
        """``where`` over the scanned trace table, every table match a key set."""
        return self._where(where)

    def count(self, plan: SearchPlan) -> int:
        """How many traces ``plan.where`` selects."""
        query = self.dataset.traces.filter(self._where(plan.where)).select(pl.len())
        return int(query.collect(engine="streaming").item())

    def keys(self, plan: SearchPlan) -> list[int]:
        """Keys of the selected traces in the plan's order and page."""
        traces, exprs = self._sortable(plan.order)
        descending = [k.descending for k in plan.order]
        query = (
            traces.filter(self._where(plan.where))
            .sort(exprs, descending=descending, nulls_last=True, maintain_order=True)
            .select("_key")
            .slice(plan.offset, plan.limit)
        )
        return query.collect(engine="streaming")["_key"].to_list()

    def _sortable(self, order: Sequence[SortKey]) -> tuple[pl.LazyFrame, list[pl.Expr]]:
        """The trace scan, with what ``order``'s keys sort by, and those expressions.

        An aggregate key's values are joined on, empty where a trace has no span.
        """
        columns = self.dataset.schema.names()
        traces = self.dataset.traces
        exprs = []
        for i, key in enumerate(order):
            if not isinstance(key, AggregateKey):
                self.dataset.require([str(key.field.column)])
                exprs.append(sort_column(key, columns))
                continue
            name = f"_sort{i}"
            values = self._aggregate_values(key.aggregate).rename({"value": name})
            traces = traces.join(values.lazy(), on="_key", how="left")
            empty = empty_value(key.aggregate)
            exprs.append(
                pl.col(name) if empty is None else pl.col(name).fill_null(empty)
            )
        return traces, exprs

    # --- the span table: rows of the selected traces, ordered and paged -------------

    def span_rows(self, plan: RowsPlan) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The page of a span table, as the in-memory executor orders and pages it.

        Two passes over the span table, batch by batch: the first keeps, of every
        span of a selected trace that passes the plan's span conditions, only its
        identity (``_key``, ``_span``) and its row sort keys; those are sorted with
        their traces' sort keys, then ``_key`` and ``_span`` (the span's position
        in its trace, as the in-memory frame orders its rows), and sliced; the
        second reads the page's rows whole.

        Returns:
            The page's span rows in order (every stored column the output reads,
            `page_span_columns`), and the trace table rows of their keys
            (``_key``, ``trace_id`` and the columns the trace ``columns=`` read).
        """
        selected = self._selected(plan.where)
        row_keys = [k for k in plan.order if isinstance(k, RowKey)]
        conds = plan.span_conds
        columns = self._span_columns(conds, ["_span", *(k.column for k in row_keys)])
        found = []
        for table in self.dataset.batches("spans", columns):
            table = table.filter(pl.col("_key").is_in(selected.implode()))
            batch = _SpanBatch(table)
            tests = [
                span_test(c, batch.table, batch.attribute, batch.content) for c in conds
            ]
            keep = pl.all_horizontal(tests).fill_null(False) if tests else True
            found.append(
                batch.table.filter(keep).select(
                    *(row_column(k).alias(f"_r{i}") for i, k in enumerate(row_keys)),
                    pl.col("_key").cast(pl.UInt32),
                    pl.col("_span").cast(pl.Int64).alias("_tie0"),
                )
            )
        if not found:  # no span files
            empty = pl.DataFrame(schema={"_key": pl.UInt32(), "_span": pl.Int64()})
            return self._page_spans(plan, empty), self._page_traces(plan, empty)
        rows = pl.concat(found, how="vertical_relaxed")
        page = self._ordered_page(plan, rows).select(
            "_key", pl.col("_tie0").alias("_span")
        )
        return self._page_spans(plan, page), self._page_traces(plan, page)

    def _selected(self, where: Predicate | None) -> pl.Series:
        """The keys of the traces ``where`` selects."""
        return (
            self.dataset.traces.filter(self._where(where))
            .select(pl.col("_key").cast(pl.UInt32))
            .collect(engine="streaming")["_key"]
        )

    def _ordered_page(self, plan: RowsPlan, rows: pl.DataFrame) -> pl.DataFrame:
        """``rows`` sorted by ``plan.order`` and sliced to its page.

        ``rows`` holds the ``_r<i>`` row sort keys, ``_key``, and ``_tie<i>``
        columns that order the rows of one trace as the in-memory table does.
        """
        ties = [c for c in rows.columns if c == "_key" or c.startswith("_tie")]
        trace_keys = [k for k in plan.order if not isinstance(k, RowKey)]
        if trace_keys and not rows.is_empty():
            traces, exprs = self._sortable(trace_keys)
            wanted = rows["_key"].unique()
            values = (
                traces.filter(pl.col("_key").is_in(wanted.implode()))
                .select(
                    pl.col("_key").cast(pl.UInt32),
                    *(e.alias(f"_t{i}") for i, e in enumerate(exprs)),
                )
                .collect(engine="streaming")
            )
            rows = rows.join(values, on="_key", how="left", maintain_order="left")
        elif trace_keys:
            rows = rows.with_columns(
                pl.lit(None).alias(f"_t{i}") for i in range(len(trace_keys))
            )
        return (
            rows.lazy()
            .sort(
                [*sort_names(plan.order), *ties],
                descending=[*(k.descending for k in plan.order)] + [False] * len(ties),
                nulls_last=True,
                maintain_order=True,
            )
            .slice(plan.offset, plan.limit)
            .collect()
        )

    # --- the assessment table ------------------------------------------------------

    def assessment_rows(self, plan: RowsPlan) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The page of an assessment table, as the in-memory executor builds it.

        One pass over the page table's assessment texts keeps the valid
        assessments that pass the plan's assessment clauses, with their details
        (`polartrace.frame.assessment_table`); a session-scoped one is then
        expanded to every trace of its session (one scan of the session column
        for the sessions they name), and the rows of selected traces are ordered
        as in memory: by the order keys, then the trace it applies to, then the
        owner trace and the assessment's position in it.

        Returns:
            The page's rows (`ASSESSMENT_DETAILS`'s columns, ``_key`` the trace
            each applies to) in order, and the trace table rows of their keys.
        """
        selected = self._selected(plan.where)
        tests = [assessment_test(m) for m in plan.assessment_tests]
        keep = pl.any_horizontal(tests).fill_null(False) if tests else None
        found = [pl.DataFrame(schema=_OWNED_SCHEMA)]
        found += [
            table if keep is None else table.filter(keep)
            for table in self._assessment_batches()
        ]
        owned = pl.concat(found, how="vertical_relaxed")
        rows = self._expanded(owned).filter(pl.col("_key").is_in(selected.implode()))
        row_keys = [k for k in plan.order if isinstance(k, RowKey)]
        sortable = rows.select(
            pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"),
            *(row_column(k).alias(f"_r{i}") for i, k in enumerate(row_keys)),
            "_key",
            pl.col("_owner").alias("_tie0"),
            pl.col("_index").alias("_tie1"),
        )
        page = rows[self._ordered_page(plan, sortable)["_row"]]
        return page, self._page_traces(plan, page)

    def _assessment_batches(self) -> Iterator[pl.DataFrame]:
        """The valid assessments of the dataset's traces, batch by batch (`_OWNED`)."""
        version = self.manifest_version
        column = "json" if version == 1 else "assessments"
        for file in self.dataset.files["json"]:
            reader = pq.ParquetFile(file)
            for batch in reader.iter_batches(
                batch_size=self.dataset.batch_rows, columns=["_key", column]
            ):
                table = pl.from_arrow(batch)
                assert isinstance(table, pl.DataFrame)
                texts = table[column]
                if version == 1:
                    texts = read_pages(
                        table.select(column), version, Path(self.dataset.path)
                    )["assessments"]
                yield _owned(table["_key"].cast(pl.UInt32), texts)

    @property
    def manifest_version(self) -> int:
        """The dataset's format version."""
        return int(self.dataset.manifest["version"])

    def _expanded(self, owned: pl.DataFrame) -> pl.DataFrame:
        """One row per assessment and trace it applies to (``_key``), as in memory.

        An assessment applies to its owner and, when session-scoped, to every
        trace of its session.
        """
        own = owned.with_columns(pl.col("_owner").alias("_key"))
        sessions = owned["session"].drop_nulls().unique()
        column = META_PREFIX + SESSION_KEY
        if sessions.is_empty() or column not in self.dataset.schema.names():
            return own.select(ASSESSMENT_DETAILS)
        members = (
            self.dataset.traces.select(
                pl.col("_key").cast(pl.UInt32), pl.col(column).cast(pl.String)
            )
            .filter(pl.col(column).is_in(sessions.implode()))
            .rename({column: "session"})
            .collect(engine="streaming")
        )
        shared = owned.join(members, on="session", how="inner")
        both = pl.concat(
            [own.select(ASSESSMENT_DETAILS), shared.select(ASSESSMENT_DETAILS)]
        )
        return both.unique(
            ["_owner", "_index", "_key"], keep="first", maintain_order=True
        )

    def _page_spans(self, plan: RowsPlan, page: pl.DataFrame) -> pl.DataFrame:
        """The stored span rows of ``page`` (``_key``, ``_span``), in its order."""
        columns = page_span_columns(plan)
        ordered = page.with_columns(pl.int_range(pl.len()).alias("_order"))
        found = [pl.DataFrame(schema=_span_schema(columns))]
        if not page.is_empty():
            keys = page["_key"].unique().implode()
            for table in self.dataset.batches("spans", columns):
                hit = table.filter(pl.col("_key").is_in(keys))
                if not hit.is_empty():
                    found.append(
                        hit.with_columns(
                            pl.col("_key").cast(pl.UInt32),
                            pl.col("_span").cast(pl.Int64),
                        ).join(ordered, on=["_key", "_span"], how="semi")
                    )
        rows = pl.concat(found, how="diagonal_relaxed")
        return (
            ordered.join(rows, on=["_key", "_span"], how="left")
            .sort("_order")
            .drop("_order")
        )

    def _page_traces(self, plan: RowsPlan, page: pl.DataFrame) -> pl.DataFrame:
        """``_key`` and ``trace_id`` of the traces of a page's rows.

        The trace fields of ``columns=`` are added by the caller
        (`polartrace.engines.lazy_columns`), as for a search's page.
        """
        return (
            self.dataset.traces.filter(
                pl.col("_key").is_in(page["_key"].unique().implode())
            )
            .select(pl.col("_key").cast(pl.UInt32), "trace_id")
            .collect(engine="streaming")
        )

    # --- the predicate, with every table match resolved to a key set -------------

    def _where(self, node: Predicate | None) -> pl.Expr:
        if node is None:
            return pl.lit(value=True)
        match node:
            case ColumnTest(cond=cond):
                name = column_name(cond)
                self.dataset.require([name])
                schema = self.dataset.schema
                if name not in schema:
                    return column_test(cond, None)
                # The scan's schema says nothing of nulls: every column may hold
                # one. Nor does it hold a Categorical column's dictionary, so such a
                # column is tested as strings.
                if isinstance(schema[name], pl.Categorical):
                    return column_test(
                        cond, (pl.String(), True), pl.col(name).cast(pl.String)
                    )
                return column_test(cond, (schema[name], True))
            case SpanMatch():
                return self._keys_in(self._span_keys(node))
            case AssessmentMatch():
                return self._keys_in(self._assessment_keys(assessment_test(node)))
            case PromptMatch():
                columns = list(_PROMPT_SCHEMA)
                return self._keys_in(self._hits("prompts", columns, prompt_test(node)))
            case TextMatch(cond=cond):
                return self._keys_in(self._text_keys(unit_test(cond)))
            case SpanQuantified(quantifier=quantifier, test=test, relation=relation):
                every = quantifier is Quantifier.EVERY
                found = self._keys_in(self._qualifying(test, relation, every=every))
                return found if quantifier is Quantifier.ANY else ~found
            case SpanAggregate(aggregate=aggregate, op=op, value=value):
                return self._aggregate_test(aggregate, op, value)
            case And(items=items):
                return pl.all_horizontal([self._where(i) for i in items])
            case Or(items=items):
                return pl.any_horizontal([self._where(i) for i in items])
            case Not(item=item):
                return ~self._where(item)
            case _:  # pragma: no cover - Predicate is closed
                assert_never(node)

    @staticmethod
    def _keys_in(keys: pl.Series) -> pl.Expr:
        return pl.col("_key").is_in(keys.implode())

    @staticmethod
    def _union(found: list[pl.Series]) -> pl.Series:
        return pl.concat([pl.Series("_key", [], dtype=pl.UInt32), *found]).unique()

    def _hits(self, table: str, columns: list[str], test: pl.Expr) -> pl.Series:
        found = [
            batch.filter(test)["_key"].cast(pl.UInt32)
            for batch in self.dataset.batches(table, columns)
        ]
        return self._union(found)

    def _assessment_keys(self, test: pl.Expr) -> pl.Series:
        """Keys with an assessment row passing ``test``, sessions across parts."""
        scope = self.dataset.session_scope()
        stored = self._hits("assessments", list(_ASSESSMENT_SCHEMA), test)
        rest = stored.filter(~stored.is_in(scope.keys.implode()))
        return self._union([rest, scope.rows.filter(test)["_key"]])

    def _span_keys(self, match: SpanMatch) -> pl.Series:
        columns = list(_SPAN_BASE)
        for cond in match.conds:
            if cond.field.column == "attributes":
                columns.append(RAW_PREFIX + str(cond.key))
            elif cond.field.column == "content":
                columns += [*self.dataset.raw_columns(), "events"]
            else:
                columns.append(str(cond.field.column))
        found = []
        for table in self.dataset.batches("spans", list(dict.fromkeys(columns))):
            batch = _SpanBatch(table)
            # Tests first: they may derive attribute columns onto the batch.
            tests = [
                span_test(c, batch.table, batch.attribute, batch.content)
                for c in match.conds
            ]
            found.append(batch.table.filter(pl.all_horizontal(tests))["_key"])
        return self._union([f.cast(pl.UInt32) for f in found])

    # --- trace-level questions, batch by batch of whole traces ----------------------

    def _span_columns(
        self, tests: Sequence[Node | None], extra: Sequence[str] = ()
    ) -> list[str]:
        """The span columns that ``tests`` and the parent links read, and ``extra``."""
        columns = [*_SPAN_BASE, *_SPAN_TREE, *extra]
        todo = [t for t in tests if t is not None]
        while todo:
            match todo.pop():
                case Cond() as cond if cond.field.column == "attributes":
                    columns.append(RAW_PREFIX + str(cond.key))
                case Cond() as cond if cond.field.column == "content":
                    columns += [*self.dataset.raw_columns(), "events"]
                case Cond() as cond:
                    columns.append(str(cond.field.column))
                case AllOf(items=items) | AnyOf(items=items):
                    todo.extend(items)
                case Negate(item=item):
                    todo.append(item)
        return list(dict.fromkeys(columns))

    def _span_tables(
        self, tests: Sequence[Node | None], extra: Sequence[str] = ()
    ) -> Iterator[SpanTable]:
        for table in self.dataset.trace_batches(self._span_columns(tests, extra)):
            batch = _SpanBatch(table)
            yield SpanTable(lambda b=batch: b.table, batch.attribute, batch.content)  # type: ignore[misc]

    def _qualifying(
        self, test: Node, relation: SpanRelation | None, *, every: bool
    ) -> pl.Series:
        tests = [test, None if relation is None else relation.test]
        found = [
            qualifying_keys(spans, test, relation, negate=every)
            for spans in self._span_tables(tests)
        ]
        return self._union([f.cast(pl.UInt32) for f in found])

    def _aggregate_values(self, aggregate: Aggregate) -> pl.DataFrame:
        """``_key`` and ``value`` for every trace with spans the aggregate reads."""
        field = aggregate.field
        extra = [] if field is None else [str(field.column)]
        found = [
            aggregate_values(spans, aggregate).with_columns(
                pl.col("_key").cast(pl.UInt32)
            )
            for spans in self._span_tables([aggregate.where], extra)
        ]
        if not found:
            return pl.DataFrame(schema={"_key": pl.UInt32(), "value": pl.Float64()})
        return pl.concat(found, how="vertical_relaxed")

    def _aggregate_test(
        self, aggregate: Aggregate, op: Op, value: int | float
    ) -> pl.Expr:
        field = aggregate.field
        extra = [] if field is None else [str(field.column)]
        found = [
            aggregate_keys(spans, aggregate, op, value)[0].cast(pl.UInt32)
            for spans in self._span_tables([aggregate.where], extra)
        ]
        failing = empty_passes(aggregate, op, value)  # the keys are those failing
        decided = self._keys_in(self._union(found))
        return ~decided if failing else decided

    def _text_keys(self, test: pl.Expr) -> pl.Series:
        no_spans = pl.DataFrame(schema=_SPAN_SCHEMA)
        found = [
            build_units(batch, no_spans).filter(test)["_key"]
            for batch in self.dataset.batches("traces", list(_PREVIEWS))
        ]
        span_columns = [*_SPAN_BASE, *self.dataset.raw_columns(), "events"]
        no_traces = pl.DataFrame(schema=_TRACE_SCHEMA)
        found += [
            build_units(no_traces, batch).filter(test)["_key"]
            for batch in self.dataset.batches("spans", span_columns)
        ]
        return self._union([f.cast(pl.UInt32) for f in found])
