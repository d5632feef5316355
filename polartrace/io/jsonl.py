"""MLflow trace JSON and JSONL: one ``Trace.to_dict()`` per line, or a JSON document.

Readers are all-or-nothing: a corrupt record raises :class:`TraceFormatError` naming
the file and the line (JSONL) or the trace index (JSON), and nothing partial is
returned. ``.gz`` files are read and written transparently.
"""

from __future__ import annotations

import gzip
import io
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from polartrace.frame.trace_frame import TraceFrame
from polartrace.model.trace import Trace
from polartrace.model.validate import check_encodable
from polartrace.values.errors import TraceFormatError
from polartrace.values.nesting import loads

__all__ = ["iter_jsonl", "read_json", "read_jsonl", "write_jsonl"]


def open_text(path: Path, mode: str = "r", errors: str = "strict") -> IO[str]:
    """Open ``path`` as UTF-8 text, through gzip when its name ends in ``.gz``.

    Readers that report bad bytes by line pass ``errors="surrogateescape"`` and
    check each line with `check_utf8`.
    """
    if path.suffix.lower() == ".gz":
        if "r" in mode:
            return _text(gzip.GzipFile(path, "rb"), errors)
        return _text(_gzip_writer(path))
    newline = "\n" if "w" in mode else None
    return path.open(mode, encoding="utf-8", errors=errors, newline=newline)


def check_utf8(line: str, source: str, number: int) -> None:
    r"""Fail naming the line and column of a byte that is not UTF-8.

    ``line`` was decoded with ``errors="surrogateescape"``, which turns each such
    byte into a lone surrogate; JSON escapes such as ``\udc80`` stay six
    characters, so a surrogate here can only be a bad byte.
    """
    if line.isascii():
        return
    try:
        line.encode("utf-8")
    except UnicodeEncodeError as exc:
        byte = ord(line[exc.start]) - 0xDC00
        msg = f"byte 0x{byte:02x} at column {exc.start + 1} is not UTF-8"
        raise TraceFormatError(msg, source=source, location=f"line {number}") from None


class _GzipWriter(gzip.GzipFile):
    """A gzip writer that also closes the file it opened.

    No name and mtime 0 in the header: the same traces give byte-identical files.
    """

    def __init__(self, path: Path) -> None:
        self._owned = path.open("wb")
        super().__init__(
            filename="", mode="wb", fileobj=self._owned, mtime=0, compresslevel=6
        )

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._owned.close()


def _gzip_writer(path: Path) -> gzip.GzipFile:
    return _GzipWriter(path)


def _text(raw: Any, errors: str = "strict") -> IO[str]:
    return io.TextIOWrapper(raw, encoding="utf-8", errors=errors, newline="\n")


def iter_jsonl(path: str | os.PathLike[str]) -> Iterator[Trace]:
    """Yield one ``Trace`` per non-empty line of an MLflow JSONL file.

    Args:
        path: A ``.jsonl`` / ``.ndjson`` file, optionally gzip-compressed (``.gz``).

    Yields:
        The traces in file order.

    Raises:
        TraceFormatError: Naming the file and the 1-based line of the first bad record.

    Example:
        >>> import pathlib, tempfile
        >>> from polartrace.generate import write_jsonl as generate
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     _ = generate(pathlib.Path(tmp) / "t.jsonl", 2, seed=1)
        ...     len(list(iter_jsonl(pathlib.Path(tmp) / "t.jsonl")))
        2
    """
    source = str(path)
    try:
        with open_text(Path(path), errors="surrogateescape") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                check_utf8(line, source, number)
                yield _trace_from_line(line, source, number)
    except OSError as exc:
        msg = f"cannot read file: {exc.strerror or exc}"
        raise TraceFormatError(msg, source=source) from exc
    except (UnicodeDecodeError, EOFError) as exc:
        msg = f"file is not UTF-8 JSON text (or a truncated gzip stream): {exc}"
        raise TraceFormatError(msg, source=source) from exc


def _trace_from_line(line: str, source: str, number: int) -> Trace:
    try:
        data = loads(line)
    except json.JSONDecodeError as exc:
        msg = f"invalid JSON at column {exc.colno}: {exc.msg}"
        raise TraceFormatError(msg, source=source, location=f"line {number}") from exc
    except TraceFormatError as exc:  # nested too deeply
        where = f"line {number}" + (f", {exc.location}" if exc.location else "")
        raise TraceFormatError(exc.message, source=source, location=where) from exc
    try:
        if "\\ud" in line or "\\uD" in line:  # maybe an escaped lone surrogate
            check_encodable(data)
        return Trace.from_dict(data)
    except TraceFormatError as exc:
        where = f"line {number}" + (f", {exc.location}" if exc.location else "")
        raise TraceFormatError(exc.message, source=source, location=where) from exc


def load_json(path: Path) -> Any:
    """Parse a whole (optionally gzip) JSON document, with file-naming errors."""
    source = str(path)
    try:
        with open_text(path) as handle:
            text = handle.read()
        return loads(text)
    except TraceFormatError as exc:  # nested too deeply
        raise TraceFormatError(
            exc.message, source=source, location=exc.location
        ) from exc
    except OSError as exc:
        msg = f"cannot read file: {exc.strerror or exc}"
        raise TraceFormatError(msg, source=source) from exc
    except json.JSONDecodeError as exc:
        msg = f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        raise TraceFormatError(msg, source=source) from exc
    except (UnicodeDecodeError, EOFError) as exc:
        msg = f"file is not UTF-8 JSON text (or a truncated gzip stream): {exc}"
        raise TraceFormatError(msg, source=source) from exc


def read_json(path: str | os.PathLike[str]) -> list[Trace]:
    """Read a JSON file holding one MLflow trace or a list of them.

    Raises:
        TraceFormatError: Naming the file and, for a bad trace, its index.
    """
    path = Path(path)
    data = load_json(path)
    items = data if isinstance(data, list) else [data]
    traces = []
    for index, item in enumerate(items):
        try:
            traces.append(Trace.from_dict(item))
        except TraceFormatError as exc:
            where = f"trace {index}" + (f", {exc.location}" if exc.location else "")
            raise TraceFormatError(
                exc.message, source=str(path), location=where
            ) from exc
    return traces


def read_jsonl(path: str | os.PathLike[str]) -> TraceFrame:
    """Read an MLflow JSONL file into a frame, column by column where it can.

    The result is the frame ``TraceFrame.from_traces(list(iter_jsonl(path)))``
    builds, but made by Arrow's JSON reader (``polartrace.io._columnar``) with no
    ``Trace`` object per line; each line's text is kept to build output rows. A
    file that reader cannot vouch for, a corrupt one included, is read again line
    by line, which gives the exact frame or the error naming the bad line.

    Raises:
        TraceFormatError: Naming the file and the 1-based line of the first bad
            record; nothing partial is returned.
    """
    # Arrow's JSON reader (PyArrow) loads with the first JSONL file read.
    from polartrace.io._columnar import read_jsonl_columnar

    frame = read_jsonl_columnar(Path(path))
    if frame is not None:
        return frame
    return TraceFrame.from_traces(list(iter_jsonl(path)))


def _json_lines(traces: TraceFrame | Iterable[Trace]) -> Iterator[str]:
    if isinstance(traces, TraceFrame):
        # Frames read from files keep the JSON text: write it without a round trip.
        step = 4096
        for start in range(0, len(traces), step):
            yield from traces.json_at(range(start, min(start + step, len(traces))))
        return
    for index, trace in enumerate(traces):
        if not isinstance(trace, Trace):
            msg = f"item {index} is a {type(trace).__name__}, not a polartrace Trace"
            raise TypeError(msg)
        yield trace.to_json()


def write_jsonl(
    traces: TraceFrame | Iterable[Trace], path: str | os.PathLike[str]
) -> int:
    """Write traces as MLflow JSONL, one ``Trace.to_json()`` per line.

    The file is written to a temporary name and renamed, so a failure leaves no
    half-written file behind.

    Args:
        traces: A frame or any iterable of ``Trace``.
        path: The output file; ``.gz`` compresses it. Overwritten if present.

    Returns:
        The number of traces written.

    Raises:
        TypeError: If an item is not a ``Trace``.

    Example:
        >>> import pathlib, tempfile
        >>> from polartrace import TraceInfo
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     out = pathlib.Path(tmp) / "out.jsonl.gz"
        ...     trace = Trace(TraceInfo(trace_id="tr-1", request_time=0))
        ...     n = write_jsonl([trace], out)
        ...     n, len(read_jsonl(out))
        (1, 1)
    """
    path = Path(path)
    partial = path.with_name(path.name + ".partial" + "".join(path.suffixes[-1:]))
    written = 0
    try:
        try:
            handle = open_text(partial, "w")
        except OSError as exc:  # name the file the caller asked for
            raise OSError(exc.errno, exc.strerror, str(path)) from None
        with handle:
            for line in _json_lines(traces):
                handle.write(line)
                handle.write("\n")
                written += 1
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return written
