"""Typed Polars and Arrow pages: MLflow's twelve columns with Polars dtypes.

pandas keeps MLflow's cell types; ``polars`` and ``arrow`` type every column
(docs/semantics.md#result-columns has the table):

* ``request_time`` a UTC datetime (ms), ``execution_duration`` a duration (ms),
  ``state`` a string;
* ``trace_metadata`` and ``tags`` key/value lists (`KV`; an Arrow ``map``), keys in
  ascending order;
* ``spans`` a list of `SPAN` structs, ``assessments`` a list of `ASSESSMENT`
  structs; values whose type varies (inputs, outputs, attribute values, events,
  assessment values) are JSON text;
* ``trace``, ``request`` and ``response`` JSON text, as before.

The flat columns, tags, metadata and spans are gathered from the frame's trace and
span tables, which already hold them typed: a page is a few gathers whatever its
traces hold. A trace's spans are one run of the span table when it is stored
grouped by trace in key order (two binary searches per key), else one filter.
Assessments are not in a table in MLflow's shape, so each page row's assessment
text is decoded (rows without assessments cost nothing). A page of a scanned
dataset arrives as page table rows alone: its trace and span tables are built
from those rows' texts first.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

import polars as pl

from polartrace.frame.llm import LLM_SPAN_SCHEMA
from polartrace.frame.pages import ASSESSMENTS_TEXT, INFO_TEXT, TRACE_TEXT, whole_texts
from polartrace.frame.root_spans import dumps
from polartrace.frame.schema import META_PREFIX, RAW_PREFIX, TAG_PREFIX
from polartrace.frame.trace_frame import TraceFrame
from polartrace.model.assessment import Assessment
from polartrace.model.trace import Trace
from polartrace.values.conventions import SPAN_INPUTS, SPAN_OUTPUTS

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "ASSESSMENT",
    "KV",
    "SCHEMA",
    "SPAN",
    "to_arrow",
    "typed_page",
]

#: A string-to-string map as Polars holds it (Arrow's ``map`` layout).
KV: Final = pl.List(pl.Struct({"key": pl.String(), "value": pl.String()}))
_UTC_NS: Final = pl.Datetime("ns", "UTC")
_UTC_MS: Final = pl.Datetime("ms", "UTC")

#: One span: the span table's typed columns, its attributes, and its LLM fields.
SPAN: Final = pl.Struct(
    {
        "span_id": pl.String(),
        "parent_id": pl.String(),
        "name": pl.String(),
        "type": pl.String(),
        "status": pl.String(),
        "start_time": _UTC_NS,
        "end_time": _UTC_NS,
        "duration": pl.Duration("ns"),
        "inputs": pl.String(),
        "outputs": pl.String(),
        "attributes": KV,
        "events": pl.String(),
        **{
            name: pl.String() if dtype == pl.String() else dtype
            for name, dtype in LLM_SPAN_SCHEMA.items()
        },
    }
)
#: One assessment, as `polartrace.model.assessment.Assessment` reads it.
ASSESSMENT: Final = pl.Struct(
    {
        "assessment_id": pl.String(),
        "name": pl.String(),
        "kind": pl.String(),
        "value": pl.String(),
        "span_id": pl.String(),
        "source_type": pl.String(),
        "source_id": pl.String(),
        "create_time": _UTC_MS,
        "last_update_time": _UTC_MS,
        "rationale": pl.String(),
        "error_code": pl.String(),
        "error_message": pl.String(),
        "metadata": KV,
        "overrides": pl.String(),
        "valid": pl.Boolean(),
    }
)
#: The typed page's columns, in MLflow's order.
SCHEMA: Final[dict[str, pl.DataType]] = {
    "trace_id": pl.String(),
    "trace": pl.String(),
    "client_request_id": pl.String(),
    "state": pl.String(),
    "request_time": _UTC_MS,
    "execution_duration": pl.Duration("ms"),
    "request": pl.String(),
    "response": pl.String(),
    "trace_metadata": KV,
    "tags": KV,
    "spans": pl.List(SPAN),
    "assessments": pl.List(ASSESSMENT),
}
_INPUTS, _OUTPUTS = RAW_PREFIX + SPAN_INPUTS, RAW_PREFIX + SPAN_OUTPUTS
_OPEN, _NO_SPANS = '{"info": ', ', "data": {"spans": []}}'


# --- key/value lists ---------------------------------------------------------------


#: Above this many candidate columns, those without a value in the page are dropped
#: first (one more Polars call), so a sparse frame's unpivot stays small.
_PRUNE_ABOVE: Final = 64


def _kv(table: pl.DataFrame, prefix: str, skip: tuple[str, ...] = ()) -> pl.Series:
    """The ``prefix<key>`` columns of ``table`` as one key/value list per row.

    Keys in ascending order; a row's nulls (keys it does not have) left out. One
    unpivot of the page's rows: a list of one struct per column would cost a
    Polars expression per column.
    """
    names = sorted(c for c in table.columns if c.startswith(prefix) and c not in skip)
    if len(names) > _PRUNE_ABOVE:
        nulls = table.select(pl.col(names).null_count()).row(0)
        names = [c for c, n in zip(names, nulls, strict=True) if n < table.height]
    if not names:
        return pl.Series("kv", [[]] * table.height, dtype=KV)
    # Eager: each step is small, and a lazy query's planning costs more than them.
    long = (
        table.select(
            pl.col(name).cast(pl.String).alias(name[len(prefix) :]) for name in names
        )
        .with_row_index("_row")
        .unpivot(index="_row", variable_name="key")
        .drop_nulls("value")
    )
    long = long[_row_major(long["_row"])]  # the columns came in key order
    return _lists(long, _counts(long["_row"], table.height), ("key", "value"))


def _row_major(rows: pl.Series) -> Any:
    """The positions of an unpivoted table's entries, row after row (stable)."""
    import numpy as np

    return np.argsort(rows.to_numpy(), kind="stable")


def _counts(rows: pl.Series, n: int) -> Any:
    """How many times each of ``0..n-1`` occurs in ``rows`` (numpy)."""
    import numpy as np

    return np.bincount(rows.to_numpy(), minlength=n)


# --- spans -------------------------------------------------------------------------


def _runs(spans: pl.DataFrame, keys: pl.Series) -> tuple[pl.Series, Any]:
    """The span rows of ``keys``, trace after trace, and each trace's span count."""
    import numpy as np

    span_keys = spans["_key"]
    if span_keys.flags["SORTED_ASC"] or span_keys.is_sorted():
        lo = span_keys.search_sorted(keys, side="left").to_numpy().astype(np.int64)
        hi = span_keys.search_sorted(keys, side="right").to_numpy().astype(np.int64)
        counts = hi - lo
        starts = np.repeat(lo - (np.cumsum(counts) - counts), counts)
        rows = np.arange(int(counts.sum()), dtype=np.int64) + starts
        return pl.Series("_span", rows, dtype=pl.UInt32), counts
    # Stored otherwise: one filter, then the spans of each key in stored order.
    found = (
        spans.lazy()
        .select(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"), "_key")
        .filter(pl.col("_key").is_in(keys.implode()))
        .group_by("_key")
        .agg("_row")
    )
    runs = (
        pl.LazyFrame({"_key": keys})
        .join(found, on="_key", how="left", maintain_order="left")
        .collect()["_row"]
    )
    counts = runs.list.len().fill_null(0).to_numpy()
    return runs.explode().drop_nulls(), counts


def _span_fields(spans: pl.DataFrame) -> pl.DataFrame:
    """The `SPAN` fields of each row of a span table, as columns."""

    def raw(name: str) -> pl.Expr:
        if name in spans.columns:
            return pl.col(name).cast(pl.String)
        return pl.lit(None, pl.String)

    llm = [
        pl.col(f.name).cast(f.dtype) if f.name in spans.columns
        else pl.lit(None, f.dtype).alias(f.name)
        for f in SPAN.fields
        if f.name in LLM_SPAN_SCHEMA
    ]  # fmt: skip
    attributes = _kv(spans, RAW_PREFIX, skip=(_INPUTS, _OUTPUTS))
    return spans.with_columns(attributes.alias("_attributes")).select(
        "span_id",
        "parent_id",
        pl.col("name").cast(pl.String),
        pl.col("type").cast(pl.String),
        pl.col("status").cast(pl.String),
        pl.col("start_ns").cast(_UTC_NS).alias("start_time"),
        pl.col("end_ns").cast(_UTC_NS).alias("end_time"),
        (pl.col("end_ns") - pl.col("start_ns"))
        .cast(pl.Duration("ns"))
        .alias("duration"),
        raw(_INPUTS).alias("inputs"),
        raw(_OUTPUTS).alias("outputs"),
        pl.col("_attributes").alias("attributes"),
        pl.col("events").cast(pl.String).fill_null("[]"),
        *llm,
    )


def _lists(
    values: pl.DataFrame, counts: Any, fields: Sequence[str] | None = None
) -> pl.Series:
    """Structs of ``values``' columns cut into consecutive lists of ``counts``.

    ``fields``: only these columns. Built on Arrow buffers (no Polars group-by).
    """
    import numpy as np
    import pyarrow as pa

    offsets = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    table = values.select(fields or values.columns).to_arrow(
        compat_level=pl.CompatLevel.oldest()
    )
    arrays = [column.combine_chunks() for column in table.columns]
    structs = pa.StructArray.from_arrays(arrays, names=table.column_names)
    listed = pa.LargeListArray.from_arrays(pa.array(offsets), structs)
    return pl.Series("list", listed)


def _spans(frame: TraceFrame, keys: pl.Series) -> pl.Series:
    rows, counts = _runs(frame.spans, keys)
    return _lists(_span_fields(frame.spans[rows]), counts).alias("spans")


# --- assessments -------------------------------------------------------------------


_TIMES: Final = ("create_time", "last_update_time")


def _assessment_values(assessment: Assessment) -> tuple[Any, ...]:
    """The `ASSESSMENT` fields but ``metadata``, times as epoch ms, in order."""
    source, error, value = assessment.source, assessment.error, assessment.value
    return (
        assessment.assessment_id,
        assessment.name,
        assessment.kind.value,
        None if value is None else dumps(value),
        assessment.span_id,
        None if source is None else source.source_type,
        None if source is None else source.source_id,
        assessment.create_time_ms,
        assessment.last_update_time_ms,
        assessment.rationale,
        None if error is None else error.error_code,
        None if error is None else error.error_message,
        assessment.overrides,
        assessment.is_valid,
    )


_FLAT_FIELDS: Final = [f for f in ASSESSMENT.fields if f.name != "metadata"]


def _arrow_type(name: str) -> pa.DataType:
    """The Arrow type of `ASSESSMENT` field ``name`` (but ``metadata``)."""
    import pyarrow as pa

    if name in _TIMES:
        return pa.timestamp("ms", "UTC")
    return pa.bool_() if name == "valid" else pa.large_string()


def _assessments(texts: pl.Series) -> pl.Series:
    """The `ASSESSMENT` lists of assessment texts (null: none).

    Each text is read as ``Trace.from_dict`` reads it; the values go to Polars
    column by column (a Series of nested dicts costs a hundred times more).
    """
    counts: list[int] = []
    found: list[tuple[Any, ...]] = []
    metadata: list[tuple[str, str]] = []
    metadata_counts: list[int] = []
    for text in texts.to_list():
        if text is None or text == "[]":
            counts.append(0)
            continue
        decoded = json.loads(text)  # exact: values may hold NaN or wide integers
        counts.append(len(decoded))
        for item in decoded:
            assessment = Assessment.from_dict(item)
            found.append(_assessment_values(assessment))
            pairs = sorted(assessment.metadata.items())
            metadata.extend(pairs)
            metadata_counts.append(len(pairs))
    if not found:
        return pl.Series("assessments", [[]] * len(counts), dtype=pl.List(ASSESSMENT))
    import pyarrow as pa

    columns = {
        f.name: pa.array([row[i] for row in found], type=_arrow_type(f.name))
        for i, f in enumerate(_FLAT_FIELDS)
    }
    entries = pl.DataFrame(
        {"key": [k for k, _ in metadata], "value": [v for _, v in metadata]},
        schema={"key": pl.String(), "value": pl.String()},
    )
    columns["metadata"] = _lists(entries, metadata_counts).to_arrow(
        compat_level=pl.CompatLevel.oldest()
    )
    table = pl.DataFrame(
        pa.table(
            [columns[f.name] for f in ASSESSMENT.fields],
            names=[f.name for f in ASSESSMENT.fields],
        )
    )
    return _lists(table, counts).alias("assessments")


# --- the page ----------------------------------------------------------------------


def _with_tables(frame: TraceFrame) -> TraceFrame:
    """``frame`` with trace and span tables for every row of its page table.

    A frame of page rows alone (a scanned dataset's page) has none: they are built
    from its texts, and its page table kept.
    """
    if frame.traces.height == frame.page_count:
        return frame
    pages = frame.pages
    built = TraceFrame.from_traces(Trace.from_json(t) for t in whole_texts(pages))
    tables = (built.traces, built.spans, built.assessments, built.prompts)
    return TraceFrame(*tables, pages=pages)


def typed_page(
    frame: TraceFrame, keys: Sequence[int], include_spans: bool
) -> pl.DataFrame:
    """The typed page (`SCHEMA`) of the rows ``keys`` of ``frame``, in that order."""
    frame = _with_tables(frame)
    rows = pl.Series("_key", keys, dtype=pl.UInt32)
    page = frame.page_rows(rows)
    if include_spans:
        trace, request, response = TRACE_TEXT, pl.col("request"), pl.col("response")
    else:
        trace = pl.concat_str(pl.lit(_OPEN), INFO_TEXT, pl.lit(_NO_SPANS))
        request = response = pl.lit(None, dtype=pl.String)
    texts = page.select(
        trace.alias("trace"),
        request.alias("request"),
        response.alias("response"),
        ASSESSMENTS_TEXT.alias("assessments"),
    )
    traces = frame.traces[rows]
    flat = traces.select(
        "trace_id",
        "client_request_id",
        pl.col("state").cast(pl.String),
        pl.col("request_time").cast(_UTC_MS),
        pl.col("execution_duration").cast(pl.Duration("ms")),
    )
    if include_spans and frame.spans.height:
        spans = _spans(frame, rows)
    else:
        spans = pl.Series("spans", [[]] * len(rows), dtype=pl.List(SPAN))
    nested = pl.DataFrame(
        [
            _kv(traces, META_PREFIX).alias("trace_metadata"),
            _kv(traces, TAG_PREFIX).alias("tags"),
            spans,
            _assessments(texts["assessments"]),
        ]
    )
    table = pl.concat([flat, texts.drop("assessments"), nested], how="horizontal")
    return table.select(list(SCHEMA))


# --- Arrow -------------------------------------------------------------------------


def _arrow_maps(array: pa.Array) -> pa.Array:
    """``array`` with every key/value list (`KV` as Polars exports it) an Arrow map."""
    import pyarrow as pa

    kind = array.type
    if pa.types.is_large_list(kind) or pa.types.is_list(kind):
        item = kind.value_type
        is_kv = pa.types.is_struct(item) and [f.name for f in item] == [
            "key",
            "value",
        ]
        values = array.values
        if is_kv:
            keys, items = values.field("key"), values.field("value")
            offsets = array.offsets.cast(pa.int32())
            mask = array.is_null() if array.null_count else None
            return pa.MapArray.from_arrays(offsets, keys, items, mask=mask)
        inner = _arrow_maps(values)
        if inner is values:
            return array
        maker = pa.LargeListArray if pa.types.is_large_list(kind) else pa.ListArray
        mask = array.is_null() if array.null_count else None
        return maker.from_arrays(array.offsets, inner, mask=mask)
    if pa.types.is_struct(kind):
        fields = [array.field(i) for i in range(kind.num_fields)]
        converted = [_arrow_maps(f) for f in fields]
        if all(a is b for a, b in zip(fields, converted, strict=True)):
            return array
        mask = array.is_null() if array.null_count else None
        names = [f.name for f in kind]
        return pa.StructArray.from_arrays(converted, names=names, mask=mask)
    return array


def to_arrow(table: pl.DataFrame) -> pa.Table:
    """``table`` as Arrow (large strings and lists), key/value lists as maps."""
    import pyarrow as pa

    arrow = table.to_arrow(compat_level=pl.CompatLevel.oldest())
    columns = [_arrow_maps(column.combine_chunks()) for column in arrow.columns]
    return pa.Table.from_arrays(columns, names=arrow.column_names)
