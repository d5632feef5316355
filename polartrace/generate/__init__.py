"""Deterministic synthetic GenAI traces in MLflow's ``Trace.to_dict()`` JSON shape.

The CLI (``polartrace generate``, ``polartrace demo``), the benchmarks (10k / 100k / 1M
traces) and the tests draw their data from here. Each trace is a plain dict shaped like
``Trace.to_dict()`` of MLflow 3.17 (the ``"trace"`` value of
``tests/fixtures/conformance/oracle-traces.jsonl``):
``{"info": {...}, "data": {"spans": [...]}}``, span attribute values JSON-encoded,
event attributes raw, ``request_time`` as RFC 3339 text, assessments in their
protobuf-dict form. Only the standard library is used.

Determinism: everything comes from one ``random.Random(seed)`` in a fixed order, with no
``hash()``, no set iteration and no libm call per sample (log-normal latencies use an
exact power-of-two table), so a seed gives byte-identical output on every machine.

One module per stage, called in this order for each trace: ``_trace`` (app, user,
session, time, state, metadata and tags; it owns the RNG), ``_content`` (question,
answer, root inputs and outputs), ``_spans`` (span tree, times, errors, attributes)
and ``_assessments``; under them ``_apps`` (the app table), ``_vocab`` (words and
templates), ``_primitives`` (deterministic sampling) and ``_fragments`` (pre-built
JSON text). This package only checks arguments and streams the result.

What is drawn, and why (benchmarks rely on these selectivities):

* **Time**: trace ``i`` of ``n`` sits at position ``(i + jitter) / n`` of a 30-day
  window from ``start_ms``, warped by a diurnal and weekday traffic curve (night and
  weekend dips). Times ascend with a jitter of about one slot, so any 7-day window
  holds about 7/30 of the traces.
* **Apps**: 12 trace names with fixed weights; four end in ``_agent``
  (``support_agent``, ``sql_agent``, ``research_agent``, ``billing_agent``: 28 %
  together). Each app has its own span plan, input/output shape, latency and tags
  (``team``, ``version`` and ``model_name`` come from some apps only, as in real
  deployments).
* **State**: OK 85 %, ERROR 12 %, IN_PROGRESS 3 %. An ERROR trace has one failing span
  (LLM, TOOL, RETRIEVER, PARSER or EMBEDDING) with an ``exception`` event; the error
  propagates to its ancestors, later steps never ran and the root has no outputs. An
  IN_PROGRESS trace is what MLflow stores before the root span ends: no spans, no
  previews, no duration, no assessments. About 4 % of OK agent traces hold a TOOL span
  whose error the agent caught.
* **Latency**: log-normal per app (medians 0.3 s to 7 s), a 5 % slow tail, clamped to
  50 ms .. 30 s.
* **Users**: 500 ``first.last@my_company.com`` users with Zipf-Mandelbrot weights
  ``1 / (rank + 10)``. Conversational apps group traces into sessions of 1 to 10 turns
  (same user, environment and app; earlier turns appear in the chat history).
* **Tags and metadata**: ``environment`` production 70 % / staging 20 % / dev 10 %;
  ``mlflow.sourceRun`` (one of 40 evaluation runs) on 20 %; ``client_request_id`` on
  60 %; ``mlflow.linkedPrompts`` on 10 %.
* **Text**: questions and answers come from templates over a vocabulary of about 300
  words (customer support, engineering docs, analytics, research, writing and coding
  tasks), including non-ASCII words, apostrophes, double quotes and newlines.
* **Assessments** on 30 % of finished traces: ``correctness`` (bool), ``relevance``
  (judge score 0-1, or a human 1-5 score written as a float as MLflow returns it),
  ``tone`` (string), error-only judge feedback, overridden feedback (``valid: false``
  plus its replacement carrying ``overrides``), ``expected_answer`` and
  ``expected_facts`` (``serialized_value``), and rarely a session-scoped
  ``session_quality`` feedback.

Fraction of traces each tutorial filter matches, measured on 100k traces of seed 0
(other seeds, and sizes from 10k up, agree within about 1.5 percentage points):

==================================================================  =======
filter                                                              matched
==================================================================  =======
``status = 'OK'``                                                    84.7 %
``status = 'ERROR'``                                                 12.0 %
``timestamp_ms`` in one week (days 7 to 14 of the window)            23.1 %
``execution_time_ms > 2500``                                         30.9 %
``metadata.`mlflow.trace.user` = 'rupert.dubois@my_company.com'``     2.5 %
the same for the 100th user (``quinn.larsen@my_company.com``)         0.2 %
``tags.environment = 'production'``                                  69.9 %
``name LIKE '%_agent'``                                              28.3 %
``span.name = 'retriever'``                                          25.4 %
``span.type = 'LLM' AND span.status = 'ERROR'``                       6.9 %
``feedback.relevance > 0.5``                                         14.3 %
``text LIKE '%refund%'``                                             10.8 %
==================================================================  =======

The user ranking is drawn before any trace, so with seed 0 the highest-weighted user is
``rupert.dubois@my_company.com`` whatever ``n`` is. The generated JSON is about 5.3 KB
a trace (3.1 spans on average); MLflow's own fields take about 600 bytes a span.

Example:
    >>> trace = next(generate_trace_dicts(1, seed=7))
    >>> sorted(trace), trace["info"]["trace_id"][:3]
    (['data', 'info'], 'tr-')
"""

from __future__ import annotations

import gzip as _gzip
import itertools
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Final

from polartrace.generate._trace import _Generator

__all__ = [
    "DEFAULT_START_MS",
    "GENERATOR_VERSION",
    "generate_jsonl_lines",
    "generate_trace_dicts",
    "write_jsonl",
]

DEFAULT_START_MS: Final = 1_735_689_600_000
"""2025-01-01T00:00:00Z, the default start of the 30-day window."""

GENERATOR_VERSION: Final = 2
"""Bumped whenever a seed's output changes, so cached files name what they hold."""


def _check(n: int, span_range: tuple[int, int]) -> None:
    if n < 0:
        msg = f"n must be >= 0, got {n}"
        raise ValueError(msg)
    lo, hi = span_range
    if not 1 <= lo <= hi:
        msg = f"span_range must satisfy 1 <= lo <= hi, got {span_range!r}"
        raise ValueError(msg)


def generate_jsonl_lines(
    n: int,
    *,
    seed: int = 0,
    start_ms: int = DEFAULT_START_MS,
    span_range: tuple[int, int] = (1, 8),
) -> Iterator[str]:
    """Yield ``n`` synthetic traces as JSON text, without a trailing newline.

    Each line equals ``json.dumps(trace)`` of the matching `generate_trace_dicts` item
    (default separators, ASCII escapes); this is the fast path behind `write_jsonl`.

    Args:
        n: How many traces to yield (``0`` yields nothing).
        seed: Seed of the one ``random.Random`` everything is drawn from.
        start_ms: Start of the 30-day window of request times, epoch milliseconds.
        span_range: Inclusive bounds on the number of spans of a finished trace, root
            included (an ERROR trace may have fewer: steps after the failure never
            ran). In-progress traces have no spans.

    Returns:
        A lazy iterator of strings; memory stays constant.

    Raises:
        ValueError: If ``n`` is negative or ``span_range`` is not ``1 <= lo <= hi``.

    Example:
        >>> line = next(generate_jsonl_lines(1, seed=3))
        >>> json.dumps(json.loads(line)) == line
        True
    """
    _check(n, span_range)
    gen = _Generator(seed, start_ms, span_range)
    return (gen.trace(i, n) for i in range(n))


def generate_trace_dicts(
    n: int,
    *,
    seed: int = 0,
    start_ms: int = DEFAULT_START_MS,
    span_range: tuple[int, int] = (1, 8),
) -> Iterator[dict[str, Any]]:
    """Yield ``n`` synthetic traces as MLflow ``Trace.to_dict()`` dicts.

    The same arguments give the same traces in the same order on every machine.
    Traces are made lazily, so memory stays constant. They are the lines of
    `generate_jsonl_lines` parsed back, so both agree item for item.

    Args:
        n: How many traces to yield (``0`` yields nothing).
        seed: Generator seed (see `generate_jsonl_lines`).
        start_ms: Start of the 30-day window of request times, epoch milliseconds.
        span_range: Inclusive bounds on the number of spans of a finished trace
            (see `generate_jsonl_lines`).

    Returns:
        A lazy iterator of ``{"info": {...}, "data": {"spans": [...]}}`` dicts; each is
        a fresh object the caller may modify.

    Raises:
        ValueError: If ``n`` is negative or ``span_range`` is not ``1 <= lo <= hi``.

    Example:
        >>> ids = [t["info"]["trace_id"] for t in generate_trace_dicts(3, seed=42)]
        >>> ids == [t["info"]["trace_id"] for t in generate_trace_dicts(3, seed=42)]
        True
    """
    lines = generate_jsonl_lines(n, seed=seed, start_ms=start_ms, span_range=span_range)
    return map(json.loads, lines)


def write_jsonl(
    path: str | os.PathLike[str],
    n: int,
    *,
    seed: int = 0,
    gzip: bool | None = None,
    start_ms: int = DEFAULT_START_MS,
    span_range: tuple[int, int] = (1, 8),
) -> int:
    """Write ``n`` generated traces to ``path``, one ``json.dumps(trace)`` per line.

    Streams in batches, so memory stays constant however large ``n`` is. Gzip output
    is byte-identical across runs too: its header carries no file name or time.

    Args:
        path: Output file (its directory must exist); overwritten if present.
        n: Number of traces.
        seed: Generator seed (see `generate_trace_dicts`).
        gzip: Compress with gzip; ``None`` decides by a ``.gz`` suffix.
        start_ms: Start of the 30-day window of request times, epoch milliseconds.
        span_range: Inclusive bounds on the number of spans of a finished trace.

    Returns:
        The number of lines written.

    Raises:
        ValueError: If ``n`` is negative or ``span_range`` is invalid.

    Example:
        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     write_jsonl(pathlib.Path(tmp) / "traces.jsonl.gz", 5)
        5
    """
    lines = generate_jsonl_lines(n, seed=seed, start_ms=start_ms, span_range=span_range)
    path = Path(path)
    if gzip is None:
        gzip = path.suffix == ".gz"
    written = 0
    with open(path, "wb") as raw:
        sink: IO[bytes] | _gzip.GzipFile = raw
        if gzip:  # level 3: twice as fast as 6, 20 % larger; no name or time in header
            sink = _gzip.GzipFile(
                filename="", mode="wb", compresslevel=3, fileobj=raw, mtime=0
            )
        try:
            while batch := list(itertools.islice(lines, 256)):
                sink.write(("\n".join(batch) + "\n").encode("ascii"))
                written += len(batch)
        finally:
            if sink is not raw:
                sink.close()
    return written
