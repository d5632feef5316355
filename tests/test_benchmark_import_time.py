"""``python -m benchmarks.import_time`` runs and prints every row and target.

No timing is asserted: the machine is shared, and the numbers belong to the benchmark.
"""

from __future__ import annotations

import pytest

from benchmarks import import_time


def test_one_round_prints_every_command_and_both_targets(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert import_time.main(["--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("process wall time, 1 alternating round (median, min-max)")
    for name in (
        "import polars",
        "import polartrace",
        "from polartrace import search_traces",
        "polartrace --help",
    ):
        assert f"\n  {name} " in out, name
    assert "import polartrace - import polars: " in out
    assert "from polartrace import search_traces - import polars: " in out
    assert out.count("; target <= +150 ms: ") == 2
    assert "polartrace --help: " in out
    assert "target < 500 ms: " in out


def test_rounds_below_one_are_rejected(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        import_time.main(["--rounds", "0"])
    assert info.value.code == 2
    assert "--rounds must be at least 1" in capsys.readouterr().err


def test_commands_alternate_and_rotate(monkeypatch: pytest.MonkeyPatch) -> None:
    order: list[tuple[str, ...]] = []

    def fake(args: tuple[str, ...]) -> float:
        order.append(args)
        return 0.0

    monkeypatch.setattr(import_time, "run_once", fake)
    samples = import_time.sample(rounds=2, warmup=1)
    names = list(import_time.COMMANDS)
    expected = [*names, *names[1:], names[0], *names[2:], *names[:2]]
    assert order == [import_time.COMMANDS[n] for n in expected]
    assert {name: len(v) for name, v in samples.items()} == dict.fromkeys(names, 2)
