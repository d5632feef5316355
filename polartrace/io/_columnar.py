"""Build a frame from an MLflow JSONL file column by column, without Trace objects.

``iter_jsonl`` followed by ``TraceFrame.from_traces`` is the exact definition of
what a JSONL file means; this module computes the same tables with Arrow's and
Polars' JSON readers, and answers ``None`` whenever it cannot vouch for the result,
so that the caller re-reads the file line by line (which also names the bad line of
a corrupt file). Nothing here raises on bad input.

Two strict PyArrow reads do the parsing. PyArrow, unlike ``pl.read_ndjson``, never
coerces: a number where a string belongs, a duplicate key or a lone surrogate is an
error, which sends the file to the exact path. (``pl.read_ndjson`` reads a number
declared String as its text and re-serialises nested objects lossily.) Lines are
cut textually into their info object and their spans (`_texts`), then:

1. The info objects, with an explicit schema of the fixed fields and unknown keys
   ignored: typed trace columns, and checks that ``tags``, ``trace_metadata`` and
   ``assessments`` have the right JSON shape.
2. One synthesised line per trace, ``{"t": tags, "m": metadata, "s": spans}`` (the
   tags and metadata from Polars' ``json_path_match``, which re-serialises with
   exact escapes), with the fixed span fields declared and every other key
   inferred: the union of tag, metadata and span attribute keys, whose
   first-appearance order `_key_order` restores.

What Arrow cannot tell apart, a null value from a missing key, matters where the
line parser rejects a null (tag, metadata and attribute values, a status code):
those are checked on the JSON text with regular expressions that may reject too
much (and fall back) but never too little. Assessments and span events
hold values of any JSON type that must keep their exact spelling (``1e16`` is not
``10000000000000000``); they are few, so they are decoded in Python, with the very
functions the line parser uses, from the exact text of just those parts.
"""

from __future__ import annotations

import gzip
import itertools
import json
import re
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import orjson
import polars as pl
import pyarrow as pa
import pyarrow.json as pj
from attrs import define

from polartrace.catalogue.text_units import linked_prompts
from polartrace.frame.llm import with_llm_columns
from polartrace.frame.pages import (
    ASSESSMENTS_KEY,
    METADATA_KEY,
    PAGE_COLUMNS,
    TAGS_KEY,
    from_texts,
)
from polartrace.frame.root_spans import dumps, root_texts
from polartrace.frame.schema import (
    _ASSESSMENT_SCHEMA,
    _PROMPT_SCHEMA,
    META_PREFIX,
    RAW_PREFIX,
    SPAN_STATUS_ENUM,
    STATE_ENUM,
    TAG_PREFIX,
    duration_ms,
)
from polartrace.frame.trace_frame import TraceFrame, _assessment_rows, _compact
from polartrace.model.assessment import read_assessment
from polartrace.model.span import _read_event
from polartrace.model.timestamps import parse_timestamp_ms
from polartrace.values.conventions import (
    LINKED_PROMPTS_TAG,
    SESSION_KEY,
    SPAN_STATUS_SPELLINGS,
    SPAN_TYPE_KEY,
    STATE_SPELLINGS,
    STATE_UNSPECIFIED,
    status_code_json,
)
from polartrace.values.errors import TraceFormatError
from polartrace.values.json_values import LONG_INTEGER, decode_attribute
from polartrace.values.nesting import MAX_DEPTH, loads

__all__ = ["read_jsonl_columnar"]

_STRUCT: Final = pa.struct([])  # an object of any keys: only its shape is checked
_OBJECTS: Final = pa.list_(_STRUCT)
_INFO: Final = pa.schema(
    [
        ("trace_id", pa.string()),
        ("client_request_id", pa.string()),
        (
            "trace_location",
            pa.struct(
                [("mlflow_experiment", pa.struct([("experiment_id", pa.string())]))]
            ),
        ),
        ("request_time", pa.string()),
        ("state", pa.string()),
        ("trace_metadata", _STRUCT),
        ("assessments", _OBJECTS),
        ("tags", _STRUCT),
        ("request_preview", pa.string()),
        ("response_preview", pa.string()),
        ("execution_duration_ms", pa.int64()),
    ]
)
_SPAN: Final = pa.struct(
    [
        ("trace_id", pa.string()),
        ("span_id", pa.string()),
        ("parent_span_id", pa.string()),
        ("name", pa.string()),
        ("start_time_unix_nano", pa.int64()),
        ("end_time_unix_nano", pa.int64()),
        ("status", pa.struct([("code", pa.string()), ("message", pa.string())])),
        ("attributes", _STRUCT),
        ("events", _OBJECTS),
        ("links", _OBJECTS),
    ]
)
_PARTS: Final = pa.schema([("t", _STRUCT), ("m", _STRUCT), ("s", pa.list_(_SPAN))])
_STATES: Final = {"": STATE_UNSPECIFIED, **STATE_SPELLINGS}
_STATUS_CODES: Final = dict(SPAN_STATUS_SPELLINGS)
_UNSET_JSON: Final = status_code_json("UNSET")
_STRING: Final = r'"(?:[^"\\]|\\.)*"'
_INFO_MARK: Final = '{"info": '
_SPANS_MARK: Final = '"data": {"spans": '
# A JSON object whose values are all strings, in any spelling.
_LOOSE_PAIR: Final = rf"\s*{_STRING}\s*:\s*{_STRING}\s*"
_LOOSE_OBJECT: Final = rf"\{{(?:{_LOOSE_PAIR}(?:,{_LOOSE_PAIR})*|\s*)\}}"
_TIME_LIMIT: Final = 1 << 62
_NUL: Final = "\\u0000"  # its JSON escape; JSON text holds no raw NUL
_BASE64_8: Final = r"^[A-Za-z0-9+/]{11}=$"
_BASE64_16: Final = r"^[A-Za-z0-9+/]{22}==$"


class _Unsure(Exception):
    """The columnar path cannot vouch for this file: read it line by line."""


def read_jsonl_columnar(path: Path) -> TraceFrame | None:
    """Build the frame of an MLflow JSONL file with columnar readers.

    Returns:
        The frame ``TraceFrame.from_traces(list(iter_jsonl(path)))`` would build
        (same tables, dtypes, values and column order; the JSON text of each trace
        is kept as its line), or ``None`` when the file holds anything the
        columnar path does not vouch for: a bad record, an unreadable file, or a
        valid but unusual shape. The caller then reads it line by line.
    """
    try:
        return _build(_read_bytes(path))
    except (
        _Unsure,
        TraceFormatError,
        OSError,
        EOFError,
        UnicodeDecodeError,
        zlib.error,
        ValueError,  # json errors and bad timestamps, raised while deciding
        KeyError,
        TypeError,
        OverflowError,
        RecursionError,
        pa.ArrowException,
        pl.exceptions.PolarsError,
    ):
        return None


def _read_bytes(path: Path) -> bytes:
    if path.suffix.lower() == ".gz":
        with gzip.GzipFile(path, "rb") as handle:
            return handle.read()
    return path.read_bytes()


def _check(ok: bool) -> None:
    if not ok:
        raise _Unsure


def _reject(table: pl.DataFrame, *conditions: pl.Expr) -> None:
    """Give up unless no row of ``table`` meets any of ``conditions``."""
    found = table.select(
        c.fill_null(value=False).any().alias(f"c{i}") for i, c in enumerate(conditions)
    ).row(0)
    _check(not any(found))


def _build(data: bytes) -> TraceFrame:
    # The file's bytes, text and lines are each as big as the file: keep one.
    text = data.decode("utf-8")
    del data
    lines = pl.Series("json", text.split("\n"), dtype=pl.String)
    del text
    blank = lines.str.contains(r"^[ \t\r]*$")
    if blank.any():
        lines = lines.filter(~blank)
    if lines.str.contains(r"^[ \t\r]|[ \t\r]$").any():
        lines = lines.str.strip_chars(" \t\r")
    n = len(lines)
    if n == 0:
        return TraceFrame.from_traces([])
    # Arrow ends a row at "\r" too (JSON allows it between tokens), and a row that
    # is a bare ``null`` crashes pyarrow 25's reader: neither may reach it. Nor may
    # deep nesting, which overflows its stack; the line parser names the line.
    _check(not lines.str.contains("\r", literal=True).any())
    _check(_shallow(lines))
    # Arrow cuts a key at a NUL ("a\u0000b" reads as "a"): the line parser keeps it.
    _check(not _nul_keys(lines))
    texts, runs = _texts(lines)
    _check(bool(texts["i"].str.starts_with("{").fill_null(value=False).all()))
    # The info objects alone: unknown keys and assessment values are skipped.
    head = _read_json(texts["i"] + "\n", _INFO, "ignore")
    _check(head.height == n)
    # Tags, metadata and spans, whose keys Arrow infers (in an order of its own).
    parts = _read_json(_synthesise(texts), _PARTS, "infer")
    # A cut that went wrong would show up as a key beside t, m and s.
    _check(parts.height == n and parts.columns == ["t", "m", "s"])
    _check_text(texts)
    # A null text where Arrow found a value means the text was not cut cleanly.
    _reject(
        pl.DataFrame(
            [
                head["tags"],
                head["trace_metadata"],
                texts["t"],
                texts["m"],
            ],
            schema=["tags", "meta", "t", "m"],
        ),
        pl.col("tags").is_not_null() != pl.col("t").is_not_null(),
        pl.col("meta").is_not_null() != pl.col("m").is_not_null(),
    )
    traces, sessions = _traces(head, parts["t"], parts["m"], texts)
    spans = _spans(parts["s"], texts["s"])
    owned = _owned(head, texts, runs)
    assessments = _assessments(owned, sessions)
    prompts = _prompts(traces)
    traces, spans = with_llm_columns(traces, spans, _compact)
    pages = _pages(lines, texts, spans, owned)
    return TraceFrame(traces, spans, assessments, prompts, pages=pages)


@define(frozen=True)
class _Runs:
    """Each info text cut around its run of metadata, assessments and tags.

    ``parts`` has columns ``head``, ``m``, ``a``, ``t``, ``tail``: where ``a`` is
    not null the info text is ``head``, the metadata key, ``m``, the assessments
    key, ``a``, the tags key, ``t``, ``tail``; without it, the same without the
    assessments key and ``a``. Column ``sure``: where these pieces are the info's
    own members, exactly. ``decoded``: ``json.loads`` of each ``a`` that is sure,
    by row, where it is not ``[]``.
    """

    parts: pl.DataFrame
    decoded: dict[int, Any]


@define(frozen=True)
class _Owned:
    """The traces with assessments, and their assessments.

    ``keys`` are the rows whose info holds a non-empty assessments array (as Arrow
    read it); ``items`` their decoded arrays, in order; ``texts`` the exact text
    of each array where the run was split (`_Runs`), else ``None``.
    """

    keys: pl.Series
    items: list[Any]
    texts: list[str | None]


def _shallow(lines: pl.Series) -> bool:
    """Whether no line nests deeper than `MAX_DEPTH`.

    A line opens at least as many brackets as it is deep: only the few that open
    more than the bound are measured, on their brackets outside strings.
    """
    many = (lines.str.count_matches(r"[\[{]") > MAX_DEPTH).arg_true()
    if many.is_empty():
        return True
    brackets = lines.gather(many).str.replace_all(rf'{_STRING}|[^\[\]{{}}"]+', "")
    return all(_depth(text) <= MAX_DEPTH for text in brackets.to_list())


def _nul_keys(lines: pl.Series) -> bool:
    """Whether some line may hold an object key with a NUL character in it.

    A string followed by a colon is a key; a match that starts inside a string
    only rejects more.
    """
    some = lines.filter(lines.str.contains(_NUL, literal=True))
    if some.is_empty():
        return False
    key = rf'"(?:[^"\\]|\\.)*{re.escape(_NUL)}(?:[^"\\]|\\.)*"\s*:'
    return bool(some.str.contains(key).any())


def _depth(brackets: str) -> int:
    """The deepest nesting of a text of brackets alone (``[[]{}]`` is 2)."""
    steps = (1 if c in "[{" else -1 for c in brackets)
    return max(itertools.accumulate(steps, initial=0))


def _pages(
    lines: pl.Series,
    texts: pl.DataFrame,
    spans: pl.DataFrame,
    owned: _Owned,
) -> pl.DataFrame:
    """The page table (`polartrace.frame.pages`) of the lines, from their parts.

    A line cut at its spans mark (`_texts`) is exactly ``{"info": I, "data":
    {"spans": S}}``: its spans are kept as they are, and its info is split around
    the run of its metadata, assessments and tags (`_split`), where the run's
    pieces are sure to be the info's own members. The pieces put together are the
    info text by construction, so `TRACE_TEXT` gives each line back. Where the info
    cannot be split, it is kept whole, with the tags and metadata as `_texts` found
    them, and the assessments decoded in Python; so are the few lines of another
    layout (`from_texts`).
    """
    n = len(lines)
    owner = pl.Series([False] * n, dtype=pl.Boolean).scatter(owned.keys, True)
    written = [
        dumps(items) if text is None else text
        for items, text in zip(owned.items, owned.texts, strict=True)
    ]
    a = texts["a"]
    holds = (a.is_not_null() & (a != "[]")).fill_null(value=False)
    # A run with assessments belongs to an owner, whose own array it must be.
    mine = texts["sure"] & (holds == owner)
    assessments = a.set(~mine, None).scatter(
        owned.keys, pl.Series(written, dtype=pl.String)
    )
    request, response = root_texts(spans, pl.int_range(n, dtype=pl.UInt32, eager=True))
    pages = pl.DataFrame(
        [
            texts["head"].zip_with(mine, texts["i"]).alias("info_head"),
            texts["tail"].set(~mine, None).alias("info_tail"),
            texts["s"].alias("spans"),
            pl.Series("json", [None] * n, dtype=pl.String),
            texts["m"].fill_null("{}").alias("trace_metadata"),
            texts["t"].fill_null("{}").alias("tags"),
            assessments.alias("assessments"),
            pl.Series("request", request, dtype=pl.String),
            pl.Series("response", response, dtype=pl.String),
        ]
    )
    rest = texts["cut"].not_().arg_true()
    if not rest.is_empty():
        other = from_texts(lines.gather(rest).to_list())
        pages = pages.with_columns(
            pages[name].scatter(rest, other[name]) for name in PAGE_COLUMNS
        )
    return pages


def _split(info: pl.Series) -> pl.DataFrame:
    """Each info text cut around its run of metadata, assessments and tags (`_Runs`).

    The pieces put together are the text by construction; ``sure`` tells where they
    are the info's own members, if ``a`` is a whole JSON value (the caller decodes
    it). The info is valid JSON (Arrow reads it), so a literal ``"key": `` outside
    every string is a key, and strings are tokens a regular expression finds:

    - the text before the metadata key, its strings removed, opens exactly one
      bracket and no string: the key is the info's own ``trace_metadata``;
    - ``m`` is an object of strings, so the metadata ends where ``m`` ends, and the
      key after it (assessments or tags) is the info's own too;
    - ``t`` is the object of strings that starts there (a regular expression of such
      objects finds its end, a ``}`` inside a tag included).

    A text the cut misread (a key inside another member, members in another order)
    fails one of these and is not sure.
    """
    first = info.str.splitn(METADATA_KEY, 2).struct.unnest()
    head, after = first["field_0"], first["field_1"]
    with_a = after.str.contains(ASSESSMENTS_KEY, literal=True).fill_null(value=False)
    second = after.str.splitn(ASSESSMENTS_KEY, 2).struct.unnest()
    run = second["field_1"].zip_with(with_a, after)
    third = run.str.splitn(TAGS_KEY, 2).struct.unnest()
    metadata = second["field_0"].zip_with(with_a, third["field_0"])
    rest = third["field_1"]
    # Tags are strings: their object ends at its first "}" unless a tag holds one;
    # those few are matched by the grammar of an object of strings.
    fourth = rest.str.splitn("}", 2).struct.unnest()
    tags, tail = fourth["field_0"] + "}", fourth["field_1"]
    objects = f"^{_LOOSE_OBJECT}$"
    whole_tags = tags.str.contains(objects).fill_null(value=False)
    again = (~whole_tags & tail.is_not_null()).arg_true()
    if not again.is_empty():
        found = rest.gather(again).str.extract(f"^({_LOOSE_OBJECT})", 1)
        tags = tags.scatter(again, found)
        tail = tail.scatter(again, rest.gather(again).str.slice(found.str.len_chars()))
        whole_tags = whole_tags.scatter(again, found.is_not_null())
    bare = head.str.replace_all(_STRING, "")
    own = (
        (bare.str.count_matches(r"[\[{]") - bare.str.count_matches(r"[\]}]") == 1)
        & ~bare.str.contains('"', literal=True)
        & metadata.str.contains(objects)
    ).fill_null(value=False)
    return pl.DataFrame(
        [
            head.alias("head"),
            metadata.alias("m"),
            third["field_0"].set(~with_a, None).alias("a"),
            tags.alias("t"),
            tail.alias("tail"),
            (own & whole_tags & tail.is_not_null()).alias("sure"),
        ]
    )


def _runs(info: pl.Series) -> _Runs:
    """`_split`, with each assessments piece decoded: only a whole value is sure."""
    parts = _split(info)
    a = parts["a"]
    rows = (parts["sure"] & a.is_not_null() & (a != "[]")).arg_true()
    texts = a.gather(rows)
    # orjson reads as json does but for integers beyond 64 bits (and NaN and the
    # like, which it refuses); the lines nest within the bound (`_shallow`).
    long = texts.str.contains(LONG_INTEGER).to_list()
    decoded: dict[int, Any] = {}
    wrong: list[int] = []
    for row, text, exact in zip(rows.to_list(), texts.to_list(), long, strict=True):
        if not exact:
            try:
                decoded[row] = orjson.loads(text)
                continue
            except orjson.JSONDecodeError:
                pass
        try:
            decoded[row] = json.loads(text)
        except json.JSONDecodeError:  # not a whole value: the cut missed the tags
            wrong.append(row)
    if wrong:
        sure = parts["sure"].scatter(wrong, False)
        parts = parts.with_columns(sure)
    return _Runs(parts, decoded)


def _read_json(lines: pl.Series, schema: pa.Schema, unexpected: str) -> pl.DataFrame:
    """Read newline-ended JSON objects, one per item, with PyArrow's strict reader.

    The caller passes a temporary: it is dropped once Arrow has its own copy, so
    that the text is not held twice (three times the file size, at its peak).
    """
    block = _block_size(lines)
    source = pa.BufferReader(_ndjson(lines))
    del lines
    table = pj.read_json(
        source,
        read_options=pj.ReadOptions(block_size=block),
        parse_options=pj.ParseOptions(
            explicit_schema=schema, unexpected_field_behavior=unexpected
        ),
    )
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    return frame


def _synthesise(texts: pl.DataFrame) -> pl.Series:
    """One NDJSON line per trace: ``{"t": tags, "m": metadata, "s": spans}``."""
    return texts.select(
        pl.concat_str(
            pl.lit('{"t":'),
            pl.col("t").fill_null("null"),
            pl.lit(',"m":'),
            pl.col("m").fill_null("null"),
            pl.lit(',"s":'),
            pl.col("s").fill_null("null"),
            pl.lit("}\n"),
        )
    ).to_series()


def _ndjson(lines: pl.Series) -> pa.Buffer:
    """Newline-ended ``lines`` as NDJSON bytes, given to Arrow not through Python."""
    array = lines.rechunk().to_arrow(compat_level=pl.CompatLevel.oldest())
    if not isinstance(array, pa.LargeStringArray):  # not expected; but be sure
        return pa.py_buffer(lines.str.join("").item().encode("utf-8"))
    offsets, values = array.buffers()[1:]

    def offset(i: int) -> int:
        raw = offsets.slice(8 * (array.offset + i), 8).to_pybytes()
        return int.from_bytes(raw, "little", signed=True)

    start, end = offset(0), offset(len(array))
    return values.slice(start, end - start)


def _texts(lines: pl.Series) -> tuple[pl.DataFrame, _Runs]:
    """The exact JSON text of each trace's info, tags, metadata, assessments, spans.

    ``json_path_match`` parses a whole line (slowly), so lines in MLflow's layout,
    ``{"info": {...}, "data": {"spans": [...]}}``, are cut at the one place the
    data marker occurs (it cannot occur inside a string): the line is then exactly
    ``{"info": I, "data": {"spans": S}}``, and when I and S parse (checked by the
    Arrow reads) they are the info and the spans. Other lines are parsed whole.
    """
    json = pl.col("json")
    halves = json.str.splitn(_SPANS_MARK, 2)
    cut = (
        json.str.starts_with(_INFO_MARK)
        & json.str.ends_with("]}}")
        & (json.str.count_matches(_SPANS_MARK, literal=True) == 1)
    )
    texts = lines.to_frame().select(
        pl.when(cut)
        .then(
            halves.struct.field("field_0")
            .str.strip_prefix(_INFO_MARK)
            .str.strip_suffix(", ")
        )
        .alias("i"),
        pl.when(cut)
        .then(halves.struct.field("field_1").str.strip_suffix("}}"))
        .alias("s"),
        cut.alias("cut"),
    )
    # The cut lost its marks and nothing else: the line is the layout's exactly.
    marks = len(_INFO_MARK) + len(", ") + len(_SPANS_MARK) + len("}}")
    whole = pl.col("i").str.len_bytes() + pl.col("s").str.len_bytes() + marks
    cut = pl.col("cut") & (whole == lines.str.len_bytes()).fill_null(value=False)
    texts = texts.select(
        pl.when(cut).then("i").alias("i"),
        pl.when(cut).then("s").alias("s"),
        cut.alias("cut"),
    )
    rest = texts["cut"].not_().arg_true()
    if not rest.is_empty():
        uncut = lines.gather(rest)
        data = uncut.str.json_path_match("$.data")
        _check(bool((data.is_null() | data.str.starts_with("{")).all()))
        texts = texts.with_columns(
            texts["i"].scatter(rest, uncut.str.json_path_match("$.info")),
            texts["s"].scatter(rest, uncut.str.json_path_match("$.data.spans")),
        )
    runs = _runs(texts["i"])
    parts = runs.parts
    sure = parts["sure"]
    t, m = parts["t"].set(~sure, None), parts["m"].set(~sure, None)
    unsure = (~sure).arg_true()
    if not unsure.is_empty():
        others = texts["i"].gather(unsure)
        t = t.scatter(unsure, others.str.json_path_match("$.tags"))
        m = m.scatter(unsure, others.str.json_path_match("$.trace_metadata"))
    texts = texts.select("i", "s", "cut").with_columns(
        t.alias("t"),
        m.alias("m"),
        parts["head"],
        parts["a"],
        parts["tail"],
        sure,
    )
    return texts, runs


def _block_size(lines: pl.Series) -> int:
    """An Arrow block size that holds the longest line (a line may not straddle)."""
    longest = lines.str.len_bytes().max()
    return max(1 << 20, (longest if isinstance(longest, int) else 0) + 2)


def _check_text(texts: pl.DataFrame) -> None:
    """Reject nulls the Arrow read cannot tell from missing keys (see module doc)."""
    objects = f"^{_LOOSE_OBJECT}$"
    # Sure rows' tags and metadata are such objects already (`_split`).
    _reject(
        texts.filter(~pl.col("sure")),
        pl.col("t").is_not_null() & ~pl.col("t").str.contains(objects),
        pl.col("m").is_not_null() & ~pl.col("m").str.contains(objects),
    )
    _reject(
        texts,
        pl.col("s").str.count_matches(r'"attributes"\s*:\s*\{')
        != pl.col("s").str.count_matches(rf'"attributes"\s*:\s*{_LOOSE_OBJECT}'),
        pl.col("s").str.contains(r'"code"\s*:\s*null'),
    )


def _key_order(table: pl.DataFrame, row_keys: Callable[[int], list[str]]) -> list[str]:
    """The columns of ``table`` present somewhere, in first-appearance order.

    Arrow merges the keys it infers block by block, so its order is not the
    file's: keys are sorted by the first row that has them, and keys first seen
    in the same row in that row's own order (``row_keys`` decodes it).
    """
    if not table.width:
        return []
    firsts = table.select(
        pl.all().is_not_null().arg_max().cast(pl.Int64),
    ).row(0)
    present = table.select(pl.all().is_not_null().any()).row(0)
    found = sorted(
        (first, index, name)
        for index, (name, first, here) in enumerate(
            zip(table.columns, firsts, present, strict=True)
        )
        if here
    )
    ordered: list[str] = []
    at = 0
    while at < len(found):
        row = found[at][0]
        group = [name for first, _, name in found[at:] if first == row]
        if len(group) > 1:
            position = {key: i for i, key in enumerate(row_keys(row))}
            group.sort(key=position.__getitem__)
        ordered.extend(group)
        at += len(group)
    return ordered


def _string_columns(
    struct: pl.Series, prefix: str, row_keys: Callable[[int], list[str]]
) -> list[pl.Series]:
    if not isinstance(struct.dtype, pl.Struct) or not struct.dtype.fields:
        return []
    table = struct.struct.unnest()
    order = _key_order(table, row_keys)
    _check(all(table.schema[key] in (pl.String, pl.Null) for key in order))
    return [table[key].cast(pl.String).alias(prefix + key) for key in order]


def _object_keys(text: str | None) -> list[str]:
    value = json.loads(text) if text is not None else None
    if not isinstance(value, dict):
        raise _Unsure
    return list(value)


def _traces(
    head: pl.DataFrame, tags: pl.Series, meta: pl.Series, texts: pl.DataFrame
) -> tuple[pl.DataFrame, dict[str, list[int]]]:
    n = head.height
    _reject(
        head,
        pl.col("trace_id").is_null(),
        pl.col("request_time").is_null(),
        ~pl.col("state").fill_null("").is_in(list(_STATES)),
    )
    times = head["request_time"]
    distinct = times.unique()
    millis = pl.Series(
        [parse_timestamp_ms(t) for t in distinct.to_list()], dtype=pl.Int64
    )
    request_time = times.replace_strict(distinct, millis, return_dtype=pl.Int64)
    traces = head.select(
        pl.int_range(n, dtype=pl.UInt32).alias("_key"),
        "trace_id",
        "client_request_id",
        pl.col("state")
        .fill_null("")
        .replace_strict(_STATES, return_dtype=pl.String)
        .cast(STATE_ENUM),
        request_time.alias("request_time"),
        pl.col("execution_duration_ms").alias("execution_duration"),
        # TraceInfo.end_time_ms, column-wise (tests/test_field_access.py).
        (request_time + pl.col("execution_duration_ms").fill_null(0)).alias("end_time"),
        pl.col("trace_location")
        .struct.field("mlflow_experiment")
        .struct.field("experiment_id")
        .alias("experiment_id"),
        "request_preview",
        "response_preview",
    )
    t_text, m_text = texts["t"], texts["m"]
    tag_columns = _string_columns(
        tags, TAG_PREFIX, lambda row: _object_keys(t_text[row])
    )
    meta_columns = _string_columns(
        meta, META_PREFIX, lambda row: _object_keys(m_text[row])
    )
    extra = [_compact(c) for c in tag_columns + meta_columns]
    if extra:
        traces = traces.with_columns(extra)
    sessions: dict[str, list[int]] = {}
    session_column = META_PREFIX + SESSION_KEY
    if session_column in traces.columns:
        grouped = (
            traces.select(pl.col(session_column).cast(pl.String), "_key")
            .drop_nulls()
            .group_by(session_column, maintain_order=True)
            .agg("_key")
        )
        sessions = dict(grouped.iter_rows())
    return traces, sessions


def _hex(column: pl.Expr) -> pl.Expr:
    return column.str.decode("base64", strict=True).bin.encode("hex")


def _spans(spans: pl.Series, texts: pl.Series) -> pl.DataFrame:
    frame = (
        pl.DataFrame({"s": spans})
        .with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias("_key"))
        .filter(pl.col("s").list.len() > 0)
        .explode("s")
    )
    _check(frame["s"].null_count() == 0)
    table = frame.select("_key", pl.col("s").struct.unnest())
    parent = pl.col("parent_span_id")
    _reject(
        table,
        pl.col("trace_id").is_null() | pl.col("span_id").is_null(),
        pl.col("name").is_null() | pl.col("start_time_unix_nano").is_null(),
        ~pl.col("trace_id").str.contains(_BASE64_16),
        ~pl.col("span_id").str.contains(_BASE64_8),
        (parent != "") & ~parent.str.contains(_BASE64_8),
        # Python subtracts exactly; Int64 would wrap (times near the type's limits).
        pl.col("start_time_unix_nano").abs() > _TIME_LIMIT,
        pl.col("end_time_unix_nano").abs() > _TIME_LIMIT,
        ~pl.col("status")
        .struct.field("code")
        .fill_null(_UNSET_JSON)
        .is_in(list(_STATUS_CODES)),
    )
    table.select(_hex(pl.col("trace_id")))  # strict: raises on what it cannot decode
    start, end = pl.col("start_time_unix_nano"), pl.col("end_time_unix_nano")
    out = table.select(
        "_key",
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_span"),
        _hex(pl.col("span_id")).alias("span_id"),
        _hex(pl.when(parent != "").then(parent)).alias("parent_id"),
        pl.col("name"),
        pl.lit(None, dtype=pl.String).alias("type"),
        pl.col("status")
        .struct.field("code")
        .fill_null(_UNSET_JSON)
        .replace_strict(_STATUS_CODES, return_dtype=pl.String)
        .cast(SPAN_STATUS_ENUM)
        .alias("status"),
        start.alias("start_ns"),
        end.alias("end_ns"),
        duration_ms(start, end),
        pl.lit(None, dtype=pl.String).alias("events"),
    )
    span_keys = out["_key"]
    starts = span_keys.search_sorted(span_keys, side="left")

    def attribute_keys(row: int) -> list[str]:
        key = span_keys[row]
        spans_of_trace = json.loads(texts[key])
        attributes = spans_of_trace[row - starts[row]]["attributes"]
        _check(isinstance(attributes, dict))
        return list(attributes)

    raw = _string_columns(table["attributes"], RAW_PREFIX, attribute_keys)
    out = out.with_columns(_events(table, texts, span_keys, starts))
    type_name = RAW_PREFIX + SPAN_TYPE_KEY
    types = next((c for c in raw if c.name == type_name), None)
    out = out.with_columns(_span_types(types, out.height))
    out = out.with_columns(_compact(out["name"]), _compact(out["type"]))
    return out.with_columns(raw) if raw else out


def _span_types(raw: pl.Series | None, n: int) -> pl.Series:
    """``Span.span_type`` of every span, decoding each distinct raw value once."""
    if raw is None:
        return pl.Series("type", ["UNKNOWN"] * n, dtype=pl.String)
    distinct = raw.drop_nulls().unique()
    decoded = (decode_attribute(v) for v in distinct.to_list())
    names = ["UNKNOWN" if v is None else str(v) for v in decoded]
    return raw.replace_strict(
        distinct, pl.Series(names, dtype=pl.String), default="UNKNOWN"
    ).alias("type")


def _events(
    table: pl.DataFrame, texts: pl.Series, span_keys: pl.Series, starts: pl.Series
) -> pl.Series:
    """The ``events`` column: JSON of the events of the few spans that have any.

    Events and links hold plain JSON values, so they are read back from the exact
    text of their trace and checked by the line parser's own code.
    """
    events = pl.Series("events", [None] * table.height, dtype=pl.String)
    busy = table.select(
        (
            pl.col("events").list.len().fill_null(0)
            + pl.col("links").list.len().fill_null(0)
            > 0
        ).arg_true()
    ).to_series()
    if busy.is_empty():
        return events
    values: list[str | None] = []
    cache: dict[int, list[Any]] = {}
    for row in busy.to_list():
        key = span_keys[row]
        if key not in cache:
            cache[key] = json.loads(texts[key])
        span = cache[key][row - starts[row]]
        _check(all(isinstance(link, dict) for link in span.get("links") or ()))
        found = span.get("events") or ()
        values.append(
            json.dumps(
                [_read_event(e, f"events[{i}]").to_dict() for i, e in enumerate(found)]
            )
            if found
            else None
        )
    return events.scatter(busy, pl.Series(values, dtype=pl.String))


def _owned(head: pl.DataFrame, texts: pl.DataFrame, runs: _Runs) -> _Owned:
    """The traces with assessments, their arrays decoded from their exact text.

    A sure run's array was decoded by `_runs`; the others' info texts are decoded
    whole (they are few).
    """
    keys = head.select(
        (pl.col("assessments").list.len().fill_null(0) > 0).arg_true()
    ).to_series()
    split = [runs.decoded.get(key) for key in keys.to_list()]
    a = texts["a"]
    own = [
        None if items is None else a[key]
        for key, items in zip(keys.to_list(), split, strict=True)
    ]
    others = [at for at, items in enumerate(split) if items is None]
    if others:
        infos = texts["i"].gather(keys.gather(others)).to_list()
        for at, info in zip(others, infos, strict=True):
            split[at] = loads(info)["assessments"]
    return _Owned(keys, split, own)


def _assessments(owned: _Owned, sessions: dict[str, list[int]]) -> pl.DataFrame:
    """Valid assessments, session-scoped ones expanded, as ``TraceFrame`` has them.

    Their values may be of any JSON type and must keep their exact spelling, so
    they are read in Python with the line parser's own function.
    """
    valid: list[tuple[int, Any]] = []
    for key, items in zip(owned.keys.to_list(), owned.items, strict=True):
        for i, item in enumerate(items):
            assessment = read_assessment(item, f"info.assessments[{i}]")
            if assessment.is_valid:
                valid.append((key, assessment))
    table = pl.DataFrame(
        _assessment_rows(valid, sessions), schema=_ASSESSMENT_SCHEMA, orient="row"
    )
    return table.with_columns(_compact(table["kind"]), _compact(table["name"]))


def _prompts(traces: pl.DataFrame) -> pl.DataFrame:
    column = TAG_PREFIX + LINKED_PROMPTS_TAG
    if column not in traces.columns:
        return pl.DataFrame(schema=_PROMPT_SCHEMA)
    pairs = traces.select("_key", pl.col(column).cast(pl.String)).drop_nulls()
    distinct = pairs[column].unique().to_list()
    prompts = {v: linked_prompts({LINKED_PROMPTS_TAG: v}) for v in distinct}
    rows = [
        (key, prompt) for key, value in pairs.iter_rows() for prompt in prompts[value]
    ]
    return pl.DataFrame(rows, schema=_PROMPT_SCHEMA, orient="row")
