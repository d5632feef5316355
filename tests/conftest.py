"""Shared fixtures: the six MLflow-serialized oracle traces and the engine switch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from polartrace import Trace, TraceFrame
from polartrace.api.search import Engine

# Fixture builders (e.g. fixtures/mlflow/make_fixtures.py) need MLflow, a tool for
# regenerating data, not a test: keep --doctest-modules from importing them.
collect_ignore_glob = ["fixtures/*"]

#: The conformance data: the six oracle traces and the filter and order_by cases
#: (tests/fixtures/conformance/README.md says what each file holds).
CONFORMANCE = Path(__file__).resolve().parent / "fixtures" / "conformance"


def load_jsonl(name: str) -> list[dict[str, Any]]:
    """Read one conformance fixture file, one JSON object per line."""
    with (CONFORMANCE / name).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


ORACLE = load_jsonl("oracle-traces.jsonl")
LABELS = {row["label"]: row["trace"]["info"]["trace_id"] for row in ORACLE}


@pytest.fixture(scope="session")
def oracle_traces() -> list[Trace]:
    """The six oracle traces as ``Trace`` objects, in file order."""
    return [Trace.from_dict(row["trace"]) for row in ORACLE]


@pytest.fixture(scope="session")
def oracle_frame(oracle_traces: list[Trace]) -> TraceFrame:
    """The six oracle traces as a frame."""
    return TraceFrame.from_traces(oracle_traces)


@pytest.fixture(params=["polars", "reference"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """Run a behaviour test on the compiled engine and on the reference evaluator."""
    engine: Engine = request.param
    return engine
