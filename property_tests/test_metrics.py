"""Property: the Polars metrics executor gives the reference engine's tables.

Random frames, random filters, a level, a few metrics over fields drawn from the
field catalogue (every field with one value per trace, span or assessment, so a new
field is covered when it is declared), group keys and a bucket: both engines return
the same rows in the same order, floats equal within a tolerance (sums and means
add in different orders; percentiles interpolate the same way). The same queries
over the traces written as a two-part Parquet dataset and scanned (the out-of-core
executor, span batches of three rows) give the dataset's in-memory tables.
"""

from __future__ import annotations

import math
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from hypothesis import example, given, note, settings
from hypothesis import strategies as st

from polartrace import MetricError, Trace, TraceFrame, metrics, read_traces
from polartrace.bind.metrics import AGGREGATE_NAMES, Level, bind_group_key, bind_metric
from polartrace.catalogue.fields import FIELDS
from polartrace.engines.lazy import ScannedTraces
from polartrace.io.parquet import DatasetWriter
from polartrace.language.ast import unparse
from polartrace.testing import filters, trace_lists
from polartrace.testing._vocab import _KEYS
from property_tests._support import examples


def _written(name: str, key: str) -> str:
    return name.replace("<key>", f"`{key}`").replace("<name>", f"`{key}`")


def _valid(spec: str, level: Level, *, group: bool = False) -> bool:
    try:
        (bind_group_key if group else bind_metric)(spec, level)
    except MetricError:
        return False
    return True


def _field_names(level: Level) -> list[str]:
    names: list[str] = []
    for spec in FIELDS:
        keys = _KEYS.get(spec.name, ()) if spec.keyed else ("",)
        names += [_written(spec.name, key) if key else spec.name for key in keys]
    return [n for n in names if _valid(f"count_distinct({n})", level)]


_FIELDS = {level: _field_names(level) for level in Level}
_AGGREGATES = [*AGGREGATE_NAMES, "p0", "p100", "p37.5"]


@st.composite
def _queries(draw: st.DrawFn) -> dict[str, Any]:
    level = draw(st.sampled_from(list(Level)))
    fields = _FIELDS[level]
    specs = draw(
        st.lists(
            st.tuples(st.sampled_from(_AGGREGATES), st.sampled_from(fields)),
            min_size=1,
            max_size=4,
        )
    )
    written = []
    for aggregate, field in specs:
        spec = (
            aggregate
            if aggregate in ("count", "error_count", "error_rate")
            else (f"{aggregate}({field})")
        )
        if spec not in written and _valid(spec, level):
            written.append(spec)
    keys = draw(st.lists(st.sampled_from(fields), max_size=2, unique=True))
    return {
        "level": level.value,
        "metrics": written or ["count"],
        "group_by": [k for k in keys if _valid(k, level, group=True)],
        "every": draw(st.sampled_from([None, "1s", "500ms", "1m", "1h", "1d", "1w"])),
    }


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return bool(a == b)


@settings(max_examples=examples(1.0))
@given(
    traces=trace_lists(0, 10),
    expr=st.none() | filters(max_leaves=3),
    query=_queries(),
)
# No trace, an assessment metric and no group: the assessment part is one row while
# the selection has none (the Polars engine once joined the two side by side).
@example(
    traces=[],
    expr=None,
    query={
        "level": "trace",
        "metrics": ["p50(feedback.`correctness`)"],
        "group_by": [],
        "every": None,
    },
)
def test_polars_metrics_equal_reference_metrics(
    traces: list[Trace], expr: Any, query: dict[str, Any]
) -> None:
    text = None if expr is None else unparse(expr)
    note(f"filter: {text}; query: {query}")
    frame = TraceFrame.from_traces(traces)
    fast = metrics(frame, text, return_type="polars", engine="polars", **query)
    slow = metrics(frame, text, return_type="polars", engine="reference", **query)
    assert fast.schema == slow.schema
    assert fast.height == slow.height
    for got, want in zip(fast.rows(), slow.rows(), strict=True):
        assert all(_same(g, w) for g, w in zip(got, want, strict=True)), (got, want)


@settings(max_examples=examples(0.2, minimum=5))
@given(
    traces=trace_lists(0, 8),
    cut=st.integers(0, 8),
    expr=st.none() | filters(max_leaves=3),
    query=_queries(),
)
def test_scanned_metrics_equal_in_memory_metrics(
    traces: list[Trace], cut: int, expr: Any, query: dict[str, Any]
) -> None:
    text = None if expr is None else unparse(expr)
    note(f"filter: {text}; query: {query}; parts cut at {cut}")
    with TemporaryDirectory() as tmp:
        path = Path(tmp) / "dataset"
        with DatasetWriter(path) as writer:
            for part in (traces[:cut], traces[cut:]):
                writer.write(TraceFrame.from_traces(part))
        scanned = ScannedTraces(path, batch_rows=3)
        out = metrics(scanned, text, return_type="polars", **query)
        frame = read_traces(path, format="parquet")
    want = metrics(frame, text, return_type="polars", **query)
    assert out.schema == want.schema
    assert out.height == want.height
    for got, expected in zip(out.rows(), want.rows(), strict=True):
        assert all(_same(g, w) for g, w in zip(got, expected, strict=True)), (
            got,
            expected,
        )
