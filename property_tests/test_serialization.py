"""Property 5: traces survive their JSON forms, and files give the same frame.

``Trace.from_dict(t.to_dict()) == t`` and the same through ``to_json`` /
``from_json``; a frame built from ``Trace`` objects equals one read back with
``polartrace.read_traces`` from the same traces written as JSONL: the same tables
and the same answers to random filters on both engines; and so does a Parquet
dataset of the same traces written in drawn parts (`DatasetWriter`), read whole or
scanned, sessions of one list spanning parts.
"""

from __future__ import annotations

import itertools
import json
import random
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
from hypothesis import example, given, note, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from polartrace import Trace, TraceFrame, read_traces, search_traces
from polartrace.engines.lazy import ScannedTraces
from polartrace.io.parquet import DatasetWriter, read_parquet, write_parquet
from polartrace.language.ast import unparse
from polartrace.testing import filters, trace_lists, traces
from property_tests._support import ENGINES, examples, outcome
from tests.typed_cells import expected_rows, typed_rows

TABLES = ("traces", "spans", "units", "assessments", "prompts")


@given(traces())
def test_trace_survives_to_dict_and_from_dict(trace: Trace) -> None:
    assert Trace.from_dict(trace.to_dict()) == trace


@given(traces(), st.booleans())
def test_trace_survives_to_json_and_from_json(trace: Trace, pretty: bool) -> None:
    text = trace.to_json(pretty=pretty)
    assert Trace.from_json(text) == trace
    assert Trace.from_json(text.encode()) == trace


@settings(max_examples=examples(0.5))
@given(
    trace_lists(0, 8),
    st.lists(filters(max_leaves=3), min_size=1, max_size=3),
    st.lists(st.integers(1, 7), max_size=3),
    st.booleans(),
)
def test_frame_read_from_jsonl_equals_frame_built_from_objects(
    traces: list[Trace], exprs: list[object], cuts: list[int], by_day: bool
) -> None:
    built = TraceFrame.from_traces(traces)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "traces.jsonl"
        path.write_text("".join(t.to_json() + "\n" for t in traces), encoding="utf-8")
        read = read_traces(path)
        dataset = _write_parts(traces, cuts, Path(tmp) / "ds", by_day=by_day)
        parquet = read_parquet(dataset)
        scanned = ScannedTraces(dataset, batch_rows=3)
        for table in TABLES:
            note(f"table: {table}")
            assert_frame_equal(
                getattr(read, table), getattr(built, table), check_exact=True
            )
        # Row order within a trace's assessments follows the parts; the rows do not.
        assert _assessment_rows(parquet) == _assessment_rows(built)
        assessed = _assessment_filters(traces)
        texts = [unparse(expr) for expr in exprs] + assessed  # type: ignore[arg-type]
        for text in texts:
            note(f"filter: {text}")
            for engine in ENGINES:
                want = outcome(built, text, engine)
                assert outcome(read, text, engine) == want, engine
                assert outcome(parquet, text, engine) == want, engine
            lazy = outcome(scanned, text, "polars")  # type: ignore[arg-type]
            assert lazy == outcome(built, text, "polars")


def _write_parts(
    traces: list[Trace], cuts: list[int], path: Path, *, by_day: bool
) -> Path:
    """Write ``traces`` as a dataset, one part between each two cut points."""
    bounds = [0, *sorted({c for c in cuts if c < len(traces)}), len(traces)]
    with DatasetWriter(path, partition_by_day=by_day) as writer:
        for start, end in itertools.pairwise(bounds):
            writer.write(TraceFrame.from_traces(traces[start:end]))
    return path


def _assessment_rows(frame: TraceFrame) -> list[tuple[Any, ...]]:
    table = frame.assessments.select(pl.all().cast(pl.String))
    return sorted(table.rows(), key=repr)


def _assessment_filters(traces: list[Trace]) -> list[str]:
    """An existence test for each kind and name of a valid assessment drawn."""
    found = {
        (a.kind, a.name)
        for t in traces
        for a in t.info.assessments
        if a.is_valid and a.kind in ("feedback", "expectation")
    }
    return [
        f"{kind}.`{name}` IS NOT NULL"
        for kind, name in sorted(found)
        if "`" not in name
    ]


#: Info members another writer may add, holding what a reader splitting the
#: text might mistake for the trace's own: a spans mark, a state, the parts' keys.
#: Each is added under its own name.
_DECOYS = {
    "data": {"spans": []},
    "x_state": {"state": "X", "data": {"spans": [1]}},
    "x_parts": {"tags": {"k": "v"}, "trace_metadata": {"m": "1"}, "assessments": []},
}


def _without_decoys(text: str, located: set[str]) -> Any:
    """The decoded trace text with the decoys taken out again.

    ``located``: the traces that had no location until a decoy one was added.
    """
    data = json.loads(text)
    info = data["info"]
    for key in _DECOYS:
        info.pop(key, None)
    if info["trace_id"] in located:
        del info["trace_location"]
    elif isinstance(info.get("trace_location"), dict):
        info["trace_location"].pop("state", None)
    return data


_LOCATED = Trace.from_dict(
    {
        "info": {
            "trace_id": "tr-1",
            "trace_location": {"type": "MLFLOW_EXPERIMENT"},
            "request_time": "2024-01-01T00:00:00Z",
            "state": "OK",
            "tags": {"k": "v"},
        },
        "data": {"spans": []},
    }
)


@settings(max_examples=examples(0.5))
@given(
    trace_lists(1, 8),
    st.randoms(use_true_random=False),
    st.booleans(),
    st.lists(st.sampled_from(sorted(_DECOYS)), unique=True, max_size=3),
    st.booleans(),
    st.booleans(),
)
@example([_LOCATED], random.Random(0), False, ["data"], True, False)
def test_output_read_from_jsonl_equals_output_built_from_objects(
    traces: list[Trace],
    rng: Any,
    compact: bool,
    decoys: list[str],
    state: bool,
    shuffle: bool,
) -> None:
    # Output rows of a frame read from JSONL come from the page table its reader
    # filled from the line text (polartrace.frame.pages), whatever order another
    # writer gave the info's keys and whatever members it added. Unshuffled, the
    # decoys follow the trace location, the "data" one first: a location holding a
    # "state" followed by a member holding the spans mark once sent a reader
    # splitting the text to the nested mark (the explicit example).
    lines = []
    located: set[str] = set()
    for trace in traces:
        data = trace.to_dict()
        info = data["info"]
        items = list(info.items())
        if state:
            location = info.get("trace_location")
            if location is None:
                located.add(info["trace_id"])
                items.insert(1, ("trace_location", {"type": "MLFLOW_EXPERIMENT"}))
                location = {"type": "MLFLOW_EXPERIMENT"}
            items = [
                (key, (location | {"state": "X"}) if key == "trace_location" else value)
                for key, value in items
            ]
        if shuffle:
            rng.shuffle(items)
        keys = [key for key, _ in items]
        at = keys.index("trace_location") + 1 if "trace_location" in keys else 0
        for key in sorted(decoys, key=lambda key: key == "data"):  # data last
            where = rng.randrange(len(items) + 1) if shuffle else at
            items.insert(where, (key, _DECOYS[key]))
        data["info"] = dict(items)
        separators = (",", ":") if compact else (", ", ": ")
        lines.append(json.dumps(data, separators=separators) + "\n")
    built = TraceFrame.from_traces(traces)
    # The reader fills the page table from the lines only when its columnar path
    # takes the whole file (about a fifth of these lists); the built tables with
    # the lines given beside them fill it from the texts every time. Written to
    # Parquet, the page tables are stored and read back.
    texts = pl.Series("json", [line.rstrip("\n") for line in lines])
    kept = TraceFrame(
        built.traces, built.spans, built.assessments, built.prompts, raw_json=texts
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "traces.jsonl"
        path.write_text("".join(lines), encoding="utf-8")
        read = read_traces(path)
        write_parquet(kept, Path(tmp) / "ds")
        parquet = read_parquet(Path(tmp) / "ds")
        write_parquet(read, Path(tmp) / "read-ds")
        read_parquet_frame = read_parquet(Path(tmp) / "read-ds")
    assert parquet.pages.equals(kept.pages)
    assert read_parquet_frame.pages.equals(read.pages)
    assert kept.json_at(range(len(kept))) == texts.to_list()
    frames = (
        ("read", read),
        ("kept", kept),
        ("parquet", parquet),
        ("read-parquet", read_parquet_frame),
    )
    for label, frame in frames:
        for page in (None, 3):
            note(f"frame: {label}, page: {page}")
            _assert_same_output(frame, built, page, located)


def _assert_same_output(
    frame: TraceFrame, built: TraceFrame, page: int | None, located: set[str]
) -> None:
    got = search_traces(frame, max_results=page, return_type="polars")
    want = search_traces(built, max_results=page, return_type="polars")
    assert got["trace_id"].to_list() == want["trace_id"].to_list()
    have_traces = [_without_decoys(v, located) for v in got["trace"]]
    assert have_traces == [json.loads(v) for v in want["trace"]]
    have, expected = typed_rows(got), typed_rows(want)
    for row in (*have, *expected):
        row.pop("trace")
        for name in ("request", "response"):
            row[name] = None if row[name] is None else json.loads(row[name])
    assert have == expected
    got_pd = search_traces(frame, max_results=page)
    want_pd = search_traces(built, max_results=page)
    for name in ("request", "response", "trace_metadata", "tags", "spans"):
        assert list(got_pd[name]) == list(want_pd[name]), name
    # The typed page against MLflow's pandas cells of the same search, decoded.
    assert typed_rows(got) == expected_rows(got_pd)
    assert typed_rows(want) == expected_rows(want_pd)
    objects = search_traces(built, max_results=page, return_type="list")
    assert list(want["request"]) == [_dumped(t.data.request) for t in objects]
    assert list(want["response"]) == [_dumped(t.data.response) for t in objects]


def _dumped(value: Any) -> str | None:
    return None if value is None else json.dumps(value)
