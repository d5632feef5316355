"""Output built from kept JSON text equals output built from ``Trace`` objects.

Frames read from files keep each trace's MLflow JSON text and build result rows
from it (orjson, Arrow columns; output.py) instead of from ``Trace`` objects. Each
test builds the same rows both ways and expects equal cells: the same Python
types, values and dict key order for pandas, and for polars the typed cells that
MLflow's pandas cells of the same rows hold (`tests.typed_cells`).
"""

from __future__ import annotations

import gc
import json
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
import polars as pl
import pytest

from polartrace import Trace, TraceFrame, search_traces
from polartrace.frame.pages import from_texts
from polartrace.generate import generate_trace_dicts
from polartrace.output import build as out
from polartrace.output import typed
from polartrace.output.build import page_frame
from tests.conftest import LABELS
from tests.typed_cells import expected_rows, typed_rows

T1, T4 = LABELS["T1"], LABELS["T4"]
WIDE = 123456789012345678901234567890
JSON_COLUMNS = {
    "trace",
    "request",
    "response",
    "trace_metadata",
    "tags",
    "spans",
    "assessments",
}


def _text_frame(traces: Sequence[Trace]) -> TraceFrame:
    """The frame of ``traces`` as read from a file: tables plus JSON text only."""
    frame = TraceFrame.from_traces(traces)
    texts = pl.Series("json", [t.to_json() for t in traces], dtype=pl.String)
    return TraceFrame(
        frame.traces, frame.spans, frame.assessments, frame.prompts, raw_json=texts
    )


def _expected(traces: Sequence[Trace], include_spans: bool) -> pd.DataFrame:
    """The pandas rows as built from ``Trace`` objects (no text involved)."""
    if not include_spans:
        traces = [out._without_spans(t) for t in traces]
    return out._pandas(out._rows(traces), len(traces), None)


def _assert_same_cells(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(got, expected)
    for name in expected.columns:
        for have, want in zip(got[name], expected[name], strict=True):
            if isinstance(want, float) and math.isnan(want):
                assert isinstance(have, float)
                assert math.isnan(have)
                continue
            assert type(have) is type(want), name
            assert have == want, name
            if isinstance(want, dict):
                assert list(have) == list(want), f"{name}: key order"


def _check_pandas(traces: Sequence[Trace], include_spans: bool) -> None:
    frame = _text_frame(traces)
    keys = list(range(len(traces)))
    got = out.build(frame, keys, "pandas", include_spans, None)
    _assert_same_cells(got, _expected(traces, include_spans))


def _check_polars(traces: Sequence[Trace], include_spans: bool) -> None:
    frame = _text_frame(traces)
    keys = list(range(len(traces)))
    got = out.build(frame, keys, "polars", include_spans, None)
    assert got.schema == pl.Schema(typed.SCHEMA)
    assert typed_rows(got) == expected_rows(_expected(traces, include_spans))
    from_objects = out.build(TraceFrame.from_traces(traces), keys, "polars",
                             include_spans, None)  # fmt: skip
    assert typed_rows(from_objects) == typed_rows(got)


def _trace(
    trace_id: str,
    *,
    spans: list[dict[str, Any]] | None = None,
    assessments: list[dict[str, Any]] | None = None,
    tags: dict[str, str] | None = None,
    metadata: dict[str, str] | None = None,
    client_request_id: str | None = "req-1",
    state: str = "OK",
    duration: int | None = 5,
) -> Trace:
    info: dict[str, Any] = {
        "trace_id": trace_id,
        "request_time": "2024-01-01T00:00:00Z",
        "state": state,
        "trace_metadata": metadata or {"mlflow.user": "ana"},
        "tags": tags or {"mlflow.traceName": "t"},
    }
    if client_request_id is not None:
        info["client_request_id"] = client_request_id
    if duration is not None:
        info["execution_duration_ms"] = duration
    if assessments:
        info["assessments"] = assessments
    return Trace.from_dict({"info": info, "data": {"spans": spans or []}})


def _span(
    name: str,
    span_id: str,
    parent: str | None = None,
    attributes: dict[str, str] | None = None,
    events: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "trace_id": "AAAAAAAAAAAAAAAAAAAAAA==",
        "span_id": span_id,
        "parent_span_id": parent,
        "name": name,
        "start_time_unix_nano": 1_700_000_000_000_000_000,
        "end_time_unix_nano": 1_700_000_000_500_000_000,
        "events": events or [],
        "status": {"code": "STATUS_CODE_OK", "message": ""},
        "attributes": attributes or {},
        "links": [],
    }


def _feedback(trace_id: str, value: Any) -> dict[str, Any]:
    return {
        "assessment_id": "a-1",
        "assessment_name": "score",
        "trace_id": trace_id,
        "source": {"source_type": "HUMAN", "source_id": "ana"},
        "create_time": "2024-01-02T00:00:00Z",
        "last_update_time": "2024-01-02T00:00:00Z",
        "feedback": {"value": value},
        "valid": True,
    }


ROOT, CHILD = "AAAAAAAAAAE=", "AAAAAAAAAAI="


@pytest.mark.parametrize("include_spans", [True, False], ids=["spans", "no-spans"])
def test_oracle_pandas_rows_match_trace_objects(
    oracle_traces: list[Trace], include_spans: bool
) -> None:
    _check_pandas(oracle_traces, include_spans)


@pytest.mark.parametrize("include_spans", [True, False], ids=["spans", "no-spans"])
def test_generated_pandas_rows_match_trace_objects(include_spans: bool) -> None:
    traces = [Trace.from_dict(d) for d in generate_trace_dicts(150, seed=3)]
    _check_pandas(traces, include_spans)


@pytest.mark.parametrize("include_spans", [True, False], ids=["spans", "no-spans"])
def test_oracle_polars_rows_match_trace_objects(
    oracle_traces: list[Trace], include_spans: bool
) -> None:
    _check_polars(oracle_traces, include_spans)


@pytest.mark.parametrize("include_spans", [True, False], ids=["spans", "no-spans"])
def test_generated_polars_rows_match_trace_objects(include_spans: bool) -> None:
    traces = [Trace.from_dict(d) for d in generate_trace_dicts(150, seed=4)]
    _check_polars(traces, include_spans)


def test_polars_tags_and_metadata_are_key_value_lists_in_key_order() -> None:
    traces = [
        _trace("tr-odd", tags={"q": 'say "hi"\n', "emoji": "🚀", "é": ""}),
        _trace("tr-other", metadata={"k": "\u0000\\", "a": "1"}),
    ]
    got = out.build(_text_frame(traces), [0, 1], "polars", True, None)
    assert got["tags"].to_list() == [
        [
            {"key": "emoji", "value": "🚀"},
            {"key": "q", "value": 'say "hi"\n'},
            {"key": "é", "value": ""},
        ],
        [{"key": "mlflow.traceName", "value": "t"}],
    ]
    assert got["trace_metadata"][1].to_list() == [
        {"key": "a", "value": "1"},
        {"key": "k", "value": "\u0000\\"},
    ]


@pytest.mark.parametrize(
    "value",
    [[1, [2, 3]], 'ends with ], "tags": {', {"a": ["x"], "b": "]"}, math.nan, None],
    ids=["nested-lists", "bracket-text", "object-with-list", "nan", "null"],
)
def test_polars_assessments_cut_from_text(value: Any) -> None:
    # The assessments array is cut out of the text at the first '], "' that
    # parses; values holding such text or arrays must not end it early.
    traces = [
        _trace("tr-cut", assessments=[_feedback("tr-cut", value)]),
        _trace(
            "tr-two", assessments=[_feedback("tr-two", 1), _feedback("tr-two", value)]
        ),
    ]
    _check_polars(traces, include_spans=True)
    got = out.build(_text_frame(traces), [0], "polars", True, None)
    cell = got["assessments"][0].to_list()
    assert [a["value"] for a in cell] == [None if value is None else json.dumps(value)]


def test_rows_in_requested_order(oracle_traces: list[Trace]) -> None:
    frame = _text_frame(oracle_traces)
    keys = [3, 0, 3]
    got = out.build(frame, keys, "pandas", True, None)
    expected = _expected([oracle_traces[k] for k in keys], True)
    _assert_same_cells(got, expected)


def test_empty_result_from_text_keeps_object_columns(
    oracle_traces: list[Trace],
) -> None:
    df = out.build(_text_frame(oracle_traces), [], "pandas", True, "tok")
    assert list(df.columns) == list(out.COLUMNS)
    assert len(df) == 0
    assert all(dtype == "object" for dtype in df.dtypes)
    assert df.attrs["next_page_token"] == "tok"


def test_empty_polars_and_arrow_results_from_text_keep_the_schema(
    oracle_traces: list[Trace],
) -> None:
    frame = _text_frame(oracle_traces)
    table = out.build(frame, [], "polars", True, None)
    assert table.schema == pl.Schema(typed.SCHEMA)
    assert table.height == 0
    arrow = out.build(frame, [], "arrow", True, None)
    full = out.build(frame, [0], "arrow", True, None)
    assert arrow.schema == full.schema
    assert arrow.num_rows == 0


def test_traces_without_spans_or_root_span() -> None:
    traces = [
        _trace("tr-nospans"),
        _trace(
            "tr-noroot",
            spans=[_span("orphan", CHILD, parent=ROOT, attributes={"a": '"x"'})],
        ),
        _trace(
            "tr-root",
            spans=[
                _span("root", ROOT, attributes={"mlflow.spanInputs": '{"q": 1}'}),
                _span("child", CHILD, parent=ROOT),
            ],
        ),
    ]
    _check_pandas(traces, include_spans=True)
    _check_polars(traces, include_spans=True)
    df = out.build(_text_frame(traces), [0, 1, 2], "pandas", True, None)
    assert [df.request[0], df.request[1], df.request[2]] == [None, None, {"q": 1}]
    assert df.response[2] is None


def test_unicode_cells() -> None:
    traces = [
        _trace(
            "tr-unicode",
            tags={"mlflow.traceName": "résumé", "emoji": "🚀 ok", "empty": ""},
            metadata={"mlflow.user": "Zoë", "日本": "語"},
            spans=[
                _span(
                    "ünïcode 🚀",
                    ROOT,
                    attributes={
                        "mlflow.spanInputs": json.dumps({"q": 'Chloé 🚀\n\t"x"'}),
                        "mlflow.spanOutputs": '"naïve"',
                    },
                )
            ],
            assessments=[_feedback("tr-unicode", "très bien 🚀")],
        )
    ]
    _check_pandas(traces, include_spans=True)
    _check_pandas(traces, include_spans=False)
    _check_polars(traces, include_spans=True)


@pytest.mark.parametrize(
    "value",
    [WIDE, -WIDE, 2**64, -(2**63) - 1, 2**64 - 1, math.inf, -0.0, 1e300, [WIDE]],
    ids=["wide", "negative-wide", "2**64", "below-int64", "uint64-max", "inf",
         "negative-zero", "big-float", "wide-in-list"],
)  # fmt: skip
def test_numbers_json_reads_exactly(value: Any) -> None:
    # orjson reads integers beyond 64 bits as floats and rejects Infinity: these
    # cells must still be what json.loads gives.
    attribute = json.dumps({"n": value})
    traces = [
        _trace(
            "tr-numbers",
            spans=[
                _span(
                    "root",
                    ROOT,
                    attributes={"mlflow.spanInputs": attribute},
                    events=[
                        {"name": "e", "time_unix_nano": 1, "attributes": {"n": value}}
                    ],
                )
            ],
            assessments=[_feedback("tr-numbers", value)],
        )
    ]
    _check_pandas(traces, include_spans=True)
    _check_pandas(traces, include_spans=False)
    df = out.build(_text_frame(traces), [0], "pandas", True, None)
    assert df.request[0] == {"n": value}
    assert type(df.request[0]["n"]) is type(value)
    assert df.spans[0][0]["events"][0]["attributes"]["n"] == value


def test_attribute_that_is_not_json_stays_text() -> None:
    traces = [
        _trace(
            "tr-text",
            spans=[_span("root", ROOT, attributes={"mlflow.spanInputs": "NaN-ish {"})],
        )
    ]
    _check_pandas(traces, include_spans=True)
    df = out.build(_text_frame(traces), [0], "pandas", True, None)
    assert df.request[0] == "NaN-ish {"


def test_all_null_flat_columns_stay_object() -> None:
    traces = [
        _trace(f"tr-{i}", client_request_id=None, state="IN_PROGRESS", duration=None)
        for i in range(3)
    ]
    _check_pandas(traces, include_spans=True)
    df = out.build(_text_frame(traces), [0, 1, 2], "pandas", True, None)
    assert df.execution_duration.dtype == object
    assert df.client_request_id.dtype == object
    assert list(df.client_request_id) == [None, None, None]


def test_some_null_durations_are_nan_floats() -> None:
    traces = [
        _trace("tr-a", duration=7),
        _trace("tr-b", state="IN_PROGRESS", duration=None),
    ]
    _check_pandas(traces, include_spans=True)
    df = out.build(_text_frame(traces), [0, 1], "pandas", True, None)
    assert df.execution_duration.dtype == "float64"


def test_search_on_text_frame_equals_search_on_objects(
    oracle_traces: list[Trace], oracle_frame: TraceFrame
) -> None:
    text = f"request_id = '{T1}' OR request_id = '{T4}'"
    got = search_traces(_text_frame(oracle_traces), text, max_results=1)
    expected = search_traces(oracle_frame, text, max_results=1)
    _assert_same_cells(got, expected)
    assert got.attrs == expected.attrs


@pytest.mark.parametrize("include_spans", [True, False], ids=["spans", "no-spans"])
def test_json_only_page_matches_trace_objects(
    oracle_traces: list[Trace], include_spans: bool
) -> None:
    # A lazy scan's page: page rows without trace tables (flat cells from the text).
    page = page_frame(from_texts(t.to_json() for t in oracle_traces))
    keys = list(range(len(oracle_traces)))
    got = out.build(page, keys, "pandas", include_spans, None)
    _assert_same_cells(got, _expected(oracle_traces, include_spans))


@pytest.mark.parametrize("kind", ["pandas", "polars"])
def test_building_leaves_the_cycle_collector_as_it_was(kind: str) -> None:
    frame = _text_frame([Trace.from_dict(d) for d in generate_trace_dicts(5, seed=5)])
    assert gc.isenabled()
    out.build(frame, [0, 1, 2], kind, True, None)
    assert gc.isenabled()
    assert gc.get_freeze_count() == 0
    gc.disable()
    try:
        out.build(frame, [0, 1, 2], kind, True, None)
        assert not gc.isenabled()
    finally:
        gc.enable()
    # Objects the program froze itself stay frozen (``unfreeze`` would release them).
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        out.build(frame, [0, 1, 2], kind, True, None)
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
