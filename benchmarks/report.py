"""Print the results as tables, check the targets, write the JSON file."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from benchmarks.timing import fmt_bytes, fmt_seconds

#: Targets of docs/performance.md#targets; ratios come from one run.
TARGETS = {
    "polars_ratio": 1.3,  # polartrace cold / best hand-written Polars, at 1M
    "mlflow_speedup": 10_000,  # MLflow search / polartrace search
    "duckdb_ratio": 1.0,  # polartrace cold / DuckDB
    "parse_uncached": 1e-3,
    "parse_cached": 20e-6,
    "build_ratio": 1.5,  # read_traces / pl.read_ndjson
    "memory_ratio": 1.5,  # estimated_size / Arrow size
    "pandas_100k": 2.0,
}


def _med(d: dict[str, Any] | None, *path: str) -> float | None:
    for key in path:
        if d is None:
            return None
        d = d.get(key)
    if isinstance(d, dict):
        return d.get("median")
    return d


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def _fr(r: float | None, digits: int = 2) -> str:
    if r is None:
        return "-"
    if r >= 100:
        return f"{r:,.0f}x"
    return f"{r:.{digits}f}x"


def _best_hand(row: dict[str, Any], kind: str) -> float | None:
    values = [_med(row, name, kind) for name in ("polars_frame", "polars_best")]
    present = [v for v in values if v is not None]
    return min(present) if present else None


def query_table(size: dict[str, Any], kind: str) -> str:
    """One line per query for ``count``, ``page`` or ``all``.

    A page is compared with two hand-written pages: the flat columns and the
    trace JSON (``hand``), and MLflow's twelve columns as polartrace returns
    them (``hand 12 columns``).
    """
    ml = kind != "count"
    columns = kind == "page"
    head = (
        f"| query | matched | polartrace {kind} cold | warm | hand Polars (frame / "
        "best) | cold/hand |"
    )
    if columns:
        head += " hand 12 columns (frame / best) | cold/hand 12 |"
    head += " DuckDB | cold/DuckDB |"
    head += " reference |" if kind == "count" else " MLflow | MLflow/cold |"
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for row in size["queries"]:
        pc = _med(row, "polartrace", f"{kind}_cold")
        if pc is None:
            continue
        pw = _med(row, "polartrace", f"{kind}_warm")
        hf, hb = _med(row, "polars_frame", kind), _med(row, "polars_best", kind)
        hand = _best_hand(row, kind)
        dk = _med(row, "duckdb", kind)
        line = (
            f"| {row['query']} | {row['selectivity'] * 100:.1f} % | {fmt_seconds(pc)}"
            f" | {fmt_seconds(pw)} | {fmt_seconds(hf)} / {fmt_seconds(hb)} | "
            f"{_fr(_ratio(pc, hand))} |"
        )
        if columns:
            cf = _med(row, "polars_frame", "page_columns")
            cb = _med(row, "polars_best", "page_columns")
            line += (
                f" {fmt_seconds(cf)} / {fmt_seconds(cb)} | "
                f"{_fr(_ratio(pc, _best_hand(row, 'page_columns')))} |"
            )
        line += f" {fmt_seconds(dk)} | {_fr(_ratio(pc, dk))} |"
        if ml:
            m = _med(row, "mlflow", kind)
            line += f" {fmt_seconds(m)} | {_fr(_ratio(m, pc))} |"
        else:
            line += f" {fmt_seconds(_med(row, 'reference', 'count'))} |"
        lines.append(line)
    return "\n".join(lines)


def _geomean(values: list[float]) -> float | None:
    values = [v for v in values if v and v > 0]
    if not values:
        return None
    return math.exp(sum(math.log(v) for v in values) / len(values))


def targets(results: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """Every target: (what, measured, met?) from the largest size measured."""
    out: list[tuple[str, str, bool | None]] = []
    sizes = results["sizes"]
    if not sizes:
        return out
    n = max(sizes, key=int)
    size = sizes[n]
    label = f"{int(n):,} traces"
    kinds = ("count", "page", "all")
    worst = dict.fromkeys(kinds, (0.0, ""))
    duck_worst = dict.fromkeys(kinds, (0.0, ""))
    for row in size["queries"]:
        for kind in kinds:
            pt = f"{kind}_cold"
            r = _ratio(_med(row, "polartrace", pt), _best_hand(row, kind))
            if r is not None and r > worst[kind][0]:
                worst[kind] = (r, row["query"])
            d = _ratio(_med(row, "polartrace", pt), _med(row, "duckdb", kind))
            if d is not None and d > duck_worst[kind][0]:
                duck_worst[kind] = (d, row["query"])
    for kind in kinds:
        if not worst[kind][1]:
            continue
        r, q = worst[kind]
        what = " (flat columns and trace JSON)" if kind == "page" else ""
        out.append((
            f"{label}: polartrace {kind} (cold) ≤ 1.3x hand-written Polars{what}, "
            "every query",
            f"worst {r:.2f}x ({q})", r <= TARGETS["polars_ratio"],
        ))  # fmt: skip
        if kind == "page":
            out.extend(_page_columns_target(size, label))
        r, q = duck_worst[kind]
        out.append((
            f"{label}: polartrace {kind} (cold) not slower than DuckDB, every query",
            f"worst {r:.2f}x ({q})", r <= TARGETS["duckdb_ratio"],
        ))  # fmt: skip
    ml_sizes = [k for k in sizes if any("mlflow" in q for q in sizes[k]["queries"])]
    if ml_sizes:
        k = max(ml_sizes, key=int)
        for kind in ("page", "all"):
            best: tuple[float, str] = (math.inf, "")
            for row in sizes[k]["queries"]:
                m = _ratio(
                    _med(row, "mlflow", kind), _med(row, "polartrace", f"{kind}_cold")
                )
                if m is not None and m < best[0]:
                    best = (m, row["query"])
            if best[1]:
                out.append((
                    f"{int(k):,} traces: ≥ 10,000x faster than MLflow's store "
                    f"({kind})", f"least {best[0]:,.0f}x ({best[1]})",
                    best[0] >= TARGETS["mlflow_speedup"],
                ))  # fmt: skip
    pb = results.get("parse_bind", {})
    if pb:
        u = max(v["uncached"] for v in pb.values())
        c = max(v["cached"] for v in pb.values())
        out.append(("parse+bind uncached < 1 ms", fmt_seconds(u), u < 1e-3))
        out.append(("parse+bind cached < 20 µs", fmt_seconds(c), c < 20e-6))
    build = size.get("build", {})
    built = _med(build, "read_traces", "seconds")
    for ref in ("read_ndjson", "read_ndjson_raw"):
        r = _ratio(built, _med(build, ref, "seconds"))
        out.append((
            f"{label}: read_traces(JSONL) ≤ 1.5x pl.{ref}",
            _fr(r), None if r is None else r <= TARGETS["build_ratio"],
        ))  # fmt: skip
    mem = size.get("memory", {}).get("total")
    if mem:
        r = mem["polars"] / mem["arrow"]
        out.append((
            f"{label}: frame memory ≤ 1.5x Arrow size",
            f"{fmt_bytes(mem['polars'])} / {fmt_bytes(mem['arrow'])} = {r:.2f}x",
            r <= TARGETS["memory_ratio"],
        ))  # fmt: skip
    pandas = _med(size.get("output"), "pandas_100000")
    if pandas is not None:
        out.append((
            f"{label}: pandas output of 100k rows < 2 s", fmt_seconds(pandas),
            pandas < TARGETS["pandas_100k"],
        ))  # fmt: skip
    return out


def _page_columns_target(
    size: dict[str, Any], label: str
) -> list[tuple[str, str, bool | None]]:
    """The page target against a hand-written page of the same twelve columns."""
    worst = (0.0, "")
    for row in size["queries"]:
        r = _ratio(
            _med(row, "polartrace", "page_cold"), _best_hand(row, "page_columns")
        )
        if r is not None and r > worst[0]:
            worst = (r, row["query"])
    if not worst[1]:
        return []
    r, q = worst
    return [(
        f"{label}: polartrace page (cold) ≤ 1.3x hand-written Polars (the same "
        "12 columns), every query",
        f"worst {r:.2f}x ({q})", r <= TARGETS["polars_ratio"],
    )]  # fmt: skip


def extras_table(size: dict[str, Any]) -> str:
    """Build, memory and output numbers of one size."""
    lines = ["| what | value |", "|---|---|"]
    for kind, v in size.get("build", {}).items():
        if "error" in v:
            lines.append(f"| build {kind} | failed: {v['error'][-80:]!r} |")
        else:
            lines.append(
                f"| build {kind} | {fmt_seconds(v['seconds'])}, peak "
                f"{fmt_bytes(v['peak_rss_bytes'])} |"
            )
    for name, v in size.get("memory", {}).items():
        lines.append(
            f"| memory {name} | {fmt_bytes(v['polars'])} (Arrow "
            f"{fmt_bytes(v['arrow'])}) |"
        )
    for name, v in (size.get("output") or {}).items():
        lines.append(f"| output {name} | {fmt_seconds(_med(v))} |")
    lines.append(
        f"| units table build | {fmt_seconds(size.get('units_build_seconds'))} |"
    )
    return "\n".join(lines)


_TITLES = {
    "count": "**count** (`polartrace.count`): the filter alone",
    "page": '**page**: `search_traces(..., return_type="polars", max_results=100)`'
    " (hand: the flat columns and the trace JSON; hand 12 columns: MLflow's twelve "
    "columns, nested ones as JSON text where polartrace types them, "
    "`engines.hand_page_columns`; DuckDB: the flat columns)",
    "all": '**all**: `search_traces(..., return_type="polars")`, every match',
}


def render(results: dict[str, Any]) -> str:
    """The whole report as Markdown."""
    m = results["machine"]
    parts = [
        f"Machine: {m['cpu']}, {m['cores']} cores, "
        f"{fmt_bytes(m['memory_bytes'])} RAM, {m['platform']}; "
        f"{', '.join(f'{k} {v}' for k, v in m['versions'].items() if v)}; {m['when']}",
    ]
    pb = results.get("parse_bind", {})
    if pb:
        parts.append("\nParse+bind per filter (uncached / cached):")
        parts.append(", ".join(
            f"{k} {fmt_seconds(v['uncached'])} / {fmt_seconds(v['cached'])}"
            for k, v in pb.items()
        ))  # fmt: skip
    for n, size in sorted(results["sizes"].items(), key=lambda kv: int(kv[0])):
        parts.append(f"\n### {int(n):,} traces ({size['spans']:,} spans)\n")
        for kind in ("count", "page", "all"):
            table = query_table(size, kind)
            if table.count("\n") > 1:
                parts.append(f"\n{_TITLES[kind]}\n")
                parts.append(table)
        parts.append("")
        parts.append(extras_table(size))
        geo = _geomean([
            _ratio(_med(r, "duckdb", "count"), _med(r, "polartrace", "count_cold"))
            or 0.0 for r in size["queries"]
        ])  # fmt: skip
        if geo:
            parts.append(
                f"\nDuckDB count / polartrace count (geometric mean): {geo:.2f}x"
            )
    parts.append("\n### Targets\n")
    parts.append("| target | measured | met |")
    parts.append("|---|---|---|")
    for what, value, ok in targets(results):
        mark = "-" if ok is None else ("yes" if ok else "**no**")
        parts.append(f"| {what} | {value} | {mark} |")
    return "\n".join(parts)


def write_json(results: dict[str, Any], path: Path) -> None:
    """Write the results, indented."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
