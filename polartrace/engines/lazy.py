"""Search a Parquet dataset bigger than memory: `LazyTraceFrame`, from `scan_traces`.

The filter is bound once, as for an eager search, and split along its tree:

* Trace-level conditions (status, times, durations, ids, name, run_id, tags,
  metadata) are compiled by :func:`polartrace.engines.polars.compile.compile_filter`
  against a schema-only frame, so they are the very expressions the eager engine uses,
  and run on ``pl.scan_parquet`` with predicate pushdown and the streaming engine.
* Span groups, assessment, prompt and full-text clauses are evaluated the same way
  the eager engine does, but one bounded batch of their table at a time: each batch
  becomes a small frame with local keys, the compiled clause selects its matching
  keys, and the union over batches is the clause's key set. This is exact because
  each of these clauses is "some row of the table satisfies ..." (a span, an
  assessment, a text unit). ``IS NULL`` on an assessment is "no such assessment"
  and is computed as the negation of ``IS NOT NULL`` at the trace level.
* ``AND``/``OR``/``NOT`` combine the pieces at the trace level.

Memory stays bounded by the batch size, one key set (4 bytes per matching trace) per
non-trace clause, and the sort of the matching rows' order keys; output rows are
built only for the page returned. Only the ``polars`` engine exists here; the
reference evaluator needs every trace as an object.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Final

import attrs
import polars as pl
import pyarrow.parquet as pq

from polartrace.bind.filter import (
    AllOf,
    AnyOf,
    BoundFilter,
    Cond,
    Negate,
    Node,
    SpanGroup,
    bind_order_by,
    parse_filter,
)
from polartrace.bind.restrict import Restriction, restrict, restriction
from polartrace.catalogue.fields import Source
from polartrace.engines.polars.compile import compile_filter
from polartrace.frame.schema import META_PREFIX, RAW_PREFIX, TAG_PREFIX
from polartrace.frame.trace_frame import TraceFrame
from polartrace.io.parquet import (
    TABLES,
    read_manifest,
    read_pages,
    read_parquet,
    table_files,
)
from polartrace.language.ast import Op
from polartrace.output.mlflow_args import check_extract_fields, with_extracted
from polartrace.plan.paging import (
    decode_page_token,
    encode_page_token,
    page_fingerprint,
)
from polartrace.values.errors import SearchArgumentError

__all__ = [
    "BATCH_ROWS",
    "LazyTraceFrame",
    "scan_traces",
]

#: Rows per batch when a clause streams the span, assessment or prompt table.
BATCH_ROWS: Final = 20_000
_RETURN_TYPES: Final = ("pandas", "list", "polars", "arrow")
_EMPTY: Final = TraceFrame.from_traces([])
_SPAN_BASE: Final = ("_key", "name", "type", "status", "duration_ms")


def _scan(files: Sequence[os.PathLike[str]]) -> pl.LazyFrame:
    scans = [pl.scan_parquet(Path(f)) for f in files]
    return pl.concat(scans, how="diagonal_relaxed") if len(scans) > 1 else scans[0]


def _frame(pages: pl.DataFrame | None = None, **tables: pl.DataFrame) -> TraceFrame:
    """A frame of local-keyed batch tables (absent ones empty) or of page rows."""
    parts = [
        tables.get(name, getattr(_EMPTY, name))
        for name in ("traces", "spans", "assessments", "prompts")
    ]
    return TraceFrame(*parts, pages=_EMPTY.pages if pages is None else pages)


class LazyTraceFrame:
    """A polartrace Parquet dataset, searched without loading it into memory.

    Example:
        >>> import pathlib, tempfile
        >>> from polartrace import Trace, TraceInfo
        >>> from polartrace.io import write_parquet
        >>> t = Trace(TraceInfo(trace_id="tr-1", request_time=0, state="OK"))
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = write_parquet([t], pathlib.Path(tmp) / "ds")
        ...     lazy = LazyTraceFrame(pathlib.Path(tmp) / "ds")
        ...     lazy.count("status = 'OK'"), lazy.count("span.name = 'x'")
        (1, 0)
    """

    def __init__(
        self, source: str | os.PathLike[str], *, batch_rows: int = BATCH_ROWS
    ) -> None:
        self.path = os.fspath(source)
        from pathlib import Path

        root = Path(source)
        self.manifest = read_manifest(root)
        self.batch_rows = batch_rows
        self._files = {name: table_files(root, name) for name in TABLES}
        self.traces = _scan(self._files["traces"])
        schema = self.traces.collect_schema()
        self._schema_frame = _frame(traces=pl.DataFrame(schema=schema))

    def __repr__(self) -> str:
        traces = self.manifest.get("traces")
        count = f"{traces:,}" if isinstance(traces, int) else "?"
        return f"LazyTraceFrame({self.path!r}, {count} traces)"

    def __len__(self) -> int:
        return int(self.traces.select(pl.len()).collect(engine="streaming").item())

    def collect(self) -> TraceFrame:
        """Load the whole dataset into an eager ``TraceFrame``."""
        return read_parquet(self.path)

    # --- filters ------------------------------------------------------------------

    def mask(
        self, filter_string: str | None, scope: Restriction | None = None
    ) -> pl.Expr:
        """The trace-level boolean expression for ``filter_string`` on ``traces``.

        Span, assessment, prompt and text clauses are resolved to key sets here, by
        streaming their tables; the expression itself only reads trace columns.
        ``scope`` (experiments, run, model) is ANDed on as trace-level conditions.
        """
        bound = parse_filter(filter_string)
        if scope is not None:
            bound = restrict(bound, scope)
        return pl.lit(value=True) if bound.root is None else self._node(bound.root)

    def _node(self, node: Node) -> pl.Expr:
        match node:
            case AllOf(items=items):
                return pl.all_horizontal([self._node(i) for i in items])
            case AnyOf(items=items):
                return pl.any_horizontal([self._node(i) for i in items])
            case Negate(item=item):
                return ~self._node(item)
            case SpanGroup():
                return self._keys_in(self._span_keys(node))
            case Cond():
                return self._cond(node)
        msg = f"not a bound node: {node!r}"  # pragma: no cover
        raise TypeError(msg)

    @staticmethod
    def _keys_in(keys: pl.Series) -> pl.Expr:
        return pl.col("_key").is_in(keys.implode())

    def _cond(self, cond: Cond) -> pl.Expr:
        source = cond.field.source
        if source in (Source.INFO, Source.TAG, Source.METADATA):
            return compile_filter(
                BoundFilter(f"lazy:{cond!r}", cond), self._schema_frame
            )
        if source is Source.SPAN:
            return self._keys_in(self._span_keys(SpanGroup((cond,))))
        if source is Source.ASSESSMENT:
            if cond.op is Op.IS_NULL:  # no such assessment: negate at trace level
                exists = attrs.evolve(cond, op=Op.IS_NOT_NULL)
                return ~self._keys_in(self._table_keys("assessments", exists))
            return self._keys_in(self._table_keys("assessments", cond))
        if source is Source.PROMPT:
            return self._keys_in(self._table_keys("prompts", cond))
        if source is Source.TEXT:
            return self._keys_in(self._text_keys(cond))
        msg = f"unknown source {source}"  # pragma: no cover
        raise AssertionError(msg)

    # --- batches ------------------------------------------------------------------

    def _raw_columns(self) -> list[str]:
        names: dict[str, None] = {}
        for file in self._files["spans"]:
            for name in pq.read_schema(file).names:
                if name.startswith(RAW_PREFIX):
                    names[name] = None
        return list(names)

    def _batches(
        self, table: str, columns: Sequence[str] | None
    ) -> Iterator[pl.DataFrame]:
        template = {
            "spans": _EMPTY.spans,
            "assessments": _EMPTY.assessments,
            "prompts": _EMPTY.prompts,
            "traces": _EMPTY.traces,
        }[table]
        for file in self._files[table]:
            reader = pq.ParquetFile(file)
            present = set(reader.schema_arrow.names)
            wanted = None if columns is None else [c for c in columns if c in present]
            for batch in reader.iter_batches(
                batch_size=self.batch_rows, columns=wanted
            ):
                df = pl.from_arrow(batch)
                assert isinstance(df, pl.DataFrame)
                missing = [
                    pl.lit(None, dtype=dtype).alias(name)
                    for name, dtype in template.schema.items()
                    if name not in df.columns and (columns is None or name in columns)
                ]
                yield df.with_columns(missing) if missing else df

    def _keys_of(
        self, table: str, columns: Sequence[str] | None, node: Node
    ) -> pl.Series:
        """Global keys whose rows of ``table`` satisfy ``node``, batch by batch."""
        found = [pl.Series("_key", [], dtype=pl.UInt32)]
        for batch in self._batches(table, columns):
            if batch.is_empty():
                continue
            keys = batch["_key"].unique().sort()
            local = batch.with_columns(
                (pl.col("_key").rank("dense") - 1).cast(pl.UInt32)
            )
            found.append(keys.gather(self._local_hits(table, local, len(keys), node)))
        return pl.concat(found).unique()

    @staticmethod
    def _local_hits(table: str, local: pl.DataFrame, n: int, node: Node) -> pl.Series:
        traces = pl.DataFrame(
            {
                "_key": pl.Series(range(n), dtype=pl.UInt32),
                "request_preview": pl.Series([None] * n, dtype=pl.String),
                "response_preview": pl.Series([None] * n, dtype=pl.String),
            }
        )
        if table == "traces":
            traces = local.sort("_key")
            frame = _frame(traces=traces)
        elif table == "spans":
            spans = local.with_columns(
                pl.int_range(pl.len(), dtype=pl.UInt32).alias("_span")
            )
            frame = _frame(traces=traces, spans=spans)
        elif table == "assessments":
            frame = _frame(traces=traces, assessments=local)
        else:
            frame = _frame(traces=traces, prompts=local)
        expr = compile_filter(BoundFilter(f"lazy:{node!r}", node), frame)
        return frame.traces.filter(expr)["_key"]

    def _span_keys(self, group: SpanGroup) -> pl.Series:
        columns = list(_SPAN_BASE)
        for cond in group.conds:
            if cond.field.column == "attributes":
                columns.append(RAW_PREFIX + str(cond.key))
            elif cond.field.column == "content":
                columns += [*self._raw_columns(), "events"]
        return self._keys_of("spans", columns, group)

    def _table_keys(self, table: str, cond: Cond) -> pl.Series:
        return self._keys_of(table, None, cond)

    def _text_keys(self, cond: Cond) -> pl.Series:
        previews = ["_key", "request_preview", "response_preview"]
        spans = [*_SPAN_BASE, *self._raw_columns(), "events"]
        return pl.concat(
            [
                self._keys_of("traces", previews, cond),
                self._keys_of("spans", spans, cond),
            ]
        ).unique()

    # --- searching ----------------------------------------------------------------

    def count(
        self,
        filter_string: str | None = None,
        *,
        locations: Sequence[str] | None = None,
        experiment_ids: Sequence[str] | None = None,
        run_id: str | None = None,
        model_id: str | None = None,
    ) -> int:
        """Count the matching traces, streaming the dataset.

        The keywords restrict the count as in `polartrace.count`.

        Raises:
            FilterError: For a rejected filter.
            SearchArgumentError: For a bad restriction argument.
        """
        scope = restriction(
            experiment_ids=experiment_ids,
            locations=locations,
            run_id=run_id,
            model_id=model_id,
        )
        query = self.traces.filter(self.mask(filter_string, scope)).select(pl.len())
        return int(query.collect(engine="streaming").item())

    def _sort(
        self, order_by: Sequence[str] | str | None
    ) -> tuple[list[pl.Expr], list[bool]]:
        columns = set(self._schema_frame.traces.columns)
        exprs, descending, used = [], [], set()
        for key in bind_order_by(order_by):
            spec = key.field
            if spec.source in (Source.TAG, Source.METADATA):
                prefix = TAG_PREFIX if spec.source is Source.TAG else META_PREFIX
                name = prefix + str(key.key)
                expr = (
                    pl.col(name) if name in columns else pl.lit(None, dtype=pl.String)
                )
            else:
                used.add(spec.column)
                expr = pl.col(str(spec.column))
                expr = expr.cast(pl.String) if spec.column == "state" else expr
            exprs.append(expr)
            descending.append(key.descending)
        for column, desc in (("request_time", True), ("trace_id", False)):
            if column not in used:
                exprs.append(pl.col(column))
                descending.append(desc)
        return exprs, descending

    def search(
        self,
        filter_string: str | None = None,
        *,
        order_by: Sequence[str] | str | None = None,
        max_results: int | None = None,
        page_token: str | None = None,
        return_type: str = "pandas",
        include_spans: bool = True,
        locations: Sequence[str] | None = None,
        experiment_ids: Sequence[str] | None = None,
        run_id: str | None = None,
        model_id: str | None = None,
        extract_fields: Sequence[str] | None = None,
    ) -> Any:
        """Search the dataset; arguments and results as `polartrace.search_traces`.

        Raises:
            FilterError: For a rejected filter.
            OrderByError: For a bad ``order_by`` entry.
            PageTokenError: For a token this search did not produce.
            SearchArgumentError: For other bad arguments.
        """
        if return_type not in _RETURN_TYPES:
            msg = f"return_type must be one of {_RETURN_TYPES}, not {return_type!r}"
            raise SearchArgumentError(msg)
        if max_results is not None and (
            not isinstance(max_results, int)
            or isinstance(max_results, bool)
            or max_results < 0
        ):
            msg = f"max_results must be a non-negative int or None, not {max_results!r}"
            raise SearchArgumentError(msg)
        scope = restriction(
            experiment_ids=experiment_ids,
            locations=locations,
            run_id=run_id,
            model_id=model_id,
        )
        fields = check_extract_fields(extract_fields, return_type)
        exprs, descending = self._sort(order_by)
        fingerprint = page_fingerprint(filter_string, order_by, scope)
        offset = 0 if page_token is None else decode_page_token(page_token, fingerprint)
        query = (
            self.traces.filter(self.mask(filter_string, scope))
            .sort(exprs, descending=descending, nulls_last=True, maintain_order=True)
            .select("_key")
            .slice(offset, None if max_results is None else max_results + 1)
        )
        keys = query.collect(engine="streaming")["_key"]
        token = None
        if max_results is not None and len(keys) > max_results:
            keys = keys[:max_results]
            # A page of no rows has no next page: its token would point back here.
            token = (
                encode_page_token(offset + max_results, fingerprint)
                if max_results
                else None
            )
        pages = self._pages(keys)
        from polartrace.output import build as output

        page = _frame(pages=pages)  # page rows only: output reads ids from their info
        rows = range(len(pages))
        result = output.build(page, rows, return_type, include_spans, token)
        return with_extracted(result, page, rows, fields, include_spans)

    def _pages(self, keys: pl.Series) -> pl.DataFrame:
        """The page table rows of ``keys``, in that order (`read_pages`)."""
        order = pl.DataFrame(
            {"_key": keys, "_order": pl.int_range(len(keys), eager=True)}
        )
        rows = (
            _scan(self._files["json"])
            .filter(pl.col("_key").is_in(keys.implode()))
            .collect(engine="streaming")
        )
        table = order.join(rows, on="_key").sort("_order")
        return read_pages(table, self.manifest["version"], Path(self.path))


def scan_traces(source: str | os.PathLike[str]) -> LazyTraceFrame:
    """Open a polartrace Parquet dataset lazily, for data bigger than memory.

    Args:
        source: A dataset directory written by `write_parquet` / `DatasetWriter`.

    Returns:
        A `LazyTraceFrame`; its ``search`` and ``count`` stream the Parquet files.

    Raises:
        TraceFormatError: If ``source`` is not a polartrace Parquet dataset.
    """
    return LazyTraceFrame(source)
