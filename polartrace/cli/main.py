"""The ``polartrace`` command line.

Commands: ``demo``, ``generate``, ``search``, ``count``, ``stats``, ``show``,
``explain``, ``fields`` and ``convert``; ``polartrace COMMAND --help`` describes each.

Exit codes: 0 on success, 2 for bad input on the command line (a rejected filter or
``--order-by`` with its caret line, a bad page token or argument, an unknown trace
id or column, an existing output without ``--overwrite``), 1 for data that cannot
be read or written and any other polartrace error. Errors go to stderr as the
library's message, never as a traceback.

Example:
    >>> main(["count", "no-such-file.jsonl", "status = 'OK'"])
    1
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import json
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Final, TextIO

from polartrace.cli.table import UsageError, progress, render_table, trace_column
from polartrace.values.errors import (
    FilterError,
    OrderByError,
    PageTokenError,
    PolartraceError,
    SearchArgumentError,
)
from polartrace.values.formats import FORMATS

# The readers, the engine and the writers are imported inside the command that runs,
# so `polartrace --help` and a rejected command line never load Polars or PyArrow.

__all__ = ["build_parser", "main", "progress", "render_table"]

_DEFAULT_COLUMNS: Final = (
    "trace_id",
    "name",
    "state",
    "request_time",
    "execution_time_ms",
    "request",
)


# --- loading --------------------------------------------------------------------------


def _load(path: str, input_format: str | None, lazy_ok: bool) -> Any:
    """A frame, or a lazy frame for Parquet datasets when the caller can use one."""
    from polartrace.api.lazy import scan_traces
    from polartrace.io import detect_format, read_traces

    kind = input_format or detect_format(path)
    if kind == "parquet" and lazy_ok:
        return scan_traces(path)
    with progress(f"loading {path}"):
        return read_traces(path, format=kind)


def _search(data: Any, args: argparse.Namespace, return_type: str, **more: Any) -> Any:
    kwargs = {
        "order_by": args.order_by,
        "max_results": args.max_results,
        "page_token": args.page_token,
        "return_type": return_type,
        **more,
    }
    scope = {"locations": args.experiment_id}
    if hasattr(data, "mask"):  # a LazyTraceFrame
        return (
            data.search(args.filter, **kwargs, **scope),
            data.count(args.filter, **scope),
        )
    from polartrace.api.search import count, search_traces

    result = search_traces(data, args.filter, engine=args.engine, **kwargs, **scope)
    return result, count(data, args.filter, engine=args.engine, **scope)


def _field_columns(
    data: Any, args: argparse.Namespace
) -> tuple[list[str], list[list[Any]]]:
    """The ``--column`` names and their values, one list per row of the page.

    The same search again, as a Polars table without spans, with ``columns=``:
    its rows are the page's traces in the page's order.
    """
    if not args.column:
        return [], []
    table, _ = _search(data, args, "polars", include_spans=False, columns=args.column)
    names = [c.strip() for c in args.column]
    rows = [[_display(v) for v in row] for row in table.select(names).rows()]
    return names, rows


def _display(value: Any) -> Any:
    """A ``--column`` value as the display columns show it (times in ISO UTC)."""
    if isinstance(value, dt.datetime):
        return (
            value.strftime("%Y-%m-%d %H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"
        )
    return value


# --- commands -------------------------------------------------------------------------


def _cmd_search(args: argparse.Namespace, out: TextIO) -> int:
    if args.column:
        from polartrace.bind.columns import bind_trace_columns

        bind_trace_columns(args.column)  # a bad name fails before any reading
        if args.format == "parquet":
            msg = "--column adds a column to table, csv, json and jsonl output"
            raise UsageError(msg)
    data = _load(args.path, args.input_format, lazy_ok=args.engine == "polars")
    traces, total = _search(data, args, "list")
    _write_search(args, out, traces, total, _field_columns(data, args))
    if traces.token is not None:  # stderr, so that stdout stays the data alone
        sys.stderr.write(f"polartrace: next page: --page-token {traces.token}\n")
    return 0


def _write_search(
    args: argparse.Namespace,
    out: TextIO,
    traces: Any,
    total: int,
    fields: tuple[list[str], list[list[Any]]],
) -> None:
    from polartrace.io import write_jsonl, write_parquet

    columns = [
        c.strip() for c in (args.columns or ",".join(_DEFAULT_COLUMNS)).split(",")
    ]
    fmt = args.format
    if fmt == "parquet":
        if not args.output:
            msg = "--format parquet needs --output DIR"
            raise PolartraceError(msg)
        write_parquet(list(traces), args.output, overwrite=True)
        return
    if fmt in ("json", "jsonl") and not args.columns and not args.column:
        # whole MLflow traces
        if fmt == "jsonl" and args.output:
            write_jsonl(list(traces), args.output)  # .gz-aware, atomic
            return
        with _sink(args.output, out) as sink:
            if fmt == "jsonl":
                sink.writelines(t.to_json() + "\n" for t in traces)
            else:
                json.dump([t.to_dict() for t in traces], sink, indent=2)
                sink.write("\n")
        return
    rows = [[trace_column(t, c) for c in columns] for t in traces]
    names, values = fields
    if names:
        columns = [*columns, *names]
        rows = [row + more for row, more in zip(rows, values, strict=True)]
    with _sink(args.output, out) as sink:
        _write_rows(sink, fmt, columns, rows)
        if fmt == "table":
            shown = f"{len(rows)} of {total}" if len(rows) < total else f"{total}"
            sink.write(f"\n{shown} matching trace{'s' if total != 1 else ''}\n")


def _write_rows(
    sink: TextIO, fmt: str, columns: list[str], rows: list[list[Any]]
) -> None:
    if fmt == "table":
        sink.write(render_table(rows, columns) + "\n")
    elif fmt == "csv":
        writer = csv.writer(sink, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(rows)
    elif fmt == "jsonl":
        sink.writelines(
            json.dumps(dict(zip(columns, r, strict=True))) + "\n" for r in rows
        )
    else:
        json.dump([dict(zip(columns, r, strict=True)) for r in rows], sink, indent=2)
        sink.write("\n")


@contextlib.contextmanager
def _sink(output: str | None, out: TextIO) -> Iterator[TextIO]:
    if output is None:
        yield out
        return
    try:
        with Path(output).open("w", encoding="utf-8", newline="") as handle:
            yield handle
    except OSError as exc:
        msg = f"cannot write {output}: {exc.strerror or exc}"
        raise PolartraceError(msg) from exc


def _cmd_count(args: argparse.Namespace, out: TextIO) -> int:
    data = _load(args.path, args.input_format, lazy_ok=args.engine == "polars")
    if hasattr(data, "mask"):
        n = data.count(args.filter, locations=args.experiment_id)
    else:
        from polartrace.api.search import count

        n = count(data, args.filter, engine=args.engine, locations=args.experiment_id)
    out.write(f"{n}\n")
    return 0


def _cmd_stats(args: argparse.Namespace, out: TextIO) -> int:
    from polartrace.cli.stats import run_stats

    # A Parquet dataset is scanned: the metrics read only the columns they need.
    data = _load(args.path, args.input_format, lazy_ok=args.engine == "polars")
    return run_stats(data, args, out)


def _cmd_show(args: argparse.Namespace, out: TextIO) -> int:
    from polartrace.cli.show import render_trace

    data = _load(args.path, args.input_format, lazy_ok=True)
    quoted = args.trace_id.replace("\\", "\\\\").replace("'", "\\'")
    query = f"trace_id = '{quoted}'"
    if hasattr(data, "mask"):  # a LazyTraceFrame
        found = data.search(query, max_results=1, return_type="list")
    else:
        from polartrace.api.search import search_traces

        found = search_traces(data, query, max_results=1, return_type="list")
    if not found:
        msg = f"no trace {args.trace_id!r} in {args.path}"
        raise UsageError(msg)
    out.write(render_trace(found[0]))
    return 0


def _cmd_explain(args: argparse.Namespace, out: TextIO) -> int:
    from polartrace.cli.explain import explain

    if not args.data:
        out.write(explain(args.filter))
        return 0
    from polartrace.io import read_traces

    with progress(f"loading {args.data}"):
        frame = read_traces(args.data)
    out.write(explain(args.filter, frame, args.data))
    return 0


def _cmd_fields(args: argparse.Namespace, out: TextIO) -> int:
    from polartrace.catalogue.fields import render_markdown

    out.write(render_markdown())
    return 0


def _cmd_generate(args: argparse.Namespace, out: TextIO) -> int:
    from polartrace.cli.demo import generate

    with progress(f"generating {args.n} traces"):
        kind = generate(args.n, args.out, seed=args.seed)
    out.write(f"wrote {args.n} traces to {args.out} ({kind})\n")
    return 0


def _cmd_convert(args: argparse.Namespace, out: TextIO) -> int:
    from polartrace.cli.demo import output_kind
    from polartrace.io import read_traces, write_jsonl, write_parquet
    from polartrace.io.parquet import is_dataset

    with progress(f"loading {args.input}"):
        frame = read_traces(args.input, format=args.input_format)
    kind = args.output_format or output_kind(args.output)
    if kind == "parquet" and not args.overwrite and is_dataset(Path(args.output)):
        # Checked here so the message names the flag, not write_parquet's keyword.
        msg = (
            f"{args.output} is a polartrace dataset already; pass --overwrite to "
            "replace it"
        )
        raise UsageError(msg)
    with progress(f"writing {args.output}"):
        if kind == "parquet":
            write_parquet(
                frame,
                args.output,
                partition_by_day=args.partition_by_day,
                overwrite=args.overwrite,
            )
        else:
            write_jsonl(frame, args.output)
    out.write(f"converted {len(frame)} traces to {args.output} ({kind})\n")
    return 0


def _cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from polartrace.cli.demo import run_demo

    if args.dir:
        return run_demo(Path(args.dir), args.n, out, kept=True)
    with tempfile.TemporaryDirectory(prefix="polartrace-demo-") as tmp:
        return run_demo(Path(tmp), args.n, out, kept=False)


# --- parser ---------------------------------------------------------------------------


def _input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", help="trace file, directory or database URL")
    parser.add_argument(
        "filter",
        nargs="?",
        default=None,
        help="filter string, e.g. \"status = 'ERROR'\" (default: all)",
    )
    parser.add_argument(
        "--input-format", choices=FORMATS, default=None, help="skip format detection"
    )
    parser.add_argument(
        "--engine",
        choices=("polars", "reference"),
        default="polars",
        help="compiled Polars engine or the plain-Python reference",
    )
    parser.add_argument(
        "--experiment-id",
        action="append",
        default=None,
        metavar="ID",
        help="only traces of this MLflow experiment; repeat for several",
    )


def _count(text: str) -> int:
    """A non-negative integer argument (argparse reports the error, exit 2)."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        msg = f"expected a count of 0 or more, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``polartrace`` command."""
    parser = argparse.ArgumentParser(
        prog="polartrace",
        description="Search MLflow-style LLM traces with MLflow filter strings.",
        epilog="Start with: polartrace demo",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    demo = commands.add_parser(
        "demo", help="generate demo traces and run example searches"
    )
    demo.add_argument(
        "--dir", help="keep the demo data here (default: a temporary dir)"
    )
    demo.add_argument(
        "-n", type=int, default=5000, help="number of traces (default 5000)"
    )
    demo.set_defaults(command=_cmd_demo)

    gen = commands.add_parser("generate", help="write N synthetic traces")
    gen.add_argument("n", type=_count, help="number of traces")
    gen.add_argument(
        "out", help=".jsonl[.gz], .json, or a directory/.parquet for Parquet"
    )
    gen.add_argument("--seed", type=int, default=0)
    gen.set_defaults(command=_cmd_generate)

    search = commands.add_parser("search", help="print the traces a filter matches")
    _input_options(search)
    search.add_argument(
        "--order-by",
        action="append",
        metavar="KEY [ASC|DESC]",
        help="sort key; repeat for ties (default: timestamp_ms DESC)",
    )
    search.add_argument("--max-results", type=int, default=None, metavar="N")
    search.add_argument(
        "--page-token",
        metavar="TOKEN",
        help="continue a search cut by --max-results (the token it printed)",
    )
    search.add_argument(
        "--columns", help=f"comma-separated (default: {','.join(_DEFAULT_COLUMNS)})"
    )
    search.add_argument(
        "--column",
        action="append",
        metavar="FIELD",
        help="add a field's value, as search_traces(columns=...) reads it: "
        "tokens.total, cost.total, user, feedback.<name>, tags.<key>, "
        "\"count(SPAN WHERE type = 'TOOL')\"; repeat for more",
    )
    search.add_argument(
        "--format",
        choices=("table", "json", "jsonl", "csv", "parquet"),
        default="table",
    )
    search.add_argument("--output", metavar="FILE", help="write here instead of stdout")
    search.set_defaults(command=_cmd_search)

    count = commands.add_parser("count", help="print how many traces a filter matches")
    _input_options(count)
    count.set_defaults(command=_cmd_count)

    stats = commands.add_parser(
        "stats", help="metrics by group and time: a table, CSV, JSON or a chart"
    )
    _input_options(stats)
    stats.add_argument(
        "--metric",
        action="append",
        metavar="METRIC",
        help="count, error_rate, error_count, p50/p90/p95/p99(field), avg/sum/min/"
        "max(field), count_distinct(field); repeat for several (default: count)",
    )
    stats.add_argument(
        "--by", action="append", metavar="FIELD", help="group by a field; repeatable"
    )
    stats.add_argument(
        "--every", metavar="INTERVAL", help="UTC time buckets: 15m, 1h, 1d, 1w, ..."
    )
    stats.add_argument("--level", choices=("trace", "span"), default="trace")
    stats.add_argument("--format", choices=("table", "csv", "json"), default="table")
    stats.add_argument(
        "--chart",
        metavar="FILE",
        help="also draw the table into FILE.png, .svg or .html (needs matplotlib)",
    )
    stats.set_defaults(command=_cmd_stats)

    show = commands.add_parser("show", help="print one trace and its span tree")
    show.add_argument("path", help="trace file, directory or database URL")
    show.add_argument("trace_id", help="the trace id, e.g. tr-...")
    show.add_argument(
        "--input-format", choices=FORMATS, default=None, help="skip format detection"
    )
    show.set_defaults(command=_cmd_show)

    explain = commands.add_parser("explain", help="show how a filter is parsed and run")
    explain.add_argument("filter")
    explain.add_argument(
        "--data", metavar="PATH", help="count what each clause matches in these traces"
    )
    explain.set_defaults(command=_cmd_explain)

    fields = commands.add_parser("fields", help="list the searchable fields")
    fields.set_defaults(command=_cmd_fields)

    convert = commands.add_parser("convert", help="convert traces between formats")
    convert.add_argument("input")
    convert.add_argument("output", help=".jsonl[.gz] or a directory/.parquet")
    convert.add_argument("--input-format", choices=FORMATS, default=None)
    convert.add_argument("--output-format", choices=("jsonl", "parquet"), default=None)
    convert.add_argument("--partition-by-day", action="store_true")
    convert.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing polartrace Parquet dataset",
    )
    convert.set_defaults(command=_cmd_convert)
    return parser


def _warning(message: Any, category: Any, *_: Any, **__: Any) -> str:
    return f"polartrace: warning: {message}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``polartrace`` command line and return its exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error (argparse exits with 2)
        return int(exc.code or 0)
    command: Callable[[argparse.Namespace, TextIO], int] = args.command
    warnings.formatwarning = _warning
    try:
        return command(args, sys.stdout)
    except (
        FilterError,
        OrderByError,
        PageTokenError,
        SearchArgumentError,
        UsageError,
    ) as exc:
        sys.stderr.write(f"polartrace: error: {exc}\n")
        return 2
    except PolartraceError as exc:
        sys.stderr.write(f"polartrace: error: {exc}\n")
        return 1
    except BrokenPipeError:  # `polartrace search ... | head`
        with contextlib.suppress(OSError):
            sys.stdout.close()
        return 0
    except OSError as exc:  # a file written outside the library's own checks
        where = f"{exc.filename}: " if exc.filename else ""
        sys.stderr.write(f"polartrace: error: {where}{exc.strerror or exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("polartrace: interrupted\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
