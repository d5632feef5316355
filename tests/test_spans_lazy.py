"""``search_spans`` and ``search_assessments`` on a scanned Parquet dataset.

The dataset is written in several parts (`DatasetWriter`) from generated traces
and the hand-built traces of ``test_spans`` (a session whose traces sit in the
first and the last part, with a session-scoped feedback), and scanned with small
batches, so every filter and order below crosses part and batch boundaries; each
result (rows, order, page tokens) must equal the one of the in-memory engine on
the same traces.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from polartrace import (
    Trace,
    TraceFrame,
    next_page_token,
    search_assessments,
    search_spans,
)
from polartrace.api.lazy import LazyTraceFrame
from polartrace.generate import generate_trace_dicts
from polartrace.io.parquet import DatasetWriter, read_parquet
from polartrace.values.errors import SearchArgumentError, TraceFormatError
from tests.test_spans import ALICE, CAROL
from tests.test_spans import _traces as session_traces

PARTS = 4


def _parts() -> list[list[Trace]]:
    generated = [Trace.from_dict(d) for d in generate_trace_dicts(240, seed=3)]
    size = len(generated) // PARTS
    parts = [generated[i * size : (i + 1) * size] for i in range(PARTS)]
    hand = session_traces()
    parts[0] += [t for t in hand if t.info.trace_id == ALICE]
    parts[-1] += [t for t in hand if t.info.trace_id != ALICE]
    return parts


@pytest.fixture(scope="module")
def traces() -> list[Trace]:
    return [t for part in _parts() for t in part]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lazy_rows") / "ds"
    with DatasetWriter(path) as writer:
        for part in _parts():
            writer.write(TraceFrame.from_traces(part))
    return path


@pytest.fixture(scope="module")
def frame(traces: list[Trace]) -> TraceFrame:
    return TraceFrame.from_traces(traces)


@pytest.fixture(scope="module")
def lazy(dataset: Path) -> LazyTraceFrame:
    return LazyTraceFrame(dataset, batch_rows=97)


CASES: list[tuple[str | None, Sequence[str] | None, Sequence[str] | None]] = [
    (None, None, None),
    ("span.type = 'LLM'", None, None),
    ("span.type = 'LLM' AND span.tokens.total > 200", ["span.tokens.total DESC"], None),
    ("status = 'ERROR'", ["span.duration_ms DESC"], None),
    ("span.model = 'gpt-4o'", ["span.cost.total DESC", "timestamp_ms"], None),
    (
        "tags.environment = 'production' AND span.name LIKE 'tool:%'",
        ["span.name"],
        None,
    ),
    ("span.attributes.`mlflow.spanType` = 'TOOL'", ["span.start_time DESC"], None),
    ("span.status = 'ERROR'", ["count(SPAN) DESC", "span.end_time"], None),
    ("feedback.relevance IS NOT NULL AND span.type = 'RETRIEVER'", None, ["user"]),
    ("span.content LIKE '%refund%'", ["span.type", "request_id DESC"], None),
    (
        "tokens.total > 1000",
        ["tokens.total DESC", "span.duration_ms"],
        ["user", "tags.environment", "span.attributes.temperature", "tokens.total"],
    ),
    ("span.status = 'ERROR' OR status = 'ERROR'", ["span.type", "tags.team"], None),
    (
        "span.provider IN ('openai', 'anthropic')",
        ["span.provider DESC", "span.tokens.input"],
        None,
    ),
    ("count(SPAN) > 3 AND span.type != 'LLM'", ["execution_time_ms DESC"], None),
    ("span.name = 'no such span'", ["span.duration_ms"], None),
]


def _search(source: Any, case: tuple[Any, Any, Any], **kw: Any) -> pl.DataFrame:
    filter_string, order_by, columns = case
    result = search_spans(
        source, filter_string, order_by=order_by, columns=columns, **kw
    )
    assert isinstance(result, pl.DataFrame)
    return result


@pytest.mark.parametrize("case", CASES, ids=[str(c[0]) for c in CASES])
def test_lazy_rows_equal_the_in_memory_ones(
    case: tuple[Any, Any, Any], frame: TraceFrame, lazy: LazyTraceFrame
) -> None:
    expected = _search(frame, case)
    found = _search(lazy, case)
    assert found.schema == expected.schema
    assert found.rows() == expected.rows()


def test_the_cases_are_not_trivial(frame: TraceFrame) -> None:
    heights = [_search(frame, case).height for case in CASES]
    assert heights[-1] == 0
    assert all(h > 0 for h in heights[:-1]), heights


@pytest.mark.parametrize("case", CASES[1:6], ids=[str(c[0]) for c in CASES[1:6]])
def test_lazy_pages_equal_the_in_memory_ones(
    case: tuple[Any, Any, Any], frame: TraceFrame, lazy: LazyTraceFrame
) -> None:
    tokens: dict[str, str | None] = {"memory": None, "lazy": None}
    for _ in range(50):
        pages = {
            name: _search(source, case, max_results=7, page_token=tokens[name])
            for name, source in (("memory", frame), ("lazy", lazy))
        }
        assert pages["lazy"].rows() == pages["memory"].rows()
        tokens = {name: next_page_token(page) for name, page in pages.items()}
        assert tokens["lazy"] == tokens["memory"]
        if tokens["lazy"] is None:
            return
    pytest.fail("more than 50 pages")


def test_a_collected_dataset_gives_the_same_rows(
    dataset: Path, lazy: LazyTraceFrame
) -> None:
    case = CASES[3]
    assert _search(lazy, case).rows() == _search(read_parquet(dataset), case).rows()


@pytest.mark.parametrize("return_type", ["pandas", "arrow", "list"])
def test_other_return_types(
    return_type: str, frame: TraceFrame, lazy: LazyTraceFrame
) -> None:
    case = CASES[2]
    kw: dict[str, Any] = {"return_type": return_type, "max_results": 3}
    found = search_spans(lazy, case[0], order_by=case[1], **kw)
    expected = search_spans(frame, case[0], order_by=case[1], **kw)
    if return_type == "pandas":
        assert found.equals(expected)
    else:
        assert found == expected
    assert next_page_token(found) == next_page_token(expected)


def test_the_reference_engine_is_refused(lazy: LazyTraceFrame) -> None:
    with pytest.raises(SearchArgumentError, match="polars engine"):
        search_spans(lazy, engine="reference")
    with pytest.raises(SearchArgumentError, match="polars engine"):
        search_assessments(lazy, engine="reference")


ASSESSMENT_CASES: list[tuple[str | None, Sequence[str] | None, Any]] = [
    (None, None, None),
    ("feedback.relevance IS NOT NULL", ["assessment.value DESC"], None),
    (
        "feedback.correctness = 'true' AND status = 'OK'",
        ["assessment.create_time DESC"],
        ["user"],
    ),
    (
        "tags.environment = 'production'",
        ["assessment.name", "assessment.kind DESC"],
        None,
    ),
    ("span.type = 'LLM'", ["timestamp_ms"], ["session", "tokens.total", "tags.env"]),
    ("feedback.tone IS NOT NULL", ["count(SPAN) DESC"], None),
    ("user = 'carol'", None, None),
    ("feedback.no_such_name IS NOT NULL", None, None),
]


@pytest.fixture(scope="module")
def collected(dataset: Path) -> TraceFrame:
    return read_parquet(dataset)


def _assessments(source: Any, case: tuple[Any, Any, Any], **kw: Any) -> Any:
    filter_string, order_by, columns = case
    return search_assessments(
        source, filter_string, order_by=order_by, columns=columns, **kw
    )


@pytest.mark.parametrize(
    "case", ASSESSMENT_CASES, ids=[str(c[0]) for c in ASSESSMENT_CASES]
)
def test_lazy_assessments_equal_the_in_memory_ones(
    case: tuple[Any, Any, Any], collected: TraceFrame, lazy: LazyTraceFrame
) -> None:
    expected = _assessments(collected, case)
    found = _assessments(lazy, case)
    assert found.schema == expected.schema
    assert found.rows() == expected.rows()


def test_the_assessment_cases_are_not_trivial(collected: TraceFrame) -> None:
    heights = [_assessments(collected, case).height for case in ASSESSMENT_CASES]
    assert heights[-1] == 0
    assert all(h > 0 for h in heights[:-1]), heights


def test_a_session_feedback_applies_across_parts(lazy: LazyTraceFrame) -> None:
    table = search_assessments(lazy, "user = 'carol'")
    assert table.select("trace_id", "assessment_id", "session").rows() == [
        (CAROL, "a-2", "s1"),
    ]


@pytest.mark.parametrize("case", ASSESSMENT_CASES[1:4], ids=["value", "time", "name"])
def test_lazy_assessment_pages_equal_the_in_memory_ones(
    case: tuple[Any, Any, Any], collected: TraceFrame, lazy: LazyTraceFrame
) -> None:
    tokens: dict[str, str | None] = {"memory": None, "lazy": None}
    for _ in range(50):
        pages = {
            name: _assessments(source, case, max_results=4, page_token=tokens[name])
            for name, source in (("memory", collected), ("lazy", lazy))
        }
        assert pages["lazy"].rows() == pages["memory"].rows()
        tokens = {name: next_page_token(page) for name, page in pages.items()}
        assert tokens["lazy"] == tokens["memory"]
        if tokens["lazy"] is None:
            return
    pytest.fail("more than 50 pages")


V1 = Path(__file__).parent / "fixtures" / "parquet-v1"


@pytest.mark.parametrize("layout", ["oracle", "by-day", "other-layout"])
def test_a_version_1_dataset(layout: str) -> None:
    # Its assessments are whole trace texts, read as the in-memory frame reads
    # them; it has no LLM columns, which a span row holds: refused with the fix.
    path = V1 / layout
    lazy, frame = LazyTraceFrame(path, batch_rows=5), read_parquet(path)
    for case in ((None, None, None), ASSESSMENT_CASES[2]):
        expected = _assessments(frame, case)
        assert expected.height > 0
        assert _assessments(lazy, case).rows() == expected.rows()
    with pytest.raises(TraceFormatError, match="needs the LLM columns"):
        search_spans(lazy)
