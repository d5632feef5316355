"""Fast paths of the compiled engine give the answers of the plain ones.

The engine takes shortcuts for speed (docs/performance.md#why-it-is-fast): string tests
on dictionary-encoded columns run on the dictionary, a pure request-time window is
a binary search on the frame's time order, the default order sorts on the time and
re-sorts ties, and semi-joins become row masks. Each test here runs a search both
ways and expects the same trace ids in the same order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from polartrace import Trace, TraceFrame, count, search_traces
from polartrace.api.lazy import scan_traces
from polartrace.engines.polars import ordering as search_module
from polartrace.frame.schema import SPAN_STATUS_ENUM, STATE_ENUM
from polartrace.generate import DEFAULT_START_MS, generate_trace_dicts
from polartrace.io import write_parquet
from tests.conftest import load_jsonl

VALID_FILTERS = [c for c in load_jsonl("filter-cases.jsonl") if c["valid"]]
DAY = 86_400_000


def _ids(rows: Any) -> list[str]:
    return [t.info.trace_id for t in rows]


def _recoded(frame: TraceFrame, dtype: type[pl.DataType] = pl.String) -> TraceFrame:
    """The same frame with each frame-specific ``Enum`` column as ``dtype``.

    ``pl.String`` is the plain path; ``pl.Categorical`` is what a lazy scan of a
    Parquet dataset compiles against (``to_parquet_table``).
    """

    def plain(table: pl.DataFrame) -> pl.DataFrame:
        return table.with_columns(
            pl.col(name).cast(dtype)
            for name, column_type in table.schema.items()
            if isinstance(column_type, pl.Enum)
            and column_type not in (STATE_ENUM, SPAN_STATUS_ENUM)
        )

    return TraceFrame(
        plain(frame.traces),
        plain(frame.spans),
        plain(frame.assessments),
        frame.prompts,
        frame.traces_at(range(len(frame))),
    )


@pytest.fixture(scope="module")
def generated() -> TraceFrame:
    """300 generated traces: every tag, span and assessment shape of the generator."""
    return TraceFrame.from_traces(
        Trace.from_dict(d) for d in generate_trace_dicts(300, seed=11)
    )


def test_low_cardinality_columns_are_enums_of_their_sorted_values(
    generated: TraceFrame,
) -> None:
    environment = generated.traces.schema["tag:environment"]
    assert environment == pl.Enum(["dev", "production", "staging"])
    names = generated.spans.schema["name"]
    assert isinstance(names, pl.Enum)
    assert names.categories.to_list() == sorted(set(generated.spans["name"]))
    assert generated.traces.schema["trace_id"] == pl.String


@pytest.mark.parametrize("dtype", [pl.String, pl.Categorical], ids=str)
@pytest.mark.parametrize("case", VALID_FILTERS, ids=[c["id"] for c in VALID_FILTERS])
def test_dictionary_and_string_columns_agree(
    case: dict[str, Any], oracle_frame: TraceFrame, dtype: type[pl.DataType]
) -> None:
    plain = _recoded(oracle_frame, dtype)
    got = search_traces(oracle_frame, case["filter"], return_type="list")
    assert _ids(got) == _ids(search_traces(plain, case["filter"], return_type="list"))


@pytest.mark.parametrize(
    "filter_string",
    [
        "name LIKE '%_agent'",
        "name ILIKE '%AGENT'",
        "name RLIKE 'a.?g'",
        "name NOT LIKE 'chat%'",
        "tags.environment IN ('staging', 'dev')",
        "tags.environment NOT IN ('production')",
        "status != 'OK'",
        "status IN ('ERROR', 'IN_PROGRESS')",
        "span.name LIKE 'tool:%' AND span.status = 'ERROR'",
        "span.type IN ('LLM', 'TOOL') AND span.status != 'OK'",
        "NOT span.name = 'retriever'",
        "feedback.relevance > 0.5 OR text LIKE '%refund%'",
        "tags.nowhere = 'x' OR NOT tags.nowhere = 'x'",
    ],
    ids=lambda f: f,
)
@pytest.mark.parametrize("dtype", [pl.String, pl.Categorical], ids=str)
def test_dictionary_paths_agree_on_generated_traces(
    generated: TraceFrame, filter_string: str, dtype: type[pl.DataType]
) -> None:
    plain = _recoded(generated, dtype)
    fast = search_traces(generated, filter_string, return_type="polars")
    slow = search_traces(plain, filter_string, return_type="polars")
    assert fast["trace_id"].to_list() == slow["trace_id"].to_list()
    assert count(generated, filter_string) == fast.height
    assert count(plain, filter_string) == fast.height


@pytest.mark.parametrize(
    "order_by",
    [
        ["tags.environment"],
        ["tags.environment DESC", "timestamp_ms"],
        ["metadata.`mlflow.trace.user` DESC"],
        ["tags.`mlflow.traceName`", "execution_time_ms DESC"],
    ],
    ids=str,
)
@pytest.mark.parametrize("max_results", [None, 25])
def test_ordering_by_a_dictionary_column_sorts_its_strings(
    generated: TraceFrame, order_by: list[str], max_results: int | None
) -> None:
    # Enum codes sort in category order; the categories are sorted, so the
    # order is the strings' order, as on a plain String column.
    plain = _recoded(generated)
    fast = search_traces(
        generated, None, order_by=order_by, max_results=max_results, return_type="list"
    )
    slow = search_traces(
        plain, None, order_by=order_by, max_results=max_results, return_type="list"
    )
    assert _ids(fast) == _ids(slow)


def _window(start_day: int, end_day: int, ops: tuple[str, str] = (">=", "<")) -> str:
    lo, hi = DEFAULT_START_MS + start_day * DAY, DEFAULT_START_MS + end_day * DAY
    return f"timestamp_ms {ops[0]} {lo} AND timestamp_ms {ops[1]} {hi}"


# The second form adds a clause that is always true, so the search takes the
# general compiled path instead of the time-window one.
_ALWAYS = " AND (execution_time_ms IS NULL OR execution_time_ms IS NOT NULL)"


@pytest.mark.parametrize(
    "window",
    [
        _window(7, 14),
        _window(3, 9, (">", "<=")),
        _window(20, 10),
        f"timestamp_ms > {DEFAULT_START_MS + 3 * DAY}",
        f"attributes.timestamp <= {DEFAULT_START_MS + 29 * DAY}",
        "timestamp_ms >= 0",
    ],
    ids=["week", "open-closed", "empty", "lower-only", "upper-only", "everything"],
)
@pytest.mark.parametrize("max_results", [None, 1, 7])
def test_time_window_search_matches_the_compiled_path(
    generated: TraceFrame, window: str, max_results: int | None
) -> None:
    fast = search_traces(generated, window, max_results=max_results, return_type="list")
    slow = search_traces(
        generated, window + _ALWAYS, max_results=max_results, return_type="list"
    )
    assert _ids(fast) == _ids(slow)
    assert (fast.token is None) == (slow.token is None)
    assert count(generated, window) == count(generated, window + _ALWAYS)


def test_time_window_pages_follow_each_other(generated: TraceFrame) -> None:
    window = _window(5, 25)
    pages, token = [], None
    while True:
        page = search_traces(
            generated, window, max_results=9, page_token=token, return_type="list"
        )
        pages += _ids(page)
        token = page.token
        if token is None:
            break
    everything = search_traces(generated, window + _ALWAYS, return_type="list")
    assert pages == _ids(everything)


def test_time_window_with_order_by_matches_the_compiled_path(
    generated: TraceFrame,
) -> None:
    window = _window(2, 12)
    order = ["execution_time_ms DESC"]
    fast = search_traces(generated, window, order_by=order, return_type="list")
    slow = search_traces(
        generated, window + _ALWAYS, order_by=order, return_type="list"
    )
    assert _ids(fast) == _ids(slow)


def test_default_order_breaks_time_ties_by_trace_id(generated: TraceFrame) -> None:
    # Round every request time to the day: many traces share one time.
    traces = generated.traces.with_columns(pl.col("request_time") // DAY * DAY)
    tied = TraceFrame(
        traces,
        generated.spans,
        generated.assessments,
        generated.prompts,
        generated.traces_at(range(len(generated))),
    )
    expected = (
        traces.sort(["request_time", "trace_id"], descending=[True, False])
        .filter(pl.col("state") == "OK")["trace_id"]
        .to_list()
    )
    assert _ids(search_traces(tied, "status = 'OK'", return_type="list")) == expected
    page = search_traces(tied, "status = 'OK'", max_results=5, return_type="list")
    assert _ids(page) == expected[:5]
    window = search_traces(tied, _window(0, 40), max_results=12, return_type="list")
    everything = traces.sort(["request_time", "trace_id"], descending=[True, False])
    assert _ids(window) == everything["trace_id"].to_list()[:12]


def test_count_of_a_filter_on_an_absent_key_counts_rows_not_one(
    generated: TraceFrame,
) -> None:
    assert count(generated, "NOT tags.nowhere = 'x'") == len(generated)
    assert count(generated, "tags.nowhere = 'x'") == 0


@pytest.mark.parametrize(
    "filter_string",
    [
        "NOT tags.environment = 'production'",
        "NOT execution_time_ms > 100",
        "NOT client_request_id LIKE 'req%'",
        "NOT status = 'OK'",
    ],
    ids=lambda f: f,
)
def test_a_scan_compiled_on_its_schema_still_fills_missing_values(
    tmp_path: Path, oracle_frame: TraceFrame, filter_string: str
) -> None:
    # The compiler skips filling nulls on columns that have none; a lazy scan
    # compiles on an empty schema frame, which must not count as "has none".
    write_parquet(oracle_frame, tmp_path / "ds")
    lazy = scan_traces(tmp_path / "ds")
    assert lazy.count(filter_string) == count(oracle_frame, filter_string)


def _reversed_rows(frame: TraceFrame) -> TraceFrame:
    """The same frame with its span and assessment rows in reverse order."""
    spans = frame.spans.reverse().with_columns(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_span")
    )
    return TraceFrame(
        frame.traces,
        spans,
        frame.assessments.reverse(),
        frame.prompts.reverse(),
        frame.traces_at(range(len(frame))),
    )


@pytest.mark.parametrize("case", VALID_FILTERS, ids=[c["id"] for c in VALID_FILTERS])
def test_semi_joins_do_not_depend_on_row_order(
    case: dict[str, Any], oracle_frame: TraceFrame
) -> None:
    # Span, assessment, text and prompt clauses scatter the keys of every matching
    # row (repeated, in table order) into a trace mask, without making them
    # distinct or sorted first.
    shuffled = _reversed_rows(oracle_frame)
    got = search_traces(shuffled, case["filter"], return_type="list")
    assert _ids(got) == _ids(
        search_traces(oracle_frame, case["filter"], return_type="list")
    )


@pytest.mark.parametrize(
    "filter_string",
    [
        "span.type = 'LLM' AND span.status = 'ERROR'",
        "span.name = 'retriever'",
        "span.content LIKE '%refund%' AND span.type = 'LLM'",
        "feedback.relevance > 0.5",
        "text LIKE '%refund%'",
        "NOT span.name = 'retriever' OR feedback.relevance IS NULL",
    ],
    ids=lambda f: f,
)
def test_semi_joins_agree_on_reordered_generated_traces(
    generated: TraceFrame, filter_string: str
) -> None:
    shuffled = _reversed_rows(generated)
    fast = search_traces(generated, filter_string, return_type="polars")
    other = search_traces(shuffled, filter_string, return_type="polars")
    assert fast["trace_id"].to_list() == other["trace_id"].to_list()
    assert count(generated, filter_string) == count(shuffled, filter_string)
    assert 0 < fast.height < len(generated)


def _day_times(generated: TraceFrame) -> TraceFrame:
    """``generated`` with every request time rounded to the day: many ties."""
    traces = generated.traces.with_columns(pl.col("request_time") // DAY * DAY)
    return TraceFrame(
        traces,
        generated.spans,
        generated.assessments,
        generated.prompts,
        generated.traces_at(range(len(generated))),
    )


def _pages(frame: TraceFrame, filter_string: str, size: int) -> list[str]:
    ids: list[str] = []
    token = None
    while True:
        page = search_traces(
            frame, filter_string, max_results=size, page_token=token,
            return_type="list",
        )  # fmt: skip
        ids += _ids(page)
        token = page.token
        if token is None:
            return ids


@pytest.mark.parametrize(
    "filter_string",
    ["status = 'OK'", _window(0, 40), _window(3, 9, (">", "<="))],
    ids=["mask", "window", "window-exclusive"],
)
def test_pages_across_time_ties_follow_the_whole_order(
    generated: TraceFrame, filter_string: str
) -> None:
    tied = _day_times(generated)
    whole = _ids(search_traces(tied, filter_string, return_type="list"))
    assert _pages(tied, filter_string, 7) == whole
    assert len(whole) > 7


def test_long_pages_take_the_general_sort(
    generated: TraceFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Pages up to _PAGE_ROWS rows are ordered in Python; longer ones by Polars.
    tied = _day_times(generated)
    short = search_traces(tied, _window(0, 40), max_results=20, return_type="list")
    monkeypatch.setattr(search_module, "_PAGE_ROWS", 5)
    long = search_traces(tied, _window(0, 40), max_results=20, return_type="list")
    assert _ids(long) == _ids(short)


@pytest.mark.parametrize(
    "filter_string",
    [_window(0, 1), _window(0, 1) + _ALWAYS],
    ids=["window", "mask"],
)
def test_same_id_and_time_keep_the_frame_order(filter_string: str) -> None:
    # Two traces alike but for their client request id: the frame's order decides.
    info = {"trace_id": "tr-same", "request_time": DEFAULT_START_MS, "state": "OK"}
    traces = [
        Trace.from_dict({"info": info | {"client_request_id": name}})
        for name in ("first", "second")
    ]
    frame = TraceFrame.from_traces(traces)
    page = search_traces(frame, filter_string, max_results=2, return_type="list")
    every = search_traces(frame, filter_string, return_type="list")
    assert [t.info.client_request_id for t in page] == ["first", "second"]
    assert [t.info.client_request_id for t in every] == ["first", "second"]


def _tied(frame: TraceFrame, step: int) -> TraceFrame:
    """``frame`` with request times rounded down to ``step`` ms: many ties."""
    return TraceFrame(
        frame.traces.with_columns(pl.col("request_time") // step * step),
        frame.spans,
        frame.assessments,
        frame.prompts,
        frame.traces_at(range(len(frame))),
    )


@pytest.mark.parametrize("step", [1, 3_600_000, DAY], ids=["exact", "hour", "day"])
@pytest.mark.parametrize("first_read", [1, 16, 4096])
@pytest.mark.parametrize(
    "filter_string",
    [
        "status = 'OK'",
        "status = 'ERROR'",
        "tags.environment = 'production' AND execution_time_ms > 2000",
        "span.name = 'retriever'",
        "tags.nowhere = 'x'",
        "NOT tags.nowhere = 'x'",
        None,
    ],
    ids=str,
)
def test_a_page_read_from_the_newest_traces_is_the_sorted_page(
    generated: TraceFrame,
    monkeypatch: pytest.MonkeyPatch,
    step: int,
    first_read: int,
    filter_string: str | None,
) -> None:
    # A small first read makes the page search grow its read round by round, give
    # up on sparse matches, and meet ties at the edge of what it read; the
    # explicit order takes the general sort.
    monkeypatch.setattr(search_module, "_FIRST_READ", first_read)
    frame = _tied(generated, step)
    for max_results in (1, 3, 10, 40):
        pages, token = [], None
        for _ in range(3):
            page = search_traces(
                frame,
                filter_string,
                max_results=max_results,
                page_token=token,
                return_type="list",
            )
            pages += _ids(page)
            token = page.token
            if token is None:
                break
        sorted_ = search_traces(
            frame,
            filter_string,
            order_by=["timestamp_ms DESC"],
            max_results=len(pages) or 1,
            return_type="list",
        )
        assert pages == _ids(sorted_)[: len(pages)], max_results
