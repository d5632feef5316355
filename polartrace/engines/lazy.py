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

Memory stays bounded by the batch size, one key set (4 bytes per matching trace)
per non-trace match, and the sort of the matching rows' order keys. Keys are the
dataset's own ``_key`` values; `ScannedTraces.pages_at` reads the page table rows of
a page (`polartrace.io.parquet.read_pages`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final, assert_never

import polars as pl
import pyarrow.parquet as pq

from polartrace.bind.nodes import (
    Aggregate,
    AllOf,
    AnyOf,
    Cond,
    Negate,
    Node,
    SpanRelation,
)
from polartrace.bind.order_by import AggregateKey
from polartrace.engines.polars.exprs import (
    assessment_test,
    column_name,
    column_test,
    prompt_test,
    sort_column,
    span_test,
    unit_test,
)
from polartrace.engines.polars.structure import (
    SpanTable,
    aggregate_keys,
    aggregate_values,
    empty_passes,
    empty_value,
    qualifying_keys,
)
from polartrace.frame.llm import LLM_SPAN_SCHEMA, LLM_TRACE_SCHEMA
from polartrace.frame.schema import (
    _ASSESSMENT_SCHEMA,
    _PROMPT_SCHEMA,
    _SPAN_SCHEMA,
    _TRACE_SCHEMA,
    ATTR_PREFIX,
    NUM_PREFIX,
    RAW_PREFIX,
    duration_ms,
)
from polartrace.frame.trace_frame import TraceFrame, _derive_attribute
from polartrace.frame.units import build_units
from polartrace.io.parquet import (
    TABLES,
    read_manifest,
    read_pages,
    read_parquet,
    table_files,
)
from polartrace.language.ast import Op, Quantifier
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
from polartrace.values.errors import TraceFormatError

__all__ = ["BATCH_ROWS", "LazyEngine", "ScannedTraces"]

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
        columns = self.dataset.schema.names()
        traces = self.dataset.traces
        exprs = []
        for i, key in enumerate(plan.order):
            if not isinstance(key, AggregateKey):
                self.dataset.require([str(key.field.column)])
                exprs.append(sort_column(key, columns))
                continue
            # An aggregate sort key: its values joined on, empty where no span.
            name = f"_sort{i}"
            values = self._aggregate_values(key.aggregate).rename({"value": name})
            traces = traces.join(values.lazy(), on="_key", how="left")
            empty = empty_value(key.aggregate)
            exprs.append(
                pl.col(name) if empty is None else pl.col(name).fill_null(empty)
            )
        descending = [k.descending for k in plan.order]
        query = (
            traces.filter(self._where(plan.where))
            .sort(exprs, descending=descending, nulls_last=True, maintain_order=True)
            .select("_key")
            .slice(plan.offset, plan.limit)
        )
        return query.collect(engine="streaming")["_key"].to_list()

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
                columns = list(_ASSESSMENT_SCHEMA)
                test = assessment_test(node)
                return self._keys_in(self._hits("assessments", columns, test))
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
