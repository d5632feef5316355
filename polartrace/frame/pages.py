"""The page table: what a result page reads of each trace, written once per trace.

A result page carries MLflow's nested columns as JSON text (polars, arrow) or as
decoded values (pandas). Every reader and builder fills this table once, one row per
trace in key order, so that a page is one gather of its rows:

``trace_metadata``, ``tags``, ``assessments``
    The info's members as JSON text: ``{}`` when ``trace_metadata`` or ``tags`` is
    absent, null when ``assessments`` is (the page reads ``[]``).
``info_head``, ``info_tail``
    The trace's ``info`` object as JSON text without those three members, which are
    not kept twice: where the info text holds them as one run,
    ``"trace_metadata": M[, "assessments": A], "tags": T`` (as ``Trace.to_json``
    writes them), ``info_head`` is the text before the run and ``info_tail`` the
    text after it, so the info text is ``info_head`` + the run + ``info_tail``
    (`INFO_TEXT`); otherwise ``info_head`` is the whole info text and ``info_tail``
    null.
``spans``
    Its ``data.spans`` array as JSON text.
``json``
    The trace's whole JSON text where it is not
    ``{"info": <info>, "data": {"spans": <spans>}}`` (a text another writer laid out
    otherwise), else null: the whole text is that concatenation (`TRACE_TEXT`), so it
    is not kept twice.
``request``, ``response``
    ``json.dumps`` of the root span's decoded inputs and outputs (MLflow's
    ``request``/``response`` columns), null when absent.

Each text is equal, as JSON, to ``json.dumps`` of the value MLflow's pandas cell
holds, and `TRACE_TEXT` is each trace's text exactly as it was given; readers that
keep a source text keep its own spelling (`from_traces` writes ``json.dumps``'s,
the columnar JSONL reader keeps each line's).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Final

import orjson
import polars as pl

from polartrace.frame.root_spans import dumps
from polartrace.model.trace import Trace
from polartrace.values.conventions import SPAN_INPUTS, SPAN_OUTPUTS, root_span
from polartrace.values.json_values import decode_attribute_fast, holds_wide_float

__all__ = [
    "ASSESSMENTS_KEY",
    "ASSESSMENTS_TEXT",
    "INFO_TEXT",
    "METADATA_KEY",
    "PAGE_COLUMNS",
    "PAGE_SCHEMA",
    "TAGS_KEY",
    "TRACE_TEXT",
    "from_texts",
    "from_traces",
    "load_info",
    "load_spans",
    "root_io",
    "split_info",
    "whole_texts",
]

PAGE_SCHEMA: Final[dict[str, pl.DataType]] = {
    "info_head": pl.String(),
    "info_tail": pl.String(),
    "spans": pl.String(),
    "json": pl.String(),
    "trace_metadata": pl.String(),
    "tags": pl.String(),
    "assessments": pl.String(),
    "request": pl.String(),
    "response": pl.String(),
}
PAGE_COLUMNS: Final = tuple(PAGE_SCHEMA)
#: How the run of the three members opens, and how each later member is introduced.
METADATA_KEY: Final = '"trace_metadata": '
ASSESSMENTS_KEY: Final = ', "assessments": '
TAGS_KEY: Final = ', "tags": '
_OPEN: Final = '{"info": '
_SPANS: Final = ', "data": {"spans": '
_CLOSE: Final = "}}"
#: The info text of a row of the page table.
INFO_TEXT: Final = pl.coalesce(
    pl.concat_str(
        "info_head",
        pl.lit(METADATA_KEY),
        "trace_metadata",
        pl.coalesce(pl.concat_str(pl.lit(ASSESSMENTS_KEY), "assessments"), pl.lit("")),
        pl.lit(TAGS_KEY),
        "tags",
        "info_tail",
    ),
    pl.col("info_head"),
)
#: The assessments cell text of a row of the page table.
ASSESSMENTS_TEXT: Final = pl.col("assessments").fill_null("[]")
#: The whole JSON text of a row of the page table.
TRACE_TEXT: Final = pl.coalesce(
    pl.col("json"),
    pl.concat_str(pl.lit(_OPEN), INFO_TEXT, pl.lit(_SPANS), "spans", pl.lit(_CLOSE)),
)
_VALUE_KINDS: Final = ("feedback", "expectation")


def split_info(
    text: str, metadata: str, assessments: str | None, tags: str
) -> tuple[str, str | None]:
    """``info_head`` and ``info_tail`` of an info ``text`` holding those members.

    ``metadata``, ``assessments`` (None: absent) and ``tags`` are the members' own
    texts as ``text`` spells them. Wherever the run is found, the head, the run and
    the tail put together are ``text``; not found, the head is ``text``.
    """
    middle = "" if assessments is None else ASSESSMENTS_KEY + assessments
    run = METADATA_KEY + metadata + middle + TAGS_KEY + tags
    at = text.find(run)
    if at < 0:
        return text, None
    return text[:at], text[at + len(run) :]


def whole_texts(pages: pl.DataFrame) -> pl.Series:
    """The whole JSON text of each row of ``pages``, in order."""
    return pages.select(TRACE_TEXT.alias("json")).to_series()


def from_traces(traces: Sequence[Trace]) -> pl.DataFrame:
    """The page table of ``traces``, written from the objects (``json.dumps``)."""
    rows = []
    for trace in traces:
        d = trace.to_dict()
        request, response = trace.data.request, trace.data.response
        rows.append(
            _row(
                d["info"],
                d["data"]["spans"],
                None if request is None else dumps(request),
                None if response is None else dumps(response),
                None,
            )
        )
    return _table(rows)


def from_texts(texts: Iterable[str]) -> pl.DataFrame:
    """The page table of MLflow JSON texts, decoding each text once.

    A text laid out as ``{"info": ..., "data": {"spans": ...}}`` with
    ``json.dumps``'s spelling is not kept (`TRACE_TEXT` rebuilds it); any other text
    is kept whole in ``json``, so `whole_texts` answers every text as it was given.
    """
    rows = []
    locations: list[Any] = []
    for text in texts:
        trace = _load_trace(text, locations)
        # As `Trace.from_dict` reads them: no data, or null spans, is no spans.
        info, spans = trace["info"], (trace.get("data") or {}).get("spans") or []
        request, response = root_io(spans)
        rows.append(
            _row(
                info,
                spans,
                None if request is None else dumps(request),
                None if response is None else dumps(response),
                text,
            )
        )
    return _table(rows)


def _row(
    info: Any, spans: Any, request: str | None, response: str | None, text: str | None
) -> tuple[Any, ...]:
    info_text, spans_text = dumps(info), dumps(spans)
    whole = None
    if text is not None and text != _OPEN + info_text + _SPANS + spans_text + _CLOSE:
        whole = text
    metadata = dumps(info.get("trace_metadata", {}))
    tags = dumps(info.get("tags", {}))
    assessments = dumps(info["assessments"]) if "assessments" in info else None
    if "trace_metadata" in info and "tags" in info:
        head, tail = split_info(info_text, metadata, assessments, tags)
    else:
        head, tail = info_text, None
    return (
        head,
        tail,
        spans_text,
        whole,
        metadata,
        tags,
        assessments,
        request,
        response,
    )


def _table(rows: list[tuple[Any, ...]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=PAGE_SCHEMA, orient="row")


def root_io(spans: list[Any]) -> tuple[Any, Any]:
    """The root span's decoded inputs and outputs (as ``TraceData.request``)."""
    root = root_span(spans, _parent_of)
    if root is None:
        return None, None
    attributes = root.get("attributes") or {}
    inputs, outputs = attributes.get(SPAN_INPUTS), attributes.get(SPAN_OUTPUTS)
    return (
        None if inputs is None else decode_attribute_fast(inputs),
        None if outputs is None else decode_attribute_fast(outputs),
    )


def _parent_of(span: dict[str, Any]) -> str | None:
    # Null, or OTLP's "" for no parent, as the span reader reads it.
    return span.get("parent_span_id") or None


# --- decoding ----------------------------------------------------------------------
#
# orjson decodes about twice as fast as json. It rejects what json accepts beyond
# the standard (NaN, Infinity, lone surrogates, 1e400), and reads integers wider
# than 64 bits as floats: where a decoded value may hold such a float, json reads
# the text again. In the texts frames keep, span attributes, status, metadata and
# tags are strings and times are Int64 values, so bare numbers of any width can
# only be in span events and links, the trace location and assessment values:
# only those are looked at (walking every value would cost as much as decoding).


def _narrow_assessment(assessment: Any) -> bool:
    """Whether an assessment dict holds no wide float.

    In MLflow's shape only ``feedback.value`` and ``expectation.value`` hold
    numbers; any other shape is walked whole.
    """
    if type(assessment) is not dict:
        return not holds_wide_float(assessment)
    for kind in _VALUE_KINDS:
        part = assessment.get(kind)
        if part is not None:
            if type(part) is not dict:
                return not holds_wide_float(part)
            if holds_wide_float(part.get("value")):
                return False
    return True


def _narrow_info(info: Any, locations: list[Any]) -> bool:
    """Whether a decoded info holds no wide float (``locations``: narrow ones)."""
    try:
        location = info.get("trace_location")
        if location is not None and location not in locations:
            if holds_wide_float(location):
                return False
            locations.append(location)
        return all(map(_narrow_assessment, info.get("assessments") or ()))
    except (TypeError, AttributeError):  # not the shape of Trace.to_json
        return not holds_wide_float(info)


def _narrow_spans(spans: Any) -> bool:
    """Whether a decoded spans array holds no wide float."""
    try:
        for span in spans:
            for name in ("events", "links"):
                if span.get(name) and holds_wide_float(span[name]):
                    return False
    except (TypeError, AttributeError):  # not the shape of Trace.to_json
        return not holds_wide_float(spans)
    return True


def _exact(text: str | memoryview) -> Any:
    return json.loads(bytes(text) if isinstance(text, memoryview) else text)


def load_info(text: str | memoryview, locations: list[Any]) -> Any:
    """``json.loads`` of an ``info`` text, decoded by orjson where it agrees.

    ``locations`` holds trace locations already found narrow: they repeat.
    """
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return _exact(text)
    return value if _narrow_info(value, locations) else _exact(text)


def load_spans(text: str | memoryview) -> Any:
    """``json.loads`` of a ``spans`` text, decoded by orjson where it agrees."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return _exact(text)
    return value if _narrow_spans(value) else _exact(text)


def _load_trace(text: str, locations: list[Any]) -> Any:
    """``json.loads`` of a whole trace text, decoded by orjson where it agrees."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)
    try:
        narrow = _narrow_info(value["info"], locations) and _narrow_spans(
            value["data"]["spans"]
        )
    except (TypeError, KeyError):
        narrow = not holds_wide_float(value)
    return value if narrow else json.loads(text)
