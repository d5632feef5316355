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

from polartrace.engines.polars.exprs import (
    assessment_test,
    column_name,
    column_test,
    prompt_test,
    sort_column,
    span_test,
    unit_test,
)
from polartrace.frame.schema import (
    _ASSESSMENT_SCHEMA,
    _PROMPT_SCHEMA,
    _SPAN_SCHEMA,
    _TRACE_SCHEMA,
    ATTR_PREFIX,
    NUM_PREFIX,
    RAW_PREFIX,
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
from polartrace.plan.search import (
    And,
    AssessmentMatch,
    ColumnTest,
    Not,
    Or,
    Predicate,
    PromptMatch,
    SearchPlan,
    SpanMatch,
    TextMatch,
)

__all__ = ["BATCH_ROWS", "LazyEngine", "ScannedTraces"]

#: Rows per batch when a match streams the span, assessment or prompt table.
BATCH_ROWS: Final = 20_000
_SPAN_BASE: Final = ("_key", "name", "type", "status", "duration_ms")
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

    def __repr__(self) -> str:
        traces = self.manifest.get("traces")
        count = f"{traces:,}" if isinstance(traces, int) else "?"
        return f"{type(self).__name__}({self.path!r}, {count} traces)"

    def __len__(self) -> int:
        return int(self.traces.select(pl.len()).collect(engine="streaming").item())

    def collect(self) -> TraceFrame:
        """Load the whole dataset into an eager ``TraceFrame``."""
        return read_parquet(self.path)

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
        schema = _SCHEMAS[table]
        for file in self.files[table]:
            reader = pq.ParquetFile(file)
            present = set(reader.schema_arrow.names)
            wanted = [c for c in columns if c in present]
            for batch in reader.iter_batches(
                batch_size=self.batch_rows, columns=wanted
            ):
                df = pl.from_arrow(batch)
                assert isinstance(df, pl.DataFrame)
                missing = [
                    pl.lit(None, dtype=schema.get(name, pl.String())).alias(name)
                    for name in columns
                    if name not in df.columns
                ]
                if not df.is_empty():
                    yield df.with_columns(missing) if missing else df


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

    def count(self, plan: SearchPlan) -> int:
        """How many traces ``plan.where`` selects."""
        query = self.dataset.traces.filter(self._where(plan.where)).select(pl.len())
        return int(query.collect(engine="streaming").item())

    def keys(self, plan: SearchPlan) -> list[int]:
        """Keys of the selected traces in the plan's order and page."""
        columns = self.dataset.schema.names()
        exprs = [sort_column(k, columns) for k in plan.order]
        descending = [k.descending for k in plan.order]
        query = (
            self.dataset.traces.filter(self._where(plan.where))
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
