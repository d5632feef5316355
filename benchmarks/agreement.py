"""Differential check: polartrace and MLflow's own store give the same trace ids.

``python -m benchmarks.agreement --traces 10k`` loads the generated traces into a
polartrace frame and into MLflow's SQLite store (``mlflow_store``), derives a few
hundred filters from the values that actually occur in the data (every field family
MLflow supports: status, times, ids, trace name, tags, metadata, run id, prompts,
span name/type/status, feedback and expectations, and AND combinations), runs each
through both, and compares the id sets and the default order.

Only filters whose meaning polartrace keeps from MLflow are generated: not
``span.attributes.*`` or full text, where MLflow matches substrings of the span's
JSON and polartrace deliberately compares values (docs/compatibility.md), and no
value with a backslash or a quote (MLflow has no escapes, polartrace has). MLflow is
called with ``include_spans=False``, because with spans it silently drops traces
that have none, which polartrace deliberately keeps.

A filter MLflow rejects is reported with polartrace's verdict on it. Exit status 1
when any answer differs, so the script can gate a release.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl

from benchmarks import data, mlflow_store
from benchmarks.data import log
from polartrace import search_traces
from polartrace.frame.schema import META_PREFIX, TAG_PREFIX
from polartrace.frame.trace_frame import TraceFrame
from polartrace.values.errors import FilterError

os.environ.setdefault("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")


def _q(value: str) -> str:
    """A single-quoted filter literal (MLflow's escape for a quote is \\')."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _key(name: str) -> str:
    return name if name.replace("_", "").isalnum() else f"`{name}`"


def _common(column: pl.Series, k: int) -> list[str]:
    counts = column.drop_nulls().cast(pl.String).value_counts(sort=True)
    return [str(v) for v in counts[column.name].head(k).to_list()]


def _string_clauses(field: str, values: list[str], rng: random.Random) -> Iterator[str]:
    for v in values:
        if "\\" in v or "'" in v:
            continue  # MLflow keeps \\ and \' literally; polartrace reads escapes
        yield f"{field} = {_q(v)}"
        yield f"{field} != {_q(v)}"
        if len(v) > 2:
            yield f"{field} LIKE {_q(v[:2] + '%')}"
            yield f"{field} LIKE {_q('%' + v[-2:])}"
            yield f"{field} ILIKE {_q(v.upper()[:3] + '%')}"
            yield f"{field} RLIKE {_q('^' + v[:2])}"
            cut = rng.randrange(1, len(v))
            yield f"{field} LIKE {_q('%' + v[cut - 1 : cut + 1] + '%')}"


def filters(frame: TraceFrame, seed: int = 0) -> list[str]:
    """Filters over the values of ``frame``, one per supported field and operator."""
    rng = random.Random(seed)
    t = frame.traces
    out: list[str] = []
    for state in ("OK", "ERROR", "IN_PROGRESS"):
        out += [f"attributes.status = '{state}'", f"status != '{state}'"]
    out += [
        "status IN ('OK', 'ERROR')",
        "status NOT IN ('OK')",
        "status LIKE 'O%'",
        "status ILIKE 'error'",
        "status RLIKE 'R$'",
    ]
    times = t["request_time"].sort()
    for q in (0.1, 0.5, 0.9):
        v = int(times[int(q * (len(times) - 1))])
        out += [
            f"timestamp_ms > {v}",
            f"timestamp >= {v}",
            f"timestamp_ms < {v}",
            f"end_time_ms <= {v}",
        ]
    lo, hi = int(times[len(times) // 4]), int(times[3 * len(times) // 4])
    out.append(f"timestamp_ms >= {lo} AND timestamp_ms < {hi}")
    durations = t["execution_duration"].drop_nulls().sort()
    for q in (0.25, 0.5, 0.95):
        v = int(durations[int(q * (len(durations) - 1))])
        out += [
            f"execution_time_ms > {v}",
            f"execution_time <= {v}",
            f"execution_time_ms = {v}",
            f"execution_time_ms != {v}",
        ]
    ids = t["trace_id"].to_list()
    a, b = rng.sample(ids, 2)
    out += [
        f"request_id = '{a}'",
        f"request_id IN ('{a}', '{b}')",
        f"request_id NOT IN ('{a}')",
        "request_id LIKE 'tr-a%'",
    ]
    client = t["client_request_id"].drop_nulls().to_list()
    if client:
        c = rng.choice(client)
        out += [
            f"client_request_id = '{c}'",
            f"client_request_id != '{c}'",
            "client_request_id LIKE 'req-1%'",
        ]
    name_col = TAG_PREFIX + "mlflow.traceName"
    if name_col in t.columns:
        for field in ("name", "trace.name"):
            out += list(_string_clauses(field, _common(t[name_col], 2), rng))
        out += ["name IS NULL", "name IS NOT NULL"]
    for column in t.columns:
        for prefix, field in ((TAG_PREFIX, "tags"), (META_PREFIX, "metadata")):
            if not column.startswith(prefix):
                continue
            key = column[len(prefix) :]
            if key in ("mlflow.traceName", "mlflow.linkedPrompts"):
                continue
            if key in ("mlflow.trace.tokenUsage", "mlflow.trace.cost"):
                common = _common(t[column], 1)
                out += [f"{field}.`{key}` IS NULL", f"{field}.`{key}` IS NOT NULL"]
                out += [f"{field}.`{key}` = {_q(x)}" for x in common]
                continue
            target = f"{field}.{_key(key)}"
            out += list(_string_clauses(target, _common(t[column], 2), rng))
            out += [f"{target} IS NULL", f"{target} IS NOT NULL"]
    runs = (
        _common(t[META_PREFIX + "mlflow.sourceRun"], 2)
        if (META_PREFIX + "mlflow.sourceRun" in t.columns)
        else []
    )
    out += [f"run_id = '{r}'" for r in runs] + [f"run_id != '{r}'" for r in runs[:1]]
    prompts = _common(frame.prompts["prompt"], 3)
    out += [f"prompt = '{p}'" for p in prompts]
    s = frame.spans
    for field, column in (("span.name", "name"), ("span.type", "type")):
        values = _common(s[column], 3)
        out += list(_string_clauses(field, values[:2], rng))
        out += [f"{field} IN ({', '.join(map(_q, values))})"]
        out += [f"{field} NOT IN ({_q(values[0])})"]
    out += ["span.status = 'ERROR'", "span.status != 'OK'", "span.status = 'UNSET'"]
    out += [
        "span.type = 'LLM' AND span.status = 'ERROR'",
        "span.name = 'retriever' AND span.type = 'LLM'",
    ]
    out += list(_assessment_clauses(frame, rng))
    singles = list(out)
    for _ in range(60):
        x, y = rng.sample(singles, 2)
        out.append(f"{x} AND {y}")
    return list(dict.fromkeys(out))


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _assessment_clauses(frame: TraceFrame, rng: random.Random) -> Iterator[str]:
    a = frame.assessments
    for kind in ("feedback", "expectation"):
        rows = a.filter(pl.col("kind").cast(pl.String) == kind)
        for name in _common(rows["name"], 6):
            field = f"{kind}.{_key(name)}"
            these = rows.filter(pl.col("name").cast(pl.String) == name)
            yield f"{field} IS NULL"
            yield f"{field} IS NOT NULL"
            numbers = these["number"].drop_nulls()
            if len(numbers):
                for q in (0.25, 0.75):
                    v = round(float(numbers.quantile(q) or 0), 2)
                    yield f"{field} > {v}"
                    yield f"{field} <= {v}"
            for text in _common(these["text"], 2):
                if _numeric(text) or "'" in text or "\\" in text:
                    # polartrace compares a numeric value as a number (MLflow's
                    # 5.0 is text "5.0", which '5' does not equal) and reads escapes.
                    continue
                yield f"{field} = {_q(text)}"
                yield f"{field} != {_q(text)}"
            quoted = _common(these["quoted"], 1)
            for text in quoted:
                yield f"{field} LIKE {_q('%' + text[1:3] + '%')}"


ORDERS: list[list[str]] = [
    ["timestamp_ms ASC"],
    ["timestamp"],
    ["execution_time_ms DESC"],
    ["execution_time"],
    ["status"],
    ["status DESC", "execution_time_ms"],
    ["name"],
    ["name DESC"],
    ["request_id DESC"],
    ["tags.environment"],
    ["tags.environment DESC", "execution_time_ms ASC"],
    ["metadata.`mlflow.trace.user` DESC"],
    ["run_id"],
    ["experiment_id", "name"],
]
#: Filters the orders run under: small result sets keep MLflow's runs short.
ORDER_FILTERS = ("", "span.type = 'LLM' AND span.status = 'ERROR'", "status = 'ERROR'")


def _mlflow_ids(
    search: Any, filter_string: str, order_by: list[str] | None = None
) -> list[str] | str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            df = search.mlflow.search_traces(
                locations=[search.experiment_id],
                filter_string=filter_string or None,
                order_by=order_by,
                include_spans=False,
                max_results=None,
            )
        except Exception as exc:
            return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return [str(x) for x in df["trace_id"]]


def main(argv: list[str] | None = None) -> int:
    """Run the check and print a summary; exit 1 on any disagreement."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.agreement")
    parser.add_argument("--traces", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--limit", type=int, default=None, help="first N filters")
    parser.add_argument("--json", type=Path, default=None, help="write every verdict")
    parser.add_argument(
        "--orders", action="store_true", help="compare order_by lists instead"
    )
    args = parser.parse_args(argv)
    frame = data.load_frame(args.traces, args.seed)
    path, exp = mlflow_store.build_store(
        data.jsonl_path(args.traces, args.seed), args.traces
    )
    search = mlflow_store.MlflowSearch(path, exp)
    if args.orders:
        return _compare_orders(frame, search)
    cases = filters(frame, args.seed)[: args.limit]
    log(f"{len(cases)} filters on {len(frame):,} traces")
    verdicts: list[dict[str, Any]] = []
    agree = differ = rejected = 0
    start = time.perf_counter()
    for i, f in enumerate(cases, 1):
        theirs = _mlflow_ids(search, f)
        try:
            ours = search_traces(frame, f, return_type="polars")["trace_id"].to_list()
        except FilterError as exc:
            ours = f"{type(exc).__name__}: {exc.message}"
        verdict: dict[str, Any] = {"filter": f}
        if isinstance(theirs, str):
            rejected += 1
            verdict |= {
                "mlflow_error": theirs,
                "polartrace": ours if isinstance(ours, str) else len(ours),
            }
        elif isinstance(ours, str):
            differ += 1
            verdict |= {
                "status": "polartrace rejects",
                "error": ours,
                "mlflow": len(theirs),
            }
        elif set(ours) != set(theirs):
            differ += 1
            only_ours = sorted(set(ours) - set(theirs))
            only_theirs = sorted(set(theirs) - set(ours))
            verdict |= {
                "status": "differ",
                "polartrace": len(ours),
                "mlflow": len(theirs),
                "only_polartrace": only_ours[:5],
                "only_mlflow": only_theirs[:5],
            }
        elif ours != theirs:
            differ += 1
            verdict |= {"status": "order differs", "n": len(ours)}
        else:
            agree += 1
            verdict |= {"status": "agree", "n": len(ours)}
        verdicts.append(verdict)
        if verdict.get("status") not in (None, "agree"):
            print(json.dumps(verdict), flush=True)
        if i % 50 == 0:
            log(f"  {i}/{len(cases)}: {agree} agree, {differ} differ, {rejected} rej.")
    log(f"done in {time.perf_counter() - start:.0f} s")
    summary = f"{agree} agree, {differ} differ, {rejected} rejected by MLflow"
    print(f"{summary} (of {len(cases)})")
    for v in verdicts:
        if "mlflow_error" in v:
            ours = v["polartrace"]
            print(
                f"  MLflow rejects {v['filter']!r}: {v['mlflow_error']} | ours: {ours}"
            )
    if args.json:
        args.json.write_text(json.dumps(verdicts, indent=1))
    return 1 if differ else 0


def _compare_orders(frame: TraceFrame, search: Any) -> int:
    """Every ORDERS list under every ORDER_FILTERS filter: the same ids, same order."""
    differ = 0
    for f in ORDER_FILTERS:
        for order in ORDERS:
            theirs = _mlflow_ids(search, f, order)
            try:
                ours: list[str] | str = search_traces(
                    frame, f or None, order_by=order, return_type="polars"
                )["trace_id"].to_list()
            except Exception as exc:
                ours = f"{type(exc).__name__}: {exc}"
            same = ours == theirs
            differ += not same
            if isinstance(theirs, str) or isinstance(ours, str):
                detail = f"mlflow: {theirs if isinstance(theirs, str) else len(theirs)}"
                detail += (
                    f" | polartrace: {ours if isinstance(ours, str) else len(ours)}"
                )
            elif same:
                detail = f"{len(ours)} ids in the same order"
            else:
                at = next(
                    (
                        i
                        for i, (a, b) in enumerate(zip(ours, theirs, strict=False))
                        if a != b
                    ),
                    min(len(ours), len(theirs)),
                )
                detail = f"first difference at row {at} of {len(ours)}/{len(theirs)}"
            print(f"{'same' if same else 'DIFF'}  {f!r} {order}: {detail}", flush=True)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
