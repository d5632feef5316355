"""Short text and HTML summaries of frames and traces, for terminals and notebooks.

A frame's summary reads its columns only (counts, the request-time range, the
first few rows): it builds no ``Trace`` object, so it stays cheap at any size.
Every text that came from trace data is HTML-escaped in the HTML forms.
"""

from __future__ import annotations

import datetime as dt
import html
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from polartrace.frame import TraceFrame
    from polartrace.model import Trace

__all__ = ["frame_html", "frame_repr", "trace_html", "trace_repr"]

HTML_ROWS: Final = 5
_NAME: Final = "tag:mlflow.traceName"


def _time(ms: int) -> str:
    stamp = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S")


def _duration(ms: float | None) -> str:
    if ms is None:
        return ""
    return f"{ms:,} ms" if isinstance(ms, int) else f"{ms:,.1f} ms"


def _summary(frame: TraceFrame) -> str:
    text = f"{len(frame):,} traces, {frame.spans.height:,} spans"
    if len(frame):
        times = frame.traces["request_time"]
        first, last = times.min(), times.max()
        text += f", {_time(int(first))} → {_time(int(last))} UTC"  # type: ignore[arg-type]
    return text


def frame_repr(frame: TraceFrame) -> str:
    """``TraceFrame(3 traces, 7 spans, <first> → <last request time> UTC)``."""
    return f"TraceFrame({_summary(frame)})"


def frame_html(frame: TraceFrame) -> str:
    """The summary and a table of the first few traces, as HTML."""
    names = [_NAME] if _NAME in frame.traces.columns else []
    head = frame.traces.head(HTML_ROWS).select(
        "trace_id", "request_time", "state", *names, "execution_duration"
    )
    rows = []
    for row in head.iter_rows(named=True):
        cells = (
            row["trace_id"],
            _time(row["request_time"]),
            row["state"],
            row.get(_NAME) or "",
            _duration(row["execution_duration"]),
        )
        rows.append("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in cells) + "</tr>")
    more = len(frame) - head.height
    footer = f"<p>… {more:,} more traces</p>" if more > 0 else ""
    header = "".join(
        f"<th>{h}</th>" for h in ("trace id", "time (UTC)", "state", "name", "duration")
    )
    return (
        f"<div><p><b>TraceFrame</b>: {_esc(_summary(frame))}</p>"
        f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody>"
        f"</table>{footer}</div>"
    )


def _trace_parts(trace: Trace) -> list[str]:
    info = trace.info
    parts = [f"trace_id={info.trace_id!r}", f"state={info.state.value}"]
    name = info.tags.get("mlflow.traceName")
    if name is not None:
        parts.append(f"name={name!r}")
    spans = len(trace.data.spans)
    parts.append(f"{spans} span" + ("" if spans == 1 else "s"))
    if info.execution_duration is not None:
        parts.append(f"{info.execution_duration:,} ms")
    return parts


def trace_repr(trace: Trace) -> str:
    """``Trace(trace_id='tr-1', state=OK, name='chat', 3 spans, 150 ms)``."""
    return f"Trace({', '.join(_trace_parts(trace))})"


def trace_html(trace: Trace) -> str:
    """The summary and a table of the trace's first spans, as HTML."""
    spans = trace.data.spans
    rows = []
    for span in spans[:HTML_ROWS]:
        cells = (
            span.name,
            span.span_type,
            span.status.code.value,
            _duration(span.duration_ms),
        )
        rows.append("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in cells) + "</tr>")
    more = len(spans) - len(rows)
    footer = f"<p>… {more:,} more spans</p>" if more > 0 else ""
    header = "".join(f"<th>{h}</th>" for h in ("span", "type", "status", "duration"))
    return (
        f"<div><p><b>Trace</b>: {_esc(', '.join(_trace_parts(trace)))}</p>"
        f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(rows)}</tbody>"
        f"</table>{footer}</div>"
    )


def _esc(value: object) -> str:
    return html.escape(str(value))
