"""Frames loaded for searches given a path, kept while their files are unchanged.

``search_traces("traces.jsonl", ...)`` and ``count(path, ...)`` read through
`read_cached`: the frame of a path is kept and reused until a file it was read
from changes size or modification time, or a file is added to or removed from
the directory or glob. At most `CACHE_SIZE` frames are kept, the least recently
used dropped first; `clear_cache` drops them all. File objects, and database URLs
other than SQLite, are read every time: there is nothing to tell whether they
changed.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Final

from polartrace.frame.trace_frame import TraceFrame
from polartrace.io._sources import expand
from polartrace.io.mlflow_db import is_database_url
from polartrace.values.errors import TraceFormatError

__all__ = ["CACHE_SIZE", "clear_cache", "read_cached"]

CACHE_SIZE: Final = 4
_Stamp = tuple[tuple[str, int, int], ...]

_lock = threading.Lock()
_frames: OrderedDict[Any, tuple[_Stamp, TraceFrame]] = OrderedDict()


def clear_cache() -> None:
    """Drop every frame kept for searches given a path."""
    with _lock:
        _frames.clear()


def read_cached(source: Any) -> TraceFrame:
    """The frame ``read_traces(source)`` gives, reused while its files are unchanged.

    Raises:
        TraceFormatError: As ``read_traces``.
    """
    from polartrace.io import read_traces  # the package imports this module

    key = _key(source)
    stamp = _stamp(source) if key is not None else None
    if key is None or stamp is None:
        return read_traces(source)
    with _lock:
        kept = _frames.get(key)
        if kept is not None and kept[0] == stamp:
            _frames.move_to_end(key)
            return kept[1]
    frame = read_traces(source)
    with _lock:
        _frames[key] = (stamp, frame)
        _frames.move_to_end(key)
        while len(_frames) > CACHE_SIZE:
            _frames.popitem(last=False)
    return frame


def _key(source: Any) -> Any:
    """What names ``source`` in the cache; ``None`` when it cannot be cached."""
    if isinstance(source, list | tuple):
        keys = tuple(_key(item) for item in source)
        return None if None in keys else keys
    if not isinstance(source, str | os.PathLike):
        return None
    text = os.fspath(source)
    if isinstance(source, str) and is_database_url(text):
        return text
    return os.path.abspath(text)  # the same file named from another directory


def _stamp(source: Any) -> _Stamp | None:
    """Path, size and mtime of every file ``source`` reads; ``None``: do not cache."""
    try:
        singles = expand(source)
    except (TraceFormatError, TypeError):
        return None  # read_traces reports it, with its own message
    files: list[Path] = []
    for item in singles:
        if not isinstance(item, str):
            return None
        if is_database_url(item):
            if not item.startswith("sqlite:///"):
                return None
            item = item.removeprefix("sqlite:///")
        path = Path(item)
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file()))
        else:
            files.append(path)
            # SQLite keeps recent writes in a write-ahead log beside the database.
            files.extend(p for p in (Path(item + "-wal"),) if p.is_file())
    stamps = []
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            return None
        stamps.append((str(path.resolve()), stat.st_size, stat.st_mtime_ns))
    return tuple(stamps)
