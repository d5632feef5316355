"""Charts of a metrics table, drawn with matplotlib (the ``chart`` extra).

One panel per metric, stacked with a shared x axis. With a time column, each group
(a combination of group-key values; "all" without keys) is a line over time;
without one, each group is a bar. Axes are named and the unit of each metric (``ms``
for durations, ``traces`` for counts) is in its label. The file's suffix chooses
the format: ``.png``, ``.svg``, or ``.html`` (a page embedding the SVG).

matplotlib is imported inside `draw_chart`, so that the command line and the
library load it only when a chart is drawn. Every series carries an SVG id
(``series-<metric>-<group>``), which is how a test counts them in the picture.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from polartrace.cli.table import UsageError

__all__ = ["CHART_SUFFIXES", "ChartColumns", "draw_chart"]

CHART_SUFFIXES = (".png", ".svg", ".html")


@attrs.frozen
class ChartColumns:
    """What the columns of a metrics table are.

    Attributes:
        time: The time-bucket column, or ``None``.
        keys: The group-key columns.
        metrics: Each metric column and its unit (``None``: no unit).
    """

    time: str | None
    keys: tuple[str, ...]
    metrics: tuple[tuple[str, str | None], ...]


def _group_name(values: Sequence[Any]) -> str:
    if not values:
        return "all"
    return ", ".join("(none)" if v is None else str(v) for v in values)


def _series(
    rows: list[dict[str, Any]], columns: ChartColumns
) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        name = _group_name([row[k] for k in columns.keys])
        groups.setdefault(name, []).append(row)
    return groups


def _axis_label(label: str, unit: str | None) -> str:
    return f"{label} ({unit})" if unit else label


def draw_chart(
    rows: list[dict[str, Any]], columns: ChartColumns, path: Path, title: str
) -> int:
    """Draw the metrics ``rows`` into ``path`` and return how many series it has.

    Raises:
        UsageError: For a suffix other than ``.png``, ``.svg`` or ``.html``.
    """
    suffix = path.suffix.lower()
    if suffix not in CHART_SUFFIXES:
        msg = f"--chart {path}: the name must end in {', '.join(CHART_SUFFIXES)}"
        raise UsageError(msg)
    from matplotlib.figure import Figure

    groups = _series(rows, columns)
    panels = max(1, len(columns.metrics))
    figure = Figure(figsize=(9, 2.6 * panels + 0.8), layout="constrained")
    axes = figure.subplots(panels, 1, sharex=True, squeeze=False)[:, 0]
    drawn = 0
    for m, ((label, unit), ax) in enumerate(zip(columns.metrics, axes, strict=False)):
        for g, (name, members) in enumerate(groups.items()):
            gid = f"series-{m}-{g}"
            values = [row[label] for row in members]
            if columns.time is not None:
                times = [row[columns.time] for row in members]
                (line,) = ax.plot(times, values, marker="o", markersize=3, label=name)
                line.set_gid(gid)
            else:
                value = values[0] if values[0] is not None else 0
                for bar in ax.bar([name], [value], label=name):
                    bar.set_gid(gid)
            drawn += 1
        ax.set_ylabel(_axis_label(label, unit))
        ax.grid(visible=True, alpha=0.3)
    last = axes[-1]
    if columns.time is not None:
        last.set_xlabel("time (UTC)")
        figure.autofmt_xdate()
    else:
        last.set_xlabel(", ".join(columns.keys) or "all rows")
    if columns.keys and columns.time is not None and len(groups) > 1:
        axes[0].legend(title=", ".join(columns.keys), fontsize="small")
    figure.suptitle(title)
    _save(figure, path, suffix, title)
    return drawn


def _save(figure: Any, path: Path, suffix: str, title: str) -> None:
    try:
        if suffix == ".html":
            buffer = io.StringIO()
            figure.savefig(buffer, format="svg")
            svg = buffer.getvalue()
            svg = svg[svg.index("<svg") :]  # drop the XML prolog and doctype
            page = (
                "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
                f"<title>{html.escape(title)}</title></head>\n<body>\n{svg}\n"
                "</body></html>\n"
            )
            path.write_text(page, encoding="utf-8")
        else:
            figure.savefig(path, format=suffix[1:], dpi=110)
    except OSError as exc:
        msg = f"cannot write {path}: {exc.strerror or exc}"
        raise UsageError(msg) from exc
