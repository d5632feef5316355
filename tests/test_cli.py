"""The ``polartrace`` command line, run as a subprocess (``python -m polartrace.cli``).

Output formats are also checked in-process through ``main()``, which is the same code
without the interpreter start-up, to keep the file fast.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from polartrace import Trace, count, read_traces
from polartrace.cli.main import main, render_table
from polartrace.io import write_jsonl

N = 300


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "polartrace.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated JSONL file, made by the CLI itself."""
    path = tmp_path_factory.mktemp("cli") / "traces.jsonl.gz"
    result = run("generate", str(N), str(path), "--seed", "5")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"wrote {N} traces to {path} (jsonl)\n"
    return path


@pytest.fixture(scope="module")
def dataset(data: Path) -> Path:
    out = data.parent / "ds.parquet"
    assert main(["convert", str(data), str(out), "--partition-by-day"]) == 0
    return out


def test_demo_runs_the_quick_reference_searches(tmp_path: Path) -> None:
    result = run("demo", "-n", "600", "--dir", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    assert "polartrace demo: 600 synthetic GenAI traces" in result.stdout
    assert "span.type = 'LLM' AND span.status = 'ERROR'" in result.stdout
    assert "The five slowest failed traces" in result.stdout
    assert (tmp_path / "demo" / "traces.parquet" / "manifest.json").is_file()
    assert result.stderr == ""  # no progress noise when stderr is not a terminal


def test_search_prints_a_table_with_a_total(data: Path) -> None:
    result = run("search", str(data), "status = 'ERROR'", "--max-results", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "trace_id",
        "name",
        "state",
        "request_time",
        "execution_time_ms",
        "request",
    ]
    assert len([line for line in lines if line.startswith("tr-")]) == 3
    total = count(read_traces(data), "status = 'ERROR'")
    assert lines[-1] == f"3 of {total} matching traces"


def test_count_prints_the_number(data: Path) -> None:
    result = run("count", str(data), "span.name = 'retriever'")
    expected = count(read_traces(data), "span.name = 'retriever'")
    assert (result.returncode, result.stdout) == (0, f"{expected}\n")


def test_count_on_parquet_uses_the_lazy_scan_and_agrees(
    capsys: pytest.CaptureFixture[str], data: Path, dataset: Path
) -> None:
    assert main(["count", str(dataset), "feedback.relevance > 0.5"]) == 0
    expected = count(read_traces(data), "feedback.relevance > 0.5")
    assert capsys.readouterr().out == f"{expected}\n"


def test_bad_filter_exits_2_with_a_caret(data: Path) -> None:
    result = run("count", str(data), "status = 'EROR'")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "polartrace: error: unknown status value 'EROR'; it is one of "
        "STATE_UNSPECIFIED, OK, ERROR, IN_PROGRESS (at position 9)",
        "  status = 'EROR'",
        "           ^^^^^^",
        "Hint: did you mean 'ERROR'? (values are case-sensitive)",
    ]


def test_bad_order_by_exits_2(capsys: pytest.CaptureFixture[str], data: Path) -> None:
    assert main(["search", str(data), "--order-by", "colour DESC"]) == 2
    assert capsys.readouterr().err == (
        "polartrace: error: cannot order by 'colour' (at position 0 of the order_by "
        "entry)\n"
        "  colour DESC\n"
        "  ^^^^^^\n"
    )


def test_unreadable_data_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n", encoding="utf-8")
    result = run("search", str(bad))
    assert result.returncode == 1
    assert result.stderr == (
        f"polartrace: error: {bad}, line 1: invalid JSON at column 2: "
        "Expecting property name enclosed in double quotes\n"
    )


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search"]) == 2
    assert "usage: polartrace search" in capsys.readouterr().err


def test_explain_shows_tree_fields_and_plan() -> None:
    result = run("explain", "tags.env = 'prod' OR (span.name = 'llm' AND latency > 5)")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "tags.env = 'prod' OR (span.name = 'llm' AND latency > 5)" in out
    assert "execution_time_ms > 5   [info]" in out
    assert "ONE SPAN satisfies all of:" in out
    assert "FILTER" in out


def test_fields_prints_the_catalogue() -> None:
    result = run("fields")
    assert result.returncode == 0
    assert "execution_time_ms" in result.stdout
    assert "span.attributes." in result.stdout


def test_convert_round_trips_to_jsonl(
    tmp_path: Path, dataset: Path, data: Path
) -> None:
    result = run("convert", str(dataset), str(tmp_path / "back.jsonl"))
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout == f"converted {N} traces to {tmp_path / 'back.jsonl'} (jsonl)\n"
    )
    original = read_traces(data)
    back = read_traces(tmp_path / "back.jsonl")
    assert back.traces_at(range(N)) == original.traces_at(range(N))


def test_generate_parquet_dataset(tmp_path: Path) -> None:
    assert main(["generate", "25", str(tmp_path / "g.parquet"), "--seed", "2"]) == 0
    assert len(read_traces(tmp_path / "g.parquet")) == 25


# --- output formats (in-process) ------------------------------------------------------


def _search(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["search", *args]) == 0
    return capsys.readouterr().out


def test_search_jsonl_is_mlflow_jsonl(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    out = _search(
        capsys, str(data), "status = 'OK'", "--max-results", "4", "--format", "jsonl"
    )
    traces = [Trace.from_json(line) for line in out.splitlines()]
    assert len(traces) == 4
    assert {t.info.state.value for t in traces} == {"OK"}


def test_search_json_with_columns(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    out = _search(
        capsys,
        str(data),
        "--max-results",
        "2",
        "--format",
        "json",
        "--columns",
        "trace_id,tags.environment,spans",
    )
    rows = json.loads(out)
    assert [sorted(r) for r in rows] == [["spans", "tags.environment", "trace_id"]] * 2


def test_search_csv_to_a_file(tmp_path: Path, data: Path) -> None:
    out = tmp_path / "hits.csv"
    args = [
        "search",
        str(data),
        "status = 'ERROR'",
        "--format",
        "csv",
        "--output",
        str(out),
        "--order-by",
        "execution_time_ms DESC",
        "--columns",
        "trace_id,execution_time_ms",
    ]
    assert main(args) == 0
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    durations = [int(r[1]) for r in rows[1:]]
    assert rows[0] == ["trace_id", "execution_time_ms"]
    assert durations == sorted(durations, reverse=True)


def test_search_parquet_output_is_a_dataset(tmp_path: Path, data: Path) -> None:
    out = tmp_path / "hits"
    assert (
        main(
            [
                "search",
                str(data),
                "span.name = 'retriever'",
                "--format",
                "parquet",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    assert len(read_traces(out)) == count(read_traces(data), "span.name = 'retriever'")


def test_search_reference_engine_agrees(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    args = [str(data), "text LIKE '%refund%'", "--format", "jsonl"]
    assert _search(capsys, *args, "--engine", "reference") == _search(capsys, *args)


def test_unknown_column_is_an_error(
    capsys: pytest.CaptureFixture[str], data: Path
) -> None:
    assert main(["search", str(data), "--columns", "colour"]) == 2
    assert "unknown column 'colour'" in capsys.readouterr().err


def test_render_table_aligns_numbers_right() -> None:
    text = render_table([["a", 1.5], ["bbb", None]], ["k", "value"])
    assert text.splitlines() == ["k    value", "---  -----", "a     1.50", "bbb"]


def test_progress_is_silent_without_a_terminal() -> None:
    from polartrace.cli.main import progress

    stream = io.StringIO()
    with progress("loading", stream):
        pass
    assert stream.getvalue() == ""


def test_progress_shows_a_timer_on_a_terminal() -> None:
    from polartrace.cli.main import progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    with progress("loading big.jsonl", stream):
        time.sleep(0.75)
    text = stream.getvalue()
    assert "loading big.jsonl" in text
    assert text.endswith("\r\033[K")  # the line is cleared afterwards


# --- show, explain --data, paging and exit codes (in-process, oracle traces) ----------

T1 = "tr-48a3400cfc68eb1f6eef00340787b3ee"


@pytest.fixture
def oracle_file(tmp_path: Path, oracle_traces: list[Trace]) -> Path:
    path = tmp_path / "oracle.jsonl"
    write_jsonl(oracle_traces, path)
    return path


def test_show_prints_the_trace_and_its_span_tree(
    capsys: pytest.CaptureFixture[str], oracle_file: Path
) -> None:
    assert main(["show", str(oracle_file), T1]) == 0
    assert capsys.readouterr().out == (
        "trace_id  tr-48a3400cfc68eb1f6eef00340787b3ee\n"
        "name      chat_pipeline\n"
        "state     OK\n"
        "time      2023-11-14 22:13:20.000Z\n"
        "duration  150 ms\n"
        "tags      environment = production\n"
        "          team = ml-Platform\n"
        "          (4 mlflow.* tags not shown)\n"
        "\n"
        "span           type       status  duration\n"
        "chat_pipeline  CHAIN      OK        150 ms\n"
        "  retriever    RETRIEVER  OK          1 ms\n"
        "  llm_call     LLM        OK          1 ms\n"
        "\n"
        "3 spans\n"
    )


def test_show_a_trace_without_spans(
    capsys: pytest.CaptureFixture[str], oracle_file: Path
) -> None:
    assert main(["show", str(oracle_file), "tr-00000000000000000000000000000004"]) == 0
    out = capsys.readouterr().out
    assert "duration  in progress\n" in out
    assert out.endswith("\nno spans\n")


def test_show_an_unknown_trace_exits_2(
    capsys: pytest.CaptureFixture[str], oracle_file: Path
) -> None:
    assert main(["show", str(oracle_file), "tr-nope"]) == 2
    assert capsys.readouterr().err == (
        f"polartrace: error: no trace 'tr-nope' in {oracle_file}\n"
    )


def test_show_finds_a_trace_in_a_parquet_dataset(
    capsys: pytest.CaptureFixture[str], oracle_file: Path, tmp_path: Path
) -> None:
    dataset = tmp_path / "oracle.parquet"
    assert main(["convert", str(oracle_file), str(dataset)]) == 0
    capsys.readouterr()
    assert main(["show", str(dataset), T1]) == 0
    assert capsys.readouterr().out.startswith(f"trace_id  {T1}\n")


def test_explain_with_data_counts_each_clause(
    capsys: pytest.CaptureFixture[str], oracle_file: Path
) -> None:
    text = (
        "tags.environment = 'production' OR (span.type = 'LLM' AND "
        "span.status = 'ERROR') OR NOT feedback.relevance >= 0.5"
    )
    assert main(["explain", text, "--data", str(oracle_file)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[3:] == [
        f"Matches in {oracle_file} (6 traces), each clause on its own:",
        "  clause                             reads        traces",
        "  ANY of:                                              5",
        '    tags.environment = "production"  trace tags        1',
        "    ONE SPAN satisfies all of:       spans             1",
        '      span.type = "LLM"              spans             2',
        '      span.status = "ERROR"          spans             1',
        "    NOT:                                               3",
        "      feedback.relevance >= 0.5      assessments       3",
        "",
        "5 of 6 traces match the filter.",
    ]


def test_search_prints_the_next_page_token_on_stderr(
    capsys: pytest.CaptureFixture[str], oracle_file: Path
) -> None:
    args = ["search", str(oracle_file), "--max-results", "2", "--columns", "trace_id"]
    assert main([*args, "--format", "csv"]) == 0
    first = capsys.readouterr()
    assert first.out.splitlines() == [
        "trace_id",
        "tr-0a6b362239fde391d3101ee1287124b5",
        "tr-e559488f8d1bc9c759e1a7968eb3dcd8",
    ]
    prefix = "polartrace: next page: --page-token "
    assert first.err.startswith(prefix)
    token = first.err.removeprefix(prefix).strip()
    assert main([*args, "--format", "csv", "--page-token", token]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "trace_id",
        "tr-7e2ff8e30e3b463a1d82b69bab55f58d",
        "tr-00000000000000000000000000000004",
    ]


def test_last_page_prints_no_token(
    capsys: pytest.CaptureFixture[str], oracle_file: Path
) -> None:
    assert main(["search", str(oracle_file), "--max-results", "6"]) == 0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--page-token", "abc"],
            "invalid page token 'abc': not a polartrace token",
            id="page-token",
        ),
        pytest.param(
            ["--max-results", "-1"],
            "max_results must be a non-negative int or None, not -1",
            id="max-results",
        ),
    ],
)
def test_bad_search_argument_exits_2(
    capsys: pytest.CaptureFixture[str],
    oracle_file: Path,
    args: list[str],
    message: str,
) -> None:
    assert main(["search", str(oracle_file), *args]) == 2
    assert capsys.readouterr().err == f"polartrace: error: {message}\n"


def test_convert_onto_a_dataset_names_the_overwrite_flag(
    capsys: pytest.CaptureFixture[str], oracle_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "ds.parquet"
    assert main(["convert", str(oracle_file), str(out)]) == 0
    capsys.readouterr()
    assert main(["convert", str(oracle_file), str(out)]) == 2
    assert capsys.readouterr().err == (
        f"polartrace: error: {out} is a polartrace dataset already; pass "
        "--overwrite to replace it\n"
    )
    assert main(["convert", str(oracle_file), str(out), "--overwrite"]) == 0
