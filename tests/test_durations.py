"""Span durations are ``(end - start) / 1e6`` exactly, however the frame was built.

Polars multiplies by the reciprocal of a scalar divisor, one float step off Python's
division for about a third of durations (issue 18): every builder and the lazy
engine compute ``duration_ms`` with `polartrace.frame.schema.duration_ms`.
"""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pytest

from polartrace import Trace, TraceFrame, scan_traces, search_traces, write_parquet
from polartrace.api.search import Engine
from polartrace.frame.schema import duration_ms
from polartrace.io._columnar import read_jsonl_columnar
from polartrace.io.jsonl import read_jsonl, write_jsonl
from polartrace.io.parquet import read_parquet
from polartrace.model.trace import Span, TraceData, TraceInfo

#: 1,234.500003 ms: ``ns / 1e6`` and ``ns * 1e-6`` differ by one float step.
_NS = 1_234_500_003
_START = 1_700_000_000_000_000_000


def _trace(number: int, ns: int) -> Trace:
    span = Span(
        name="step",
        span_id=f"{number:016x}",
        otel_trace_id=f"{number:032x}",
        start_time_ns=_START,
        end_time_ns=_START + ns,
    )
    info = TraceInfo(trace_id=f"tr-{number}", request_time=_START // 1_000_000)
    return Trace(info, TraceData([span]))


def test_duration_is_python_division_for_random_times() -> None:
    rng = random.Random(18)
    ends = [rng.randrange(0, 10**13) for _ in range(20_000)]
    ends += [rng.randrange(-(2**62), 2**62) for _ in range(2_000)]
    table = pl.DataFrame({"start": [0] * len(ends), "end": ends}, orient="col")
    expr = duration_ms(pl.col("start"), pl.col("end"))
    expected = [end / 1e6 for end in ends]
    assert table.select(expr).to_series().to_list() == expected
    assert table.lazy().select(expr).collect().to_series().to_list() == expected
    # The case this guards: Polars' own scalar division differs.
    assert table.select(pl.col("end") / 1e6).to_series().to_list() != expected


def test_duration_is_null_without_an_end() -> None:
    table = pl.DataFrame(
        {"start": [5, 5], "end": [None, 6]}, schema={"start": pl.Int64, "end": pl.Int64}
    )
    found = table.select(duration_ms(pl.col("start"), pl.col("end")))
    assert found.to_series().to_list() == [None, 1e-6]


def _frames(tmp_path: Path) -> dict[str, object]:
    traces = [_trace(1, _NS), _trace(2, _NS + 1)]
    jsonl = tmp_path / "t.jsonl"
    write_jsonl(traces, jsonl)
    assert read_jsonl_columnar(jsonl) is not None  # the columnar reader is tested
    from_file = read_jsonl(jsonl)
    dataset = tmp_path / "ds"
    write_parquet(from_file, dataset)
    return {
        "objects": TraceFrame.from_traces(traces),
        "jsonl": from_file,
        "parquet": read_parquet(dataset),
        "lazy": scan_traces(dataset),
    }


# A scanned dataset is searched by the lazy engine only (the reference refuses it).
@pytest.mark.parametrize(
    ("source", "engine"),
    [
        pytest.param(source, engine, id=f"{source}-{engine}")
        for source in ("objects", "jsonl", "parquet", "lazy")
        for engine in ("polars", "reference")
        if (source, engine) != ("lazy", "reference")
    ],
)
def test_exact_duration_matches_on_every_build_path(
    tmp_path: Path, source: str, engine: Engine
) -> None:
    assert _NS / 1e6 != _NS * 1e-6
    frame = _frames(tmp_path)[source]
    found = search_traces(
        frame,
        filter_string="span.duration_ms = 1234.500003",
        return_type="list",
        engine=engine,
    )
    assert [t.info.trace_id for t in found] == ["tr-1"]


def test_stored_durations_are_computed_again_on_read(tmp_path: Path) -> None:
    dataset = tmp_path / "ds"
    write_parquet([_trace(1, _NS)], dataset)
    # As earlier writers stored it: one float step off.
    (part,) = (dataset / "spans").glob("*.parquet")
    spans = pl.read_parquet(part)
    off = spans.with_columns(duration_ms=pl.lit(_NS * 1e-6))
    off.write_parquet(part)
    assert read_parquet(dataset).spans["duration_ms"].to_list() == [_NS / 1e6]
    found = search_traces(
        scan_traces(dataset),
        filter_string="span.duration_ms = 1234.500003",
        return_type="list",
    )
    assert [t.info.trace_id for t in found] == ["tr-1"]
