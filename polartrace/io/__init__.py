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
:class:`~polartrace.values.errors.TraceFormatError` naming the file and the record, and
no partial frame is returned. An empty source gives an empty frame with the full schema.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO, Any, Final

from polartrace.frame.concat import concat
from polartrace.frame.trace_frame import TraceFrame
from polartrace.io._cache import CACHE_SIZE, clear_cache
from polartrace.io._progress import Progress, interactive
from polartrace.io._sources import (
    DB_SUFFIXES,
    Single,
    Source,
    expand,
    first_key,
    label,
    stream_to_file,
)
from polartrace.io.jsonl import iter_jsonl, read_json, read_jsonl, write_jsonl
from polartrace.io.mlflow_db import is_database_url
from polartrace.io.parquet import DatasetWriter, is_dataset, write_parquet
from polartrace.values.errors import TraceFormatError
from polartrace.values.formats import FORMATS

__all__ = [
    "CACHE_SIZE",
    "FORMATS",
    "DatasetWriter",
    "clear_cache",
    "detect_format",
    "iter_jsonl",
    "read_traces",
    "write_jsonl",
    "write_parquet",
]

_DIRECTORY_FORMATS: Final = ("parquet", "mlflow-files")


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
    if last in DB_SUFFIXES:
        return "mlflow-db"
    if last in (".jsonl", ".ndjson", ".json"):
        first = first_key(path)
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
    source: Source,
    format: str | None = None,
    *,
    progress: bool | None = None,
) -> TraceFrame:
    """Read traces from files, directories, globs, file objects or a database.

    A list or tuple of sources, a glob (``"exports/*.jsonl"``) and a directory that
    is neither a Parquet dataset nor an MLflow file store are read source by
    source and joined with :func:`polartrace.concat`: every trace is kept, and a
    trace id found twice gives a ``UserWarning``. A directory is searched
    recursively for files named ``.jsonl``, ``.ndjson``, ``.json`` (each optionally
    ``.gz``), ``.db``, ``.sqlite`` and ``.sqlite3``, and for Parquet datasets and
    MLflow file stores; hidden entries and other files are skipped; everything is
    read in path order. An open file object (text or binary, optionally gzip) is
    read to its end; its format comes from ``format`` or from its content.

    Args:
        source: A path (file or directory), a database URL, a glob, an open file
            object, or a list or tuple of those; see the module docstring for what
            each format expects.
        format: One of ``FORMATS`` to skip detection (for every source).
        progress: Show a progress bar over the sources (tqdm): ``None`` shows one
            when stderr is a terminal or in a notebook, ``True`` always, ``False``
            never.

    Returns:
        A frame with one row per trace, in source order (databases: by request
        time, then trace id).

    Raises:
        TraceFormatError: If a source is missing, unreadable or holds a bad record
            (the message names the file, or table, and the record), or a glob
            matches nothing, or a directory holds no trace file.
        TypeError: If ``source`` is of no accepted type.

    Example:
        >>> import pathlib, tempfile
        >>> from polartrace.generate import write_jsonl as generate
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = generate(pathlib.Path(tmp) / "a.jsonl.gz", 3, seed=0)
        ...     _ = generate(pathlib.Path(tmp) / "b.jsonl", 2, seed=1)
        ...     one, every = pathlib.Path(tmp) / "a.jsonl.gz", tmp
        ...     len(read_traces(one)), len(read_traces(every))
        (3, 5)
    """
    if format is not None and format not in FORMATS:
        where = os.fspath(source) if isinstance(source, str | os.PathLike) else None
        msg = f"unknown format {format!r}; expected one of {', '.join(FORMATS)}"
        raise TraceFormatError(msg, source=where)
    if format in _DIRECTORY_FORMATS and isinstance(source, str | os.PathLike):
        singles: list[Single] = [os.fspath(source)]  # one store, not its files
    else:
        singles = expand(source)
    show = interactive() if progress is None else progress
    frames = []
    with Progress(len(singles), enabled=show) as bar:
        for item in singles:
            bar.start(label(item))
            frames.append(_read_single(item, format))
            bar.done()
    return concat(frames)


def _read_single(item: Single, format: str | None) -> TraceFrame:
    if not isinstance(item, str):
        return _read_stream(item, format)
    kind = format or detect_format(item)
    try:
        return _read(kind, item)
    except TraceFormatError as exc:
        if exc.source is not None:
            raise
        # A record every reader accepted but the frame cannot hold: name the file.
        raise TraceFormatError(exc.message, source=item, location=exc.location) from exc


def _read_stream(stream: IO[Any], format: str | None) -> TraceFrame:
    """Read a file object through a temporary file, naming the object in errors."""
    import tempfile

    name = label(stream)
    with tempfile.TemporaryDirectory(prefix="polartrace-") as directory:
        kind, path = stream_to_file(stream, format, directory)
        try:
            return _read(kind, path)
        except TraceFormatError as exc:
            source = name if exc.source in (None, path) else exc.source
            raise TraceFormatError(
                exc.message, source=source, location=exc.location
            ) from None


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
