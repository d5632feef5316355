"""What ``read_traces`` was given, as a list of single sources to read one by one.

A source is a path (a file, a Parquet dataset, an MLflow file store, a database
URL), a glob, a directory of trace files, an open file object, or a list or tuple of
those. Each expands to single sources in a stable order: a glob's matches and a
directory's files sorted by path, a list in its own order.
"""

from __future__ import annotations

import glob
import gzip
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Final, TypeAlias

from polartrace.io.mlflow_db import is_database_url
from polartrace.io.parquet import is_dataset
from polartrace.values.errors import TraceFormatError

__all__ = [
    "DB_SUFFIXES",
    "FIRST_KEY",
    "TRACE_SUFFIXES",
    "Single",
    "Source",
    "expand",
    "first_key",
    "is_file_object",
    "label",
    "stream_to_file",
]

TRACE_SUFFIXES: Final = (".jsonl", ".ndjson", ".json")
DB_SUFFIXES: Final = (".db", ".sqlite", ".sqlite3")
_GLOB_CHARS: Final = frozenset("*?[")
_SQLITE_MAGIC: Final = b"SQLite format 3\x00"
_GZIP_MAGIC: Final = b"\x1f\x8b"
# The first object key of a JSON document, a JSON list or a JSONL line.
FIRST_KEY: Final = re.compile(rb'^\s*\[?\s*\{\s*"([^"\\]*)"')

Single: TypeAlias = "str | IO[Any]"
Source: TypeAlias = (
    "str | os.PathLike[str] | IO[Any] | list[str | os.PathLike[str] | IO[Any]] | "
    "tuple[str | os.PathLike[str] | IO[Any], ...]"
)


def is_file_object(value: object) -> bool:
    """Whether ``value`` is an open file (anything with a ``read`` method)."""
    return callable(getattr(value, "read", None))


def label(item: Single) -> str:
    """How errors and progress name a single source."""
    if isinstance(item, str):
        return item
    name = getattr(item, "name", None)
    return name if isinstance(name, str) else "<file object>"


def expand(source: Any) -> list[Single]:
    """The single sources ``source`` stands for, in reading order.

    Raises:
        TraceFormatError: If a glob matches nothing, a list is empty, or a directory
            holds no trace file.
        TypeError: If ``source`` is of no accepted type.
    """
    if is_file_object(source):
        return [source]
    if isinstance(source, list | tuple):
        if not source:
            msg = "no sources given: the list of paths is empty"
            raise TraceFormatError(msg)
        out: list[Single] = []
        for item in source:
            if isinstance(item, list | tuple):
                msg = "a list of sources holds paths and file objects, not lists"
                raise TypeError(msg)
            out.extend(expand(item))
        return out
    if not isinstance(source, str | os.PathLike):
        msg = (
            "source must be a path, a glob, a file object or a list of them, not "
            f"{type(source).__name__}"
        )
        raise TypeError(msg)
    text = os.fspath(source)
    if isinstance(source, str) and is_database_url(text):
        return [text]
    path = Path(text)
    if path.is_dir():
        return [text] if _is_store(path) else _directory(path)
    if not path.exists() and isinstance(source, str) and _GLOB_CHARS & set(text):
        matches = sorted(glob.glob(text, recursive=True))
        if not matches:
            msg = "no file matches this pattern"
            raise TraceFormatError(msg, source=text)
        return [
            item
            for match in matches
            for item in ([match] if Path(match).is_file() else expand(match))
        ]
    return [text]  # a file, or a missing path that read_traces reports


def first_key(path: Path) -> str | None:
    """The first object key of a (gzip) JSON file, read from its first few KB."""
    try:
        opener = gzip.open if path.suffix.lower() == ".gz" else open
        with opener(path, "rb") as handle:
            head = handle.read(4096)
    except (OSError, EOFError):
        return None  # the reader reports the problem, with its own message
    match = FIRST_KEY.match(head)
    return match.group(1).decode("utf-8", "replace") if match else None


def _is_store(path: Path) -> bool:
    """Whether a directory is one source (a dataset or an MLflow file store)."""
    if is_dataset(path):
        return True
    from polartrace.io.artifacts import is_mlflow_files

    return is_mlflow_files(path)


def _is_trace_file(name: str) -> bool:
    lower = name.lower().removesuffix(".gz")
    return lower.endswith(TRACE_SUFFIXES + DB_SUFFIXES)


def _walk(root: Path) -> Iterator[str]:
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            child = Path(entry.path)
            if _is_store(child):
                yield entry.path
            else:
                yield from _walk(child)
        elif entry.is_file() and _is_trace_file(entry.name):
            if first_key(Path(entry.path)) == "spans":
                continue  # an MLflow span artifact, read through its store
            yield entry.path


def _directory(path: Path) -> list[Single]:
    """The trace files and stores under ``path``, recursively, sorted by path."""
    found: list[Single] = list(_walk(path))
    if not found:
        msg = (
            "directory holds no trace files (.jsonl, .ndjson, .json, optionally .gz; "
            ".db, .sqlite, .sqlite3), Parquet datasets or MLflow file stores"
        )
        raise TraceFormatError(msg, source=str(path))
    return found


def _sniff(data: bytes, name: str) -> str:
    """The format of file content that came without a name to tell it by."""
    if data.startswith(_SQLITE_MAGIC):
        return "mlflow-db"
    text = data.lstrip()
    if not text.startswith((b"{", b"[")):
        msg = "cannot tell the format from the content; pass format="
        raise TraceFormatError(msg, source=name)
    first = FIRST_KEY.match(text[:4096])
    if first is not None and first.group(1) == b"resourceSpans":
        return "otlp"
    if text.startswith(b"["):
        return "json"
    # One document over several lines is JSON; a first line that parses is JSONL.
    return "jsonl" if _sniff_lines(data) else "json"


def stream_to_file(
    stream: IO[Any], format: str | None, directory: str
) -> tuple[str, str]:
    """Write the content of ``stream`` to a file named for its format.

    Returns:
        The format and the file's path.

    Raises:
        TraceFormatError: If the content is unreadable or its format unclear.
    """
    name = label(stream)
    data = stream.read()
    if isinstance(data, str):
        data = data.encode("utf-8")
    if data.startswith(_GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            msg = f"truncated or corrupt gzip stream: {exc}"
            raise TraceFormatError(msg, source=name) from exc
    kind = format or _sniff(data, name)
    if kind in ("parquet", "mlflow-files"):
        msg = f"a {kind} source is a directory; a file object cannot hold one"
        raise TraceFormatError(msg, source=name)
    lines = kind == "jsonl" or (kind == "otlp" and _sniff_lines(data))
    suffix = ".db" if kind == "mlflow-db" else ".jsonl" if lines else ".json"
    import tempfile  # only file objects need it; keep it off the import path

    handle, target = tempfile.mkstemp(suffix=suffix, dir=directory)
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    return kind, target


def _sniff_lines(data: bytes) -> bool:
    first = data.lstrip().split(b"\n", 1)[0]
    try:
        json.loads(first)
    except ValueError:
        return False
    return True
