"""``polartrace stats``: the table, CSV and JSON, charts, and bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from polartrace import write_jsonl
from polartrace.cli.main import main
from tests.test_metrics import TRACES


@pytest.fixture(scope="module")
def path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("stats") / "traces.jsonl"
    write_jsonl(TRACES, out)
    return out


def test_stats_prints_a_table(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "stats", str(path), "--metric", "p95(latency)", "--metric", "error_rate",
            "--by", "tags.environment", "--every", "1h",
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0
    assert out.splitlines()[0].split() == [
        "time", "tags.environment", "p95(latency)", "error_rate",
    ]  # fmt: skip
    assert out.splitlines()[2].split() == [
        "2023-11-14", "22:00", "production", "290.00", "0.50",
    ]  # fmt: skip
    assert out.endswith("\n3 rows\n")


def test_stats_writes_csv(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", str(path), "--by", "status", "--format", "csv"]) == 0
    assert capsys.readouterr().out == ("status,count\nERROR,1\nIN_PROGRESS,1\nOK,2\n")


def test_stats_writes_json_with_iso_times(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["stats", str(path), "status = 'OK'", "--every", "1d", "--format", "json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out) == [
        {"time": "2023-11-14T00:00:00+00:00", "count": 2}
    ]


def test_stats_at_span_level(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "stats",
        str(path),
        "--level",
        "span",
        "--by",
        "span.type",
        "--format",
        "csv",
    ]
    assert main(args) == 0
    assert capsys.readouterr().out == "span.type,count\nCHAIN,2\nLLM,3\n"


def _series(svg: str) -> set[str]:
    return set(re.findall(r'id="(series-\d+-\d+)"', svg))


def test_chart_over_time_draws_a_line_per_group_and_metric(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "chart.svg"
    args = [
        "stats", str(path), "--metric", "p95(latency)", "--metric", "count",
        "--by", "tags.environment", "--every", "1h", "--chart", str(chart),
    ]  # fmt: skip
    assert main(args) == 0
    svg = chart.read_text(encoding="utf-8")
    # production, staging and the traces without the tag, in each of two panels
    assert _series(svg) == {f"series-{m}-{g}" for m in (0, 1) for g in (0, 1, 2)}
    assert "p95(latency) (ms)" in svg
    assert "count (traces)" in svg
    assert "time (UTC)" in svg


def test_chart_without_time_draws_bars(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "chart.html"
    args = ["stats", str(path), "--by", "status", "--chart", str(chart)]
    assert main(args) == 0
    page = chart.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert "<svg" in page
    assert _series(page) == {"series-0-0", "series-0-1", "series-0-2"}


def test_chart_png_is_written(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "chart.png"
    assert main(["stats", str(path), "--every", "1h", "--chart", str(chart)]) == 0
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert chart.stat().st_size > 1000


def test_chart_needs_a_known_suffix(
    path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    chart = tmp_path / "chart.jpg"
    assert main(["stats", str(path), "--chart", str(chart)]) == 2
    assert "must end in .png, .svg, .html" in capsys.readouterr().err
    assert not chart.exists()


def test_a_bad_metric_exits_2_with_its_hint(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stats", str(path), "--metric", "avgg(latency)"]) == 2
    err = capsys.readouterr().err
    assert "unknown metric 'avgg'" in err
    assert "Hint: did you mean 'avg'?" in err


def test_demo_ends_with_a_chart_in_its_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["demo", "-n", "200", "--dir", str(tmp_path)]) == 0
    chart = tmp_path / "metrics.png"
    assert f"Chart of those metrics by day: {chart}\n" in capsys.readouterr().out
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
