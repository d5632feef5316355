"""The command line answers adversarial arguments with a message and its exit code."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from polartrace.cli.main import main

DATA = Path(__file__).parent / "fixtures" / "mlflow" / "db-expected.jsonl"


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["--format", "jsonl"], id="jsonl"),
        pytest.param(["--format", "csv"], id="csv"),
        pytest.param(["--format", "json"], id="json"),
    ],
)
def test_output_into_a_missing_directory_is_an_error_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    out = tmp_path / "missing" / "out.txt"
    assert main(["search", str(DATA), "--output", str(out), *args]) == 1
    err = capsys.readouterr().err
    assert err == f"polartrace: error: {out}: No such file or directory\n" or (
        err == f"polartrace: error: cannot write {out}: No such file or directory\n"
    )


def test_generate_into_a_missing_directory_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "missing" / "t.jsonl"
    assert main(["generate", "3", str(out)]) == 1
    assert capsys.readouterr().err.endswith(f"{out}: No such file or directory\n")


@pytest.mark.parametrize("n", [pytest.param("-5", id="negative"), "many"])
def test_generate_a_bad_count_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], n: str
) -> None:
    assert main(["generate", "--", n, str(tmp_path / "t.jsonl")]) == 2
    assert f"expected a count of 0 or more, got '{n}'" in capsys.readouterr().err


def test_negative_max_results_is_a_usage_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["search", str(DATA), "--max-results", "-1"]) == 2
    assert "max_results must be a non-negative int" in capsys.readouterr().err


def test_filter_byte_that_is_not_utf8_exits_2_with_its_position() -> None:
    # A real command line: the byte reaches Python as a lone surrogate.
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    argv = [sys.executable, "-m", "polartrace.cli", "count", str(DATA)]
    done = subprocess.run(
        [os.fsencode(a) for a in argv] + [b"name LIKE '\xff%'"],
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    err = done.stderr.decode("utf-8", "backslashreplace")
    assert done.returncode == 2, err
    assert "lone surrogate" in err
    assert "(at position 11)" in err
    assert "Traceback" not in err
