"""One benchmark run: every contender on every query at every size.

All ratios are computed from numbers of the same run, on the same frame, in the same
process (builds and peak memory in fresh subprocesses).
"""

from __future__ import annotations

import os
import platform
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import polars as pl

import polartrace
from benchmarks import data, engines
from benchmarks.queries import Query
from benchmarks.timing import Contender, Timing, in_subprocess, interleaved, measure
from polartrace.frame.pages import whole_texts
from polartrace.frame.trace_frame import TraceFrame


@dataclass
class Options:
    """Command-line options (see ``__main__``)."""

    sizes: list[int]
    repeat: int = 5
    queries: tuple[Query, ...] = ()
    skip_mlflow: bool = False
    skip_duckdb: bool = False
    skip_reference: bool = False
    reference_max: int = 100_000
    mlflow_max: int = 100_000
    mlflow_repeat: int = 3
    mlflow_budget: float = 120.0
    mlflow_all_max: int = 10_000
    all_max: int = 100_000
    build_max: int = 100_000
    skip_build: bool = False
    skip_output: bool = False
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        mem = None
    versions: dict[str, str | None] = {
        "python": sys.version.split()[0],
        "polars": pl.__version__,
    }
    for name in ("pyarrow", "pandas", "duckdb", "mlflow"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_bytes": mem,
        "platform": platform.platform(),
        "polars_threads": pl.thread_pool_size(),
        "versions": versions,
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }


def _t(timing: Timing | None) -> dict[str, Any] | None:
    return None if timing is None else timing.as_dict()


def _same(name: str, expected: int, got: int, query: Query, n: int) -> None:
    if expected != got:
        msg = f"{name} counts {got} for {query.id!r} at {n:,}, polartrace {expected}"
        raise AssertionError(msg)


KINDS = ("count", "page", "all")
#: Seconds of rounds for a count or page: fast calls get more (`timing.interleaved`).
ROUND_BUDGET = 1.0


def _polartrace(frame: TraceFrame, query: Query, kind: str) -> Any:
    if kind == "count":
        return engines.polartrace_count(frame, query)
    limit = engines.PAGE if kind == "page" else None
    return engines.polartrace_search(frame, query, limit)


def _ids(result: Any) -> Any:
    return result if isinstance(result, int) else result["trace_id"].to_list()


def _query_rows(
    frame: TraceFrame, n: int, opts: Options, traces: list[Any] | None,
    duck: engines.Duck | None, mlf: Any,
) -> list[dict[str, Any]]:  # fmt: skip
    """Every contender on every query.

    For each kind (count, page, all) polartrace with a cold compile and the
    hand-written layouts are timed in alternating rounds (`interleaved`), so the
    ratios between them are measured under the same load; DuckDB, polartrace
    warm, the reference evaluator and MLflow are timed alone.
    """
    own = engines.frame_tables(frame)
    best = engines.best_tables(frame)
    texts = whole_texts(frame.pages)
    clear = engines.cold(frame)
    kinds = [k for k in KINDS if k != "all" or n <= opts.all_max]
    rows = []
    for query in opts.queries:
        data.log(f"  {query.id}: {query.filter}")
        row: dict[str, Any] = {"query": query.id, "filter": query.filter}
        r = opts.repeat
        pt: dict[str, Any] = {}
        row["polartrace"] = pt
        row["polars_frame"], row["polars_best"] = {}, {}
        if duck is not None:
            row["duckdb"] = {}
        expected: dict[str, Any] = {}
        for kind in kinds:
            contenders = {
                "polartrace": Contender(
                    partial(_polartrace, frame, query, kind), setup=clear
                ),
                "polars_frame": Contender(
                    partial(engines.hand, own, query, kind, texts)
                ),
                "polars_best": Contender(
                    partial(engines.hand, best, query, kind, texts)
                ),
            }
            if kind == "page" and texts is not None:  # MLflow's twelve columns too
                for name, tables in (("polars_frame", own), ("polars_best", best)):
                    contenders[f"{name}:page_columns"] = Contender(
                        partial(engines.hand_page_columns, tables, query, texts)
                    )
            # Counts and pages are fast: as many rounds as fit in a second (at
            # least r, at most 41), so that their medians hold still.
            timings, results = interleaved(
                contenders,
                r,
                collect=kind == "all",
                budget=0.0 if kind == "all" else ROUND_BUDGET,
            )
            expected[kind] = _ids(results.pop("polartrace"))
            for name, got in results.items():
                if _ids(got) != expected[kind]:
                    msg = f"{name} {kind} differs from polartrace for {query.id!r}"
                    raise AssertionError(msg)
            del results
            pt[f"{kind}_cold"] = _t(timings.pop("polartrace"))
            for name, timing in timings.items():
                engine, _, variant = name.partition(":")
                row[engine][variant or kind] = _t(timing)
            small = kind != "all"  # a few rows: no collection before each sample
            fn = lambda q=query, k=kind: _polartrace(frame, q, k)  # noqa: E731
            warm_t, _ = measure(fn, r, collect=not small)
            pt[f"{kind}_warm"] = _t(warm_t)
            if duck is not None:
                # Alone, after the Polars rounds: a call right after a DuckDB query
                # runs slower (presumably its worker threads still hold the cores
                # for a while), which would fall on the Polars contenders of the
                # same rounds.
                duck_t, got = measure(
                    partial(duck.run, query, kind), r, collect=not small
                )
                if _ids(got) != expected[kind]:
                    msg = f"duckdb {kind} differs from polartrace for {query.id!r}"
                    raise AssertionError(msg)
                del got
                row["duckdb"][kind] = _t(duck_t)
        matches = expected["count"]
        row["matches"] = matches
        row["selectivity"] = matches / max(n, 1)
        row["page_ratios"] = page_ratios(row)
        if traces is not None:
            ref, got = measure(
                partial(engines.reference_count, traces, query),
                min(r, 3), warmup=0, budget=60,
            )  # fmt: skip
            _same("reference", matches, got, query, n)
            row["reference"] = {"count": _t(ref)}
            if query.loop is not None:
                loop_t, got = measure(
                    partial(query.loop, traces), min(r, 3), warmup=0, budget=60
                )
                _same("python loop", matches, got, query, n)
                row["python_loop"] = {"count": _t(loop_t)}
        if mlf is not None and query.mlflow is not None:
            row["mlflow"] = {}
            ml_kinds = ["page"] + (["all"] if n <= opts.mlflow_all_max else [])
            for kind in ml_kinds:
                limit = engines.PAGE if kind == "page" else None
                t, got = measure(
                    partial(mlf.search, query.mlflow, limit),
                    opts.mlflow_repeat, warmup=0, budget=opts.mlflow_budget,
                )  # fmt: skip
                row["mlflow"][kind] = _t(t)
                row["mlflow"][f"{kind}_rows"] = got
        rows.append(row)
    return rows


def page_ratios(row: dict[str, Any]) -> dict[str, float | None]:
    """polartrace's cold page over the faster hand-written page of each kind.

    ``flat``: the hand-written page returns the five flat columns and the trace
    JSON; ``columns``: it returns MLflow's twelve columns as polartrace does.
    """

    def best(kind: str) -> float | None:
        found = [
            row[name][kind]["median"]
            for name in ("polars_frame", "polars_best")
            if kind in row.get(name, {})
        ]
        return min(found) if found else None

    cold = (row["polartrace"].get("page_cold") or {}).get("median")
    out: dict[str, float | None] = {}
    for label, kind in (("flat", "page"), ("columns", "page_columns")):
        hand = best(kind)
        out[label] = None if cold is None or not hand else cold / hand
    return out


def parse_bind(opts: Options) -> dict[str, Any]:
    """Parse+bind time per filter: uncached (parser and binder called) and cached."""
    from polartrace.bind.filter import bind, parse_filter
    from polartrace.language.parser import parse

    out = {}
    loops = 200
    for query in opts.queries:
        text = query.filter

        def uncached(text: str = text) -> None:
            for _ in range(loops):
                bind(parse(text), text)

        def cached(text: str = text) -> None:
            for _ in range(loops * 50):
                parse_filter(text)

        parse_filter(text)
        u, _ = measure(uncached, opts.repeat)
        c, _ = measure(cached, opts.repeat)
        out[query.id] = {"uncached": u.median / loops, "cached": c.median / loops / 50}
    return out


_BUILD = """
import time, polartrace, polars as pl
from pathlib import Path
path = {path!r}
kind = {kind!r}
start = time.perf_counter()
if kind == "read_traces":
    frame = polartrace.read_traces(path)
    n = len(frame)
elif kind == "read_traces_parquet":
    frame = polartrace.read_traces(path, format="parquet")
    n = len(frame)
elif kind == "read_ndjson":
    n = pl.read_ndjson(path).height
elif kind == "read_ndjson_raw":
    n = pl.read_ndjson(path, schema={{"info": pl.String, "data": pl.String}}).height
result = {{"seconds": time.perf_counter() - start, "rows": n}}
"""


def builds(n: int, opts: Options) -> dict[str, Any]:
    """Frame build time and peak memory (fresh processes), against Polars' reader."""
    out: dict[str, Any] = {}
    jsonl = str(data.jsonl_path(n, opts.seed))
    kinds = [("read_ndjson_raw", jsonl)]
    if n <= opts.build_max:  # both hold the whole file as Python / nested columns
        kinds[:0] = [("read_traces", jsonl), ("read_ndjson", jsonl)]
    kinds.append(("read_traces_parquet", str(data.dataset_path(n, opts.seed))))
    for kind, path in kinds:
        data.log(f"  build: {kind}")
        try:
            out[kind] = in_subprocess(_BUILD.format(path=path, kind=kind))
        except (RuntimeError, OSError) as exc:
            out[kind] = {"error": str(exc)[-500:]}
    return out


def memory(frame: TraceFrame) -> dict[str, Any]:
    """Frame memory (Polars' estimate) against the plain Arrow size of its columns."""
    tables = {
        "traces": frame.traces,
        "spans": frame.spans,
        "assessments": frame.assessments,
        "prompts": frame.prompts,
        "units": frame.units,
        "pages": frame.pages,
    }
    out: dict[str, Any] = {}
    total_polars = total_arrow = 0
    for name, table in tables.items():
        p = int(table.estimated_size())  # bytes: an int without a unit
        a = table.to_arrow(compat_level=pl.CompatLevel.oldest()).nbytes
        out[name] = {"polars": p, "arrow": a}
        total_polars += p
        total_arrow += a
    out["total"] = {"polars": total_polars, "arrow": total_arrow}
    return out


def output(frame: TraceFrame, opts: Options) -> dict[str, Any]:
    """Result building time for a 100-row page, 1k and 100k rows, pandas and polars.

    The previous sample's result is dropped before each sample, untimed: kept, two
    100k-row results (gigabytes of Python objects for pandas) would be alive
    during a sample, and freeing one is not part of building the next.
    """
    from polartrace.output import build as out_mod

    n = len(frame)
    res: dict[str, Any] = {}
    held: list[Any] = []

    def build(keys: list[int], kind: str) -> None:
        held.append(out_mod.build(frame, keys, kind, True, None))

    def search(rows: int) -> None:
        held.append(polartrace.search_traces(frame, max_results=rows))

    for rows in (100, 1_000, 100_000):
        if rows > n:
            continue
        keys = list(range(0, n, n // rows))[:rows]
        for kind in ("pandas", "polars"):
            reps = opts.repeat if rows <= 1_000 else min(opts.repeat, 3)
            t, _ = measure(
                partial(build, keys, kind), reps, setup=held.clear,
                warmup=0 if rows > 1_000 else 1,
            )  # fmt: skip
            held.clear()
            res[f"{kind}_{rows}"] = _t(t)
        t, _ = measure(
            partial(search, rows),
            min(opts.repeat, 3), setup=held.clear, warmup=0,
        )  # fmt: skip
        held.clear()
        res[f"search_pandas_{rows}"] = _t(t)
    return res


def run(opts: Options) -> dict[str, Any]:
    """Run everything; return the JSON-able results."""
    results: dict[str, Any] = {"machine": machine(), "sizes": {}}
    results["parse_bind"] = parse_bind(opts)
    for n in opts.sizes:
        data.log(f"size {n:,}")
        size: dict[str, Any] = {"traces": n}
        start = time.perf_counter()
        frame = data.load_frame(n, opts.seed)
        size["load_parquet_seconds"] = time.perf_counter() - start
        start = time.perf_counter()
        _ = frame.units
        size["units_build_seconds"] = time.perf_counter() - start
        size["spans"] = frame.spans.height
        traces = None
        if not opts.skip_reference and n <= opts.reference_max:
            data.log("  building Trace objects for the reference evaluator")
            traces = frame.traces_at(range(len(frame)))
        duck = None
        if not opts.skip_duckdb:
            duck = engines.Duck(frame, threads=os.cpu_count() or 1)
        mlf = None
        if not opts.skip_mlflow and n <= opts.mlflow_max:
            from benchmarks import mlflow_store

            path, exp = mlflow_store.build_store(data.jsonl_path(n, opts.seed), n)
            mlf = mlflow_store.MlflowSearch(path, exp)
        size["queries"] = _query_rows(frame, n, opts, traces, duck, mlf)
        del traces, duck
        size["memory"] = memory(frame)
        if not opts.skip_output:
            data.log("  output")
            size["output"] = output(frame, opts)
        del frame
        if not opts.skip_build:
            size["build"] = builds(n, opts)
        results["sizes"][str(n)] = size
    return results
