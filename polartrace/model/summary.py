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
    from polartrace.model.trace import Trace

__all__ = [
    "trace_html",
    "trace_repr",
]

HTML_ROWS: Final = 5


def _time(ms: int) -> str:
    stamp = dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC)
    return stamp.strftime("%Y-%m-%d %H:%M:%S")


def _duration(ms: float | None) -> str:
    if ms is None:
        return ""
    return f"{ms:,} ms" if isinstance(ms, int) else f"{ms:,.1f} ms"


def _trace_parts(trace: Trace) -> list[str]:
    info = trace.info
    parts = [f"trace_id={info.trace_id!r}", f"state={info.state.value}"]
    name = info.trace_name
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
