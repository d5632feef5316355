"""Getting traces in and out: one reader entry point, writers, and lazy scans.

``read_traces(source)`` picks the reader from the source unless ``format`` says:

==================  ==========================================================
format              source
==================  ==========================================================
``jsonl``           ``.jsonl`` / ``.ndjson`` (``.gz``): one MLflow trace per line
``json``            ``.json`` (``.gz``): one MLflow trace or a list of them
``otlp``            OTLP JSON (``resourceSpans``) as ``.json``, or one request per
                    line as ``.jsonl`` (OpenTelemetry collector file exporter)
``parquet``         a polartrace Parquet dataset (a directory with ``manifest.json``)
``mlflow-db``       an MLflow tracking database: ``.db``/``.sqlite`` file,
                    ``sqlite:///path`` or another SQLAlchemy URL
``mlflow-files``    an MLflow file store or trace artifact directory
                    (``<experiment>/traces/<trace id>/trace_info.yaml``)
==================  ==========================================================

Every reader is all-or-nothing: a bad record raises
:class:`~polartrace.errors.TraceFormatError` naming the file and the record, and no
partial frame is returned. An empty source gives an empty frame with the full schema.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Final

from polartrace._formats import FORMATS
from polartrace.errors import TraceFormatError
from polartrace.frame import TraceFrame
from polartrace.io.jsonl import iter_jsonl, read_json, read_jsonl, write_jsonl
from polartrace.io.mlflow_db import is_database_url
from polartrace.io.parquet import DatasetWriter, is_dataset, write_parquet

if TYPE_CHECKING:
    from polartrace.io.lazy import LazyTraceFrame

__all__ = [
    "FORMATS",
    "DatasetWriter",
    "detect_format",
    "iter_jsonl",
    "read_traces",
    "scan_traces",
    "write_jsonl",
    "write_parquet",
]

_DB_SUFFIXES: Final = (".db", ".sqlite", ".sqlite3")
_FIRST_KEY: Final = re.compile(rb'^\s*\[?\s*\{\s*"([^"\\]*)"')


def _first_key(path: Path) -> str | None:
    """The first object key of a (gzip) JSON file, read from its first few KB."""
    import gzip

    try:
        opener = gzip.open if path.suffix.lower() == ".gz" else open
        with opener(path, "rb") as handle:
            head = handle.read(4096)
    except (OSError, EOFError):
        return None  # the reader reports the problem, with its own message
    match = _FIRST_KEY.match(head)
    return match.group(1).decode("utf-8", "replace") if match else None


def detect_format(source: str | os.PathLike[str]) -> str:
    """Return the format ``read_traces`` would use for ``source``.

    Raises:
        TraceFormatError: If the source does not exist or its format is unclear.

    Example:
        >>> detect_format("sqlite:///mlflow.db")
        'mlflow-db'
    """
    text = os.fspath(source)
    if isinstance(source, str) and is_database_url(text):
        return "mlflow-db"
    path = Path(text)
    if path.is_dir():
        if is_dataset(path):
            return "parquet"
        from polartrace.io.artifacts import is_mlflow_files

        if is_mlflow_files(path):
            return "mlflow-files"
        msg = (
            "directory is neither a polartrace Parquet dataset (manifest.json) nor an "
            "MLflow file store / trace artifact directory (traces/<id>/trace_info.yaml)"
        )
        raise TraceFormatError(msg, source=text)
    if not path.exists():
        msg = "no such file or directory"
        raise TraceFormatError(msg, source=text)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    last = suffixes[-1] if suffixes else ""
    if last in _DB_SUFFIXES:
        return "mlflow-db"
    if last in (".jsonl", ".ndjson", ".json"):
        first = _first_key(path)
        if first == "resourceSpans":
            return "otlp"
        if first == "spans":
            msg = (
                "this is an MLflow span artifact (traces.json) without its trace info; "
                "read the trace directory or the MLflow store that holds it"
            )
            raise TraceFormatError(msg, source=text)
        return "json" if last == ".json" else "jsonl"
    msg = (
        f"cannot tell the format of {path.name!r} from its name; pass format= one "
        f"of {', '.join(FORMATS)}"
    )
    raise TraceFormatError(msg, source=text)


def read_traces(
    source: str | os.PathLike[str],
    format: str | None = None,
) -> TraceFrame:
    """Read traces from a file, directory or database into a ``TraceFrame``.

    Args:
        source: A path (file or directory) or a database URL; see the module
            docstring for what each format expects.
        format: One of ``FORMATS`` to skip detection.

    Returns:
        A frame with one row per trace, in source order (databases: by request
        time, then trace id).

    Raises:
        TraceFormatError: If the source is missing, unreadable or holds a bad record;
            the message names the file (or table) and the record.

    Example:
        >>> import pathlib, tempfile
        >>> from polartrace.generate import write_jsonl as generate
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = generate(pathlib.Path(tmp) / "t.jsonl.gz", 3, seed=0)
        ...     len(read_traces(pathlib.Path(tmp) / "t.jsonl.gz"))
        3
    """
    kind = format or detect_format(source)
    text = os.fspath(source)
    try:
        return _read(kind, text)
    except TraceFormatError as exc:
        if exc.source is not None:
            raise
        # A record every reader accepted but the frame cannot hold: name the file.
        raise TraceFormatError(exc.message, source=text, location=exc.location) from exc


def _read(kind: str, text: str) -> TraceFrame:
    if kind == "jsonl":
        return read_jsonl(text)
    if kind == "json":
        return TraceFrame.from_traces(read_json(text))
    if kind == "otlp":
        from polartrace.io.otlp import read_otlp

        return read_otlp(text)
    if kind == "parquet":
        from polartrace.io.parquet import read_parquet

        return read_parquet(text)
    if kind == "mlflow-db":
        from polartrace.io.mlflow_db import read_mlflow_db

        return read_mlflow_db(text)
    if kind == "mlflow-files":
        from polartrace.io.artifacts import read_mlflow_files

        return read_mlflow_files(text)
    msg = f"unknown format {kind!r}; expected one of {', '.join(FORMATS)}"
    raise TraceFormatError(msg, source=text)


def scan_traces(source: str | os.PathLike[str]) -> LazyTraceFrame:
    """Open a polartrace Parquet dataset lazily, for data bigger than memory.

    Args:
        source: A dataset directory written by `write_parquet` / `DatasetWriter`.

    Returns:
        A `LazyTraceFrame`; its ``search`` and ``count`` stream the Parquet files.

    Raises:
        TraceFormatError: If ``source`` is not a polartrace Parquet dataset.
    """
    from polartrace.io.lazy import LazyTraceFrame

    return LazyTraceFrame(source)
