"""The plan, and each engine running it on its own."""

from __future__ import annotations

from typing import Any

import pytest

from polartrace import TraceFrame, search_traces
from polartrace.bind.filter import bind_order_by, parse_filter
from polartrace.catalogue.fields import ISSUE_ID, REQUEST_ID, TIMESTAMP
from polartrace.engines.polars import engine as polars_engine
from polartrace.engines.polars import ordering
from polartrace.language.ast import Op
from polartrace.plan.search import (
    And,
    AssessmentMatch,
    ColumnTest,
    Not,
    SpanMatch,
    plan_search,
)

_BY_ENV_THEN_SLOWEST = ["tags.environment", "execution_time_ms DESC"]


def _ids(rows: list[Any]) -> list[str]:
    return [t.info.trace_id for t in rows]


def test_issue_id_binds_as_an_existing_issue_assessment() -> None:
    cond = parse_filter("issue.id = 'iss-1'").root
    assert (cond.field, cond.key, cond.op, cond.value) == (  # type: ignore[union-attr]
        ISSUE_ID,
        "iss-1",
        Op.IS_NOT_NULL,
        None,
    )
    plan = plan_search(parse_filter("issue.id = 'iss-1'"))
    assert plan.where == AssessmentMatch("issue", "iss-1", None)


def test_assessment_is_null_plans_as_no_such_assessment() -> None:
    plan = plan_search(parse_filter("feedback.tone IS NULL"))
    assert plan.where == Not(AssessmentMatch("feedback", "tone", None))


def test_an_and_chain_plans_column_tests_and_one_span_match() -> None:
    where = plan_search(
        parse_filter("status = 'OK' AND span.name = 'a' AND span.type = 'LLM'")
    ).where
    assert isinstance(where, And)
    assert [type(item) for item in where.items] == [ColumnTest, SpanMatch]
    assert len(where.items[1].conds) == 2  # type: ignore[union-attr]


def test_plan_order_appends_the_tie_breaks_it_does_not_name() -> None:
    plan = plan_search(parse_filter(None), bind_order_by(["request_id DESC"]))
    assert [(k.field, k.descending) for k in plan.order] == [
        (REQUEST_ID, True),
        (TIMESTAMP, True),
    ]


@pytest.fixture
def polars_ordering_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make every Polars ordering entry point raise."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        msg = "sorted with the Polars engine's ordering"
        raise AssertionError(msg)

    for name in ("_ordered_keys", "_newest_first", "_sort_spec", "_in_order"):
        monkeypatch.setattr(ordering, name, refuse)
    monkeypatch.setattr(polars_engine, "_ordered_keys", refuse)


@pytest.mark.usefixtures("polars_ordering_refused")
def test_reference_engine_orders_on_its_own(oracle_frame: TraceFrame) -> None:
    got = search_traces(
        oracle_frame,
        order_by=_BY_ENV_THEN_SLOWEST,
        return_type="list",
        engine="reference",
    )
    assert _ids(got) == [
        "tr-1d64d809921a1e8606d2b7518008bb33",
        "tr-00000000000000000000000000000004",
        "tr-48a3400cfc68eb1f6eef00340787b3ee",
        "tr-7e2ff8e30e3b463a1d82b69bab55f58d",
        "tr-0a6b362239fde391d3101ee1287124b5",
        "tr-e559488f8d1bc9c759e1a7968eb3dcd8",
    ]


@pytest.mark.usefixtures("polars_ordering_refused")
def test_reference_engine_pages_on_its_own(oracle_frame: TraceFrame) -> None:
    first = search_traces(
        oracle_frame,
        order_by=_BY_ENV_THEN_SLOWEST,
        max_results=4,
        return_type="list",
        engine="reference",
    )
    rest = search_traces(
        oracle_frame,
        order_by=_BY_ENV_THEN_SLOWEST,
        max_results=4,
        page_token=first.token,
        return_type="list",
        engine="reference",
    )
    assert _ids(rest) == [
        "tr-0a6b362239fde391d3101ee1287124b5",
        "tr-e559488f8d1bc9c759e1a7968eb3dcd8",
    ]
    assert rest.token is None


@pytest.mark.usefixtures("polars_ordering_refused")
def test_the_refused_ordering_is_what_the_polars_engine_uses(
    oracle_frame: TraceFrame,
) -> None:
    with pytest.raises(AssertionError, match="Polars engine's ordering"):
        search_traces(oracle_frame, order_by=_BY_ENV_THEN_SLOWEST, return_type="list")
