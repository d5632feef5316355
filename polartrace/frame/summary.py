"""Short text and HTML summaries of frames, for terminals and notebooks.

A summary reads the columns only (counts, the request-time range, the first
few rows): it builds no ``Trace`` object, so it stays cheap at any size.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from polartrace.model.summary import HTML_ROWS, _duration, _esc, _time

if TYPE_CHECKING:
    from polartrace.frame.trace_frame import TraceFrame

__all__ = [
    "frame_html",
    "frame_repr",
]


_NAME: Final = "tag:mlflow.traceName"


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
