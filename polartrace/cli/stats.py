"""``polartrace stats``: a metrics table on the terminal, as CSV or JSON, or a chart.

Runs `polartrace.api.metrics.metrics` on the traces at a path and writes the table
(times as ISO-8601 UTC text); ``--chart`` also draws it (`polartrace.cli.chart`).
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any, TextIO

from polartrace.api.metrics import bind_query, metrics
from polartrace.bind.metrics import Level
from polartrace.cli.chart import CHART_SUFFIXES, ChartColumns, draw_chart
from polartrace.cli.table import UsageError, render_table
from polartrace.plan.metrics import TIME_COLUMN

__all__ = ["chart_columns", "run_stats", "write_chart"]


def _text(value: Any) -> Any:
    """A cell as CSV and JSON write it: times as ISO-8601 text."""
    return value.isoformat() if hasattr(value, "isoformat") else value


def chart_columns(
    metric_specs: list[str], group_by: list[str], every: str | None, level: str
) -> ChartColumns:
    """Which columns of a ``metrics`` table are time, keys and metrics (with units)."""
    bound, keys, bucket = bind_query(metric_specs, group_by, every, Level(level))
    return ChartColumns(
        TIME_COLUMN if bucket is not None else None,
        tuple(k.label for k in keys),
        tuple((m.label, m.unit) for m in bound),
    )


def write_chart(
    rows: list[dict[str, Any]], columns: ChartColumns, path: str, title: str
) -> int:
    """Draw ``rows`` into ``path``; the number of series drawn."""
    return draw_chart(rows, columns, Path(path), title)


def run_stats(data: Any, args: argparse.Namespace, out: TextIO) -> int:
    """Compute the metrics of ``args`` over ``data`` and write them to ``out``."""
    if args.chart and Path(args.chart).suffix.lower() not in CHART_SUFFIXES:
        msg = f"--chart {args.chart}: the name must end in {', '.join(CHART_SUFFIXES)}"
        raise UsageError(msg)
    specs = args.metric or ["count"]
    keys = args.by or []
    table = metrics(
        data,
        args.filter,
        metrics=specs,
        group_by=keys,
        every=args.every,
        level=args.level,
        return_type="polars",
        engine=args.engine,
    )
    columns = table.columns
    rows = table.rows()
    if args.format == "table":
        shown = [
            [v.strftime("%Y-%m-%d %H:%M") if hasattr(v, "strftime") else v for v in r]
            for r in rows
        ]
        out.write(render_table(shown, columns) + "\n")
        out.write(f"\n{len(rows)} row{'s' if len(rows) != 1 else ''}\n")
    elif args.format == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([_text(v) for v in r] for r in rows)
    else:
        records = [{c: _text(v) for c, v in zip(columns, r, strict=True)} for r in rows]
        json.dump(records, out, indent=2)
        out.write("\n")
    if args.chart:
        described = chart_columns(specs, keys, args.every, args.level)
        title = ", ".join(specs) + (f" by {', '.join(keys)}" if keys else "")
        title += f" every {args.every}" if args.every else ""
        write_chart(table.to_dicts(), described, args.chart, title)
    return 0
