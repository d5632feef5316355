"""The in-memory trace store: where finished traces land, and what search reads.

`TraceStore` is a thread-safe, insertion-ordered map from trace id to `Trace`. Every
change bumps a version number; `TraceStore.to_frame` builds a `TraceFrame` once per
version, so a search right after a trace finishes sees it, and repeated searches
between changes share one frame.
"""

from __future__ import annotations

import gzip
import json
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import attrs

from polartrace.frame.trace_frame import TraceFrame
from polartrace.model.trace import Trace

__all__ = ["TraceStore", "get_store"]


class TraceStore:
    """A thread-safe, in-memory collection of finished traces.

    Traces keep the order in which they were first added; adding a trace whose id is
    already present replaces it in place. `polartrace.search_traces` searches the
    process-wide store (`get_store`) when it is given no traces.

    Example:
        >>> from polartrace.model.trace import TraceInfo
        >>> store = TraceStore()
        >>> store.add(Trace(TraceInfo(trace_id="tr-1", request_time=0, state="OK")))
        >>> len(store), store.get_trace("tr-1").info.state.value
        (1, 'OK')
        >>> from polartrace import count
        >>> count(store.to_frame(), "status = 'OK'")
        1
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._traces: dict[str, Trace] = {}
        self._version = 0
        self._frame: tuple[int, TraceFrame] | None = None

    def __len__(self) -> int:
        with self._lock:
            return len(self._traces)

    def __contains__(self, trace_id: object) -> bool:
        with self._lock:
            return trace_id in self._traces

    def __iter__(self) -> Iterator[Trace]:
        return iter(self.traces())

    def __repr__(self) -> str:
        return f"<TraceStore: {len(self)} traces>"

    def add(self, trace: Trace) -> None:
        """Add a trace, replacing any stored trace with the same id.

        Raises:
            TypeError: If ``trace`` is not a `polartrace.Trace`.
        """
        if not isinstance(trace, Trace):
            msg = f"expected a polartrace Trace, not {type(trace).__name__}"
            raise TypeError(msg)
        with self._lock:
            self._traces[trace.info.trace_id] = trace
            self._version += 1

    def get_trace(self, trace_id: str) -> Trace | None:
        """Return the trace with this id, or ``None`` if the store has none."""
        with self._lock:
            return self._traces.get(trace_id)

    def traces(self) -> list[Trace]:
        """Return every stored trace, oldest first (a new list)."""
        with self._lock:
            return list(self._traces.values())

    def clear(self) -> None:
        """Remove every trace."""
        with self._lock:
            self._traces.clear()
            self._version += 1
            self._frame = None

    def to_frame(self) -> TraceFrame:
        """Return a searchable frame of the stored traces, cached until the next change.

        Returns:
            A `TraceFrame` whose rows follow the store's order.
        """
        with self._lock:
            if self._frame is not None and self._frame[0] == self._version:
                return self._frame[1]
            version, snapshot = self._version, list(self._traces.values())
        # Build outside the lock so that tracing threads never wait for a search.
        frame = TraceFrame.from_traces(snapshot)
        with self._lock:
            if self._version == version:
                self._frame = (version, frame)
        return frame

    def save(self, path: str | os.PathLike[str]) -> int:
        """Write every trace to an MLflow JSONL file, one ``Trace.to_dict()`` a line.

        The file is written to a temporary name and renamed, so a reader never sees
        half of it. A name ending in ``.gz`` is gzip-compressed.

        Args:
            path: The file to write; `polartrace.read_traces` reads it back.

        Returns:
            The number of traces written.
        """
        target = Path(path)
        traces = self.traces()
        handle, temp = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
        os.close(handle)
        try:
            with _open_for_write(Path(temp), gz=target.suffix == ".gz") as out:
                for trace in traces:
                    out.write(json.dumps(trace.to_dict(), ensure_ascii=False))
                    out.write("\n")
            Path(temp).replace(target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return len(traces)

    def load(self, path: str | os.PathLike[str]) -> int:
        """Add every trace of an MLflow JSONL file (as `save` writes it).

        Returns:
            The number of traces read.

        Raises:
            TraceFormatError: If the file is missing or holds a bad record; nothing
                is added in that case.
        """
        from polartrace.io import iter_jsonl

        traces = list(iter_jsonl(path))
        with self._lock:
            for trace in traces:
                self._traces[trace.info.trace_id] = trace
            self._version += 1
        return len(traces)

    # --- used by polartrace.tracing.sdk -----------------------------------------------

    def _publish(self, trace: Trace) -> None:
        """Add a captured trace; a copy already stored keeps its assessments.

        Once a trace has been published, assessments are logged against the store,
        so a later republish (a span that ended after its root) must not drop them.
        """
        with self._lock:
            old = self._traces.get(trace.info.trace_id)
            if old is not None:
                info = attrs.evolve(trace.info, assessments=old.info.assessments)
                trace = Trace(info, trace.data)
            self._traces[trace.info.trace_id] = trace
            self._version += 1

    def _update(self, trace_id: str, change: Callable[[Trace], Trace]) -> Trace | None:
        """Replace a stored trace by ``change(trace)``; ``None`` for an unknown id."""
        with self._lock:
            old = self._traces.get(trace_id)
            if old is None:
                return None
            new = self._traces[trace_id] = change(old)
            self._version += 1
            return new


def _open_for_write(path: Path, *, gz: bool) -> IO[str]:
    if gz:
        return gzip.open(path, "wt", encoding="utf-8")
    return path.open("w", encoding="utf-8")


_STORE = TraceStore()


def get_store() -> TraceStore:
    """Return the process-wide store that traced code writes to.

    Example:
        >>> get_store() is get_store()
        True
    """
    return _STORE
