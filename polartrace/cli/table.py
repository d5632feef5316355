"""Terminal output for the ``polartrace`` command: tables, cells and a progress timer.

Plain aligned text (no dependency): the CLI's tables are short and its output is
meant to be piped as often as read.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from polartrace.catalogue.fields import (
    CLIENT_REQUEST_ID,
    EXECUTION_TIME,
    EXPERIMENT_ID,
    NAME,
    REQUEST_ID,
    STATUS,
    TIMESTAMP,
    FieldSpec,
    ValueType,
)
from polartrace.values.errors import PolartraceError

if TYPE_CHECKING:
    from polartrace.model.trace import Trace

__all__ = ["UsageError", "progress", "render_table", "trace_column"]


class UsageError(PolartraceError):
    """A command line that cannot work as given; the command exits with code 2."""


@contextlib.contextmanager
def progress(message: str, stream: TextIO | None = None) -> Iterator[None]:
    """Show ``message`` and a timer on stderr while the block runs longer than 0.5 s.

    Nothing is written unless the stream is a terminal, so pipes and logs stay clean.
    """
    stream = stream or sys.stderr
    if not stream.isatty():
        yield
        return
    done = threading.Event()
    start = time.monotonic()

    def tick() -> None:
        frames = "|/-\\"
        index = 0
        if done.wait(0.5):
            return
        while not done.wait(0.1):
            elapsed = time.monotonic() - start
            stream.write(f"\r{frames[index % 4]} {message} {elapsed:5.1f} s")
            stream.flush()
            index += 1
        stream.write("\r\033[K")
        stream.flush()

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def _cell(value: Any, width: int) -> str:
    if isinstance(value, float):
        text = f"{value:.2f}"
    else:
        text = "" if value is None else str(value)
    text = text.replace("\n", " ").replace("\t", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def render_table(
    rows: Sequence[Sequence[Any]], header: Sequence[str], width: int = 48
) -> str:
    """Render rows as a plain aligned text table (numbers right-aligned).

    Example:
        >>> print(render_table([["a", 1], ["bb", 22]], ["name", "n"]))
        name   n
        ----  --
        a      1
        bb    22
    """
    cells = [[_cell(v, width) for v in row] for row in rows]
    numeric = [
        all(isinstance(row[i], int | float) or row[i] is None for row in rows)
        and bool(rows)
        for i in range(len(header))
    ]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(header)]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    out = [line(header), line(["-" * w for w in widths])]
    out += [line(r) for r in cells]
    return "\n".join(out)


#: Display columns that show a catalogue field, read by the field's own accessor.
_FIELD_COLUMNS: dict[str, FieldSpec] = {
    "trace_id": REQUEST_ID, "request_id": REQUEST_ID,
    "name": NAME,
    "state": STATUS, "status": STATUS,
    "request_time": TIMESTAMP, "timestamp_ms": TIMESTAMP,
    "execution_time_ms": EXECUTION_TIME, "latency": EXECUTION_TIME,
    "execution_duration": EXECUTION_TIME,
    "client_request_id": CLIENT_REQUEST_ID,
    "experiment_id": EXPERIMENT_ID,
}  # fmt: skip


def trace_column(trace: Trace, name: str) -> Any:
    """Return the value of display column ``name`` (see ``polartrace search --help``).

    Raises:
        UsageError: For a column name that does not exist.
    """
    spec = _FIELD_COLUMNS.get(name)
    if spec is not None and spec.read is not None:
        value = spec.read(trace)
        return _iso(value) if spec.value_type is ValueType.TIME else value
    info = trace.info
    match name:
        case "request" | "request_preview":
            return info.request_preview
        case "response" | "response_preview":
            return info.response_preview
        case "spans":
            return len(trace.data.spans)
        case "assessments":
            return len(info.assessments)
    prefix, _, key = name.partition(".")
    if prefix in ("tags", "tag"):
        return info.tags.get(key)
    if prefix in ("metadata", "request_metadata"):
        return info.trace_metadata.get(key)
    msg = (
        f"unknown column {name!r}; use trace_id, name, state, request_time, "
        "execution_time_ms, client_request_id, request, response, spans, assessments, "
        "experiment_id, tags.<key> or metadata.<key>"
    )
    raise UsageError(msg)


def _iso(ms: int) -> str:
    moment = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return moment.strftime("%Y-%m-%d %H:%M:%S.") + f"{ms % 1000:03d}Z"
