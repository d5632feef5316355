"""MLflow's search_traces keywords, ported calls, get_trace, tags, MLFLOW_TRACKING_URI.

The oracle traces all belong to experiment 1; ``scoped_frame`` moves T2 and T3 to
experiment 2 and gives T6 the logged model ``m-1``, so that every restriction
selects a known set. T1's metadata ``mlflow.sourceRun`` is ``RUN``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pandas as pd
import pytest

import polartrace
from polartrace import (
    PageTokenError,
    SearchArgumentError,
    Trace,
    TraceFrame,
    count,
    search_traces,
)
from polartrace.api.lazy import scan_traces
from polartrace.api.search import Engine
from polartrace.io import write_jsonl, write_parquet
from polartrace.tracing.sdk import TraceNotFoundError, TracingError, get_store
from tests.conftest import LABELS

T1, T2, T3, T4, T5, T6 = (LABELS[f"T{i}"] for i in range(1, 7))
RUN = "dd250784ed96453fa1d2925bc501601e"
MLFLOW = Path(__file__).parent / "fixtures" / "mlflow"
DB_IDS = [
    "tr-dcb4d189967f2fe63c51473f9ee11fa8",
    "tr-7fa915185995362c276ad44a0066c3f6",
    "tr-2d79e9e2ac271423e167ae32c12b6f1f",
    "tr-8505c8dc1836f643d87ab33b3308a7b4",
]


def _moved(trace: Trace, experiment: str, **metadata: str) -> Trace:
    location = {
        "type": "MLFLOW_EXPERIMENT",
        "mlflow_experiment": {"experiment_id": experiment},
    }
    info = attrs.evolve(
        trace.info,
        trace_location=location,
        trace_metadata={**trace.info.trace_metadata, **metadata},
    )
    return Trace(info, trace.data)


@pytest.fixture(scope="module")
def scoped_frame(oracle_traces: list[Trace]) -> TraceFrame:
    """Oracle traces with T2, T3 in experiment 2 and T6 logged for model m-1."""
    changed = []
    for trace in oracle_traces:
        trace_id = trace.info.trace_id
        if trace_id in (T2, T3):
            trace = _moved(trace, "2")
        elif trace_id == T6:
            trace = _moved(trace, "1", **{"mlflow.modelId": "m-1"})
        changed.append(trace)
    return TraceFrame.from_traces(changed)


def _ids(result: list[Trace]) -> list[str]:
    return [t.info.trace_id for t in result]


# --- positional calls -------------------------------------------------------------


def test_third_positional_argument_names_the_keywords(
    oracle_frame: TraceFrame,
) -> None:
    with pytest.raises(SearchArgumentError) as info:
        search_traces(oracle_frame, "status = 'OK'", 5)  # type: ignore[call-arg]
    assert str(info.value) == (
        "search_traces() takes traces and filter_string positionally, but 3 "
        "positional arguments were given; pass 5 by keyword, e.g. max_results=, "
        "order_by= or engine= (MLflow's third positional argument is max_results)"
    )


def test_count_refuses_a_third_positional_argument(oracle_frame: TraceFrame) -> None:
    with pytest.raises(SearchArgumentError, match=r"^count\(\) takes traces and"):
        count(oracle_frame, "status = 'OK'", "reference")  # type: ignore[call-arg]


def test_max_results_by_keyword_after_positional_filter(
    oracle_frame: TraceFrame,
) -> None:
    got = search_traces(
        oracle_frame, "status = 'OK'", max_results=2, return_type="list"
    )
    assert _ids(got) == [T6, T3]


# --- locations / experiment_ids -----------------------------------------------------

SCOPES = [
    pytest.param({"locations": ["2"]}, [T3, T2], id="locations-2"),
    pytest.param({"experiment_ids": ["2"]}, [T3, T2], id="experiment_ids-2"),
    pytest.param({"locations": ["1"]}, [T6, T4, T5, T1], id="locations-1"),
    pytest.param(
        {"locations": ["1", "2"]}, [T6, T3, T2, T4, T5, T1], id="locations-both"
    ),
    pytest.param({"locations": ("2",)}, [T3, T2], id="locations-tuple"),
    pytest.param({"locations": ["9"]}, [], id="locations-unknown"),
    pytest.param({"locations": []}, [T6, T3, T2, T4, T5, T1], id="locations-empty"),
    pytest.param({"run_id": RUN}, [T1], id="run_id"),
    pytest.param({"run_id": "other-run"}, [], id="run_id-unknown"),
    pytest.param({"model_id": "m-1"}, [T6], id="model_id"),
    pytest.param({"locations": ["2"], "model_id": "m-1"}, [], id="locations-and-model"),
]


@pytest.mark.parametrize(("scope", "expected"), SCOPES)
def test_scope_keywords_restrict_the_search(
    scope: dict[str, Any],
    expected: list[str],
    scoped_frame: TraceFrame,
    engine: Engine,
) -> None:
    got = search_traces(scoped_frame, return_type="list", engine=engine, **scope)
    assert _ids(got) == expected


@pytest.mark.parametrize(("scope", "expected"), SCOPES)
def test_scope_keywords_restrict_the_count(
    scope: dict[str, Any],
    expected: list[str],
    scoped_frame: TraceFrame,
    engine: Engine,
) -> None:
    assert count(scoped_frame, engine=engine, **scope) == len(expected)


@pytest.mark.parametrize(
    ("filter_string", "scope", "expected"),
    [
        pytest.param("status = 'OK'", {"locations": ["2"]}, [T3], id="locations"),
        pytest.param("status = 'ERROR'", {"run_id": RUN}, [], id="run_id-and"),
        # MLflow keeps only the last run_id; here the keyword is one more conjunct.
        pytest.param(f"run_id = '{RUN}'", {"run_id": "other"}, [], id="run_id-twice"),
        pytest.param(
            "timestamp_ms >= 1700000001000", {"locations": ["1"]}, [T6], id="window"
        ),
    ],
)
def test_scope_is_anded_with_the_filter(
    filter_string: str,
    scope: dict[str, Any],
    expected: list[str],
    scoped_frame: TraceFrame,
    engine: Engine,
) -> None:
    got = search_traces(
        scoped_frame, filter_string, return_type="list", engine=engine, **scope
    )
    assert _ids(got) == expected
    assert count(scoped_frame, filter_string, engine=engine, **scope) == len(expected)


@pytest.mark.parametrize(
    ("scope", "message"),
    [
        pytest.param(
            {"locations": "2"},
            "locations must be a list, got str. Did you mean to use locations=['2']?",
            id="locations-string",
        ),
        pytest.param(
            {"experiment_ids": "12"},
            "experiment_ids must be a list, got str. Did you mean to use "
            "experiment_ids=['12']?",
            id="experiment_ids-string",
        ),
        pytest.param(
            {"experiment_ids": ["1"], "locations": ["1"]},
            "Cannot specify both 'experiment_ids' (deprecated) and 'locations'. "
            "Use 'locations' only.",
            id="both",
        ),
        pytest.param(
            {"locations": [1]},
            "locations must hold experiment id strings, not 1",
            id="int-id",
        ),
        pytest.param(
            {"locations": ["main.traces"]},
            "locations entry 'main.traces' is a Unity Catalog location "
            "(catalog.schema), which only a Databricks server can search; give "
            "experiment ids",
            id="unity-catalog",
        ),
        pytest.param(
            {"run_id": 7}, "run_id must be a str, not int", id="run_id-not-str"
        ),
    ],
)
def test_bad_scope_arguments(
    scope: dict[str, Any], message: str, scoped_frame: TraceFrame
) -> None:
    with pytest.raises(SearchArgumentError) as info:
        search_traces(scoped_frame, **scope)
    assert str(info.value) == message


def test_sql_warehouse_id_is_refused(oracle_frame: TraceFrame) -> None:
    with pytest.raises(SearchArgumentError) as info:
        search_traces(oracle_frame, sql_warehouse_id="abc123")
    assert str(info.value) == (
        "sql_warehouse_id names a Databricks SQL warehouse, which only a Databricks "
        "server searches; polartrace searches traces you have loaded"
    )


def test_return_type_none_is_pandas(oracle_frame: TraceFrame) -> None:
    got = search_traces(oracle_frame, "status = 'ERROR'", return_type=None)
    assert isinstance(got, pd.DataFrame)
    assert got["trace_id"].tolist() == [T2]


def test_flush_is_accepted(oracle_frame: TraceFrame) -> None:
    got = search_traces(
        oracle_frame, "status = 'ERROR'", flush=True, return_type="list"
    )
    assert _ids(got) == [T2]


def test_pages_of_a_restricted_search(scoped_frame: TraceFrame, engine: Engine) -> None:
    first = search_traces(
        scoped_frame, locations=["2"], max_results=1, return_type="list", engine=engine
    )
    second = search_traces(
        scoped_frame,
        locations=["2"],
        max_results=1,
        page_token=first.token,
        return_type="list",
        engine=engine,
    )
    assert (_ids(first), _ids(second), second.token) == ([T3], [T2], None)


def test_page_token_of_another_restriction_is_refused(
    scoped_frame: TraceFrame,
) -> None:
    first = search_traces(
        scoped_frame, locations=["1"], max_results=1, return_type="list"
    )
    with pytest.raises(PageTokenError) as info:
        search_traces(
            scoped_frame, locations=["2"], max_results=1, page_token=first.token
        )
    assert str(info.value) == (
        "page token belongs to a different search (filter, order_by or the "
        "experiments, run or model searched changed)"
    )


def test_lazy_dataset_applies_the_scope(
    scoped_frame: TraceFrame, tmp_path: Path
) -> None:
    write_parquet(scoped_frame.traces_at(range(len(scoped_frame))), tmp_path / "ds")
    lazy = scan_traces(tmp_path / "ds")
    got = search_traces(lazy, "status = 'OK'", locations=["2"], return_type="list")
    assert _ids(got) == [T3]
    assert count(lazy, run_id=RUN) == 1
    assert count(lazy, model_id="m-1", locations=["1"]) == 1


# --- extract_fields ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "column", "values"),
    [
        pytest.param(
            "chat_pipeline.inputs.question",
            "chat_pipeline.inputs.question",
            [None, None, "Why did it fail?", None, "Tie?", "What is MLflow?"],
            id="field",
        ),
        pytest.param(
            "`rag.query`.outputs",
            "rag.query.outputs",
            [{"a": "ok"}, None, None, None, None, None],
            id="backticked-span-whole-outputs",
        ),
        pytest.param(
            "Summarize.inputs",
            "Summarize.inputs",
            [None, "plain string input with Ünïcode", None, None, None, None],
            id="string-inputs",
        ),
        pytest.param(
            "Summarize.inputs.x",
            "Summarize.inputs.x",
            [None] * 6,
            id="field-of-non-dict",
        ),
        pytest.param(
            "tool_call.inputs.`x`",
            "tool_call.inputs.x",
            [None, 1, None, None, None, None],
            id="backticked-field",
        ),
        pytest.param(
            "retriever.outputs",
            "retriever.outputs",
            [None, None, None, None, None, [{"doc": "d1"}]],
            id="list-outputs",
        ),
    ],
)
def test_extract_fields_adds_a_column(
    field: str, column: str, values: list[object], oracle_frame: TraceFrame
) -> None:
    df = search_traces(oracle_frame, extract_fields=[field])
    assert df["trace_id"].tolist() == [T6, T3, T2, T4, T5, T1]
    assert list(df.columns[-1:]) == [column]
    assert df[column].tolist() == values


def test_extract_fields_reads_the_last_span_of_that_name(
    oracle_traces: list[Trace],
) -> None:
    # T1's spans: chat_pipeline, retriever (renamed llm_call here), llm_call. Only
    # the first llm_call has inputs.query; the last one decides, as in MLflow.
    t1 = next(t for t in oracle_traces if t.info.trace_id == T1)
    spans = [
        attrs.evolve(s, name="llm_call") if s.name == "retriever" else s
        for s in t1.data.spans
    ]
    renamed = Trace(t1.info, attrs.evolve(t1.data, spans=spans))
    df = search_traces(
        [renamed], extract_fields=["llm_call.inputs.query", "llm_call.inputs.prompt"]
    )
    assert df["llm_call.inputs.query"].tolist() == [None]
    assert df["llm_call.inputs.prompt"].tolist() == ["Answer"]


def test_extract_fields_columns_exist_without_results(
    oracle_frame: TraceFrame,
) -> None:
    df = search_traces(oracle_frame, "status = 'ERROR' AND status = 'OK'",
                       extract_fields=["a.inputs", "b.outputs.c"])  # fmt: skip
    assert (len(df), list(df.columns[-2:])) == (0, ["a.inputs", "b.outputs.c"])


def test_extract_fields_without_spans_are_none(oracle_frame: TraceFrame) -> None:
    df = search_traces(
        oracle_frame,
        "status = 'ERROR'",
        include_spans=False,
        extract_fields=["chat_pipeline.inputs"],
    )
    assert df["chat_pipeline.inputs"].tolist() == [None]


def test_extract_fields_on_a_lazy_dataset(
    oracle_frame: TraceFrame, tmp_path: Path
) -> None:
    write_parquet(oracle_frame.traces_at(range(len(oracle_frame))), tmp_path / "ds")
    df = search_traces(
        scan_traces(tmp_path / "ds"),
        "status = 'ERROR'",
        extract_fields=["llm_call.inputs.prompt"],
    )
    assert df["llm_call.inputs.prompt"].tolist() == ["Explain"]


@pytest.mark.parametrize(
    ("field", "message"),
    [
        pytest.param(
            "chat_pipeline",
            "Expected dot after span name: 'chat_pipeline'",
            id="no-dot",
        ),
        pytest.param(
            "chat_pipeline.foo",
            "Invalid field type: 'foo'. Expected 'inputs' or 'outputs'.",
            id="field-type",
        ),
        pytest.param(
            "`rag.query.inputs",
            "Expected closing backtick: '`rag.query.inputs'",
            id="unclosed-span",
        ),
        pytest.param(
            "rag.inputs.`q`x",
            "Unexpected characters after closing backtick: 'rag.inputs.`q`x'",
            id="after-backtick",
        ),
        pytest.param("", "Expected dot after span name: ''", id="empty"),
    ],
)
def test_extract_fields_errors_are_mlflows(
    field: str, message: str, oracle_frame: TraceFrame
) -> None:
    with pytest.raises(SearchArgumentError) as info:
        search_traces(oracle_frame, extract_fields=[field])
    assert str(info.value) == message


def test_extract_fields_only_for_pandas(oracle_frame: TraceFrame) -> None:
    with pytest.raises(SearchArgumentError) as info:
        search_traces(oracle_frame, return_type="list", extract_fields=["a.inputs"])
    assert str(info.value) == (
        "The `extract_fields` parameter is only supported when return type is set "
        "to 'pandas', not 'list'."
    )


# --- get_trace ------------------------------------------------------------------------


def test_frame_get_trace(oracle_frame: TraceFrame) -> None:
    found = oracle_frame.get_trace(T2)
    assert found is not None
    assert (found.info.trace_id, oracle_frame.get_trace("tr-unknown")) == (T2, None)


@pytest.mark.parametrize("kind", ["frame", "list", "path"])
def test_get_trace_with_traces(
    kind: str, oracle_frame: TraceFrame, tmp_path: Path
) -> None:
    traces: object = oracle_frame
    if kind == "list":
        traces = oracle_frame.traces_at(range(len(oracle_frame)))
    elif kind == "path":
        traces = tmp_path / "t.jsonl"
        write_jsonl(oracle_frame.traces_at(range(len(oracle_frame))), traces)
    found = polartrace.get_trace(T3, traces=traces)
    assert found is not None
    assert found.info.trace_id == T3
    assert polartrace.get_trace("tr-unknown", traces=traces) is None


# --- the in-memory store and MLFLOW_TRACKING_URI ------------------------------------


@pytest.fixture
def empty_store(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """An empty in-memory store and no MLFLOW_TRACKING_URI, restored afterwards."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    get_store().clear()
    yield
    get_store().clear()


def _finished_trace(name: str = "answer") -> str:
    with polartrace.start_span(name) as span:
        pass
    return span.trace_id


@pytest.mark.usefixtures("empty_store")
def test_none_with_nothing_to_search_is_an_error() -> None:
    with pytest.raises(SearchArgumentError) as info:
        count(None, "status = 'OK'")
    assert str(info.value) == (
        "traces=None found no traces: the in-memory tracing store is empty and "
        "MLFLOW_TRACKING_URI is not set; pass traces= (a TraceFrame, a list of "
        "Trace, a path or a database URL), set MLFLOW_TRACKING_URI to an MLflow "
        "store, or pass traces=polartrace.get_store() to search the store even "
        "when it is empty"
    )


@pytest.mark.usefixtures("empty_store")
def test_an_empty_store_passed_explicitly_counts_zero() -> None:
    assert count(get_store(), "status = 'OK'") == 0


@pytest.mark.usefixtures("empty_store")
@pytest.mark.parametrize(
    "uri",
    [
        pytest.param(f"sqlite:///{MLFLOW / 'mlflow.db'}", id="sqlite-url"),
        pytest.param(str(MLFLOW / "mlflow.db"), id="path"),
    ],
)
def test_none_searches_the_tracking_database(
    uri: str, monkeypatch: pytest.MonkeyPatch, engine: Engine
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    assert count(None, engine=engine) == 4
    got = search_traces(None, locations=["2"], return_type="list", engine=engine)
    assert _ids(got) == [DB_IDS[0]]


@pytest.mark.usefixtures("empty_store")
def test_none_searches_a_file_store_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (MLFLOW / "mlruns").as_uri())
    assert count(None) == 4


@pytest.mark.usefixtures("empty_store")
@pytest.mark.parametrize(
    "uri", ["http://localhost:5000", "https://mlflow.example", "databricks"]
)
def test_none_refuses_a_tracking_server(
    uri: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    with pytest.raises(SearchArgumentError) as info:
        count(None)
    assert str(info.value) == (
        f"MLFLOW_TRACKING_URI={uri!r} is a tracking server, which polartrace cannot "
        "search; read its traces with mlflow.search_traces(return_type='list'), "
        "save them to a file and pass that path as traces="
    )


@pytest.mark.usefixtures("empty_store")
def test_none_with_an_unreadable_tracking_uri_names_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    missing = tmp_path / "missing.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", str(missing))
    with pytest.raises(SearchArgumentError, match=r"^traces=None reads ") as info:
        count(None)
    assert f"MLFLOW_TRACKING_URI={str(missing)!r}, which cannot be read" in str(
        info.value
    )


@pytest.mark.usefixtures("empty_store")
def test_a_store_with_traces_wins_over_the_tracking_uri(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{MLFLOW / 'mlflow.db'}")
    trace_id = _finished_trace()
    assert _ids(search_traces(None, return_type="list")) == [trace_id]


# --- tags ---------------------------------------------------------------------------


@pytest.mark.usefixtures("empty_store")
def test_set_trace_tag_on_the_store_is_searchable(engine: Engine) -> None:
    trace_id = _finished_trace()
    polartrace.set_trace_tag(trace_id, "label", "good")
    got = search_traces(None, "tags.label = 'good'", return_type="list", engine=engine)
    assert _ids(got) == [trace_id]


@pytest.mark.usefixtures("empty_store")
def test_set_trace_tag_stores_non_strings_as_text() -> None:
    trace_id = _finished_trace()
    polartrace.set_trace_tag(trace_id, "score", 3)
    found = polartrace.get_trace(trace_id)
    assert found is not None
    assert found.info.tags["score"] == "3"


@pytest.mark.usefixtures("empty_store")
def test_set_trace_tag_on_a_running_trace() -> None:
    with polartrace.start_span("answer") as span:
        polartrace.set_trace_tag(span.trace_id, "label", "live")
    assert count(None, "tags.label = 'live'") == 1


@pytest.mark.usefixtures("empty_store")
def test_delete_trace_tag_on_the_store(engine: Engine) -> None:
    trace_id = _finished_trace()
    polartrace.set_trace_tag(trace_id, "label", "good")
    polartrace.delete_trace_tag(trace_id, "label")
    assert count(None, "tags.label IS NULL", engine=engine) == 1


@pytest.mark.usefixtures("empty_store")
def test_delete_missing_tag_uses_mlflows_message() -> None:
    trace_id = _finished_trace()
    with pytest.raises(TracingError) as info:
        polartrace.delete_trace_tag(trace_id, "label")
    assert str(info.value) == (
        f"No trace tag with key 'label' for trace with ID {trace_id!r}"
    )


@pytest.mark.usefixtures("empty_store")
def test_set_trace_tag_unknown_trace() -> None:
    with pytest.raises(TraceNotFoundError) as info:
        polartrace.set_trace_tag("tr-unknown", "label", "good")
    assert str(info.value) == "no trace with id 'tr-unknown' in the trace store"


def test_frame_set_trace_tag_returns_a_new_frame(
    oracle_frame: TraceFrame, engine: Engine
) -> None:
    tagged = oracle_frame.set_trace_tag(T3, "label", "good")
    got = search_traces(
        tagged, "tags.label = 'good'", return_type="list", engine=engine
    )
    assert _ids(got) == [T3]
    assert count(oracle_frame, "tags.label = 'good'", engine=engine) == 0


def test_frame_delete_trace_tag(oracle_frame: TraceFrame, engine: Engine) -> None:
    untagged = oracle_frame.delete_trace_tag(T1, "environment")
    filter_string = "tags.environment = 'production'"
    assert count(untagged, filter_string, engine=engine) == 0
    assert count(oracle_frame, filter_string, engine=engine) == 1


def test_frame_set_trace_tag_unknown_trace(oracle_frame: TraceFrame) -> None:
    with pytest.raises(TraceNotFoundError) as info:
        oracle_frame.set_trace_tag("tr-unknown", "label", "good")
    assert str(info.value) == "no trace with id 'tr-unknown' in this frame"


# --- the command line ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("ids", "expected"),
    [
        pytest.param(["2"], "1\n", id="one"),
        pytest.param(["1", "2"], "4\n", id="repeated"),
        pytest.param(["9"], "0\n", id="unknown"),
    ],
)
def test_cli_count_experiment_id(
    ids: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from polartrace.cli.main import main

    options = [arg for i in ids for arg in ("--experiment-id", i)]
    assert main(["count", str(MLFLOW / "mlflow.db"), *options]) == 0
    assert capsys.readouterr().out == expected


def test_cli_search_experiment_id(capsys: pytest.CaptureFixture[str]) -> None:
    from polartrace.cli.main import main

    db = str(MLFLOW / "mlflow.db")
    args = ["search", db, "--experiment-id", "2", "--columns", "trace_id"]
    assert main([*args, "--format", "csv"]) == 0
    assert capsys.readouterr().out.split() == ["trace_id", DB_IDS[0]]
