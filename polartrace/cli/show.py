"""``polartrace show``: one trace's info and its span tree, as text.

Spans are indented under their parent and ordered by start time (then name); a span
whose parent is not in the trace is shown at the top level, so nothing is hidden.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Final

from polartrace.cli.table import _iso as iso_time
from polartrace.model.trace import Span, Trace

__all__ = ["render_trace"]

_VALUE_WIDTH: Final = 60


def _clip(text: str, width: int = _VALUE_WIDTH) -> str:
    text = " ".join(text.split())  # one line per entry, whatever the value holds
    return text if len(text) <= width else text[: width - 1] + "…"


def _ms(value: float | None) -> str:
    """A duration in milliseconds, without a trailing ``.0``; ``-`` when unknown."""
    if value is None:
        return "-"
    text = f"{value:,.1f}".removesuffix(".0")
    return f"{text} ms"


def _info(trace: Trace) -> list[str]:
    info = trace.info
    duration = info.execution_duration
    rows = [
        ("trace_id", info.trace_id),
        ("name", info.trace_name or "-"),
        ("state", info.state.value),
        ("time", iso_time(info.request_time)),
        ("duration", "in progress" if duration is None else _ms(duration)),
    ]
    # MLflow's own tags (mlflow.traceName, mlflow.artifactLocation, ...) are shown
    # above or are bookkeeping: count them instead of listing them.
    own = sum(key.startswith("mlflow.") for key in info.tags)
    tags = [
        f"{key} = {_clip(value)}"
        for key, value in sorted(info.tags.items())
        if not key.startswith("mlflow.")
    ]
    tags += [f"({own} mlflow.* tag{'s' if own != 1 else ''} not shown)"] if own else []
    rows += [("tags" if i == 0 else "", tag) for i, tag in enumerate(tags)]
    if not tags:
        rows.append(("tags", "-"))
    return [f"{label:<10}{value}".rstrip() for label, value in rows]


def _ordered(spans: list[Span]) -> list[tuple[int, Span]]:
    """The spans depth-first, each with its depth; orphans and roots at depth 0."""
    ids = {span.span_id for span in spans}
    children: dict[str | None, list[Span]] = defaultdict(list)
    for span in spans:
        parent = span.parent_id if span.parent_id in ids else None
        children[parent].append(span)
    out: list[tuple[int, Span]] = []
    stack = [(0, span) for span in reversed(_by_start(children[None]))]
    seen: set[str] = set()
    while stack:
        depth, span = stack.pop()
        if span.span_id in seen:  # a parent cycle in corrupt data: show it once
            continue
        seen.add(span.span_id)
        out.append((depth, span))
        stack += [(depth + 1, c) for c in reversed(_by_start(children[span.span_id]))]
    # Spans on a parent cycle are nobody's descendant of a root: list them last.
    out += [(0, span) for span in _by_start(spans) if span.span_id not in seen]
    return out


def _by_start(spans: list[Span]) -> list[Span]:
    return sorted(spans, key=lambda span: (span.start_time_ns, span.name))


def render_trace(trace: Trace) -> str:
    """Return the trace's info lines and its span tree as text.

    Example:
        >>> from polartrace import TraceInfo
        >>> info = TraceInfo(
        ...     trace_id="tr-1", request_time=0, state="OK", execution_duration=5
        ... )
        >>> print(render_trace(Trace(info)), end="")
        trace_id  tr-1
        name      -
        state     OK
        time      1970-01-01 00:00:00.000Z
        duration  5 ms
        tags      -
        <BLANKLINE>
        no spans
    """
    lines = _info(trace)
    spans = list(trace.data.spans)
    if not spans:
        return "\n".join([*lines, "", "no spans", ""])
    rows = [("span", "type", "status", "duration")]
    rows += [
        (
            "  " * depth + _clip(span.name),
            _clip(span.span_type, 20),
            span.status.code.value,
            _ms(span.duration_ms),
        )
        for depth, span in _ordered(spans)
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    table = [
        f"{name.ljust(widths[0])}  {kind.ljust(widths[1])}  "
        f"{status.ljust(widths[2])}  {duration.rjust(widths[3])}"
        for name, kind, status, duration in rows
    ]
    count = f"{len(spans)} span{'s' if len(spans) != 1 else ''}"
    return "\n".join([*lines, "", *table, "", count, ""])
