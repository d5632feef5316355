"""``python -m benchmarks.mutation``: how many one-line bugs the fast properties kill.

Each mutant is one realistic one-token (or one-line) mistake in the Polars engine
(``polartrace/engines/polars/*.py``) or in the paging of ``api/search.py``: a
comparison swapped (``>``/``>=``, ``<``/``<=``, ``==``/``!=``), ``&``/``|`` or
``and``/``or`` swapped, a ``~`` or ``not`` dropped, ``True``/``False`` flipped (in
``fill_null``, ``descending``, ``nulls_last``, ``maintain_order``), a
``search_sorted`` side swapped, ``max``/``min`` swapped, an integer constant
plus or minus one; and the planted bugs of issue 18 (`PLANTED`), written out by
hand. Every mutant runs in a private copy of the repository (the examples database
cleared) against ``pytest -x -q property_tests`` with the ``fast`` profile, as CI
runs it, shrinking off (a kill is what counts, not the smallest example), with a
timeout. A mutant is killed when pytest fails or times out, survives when it passes.

Examples::

    python -m benchmarks.mutation --list                 # the mutants, not run
    python -m benchmarks.mutation --sample 60 --seed 18  # a seeded random sample
    python -m benchmarks.mutation --planted              # issue 18's planted bugs
    python -m benchmarks.mutation --only 12 40 --fixtures

It is not part of CI: a survivor costs a whole run of the suite.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tokenize
from collections.abc import Iterator
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parent.parent
TARGETS = (
    "polartrace/engines/polars/compile.py",
    "polartrace/engines/polars/engine.py",
    "polartrace/engines/polars/exprs.py",
    "polartrace/engines/polars/ordering.py",
    "polartrace/api/search.py",
)
#: Lines of api/search.py that page (the rest checks arguments and builds output).
_SEARCH_PAGING = ("offset", "limit", "max_results", "keys")

_SWAPS = {
    ">": ">=", ">=": ">", "<": "<=", "<=": "<", "==": "!=", "!=": "==",
    "&": "|", "|": "&", "and": "or", "or": "and", "True": "False",
    "False": "True", "max": "min", "min": "max",
    '"left"': '"right"', '"right"': '"left"',
}  # fmt: skip


@attrs.frozen
class Mutant:
    """One change of one line: ``old`` becomes ``new`` at ``path:line``."""

    path: str
    line: int
    old: str
    new: str
    why: str

    def apply(self, text: str) -> str:
        lines = text.splitlines(keepends=True)
        source = lines[self.line - 1]
        assert self.old in source, (self, source)
        lines[self.line - 1] = source.replace(self.old, self.new, 1)
        return "".join(lines)

    def describe(self) -> str:
        return f"{self.path}:{self.line}: {self.old.strip()!r} -> {self.new.strip()!r}"


#: The planted bugs of issue 18, each a realistic one-line mistake.
PLANTED = (
    Mutant(
        "polartrace/engines/polars/ordering.py",
        0,
        '_LOWER: dict[Op, _Side] = {Op.GT: "right"',
        '_LOWER: dict[Op, _Side] = {Op.GT: "left"',
        "time window: > taken as >=",
    ),
    Mutant(
        "polartrace/engines/polars/ordering.py",
        0,
        "return lo, max(lo, hi)",
        "return lo, hi",
        "time window: an empty range counts a negative number",
    ),
    Mutant(
        "polartrace/engines/polars/engine.py",
        0,
        '            mask = pl.col("_key").is_not_null() & mask\n',
        "            pass\n",
        "count: a constant filter counted as one row",
    ),
    Mutant(
        "polartrace/engines/polars/ordering.py",
        0,
        "    if len(set(times)) == len(times):",
        "    if True:",
        "a page cut inside ties, ordered by key, not trace id",
    ),
    Mutant(
        "polartrace/engines/polars/ordering.py",
        0,
        'lo = max(lo, times.search_sorted(cutoff, side="left"))',
        'lo = max(lo, times.search_sorted(cutoff, side="right"))',
        "a time-window page drops rows tied at the cutoff",
    ),
    Mutant(
        "polartrace/engines/polars/ordering.py",
        0,
        'rows = rows.filter(pl.col("request_time") >= cutoff)\n    rows = rows.sort',
        'rows = rows.filter(pl.col("request_time") > cutoff)\n    rows = rows.sort',
        "a page of more than 10,000 rows drops rows tied at the cutoff",
    ),
    Mutant(
        "polartrace/engines/polars/ordering.py",
        0,
        '["request_time", "trace_id", "_key"]',
        '["request_time", "_key", "trace_id"]',
        "a page of more than 10,000 rows keeps ties in key order",
    ),
    Mutant(
        "polartrace/engines/polars/exprs.py",
        0,
        "        by_text = by_text | (quoted == lit.text).fill_null(_FALSE)",
        "        pass",
        "an assessment string's JSON-quoted form dropped",
    ),
    Mutant(
        "polartrace/engines/polars/exprs.py",
        0,
        "    if lit.number is None:\n        return by_text",
        "    if True:\n        return by_text",
        "a numeric span attribute compared as text ('0.70' vs 0.7)",
    ),
    Mutant(
        "polartrace/engines/polars/ordering.py",
        0,
        "        return keys[lo:hi].to_list(), times[lo:hi].to_list()",
        "        return keys[lo + 1 : hi].to_list(), times[lo + 1 : hi].to_list()",
        "a time-window page drops its oldest row",
    ),
    Mutant(
        "polartrace/engines/polars/ordering.py",
        0,
        "    tests = [where] if isinstance(where, ColumnTest) else None\n"
        "    if isinstance(where, And)",
        "    tests = [where] if isinstance(where, ColumnTest) else None\n"
        '    if hasattr(where, "items")',
        "time window: an OR of two ranges taken as an AND",
    ),
)


def _tokens(text: str) -> Iterator[tokenize.TokenInfo]:
    return tokenize.generate_tokens(io.StringIO(text).readline)


def _docstring_lines(text: str) -> set[int]:
    """Lines of string statements (docstrings), which no mutant should touch."""
    lines: set[int] = set()
    previous = tokenize.NEWLINE
    for token in _tokens(text):
        if token.type == tokenize.STRING and previous in (
            tokenize.NEWLINE,
            tokenize.INDENT,
            tokenize.DEDENT,
        ):
            lines.update(range(token.start[0], token.end[0] + 1))
        if token.type not in (tokenize.NL, tokenize.COMMENT):
            previous = token.type
    return lines


def generated(path: str) -> list[Mutant]:
    """The operator, constant and negation mutants of one file."""
    text = (ROOT / path).read_text()
    skip = _docstring_lines(text)
    lines = text.splitlines()
    mutants: list[Mutant] = []
    for token in _tokens(text):
        row, col = token.start
        if row > len(lines):
            break
        line = lines[row - 1]
        if row in skip or line.lstrip().startswith(("def ", "class ", "@", "import")):
            continue
        if "Literal[" in line:  # a type, not a value
            continue
        if path.endswith("search.py") and not any(w in line for w in _SEARCH_PAGING):
            continue
        annotated = "->" in line or (
            ": " in line.split("=")[0] and "lambda" not in line
        )
        if annotated and token.string == "|":  # `x: int | None`: a type, not a value
            continue
        old = token.string
        new: str | None = _SWAPS.get(old)
        if token.type == tokenize.NUMBER and old.replace("_", "").isdigit():
            for delta in (1, -1):
                value = int(old.replace("_", "")) + delta
                if value >= 0:
                    mutants.append(_at(path, row, line, col, old, str(value)))
            continue
        if old in ("~", "not"):
            mutants.append(_at(path, row, line, col, old + " " * (old == "not"), ""))
            continue
        if new is not None and token.type in (tokenize.OP, tokenize.NAME, 3):
            if old in ('"left"', '"right"') and "side" not in line:
                continue
            mutants.append(_at(path, row, line, col, old, new))
    return [m for m in mutants if _compiles(m)]


def _at(path: str, row: int, line: str, col: int, old: str, new: str) -> Mutant:
    # Mutants replace the first occurrence at or after the column: keep the line's
    # text up to the column as context, so the right occurrence changes.
    head = line[:col]
    return Mutant(path, row, head + old, head + new, "generated")


def _compiles(mutant: Mutant) -> bool:
    text = (ROOT / mutant.path).read_text()
    try:
        compile(mutant.apply(text), mutant.path, "exec")
    except SyntaxError:
        return False
    return True


def _planted() -> list[Mutant]:
    out = []
    for mutant in PLANTED:
        text = (ROOT / mutant.path).read_text()
        assert mutant.old in text, mutant.why
        row = text[: text.index(mutant.old)].count("\n") + 1
        out.append(attrs.evolve(mutant, line=row))
    return out


def _apply_planted(mutant: Mutant, text: str) -> str:
    return text.replace(mutant.old, mutant.new, 1)


@attrs.frozen
class Outcome:
    mutant: Mutant
    killed: bool
    seconds: float
    detail: str


def _copy() -> Path:
    work = Path(tempfile.mkdtemp(prefix="polartrace-mutants-"))
    for part in ("polartrace", "property_tests", "tests", "pyproject.toml"):
        source = ROOT / part
        if source.is_dir():
            shutil.copytree(
                source, work / part, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(source, work / part)
    return work


def run_one(
    work: Path, mutant: Mutant, timeout: float, fixtures: bool, planted: bool
) -> Outcome:
    target = work / mutant.path
    original = (ROOT / mutant.path).read_text()
    changed = _apply_planted(mutant, original) if planted else mutant.apply(original)
    shutil.rmtree(work / ".hypothesis", ignore_errors=True)
    target.write_text(changed)
    paths = ["property_tests"] + (["tests/test_fixture_cases.py"] * fixtures)
    command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
    env = os.environ | {
        "PYTHONPATH": str(work),
        "POLARTRACE_HYPOTHESIS_PROFILE": "fast",
        "POLARTRACE_HYPOTHESIS_SHRINK": "0",
    }
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [*command, *paths],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        killed, detail = done.returncode != 0, _first_failure(done.stdout)
    except subprocess.TimeoutExpired:
        killed, detail = True, f"timeout after {timeout:.0f} s"
    finally:
        target.write_text(original)
    return Outcome(mutant, killed, time.perf_counter() - start, detail)


def _first_failure(stdout: str) -> str:
    for line in stdout.splitlines():
        if line.startswith(("FAILED", "ERROR")):
            return line.split(" - ")[0]
    return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.mutation")
    parser.add_argument("--list", action="store_true", help="print the mutants only")
    parser.add_argument("--planted", action="store_true", help="issue 18's bugs")
    parser.add_argument("--sample", type=int, help="a random sample of this size")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--only", type=int, nargs="*", help="mutant numbers")
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument(
        "--fixtures", action="store_true", help="also tests/test_fixture_cases.py"
    )
    args = parser.parse_args(argv)
    mutants = _planted() if args.planted else [m for p in TARGETS for m in generated(p)]
    numbered = list(enumerate(mutants))
    if args.only:
        numbered = [numbered[i] for i in args.only]
    elif args.sample is not None and args.sample < len(numbered):
        numbered = sorted(random.Random(args.seed).sample(numbered, args.sample))
    if args.list:
        for number, mutant in numbered:
            print(f"{number:4d}  {mutant.describe()}  ({mutant.why})")
        print(f"{len(numbered)} of {len(mutants)} mutants")
        return 0
    work = _copy()
    start = time.perf_counter()
    killed = 0
    try:
        for number, mutant in numbered:
            outcome = run_one(work, mutant, args.timeout, args.fixtures, args.planted)
            killed += outcome.killed
            verdict = "killed  " if outcome.killed else "SURVIVED"
            print(
                f"{number:4d} {verdict} {outcome.seconds:6.1f} s  "
                f"{mutant.describe()}  ({mutant.why}) {outcome.detail}",
                flush=True,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    total = len(numbered)
    print(
        f"score: {killed}/{total} killed ({100 * killed / max(total, 1):.0f}%) "
        f"of {len(mutants)} mutants, in {time.perf_counter() - start:.0f} s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
