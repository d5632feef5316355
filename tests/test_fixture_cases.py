"""Every conformance fixture case, on every engine: exact trace ids in exact order."""

from __future__ import annotations

from typing import Any

import pytest

from polartrace import FilterError, PolartraceError, TraceFrame, search_traces
from polartrace.api.lazy import LazyTraceFrame
from polartrace.api.search import Engine
from polartrace.io import write_parquet
from tests.conftest import load_jsonl

FILTER_CASES = load_jsonl("filter-cases.jsonl")
ORDER_CASES = load_jsonl("orderby-cases.jsonl")
VALID_FILTERS = [c for c in FILTER_CASES if c["valid"]]
INVALID_FILTERS = [c for c in FILTER_CASES if not c["valid"]]


def _ids(rows: list[Any]) -> list[str]:
    return [t.info.trace_id for t in rows]


def test_fixture_files_are_not_empty() -> None:
    assert len(VALID_FILTERS) > 200
    assert len(INVALID_FILTERS) > 70
    assert len(ORDER_CASES) > 40


@pytest.mark.parametrize("case", VALID_FILTERS, ids=[c["id"] for c in VALID_FILTERS])
def test_valid_filter_returns_expected_ids(
    case: dict[str, Any], oracle_frame: TraceFrame, engine: Engine
) -> None:
    got = search_traces(
        oracle_frame, filter_string=case["filter"], return_type="list", engine=engine
    )
    assert _ids(got) == case["matches"], case["note"]


@pytest.mark.parametrize(
    "case", INVALID_FILTERS, ids=[c["id"] for c in INVALID_FILTERS]
)
def test_invalid_filter_raises_filter_error(
    case: dict[str, Any], oracle_frame: TraceFrame, engine: Engine
) -> None:
    with pytest.raises(FilterError):
        search_traces(
            oracle_frame,
            filter_string=case["filter"],
            return_type="list",
            engine=engine,
        )


VALID_ORDERS = [c for c in ORDER_CASES if c["valid"]]
INVALID_ORDERS = [c for c in ORDER_CASES if not c["valid"]]


@pytest.mark.parametrize("case", VALID_ORDERS, ids=[c["id"] for c in VALID_ORDERS])
def test_order_by_gives_expected_order(
    case: dict[str, Any], oracle_frame: TraceFrame, engine: Engine
) -> None:
    got = search_traces(
        oracle_frame, order_by=case["order_by"], return_type="list", engine=engine
    )
    assert _ids(got) == case["order"], case["note"]


@pytest.mark.parametrize("case", INVALID_ORDERS, ids=[c["id"] for c in INVALID_ORDERS])
def test_invalid_order_by_raises(
    case: dict[str, Any], oracle_frame: TraceFrame
) -> None:
    with pytest.raises(PolartraceError):
        search_traces(oracle_frame, order_by=case["order_by"], return_type="list")


@pytest.fixture(scope="module")
def oracle_dataset(
    tmp_path_factory: pytest.TempPathFactory, oracle_frame: TraceFrame
) -> LazyTraceFrame:
    """The oracle traces as a Parquet dataset, scanned in batches of two rows."""
    path = tmp_path_factory.mktemp("oracle") / "ds"
    write_parquet(oracle_frame, path)
    return LazyTraceFrame(path, batch_rows=2)


@pytest.mark.parametrize("case", VALID_FILTERS, ids=[c["id"] for c in VALID_FILTERS])
def test_valid_filter_on_a_scanned_dataset(
    case: dict[str, Any], oracle_dataset: LazyTraceFrame
) -> None:
    got = search_traces(oracle_dataset, case["filter"], return_type="list")
    assert _ids(got) == case["matches"], case["note"]


@pytest.mark.parametrize("case", VALID_ORDERS, ids=[c["id"] for c in VALID_ORDERS])
def test_order_by_on_a_scanned_dataset(
    case: dict[str, Any], oracle_dataset: LazyTraceFrame
) -> None:
    got = search_traces(oracle_dataset, order_by=case["order_by"], return_type="list")
    assert _ids(got) == case["order"], case["note"]
