"""Read traces from files into a ``TraceFrame``.

``read_traces`` picks the reader from the path: ``.jsonl``/``.ndjson`` (one MLflow
``Trace.to_dict()`` per line, optionally ``.gz``) or ``.json`` (one trace, or a list of
traces). Every reader is all-or-nothing: a corrupt record raises
:class:`TraceFormatError` naming the file and the line, and no partial frame is
returned.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from polartrace.errors import TraceFormatError
from polartrace.frame import TraceFrame
from polartrace.model import Trace

__all__ = ["iter_jsonl", "read_traces"]

_JSONL = (".jsonl", ".ndjson")
_FORMATS = ("jsonl", "json")


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8")
    return path.open(encoding="utf-8")


def _format_of(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes.pop()
    if suffixes and suffixes[-1] in _JSONL:
        return "jsonl"
    if suffixes and suffixes[-1] == ".json":
        return "json"
    msg = f"cannot tell the format of {str(path)!r} from its extension"
    raise TraceFormatError(
        msg + "; pass format='jsonl' or format='json'", source=str(path)
    )


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[Trace]:
    """Yield one ``Trace`` per non-empty line of an MLflow JSONL file.

    Raises:
        TraceFormatError: Naming the file and the 1-based line of the first bad record.
    """
    source = str(path)
    try:
        with _open(Path(path)) as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                yield _trace_from_line(line, source, number)
    except OSError as exc:
        raise TraceFormatError(f"cannot read file: {exc.strerror or exc}", source=source) from exc
    except (UnicodeDecodeError, EOFError, gzip.BadGzipFile) as exc:
        raise TraceFormatError(f"file is not UTF-8 JSON text: {exc}", source=source) from exc


def _trace_from_line(line: str, source: str, number: int) -> Trace:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        msg = f"invalid JSON at column {exc.colno}: {exc.msg}"
        raise TraceFormatError(msg, source=source, location=f"line {number}") from exc
    try:
        return Trace.from_dict(data)
    except TraceFormatError as exc:
        where = f"line {number}" + (f", {exc.location}" if exc.location else "")
        raise TraceFormatError(exc.message, source=source, location=where) from exc


def _read_json(path: Path) -> list[Trace]:
    source = str(path)
    try:
        with _open(path) as handle:
            data: Any = json.load(handle)
    except OSError as exc:
        raise TraceFormatError(f"cannot read file: {exc.strerror or exc}", source=source) from exc
    except json.JSONDecodeError as exc:
        msg = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise TraceFormatError(msg, source=source) from exc
    items = data if isinstance(data, list) else [data]
    traces = []
    for index, item in enumerate(items):
        try:
            traces.append(Trace.from_dict(item))
        except TraceFormatError as exc:
            where = f"trace {index}" + (f", {exc.location}" if exc.location else "")
            raise TraceFormatError(exc.message, source=source, location=where) from exc
    return traces


def read_traces(source: str | os.PathLike[str], format: str | None = None) -> TraceFrame:  # noqa: A002 - mirrors pandas/polars readers
    """Read a trace file into a ``TraceFrame``.

    Args:
        source: A ``.jsonl``/``.ndjson`` file (one MLflow trace per line) or a
            ``.json`` file (one trace or a list), optionally gzip-compressed (``.gz``).
        format: ``"jsonl"`` or ``"json"`` to override the extension.

    Returns:
        A frame with one row per trace, in file order.

    Raises:
        TraceFormatError: If the file is missing, unreadable or holds a bad record;
            the message names the file and the line.
    """
    path = Path(source)
    kind = format or _format_of(path)
    if kind not in _FORMATS:
        msg = f"unknown format {kind!r}; expected one of {_FORMATS}"
        raise TraceFormatError(msg, source=str(path))
    traces = list(iter_jsonl(path)) if kind == "jsonl" else _read_json(path)
    return TraceFrame.from_traces(traces)
