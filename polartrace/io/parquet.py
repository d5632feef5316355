"""polartrace's own Parquet layout: a frame's tables as Parquet files, plus its JSON.

A dataset is a directory::

    manifest.json                  {"format": "polartrace-parquet", "version": 2, ...}
    traces/part-00000.parquet      one row per trace (the frame's ``traces`` table)
    spans/part-00000.parquet       one row per span (raw attribute JSON text)
    assessments/part-00000.parquet valid assessments, session-scoped ones expanded
                                   within the part (readers expand them over the
                                   whole dataset: `polartrace.frame.session_scope`)
    prompts/part-00000.parquet     linked prompt versions
    json/part-00000.parquet        ``_key`` and the frame's page table: each trace's
                                   JSON text in parts and what a result page reads
                                   (`polartrace.frame.pages`)

Version 1 kept each trace's whole JSON text (column ``json``) in the ``json`` table
instead; such datasets are still read, their page table made from the texts at read
time.

With ``partition_by_day=True`` every table is split further by the UTC day of the
trace's request time (``traces/day=2025-01-31/part-00000.parquet``), so a scan over a
time range reads only the days it needs. Keys (``_key``) are unique across the whole
dataset; :class:`DatasetWriter` appends parts, which is how datasets larger than
memory are built chunk by chunk.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final

import polars as pl

from polartrace.frame.llm import LLM_SPAN_SCHEMA, with_llm_columns
from polartrace.frame.pages import PAGE_COLUMNS, PAGE_SCHEMA, from_texts
from polartrace.frame.schema import (
    META_PREFIX,
    SPAN_STATUS_ENUM,
    STATE_ENUM,
    duration_ms,
)
from polartrace.frame.session_scope import SessionScope, rescope, scoped_assessments
from polartrace.frame.trace_frame import (
    TraceFrame,
    _compact,
    compact_categoricals,
    to_parquet_table,
)
from polartrace.model.trace import Trace
from polartrace.values.conventions import SESSION_KEY
from polartrace.values.errors import TraceFormatError

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "TABLES",
    "DatasetWriter",
    "is_dataset",
    "read_manifest",
    "read_pages",
    "read_parquet",
    "session_members",
    "session_scope",
    "table_files",
    "write_parquet",
]

FORMAT_NAME: Final = "polartrace-parquet"
FORMAT_VERSION: Final = 2
MANIFEST: Final = "manifest.json"
TABLES: Final = ("traces", "spans", "assessments", "prompts", "json")
_DERIVED: Final = ("attr:", "num:")  # span columns a frame derives on first use
_DAY: Final = "__day"
#: The version whose ``json`` table holds each trace's whole text (column ``json``).
_WHOLE_TEXTS: Final = 1
_SESSION: Final = META_PREFIX + SESSION_KEY


def is_dataset(path: Path) -> bool:
    """Whether ``path`` is a directory holding a polartrace Parquet manifest."""
    return (path / MANIFEST).is_file()


def read_manifest(path: Path) -> dict[str, Any]:
    """Read and check the manifest of the dataset at ``path``.

    Raises:
        TraceFormatError: If it is missing, not ours, or from a newer version.
    """
    source = str(path)
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except OSError as exc:
        msg = f"not a polartrace Parquet dataset: cannot read {MANIFEST} ({exc})"
        raise TraceFormatError(msg, source=source) from exc
    except json.JSONDecodeError as exc:
        msg = f"{MANIFEST} is not valid JSON: {exc.msg}"
        raise TraceFormatError(msg, source=source, location=MANIFEST) from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        msg = f"{MANIFEST} does not describe a {FORMAT_NAME} dataset"
        raise TraceFormatError(msg, source=source, location=MANIFEST)
    version = manifest.get("version")
    if type(version) is not int or not 1 <= version <= FORMAT_VERSION:
        msg = (
            f"dataset format version {version!r} is not supported "
            f"(this polartrace reads up to version {FORMAT_VERSION})"
        )
        raise TraceFormatError(msg, source=source, location=MANIFEST)
    return manifest


def table_files(path: Path, table: str) -> list[Path]:
    """The Parquet files of one table of the dataset at ``path``, in a stable order."""
    return sorted((path / table).rglob("*.parquet"))


class DatasetWriter:
    """Write a Parquet dataset part by part, with keys unique across parts.

    Example:
        >>> import pathlib, tempfile
        >>> from polartrace import TraceInfo
        >>> chunk = [Trace(TraceInfo(trace_id="tr-1", request_time=0))]
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     with DatasetWriter(pathlib.Path(tmp) / "ds") as writer:
        ...         writer.write(TraceFrame.from_traces(chunk))
        ...         writer.write(TraceFrame.from_traces(chunk))
        ...     len(read_parquet(pathlib.Path(tmp) / "ds"))
        2
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        partition_by_day: bool = False,
        overwrite: bool = False,
    ) -> None:
        self.path = Path(path)
        self.partition_by_day = partition_by_day
        self.traces = 0
        self.parts = 0
        _prepare(self.path, overwrite=overwrite)

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def write(self, frame: TraceFrame) -> None:
        """Append the traces of ``frame`` as the next part."""
        offset = self.traces
        tables = _tables(frame, offset)
        if self.partition_by_day:
            days = tables["traces"].select(
                "_key",
                pl.from_epoch("request_time", time_unit="ms")
                .dt.strftime("%Y-%m-%d")
                .alias(_DAY),
            )
            for name, table in tables.items():
                with_day = table.join(days, on="_key", maintain_order="left")
                for (day,), part in with_day.group_by(_DAY, maintain_order=True):
                    target = self.path / name / f"day={day}"
                    self._write(part.drop(_DAY), target)
        else:
            for name, table in tables.items():
                self._write(table, self.path / name)
        self.traces += len(frame)
        self.parts += 1

    def _write(self, table: pl.DataFrame, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        table.write_parquet(
            directory / f"part-{self.parts:05d}.parquet", statistics=True
        )

    def close(self) -> None:
        """Write the manifest; the dataset is readable from here on."""
        for name in TABLES:  # an empty dataset still has every table, with its schema
            if not table_files(self.path, name):
                empty = _tables(TraceFrame.from_traces([]), 0)[name]
                self._write(empty, self.path / name)
        manifest = {
            "format": FORMAT_NAME,
            "version": FORMAT_VERSION,
            "traces": self.traces,
            "parts": self.parts,
            "partition_by_day": self.partition_by_day,
            "tables": list(TABLES),
        }
        text = json.dumps(manifest, indent=2) + "\n"
        (self.path / MANIFEST).write_text(text, encoding="utf-8")


def _prepare(path: Path, *, overwrite: bool) -> None:
    if path.exists() and not path.is_dir():
        msg = "the output of a Parquet dataset must be a directory"
        raise TraceFormatError(msg, source=str(path))
    if path.is_dir() and any(path.iterdir()):
        if not is_dataset(path):
            msg = (
                "directory is not empty and not a polartrace dataset; only a "
                "polartrace dataset is ever replaced"
            )
            raise TraceFormatError(msg, source=str(path))
        if not overwrite:
            msg = (
                "directory is not empty; pass overwrite=True to replace an existing "
                "polartrace dataset (other directories are never replaced)"
            )
            raise TraceFormatError(msg, source=str(path))
        (path / MANIFEST).unlink()
        for name in TABLES:
            shutil.rmtree(path / name, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)


def _tables(frame: TraceFrame, offset: int) -> dict[str, pl.DataFrame]:
    shift = pl.col("_key") + pl.lit(offset, dtype=pl.UInt32)
    spans = frame.spans.select(
        c for c in frame.spans.columns if not c.startswith(_DERIVED)
    )
    return {
        "traces": to_parquet_table(frame.traces.with_columns(shift)),
        "spans": to_parquet_table(spans.with_columns(shift)),
        "assessments": to_parquet_table(frame.assessments.with_columns(shift)),
        "prompts": frame.prompts.with_columns(shift),
        "json": frame.pages.select(
            frame.traces["_key"].alias("_key"), *PAGE_COLUMNS
        ).with_columns(shift),
    }


def write_parquet(
    traces: TraceFrame | Iterable[Trace],
    path: str | os.PathLike[str],
    *,
    partition_by_day: bool = False,
    overwrite: bool = False,
) -> int:
    """Write traces as a polartrace Parquet dataset (a directory).

    Args:
        traces: A frame or any iterable of ``Trace``.
        path: The output directory; it must not exist, be empty, or (with
            ``overwrite=True``) be a polartrace dataset, which is replaced.
        partition_by_day: Split every table by the UTC day of request time.
        overwrite: Replace an existing polartrace dataset at ``path``.

    Returns:
        The number of traces written.

    Raises:
        TraceFormatError: If ``path`` is a file or a non-empty foreign directory.

    Example:
        >>> import pathlib, tempfile
        >>> from polartrace import TraceInfo
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     t = Trace(TraceInfo(trace_id="tr-1", request_time=0, state="OK"))
        ...     write_parquet([t], pathlib.Path(tmp) / "ds")
        1
    """
    frame = traces if isinstance(traces, TraceFrame) else TraceFrame.from_traces(traces)
    with DatasetWriter(
        path, partition_by_day=partition_by_day, overwrite=overwrite
    ) as w:
        w.write(frame)
    return len(frame)


def _read_table(path: Path, table: str) -> pl.DataFrame:
    files = table_files(path, table)
    if not files:
        msg = f"the dataset has no {table!r} table"
        raise TraceFormatError(msg, source=str(path), location=table)
    parts = []
    for file in files:
        try:
            parts.append(pl.read_parquet(file))
        except (OSError, pl.exceptions.PolarsError) as exc:
            msg = f"cannot read Parquet file: {exc}"
            raise TraceFormatError(msg, source=str(file)) from exc
    return pl.concat(parts, how="diagonal_relaxed") if len(parts) > 1 else parts[0]


def read_parquet(path: str | os.PathLike[str]) -> TraceFrame:
    """Read a polartrace Parquet dataset into a frame, without building any ``Trace``.

    Keys are renumbered densely in key order, so a dataset written in parts, split by
    day, or with some part files removed still reads as a valid frame.

    Raises:
        TraceFormatError: If the manifest or a table is missing or unreadable.
    """
    path = Path(path)
    version = read_manifest(path)["version"]
    traces = _read_table(path, "traces").sort("_key")
    old = traces["_key"]
    dense = pl.Series("_key", range(len(old)), dtype=pl.UInt32)
    remap = None if old.equals(dense, check_names=False) else old
    tables = {}
    for name in ("spans", "assessments", "prompts", "json"):
        table = _read_table(path, name)
        if remap is not None:
            table = table.filter(pl.col("_key").is_in(remap.implode())).with_columns(
                pl.col("_key").replace_strict(remap, dense, return_dtype=pl.UInt32)
            )
        else:  # rows of removed trace files (the last ones) have keys past the end
            table = table.filter(pl.col("_key") < len(old))
        tables[name] = table
    traces = compact_categoricals(
        traces.with_columns(dense, pl.col("state").cast(STATE_ENUM))
    )
    spans = compact_categoricals(tables["spans"]).sort(
        "_key", "_span", maintain_order=True
    )
    spans = spans.with_columns(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_span"),
        pl.col("status").cast(SPAN_STATUS_ENUM),
        # Earlier writers stored durations one float step off: computed anew.
        duration_ms(pl.col("start_ns"), pl.col("end_ns")),
    )
    if not set(LLM_SPAN_SCHEMA) <= set(spans.columns):  # written without them
        traces, spans = with_llm_columns(traces, spans, _compact)
    json_table = tables["json"].sort("_key")
    if len(json_table) != len(traces):
        msg = f"the json table has {len(json_table)} rows for {len(traces)} traces"
        raise TraceFormatError(msg, source=str(path), location="json")
    pages = read_pages(json_table, version, path)
    assessments = compact_categoricals(
        session_scope(traces, pages).apply(tables["assessments"])
    ).sort("_key", maintain_order=True)
    return TraceFrame(
        traces,
        spans,
        assessments,
        tables["prompts"].sort("_key", maintain_order=True),
        pages=pages,
    )


def session_members(traces: pl.DataFrame | pl.LazyFrame) -> pl.LazyFrame:
    """``_key`` and ``session`` of the traces that belong to a session."""
    if _SESSION not in traces.lazy().collect_schema().names():
        return pl.LazyFrame(schema={"_key": pl.UInt32(), "session": pl.String()})
    return (
        traces.lazy()
        .select(pl.col("_key").cast(pl.UInt32), pl.col(_SESSION).cast(pl.String))
        .drop_nulls(_SESSION)
        .rename({_SESSION: "session"})
    )


def session_scope(traces: pl.DataFrame, pages: pl.DataFrame) -> SessionScope:
    """Session-scoped assessments expanded over the whole dataset, not per part.

    ``traces`` and ``pages`` are a read dataset's trace and page tables, row ``i``
    of each being trace ``i`` (`polartrace.frame.session_scope`).
    """
    texts = pages["assessments"]
    scoped = scoped_assessments(traces["_key"], texts)
    return rescope(
        scoped,
        session_members(traces),
        lambda keys: texts.gather(pl.Series(keys, dtype=pl.Int64)),
    )


def read_pages(table: pl.DataFrame, version: int, path: Path) -> pl.DataFrame:
    """The page table held by rows of a dataset's ``json`` table, in their order.

    Version 2 stores it; version 1 stored each trace's whole text, which is decoded
    here, once per trace.

    Raises:
        TraceFormatError: If a column is missing or of another type.
    """
    schema = {"json": pl.String()} if version == _WHOLE_TEXTS else PAGE_SCHEMA
    for name, dtype in schema.items():
        found = table.schema.get(name)
        if found != dtype:
            found_text = "missing" if found is None else f"of type {found}"
            msg = (
                f"the json table's column {name!r} is {found_text}, where polartrace "
                f"writes {dtype} (dataset format version {version})"
            )
            raise TraceFormatError(msg, source=str(path), location="json")
    if version == _WHOLE_TEXTS:
        return from_texts(table["json"].to_list())
    return table.select(PAGE_COLUMNS)
