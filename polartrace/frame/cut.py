"""Cut the nested parts of a trace's MLflow JSON text out of it, without decoding it.

A page of polars output needs, per trace, the JSON text of its metadata, tags,
assessments and spans. Decoding each trace (about 5 KB) and writing those parts
back costs far more than slicing them out of the kept text, which
``Trace.to_json`` writes in a fixed shape::

    {"info": {"trace_id": "...", ...trace location, request time...,
              "state": "...", ["trace_metadata": {...}, ]["assessments": [...], ]
              ["tags": {...}, ]...previews and duration...},
     "data": {"spans": [...]}}

`cut` finds the state and has orjson read the info's members before it
(`_plain_head`): they must form an object holding no part, so the state is the
info's own. Then it takes the parts that follow the state in that order, each
anchored where the one before ended, so a part is the info's own value, never a
nested value that looks alike. Tags and metadata hold only strings, so their
end is found by text search (`_object_end`); assessments hold any JSON, so
orjson finds their end (`_array_end`); orjson reads the rest of the info object
too (`_plain_tail`), which proves the spans follow the info. Whatever does not
have this shape answers ``None``, and the caller decodes that text.

The parts are slices of the text: equal, as JSON, to ``json.dumps`` of the
values (equal as text for ``Trace.to_json`` output), keys in the trace's own
order. `cut` relies on what every frame's texts satisfy: they are JSON without
duplicate keys, whose tag and metadata values are strings (``Trace.to_json``
writes nothing else, and the JSONL reader rejects anything else). The spans are
the rest of the text after the one spans mark that follows the info: that the
data object holds nothing after them is what ``Trace.to_json`` writes, and the
JSONL reader keeps a text with one mark only after Arrow has read what follows
the mark as a single value (`polartrace.io._columnar`); a text with two marks
is decoded.

`offsets` answers where the parts are instead of the slices. The Parquet writer
keeps them beside the texts, so a page read from Parquet slices at them (`at`)
and pays for the proof once, when the file is written, not on every page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Final

import orjson

__all__ = ["OFFSETS", "at", "cut", "offsets"]

_HEAD: Final = '{"info": {'
_SPANS: Final = '"data": {"spans": '
_STATE: Final = ', "state": '
#: The parts, in ``Trace.to_json`` order: key and what starts it.
_HEADS: Final = {
    "trace_metadata": ', "trace_metadata": {',
    "assessments": ', "assessments": [',
    "tags": ', "tags": {',
}
#: The parts' keys: none may be a member of the info before the state.
_PARTS: Final = frozenset(_HEADS)
_CLOSE: Final = {"trace_metadata": "}", "assessments": "]", "tags": "}"}
_EMPTY: Final = {"trace_metadata": "{}", "assessments": "[]", "tags": "{}"}
_ABSENT: Final = (None, None)
#: The parts in the order of `OFFSETS` and of `cut`'s answer.
_ORDER: Final = ("trace_metadata", "tags", "assessments")
#: What `at` checks and answers for each part, in that order: what starts it, how
#: far before the part's first character that starts, what ends it, and the text
#: of an absent part.
_CHECKS: Final = tuple(
    (
        _HEADS[key],
        len(_HEADS[key]) - 1,
        _CLOSE[key],
        _EMPTY[key],
    )
    for key in _ORDER
)
_MARK: Final = len(_SPANS)
#: What `offsets` answers, in order: where each part starts and ends, and where
#: the spans start.
OFFSETS: Final = (
    "trace_metadata_start",
    "trace_metadata_end",
    "tags_start",
    "tags_end",
    "assessments_start",
    "assessments_end",
    "spans_start",
)
#: Offsets are kept as ``UInt32``: a longer text is not cut.
_LONGEST: Final = 2**32 - 1
#: Keys ``Trace.to_json`` writes after the tags.
_TAIL_KEYS: Final = frozenset(
    {"request_preview", "response_preview", "execution_duration_ms"}
)
#: A key, as it follows ``}, `` where an object of the info ends. Where ``}, "``
#: is string content instead (a value ending in ``}, ``), the quote closes that
#: string and is followed by ``,`` or ``}``, never by a key's ``": ``.
_KEY_AT = re.compile(r'"[^"\\]*": ').match
_TRIES: Final = 4
_DECODER: Final = json.JSONDecoder()


def cut(text: str) -> tuple[str, str, str, str] | None:
    """The metadata, tags, assessments and spans JSON of a ``Trace.to_json`` text.

    Args:
        text: One trace's MLflow JSON text.

    Returns:
        ``(trace_metadata, tags, assessments, spans)`` as slices of ``text``
        (``"{}"``/``"[]"`` for an absent part), or ``None`` for a text of another
        shape.

    >>> cut('{"info": {"trace_id": "tr-1", "request_time": "2024-01-01T00:00:00Z", '
    ...     '"state": "OK", "tags": {"b": "1", "a": "2"}}, "data": {"spans": []}}')
    ('{}', '{"b": "1", "a": "2"}', '[]', '[]')
    """
    found = offsets(text)
    return None if found is None else _slices(text, found)


def offsets(text: str) -> tuple[int | None, ...] | None:
    """Where `cut` finds the parts of ``text``: character offsets, or ``None``.

    Returns:
        ``None`` for a text of another shape; otherwise one value per name of
        `OFFSETS`: each part's start and end (``None`` for an absent part) and
        where the spans start (they end two characters before the text does).
        Kept beside the texts (`polartrace.io.parquet`), they let a page slice
        without reading the texts again (`at`).
    """
    if not (text.startswith(_HEAD) and text.endswith("]}}")) or len(text) > _LONGEST:
        return None
    # The only such mark (see the module's notes on the spans); if it were nested
    # in the info object, the tail read in `_plain_tail` would be unbalanced.
    at = text.find(_SPANS)
    info_end = at - 3  # the info object's closing brace
    if at < 0 or text[info_end:at] != "}, " or text.find(_SPANS, at + len(_SPANS)) >= 0:
        return None
    state = text.find(_STATE, 0, info_end)
    if state < 0 or not _plain_head(text, state):
        return None
    pos = _string_end(text, state + len(_STATE))
    if pos < 0:
        return None
    found: dict[str, tuple[int, int]] = {}
    for key, head in _HEADS.items():
        if not text.startswith(head, pos):
            continue
        start = pos + len(head) - 1
        if head.endswith("{"):
            end = _object_end(text, start, info_end)
        else:
            end = _array_end(text, start, info_end)
        if end is None:
            return None
        found[key] = (start, end)
        pos = end
    if not _plain_tail(text, pos, info_end):
        return None
    return (
        *found.get("trace_metadata", _ABSENT),
        *found.get("tags", _ABSENT),
        *found.get("assessments", _ABSENT),
        at + len(_SPANS),
    )


def at(text: str, found: Sequence[int | None]) -> tuple[str, str, str, str] | None:
    """The parts of ``text`` at offsets `offsets` found, or ``None`` if they miss.

    The offsets come from a file (`polartrace.io.parquet`), so each is checked
    against the text before it is used: every part starts right after its key
    with its opening bracket and ends with the closing one, and the spans start
    after their mark at the end of the text. This catches offsets of another
    text or a damaged file; it does not repeat `offsets`' proof.
    """
    if len(found) != len(OFFSETS) or not text.endswith("]}}"):
        return None
    spans = found[6]
    if (
        spans is None
        or spans < _MARK  # a negative start would count from the end
        or not text.startswith(_SPANS, spans - _MARK)
    ):
        return None
    parts = []
    for (head, shift, close, empty), start, end in zip(
        _CHECKS, found[0:6:2], found[1:6:2], strict=True
    ):
        if start is None and end is None:
            parts.append(empty)
        elif (
            start is None
            or end is None
            or not shift <= start < end < spans
            or not text.startswith(head, start - shift)
            or text[end - 1] != close
        ):
            return None
        else:
            parts.append(text[start:end])
    return parts[0], parts[1], parts[2], text[spans:-2]


def _slices(text: str, found: Sequence[int | None]) -> tuple[str, str, str, str]:
    """The parts at offsets `offsets` just proved (`at` checks kept ones first)."""

    def part(index: int) -> str:
        start, end = found[2 * index], found[2 * index + 1]
        return _EMPTY[_ORDER[index]] if start is None else text[start:end]

    return part(0), part(1), part(2), text[found[6] : -2]


def _string_end(text: str, start: int) -> int:
    """Where the JSON string at ``text[start]`` ends, or -1 if not plainly found.

    A quote preceded by a backslash may be escaped: such a string answers -1 (the
    caller decodes the text) rather than being scanned.
    """
    if not text.startswith('"', start):
        return -1
    end = text.find('"', start + 1)
    if end < 0 or text[end - 1] == "\\":
        return -1
    return end + 1


def _object_end(text: str, start: int, stop: int) -> int | None:
    """Where the tags or metadata object at ``text[start]`` ends, or ``None``.

    Its values are strings (frames hold no other), so it ends at the first ``}``
    outside a string, and that one is followed by ``, `` and the next key (any
    key: which keys may follow is for `cut` and `_plain_tail` to judge). A
    ``}, "`` inside a string is followed by no key (`_KEY_AT`). An object that
    is the info's last member ends where the info does; orjson checks it whole.
    """
    end = text.find('}, "', start, stop)
    while end >= 0:
        if _KEY_AT(text, end + 3):
            return end + 1
        end = text.find('}, "', end + 1, stop)
    try:
        value = orjson.loads(text[start:stop])
    except orjson.JSONDecodeError:
        return None
    return stop if type(value) is dict else None


def _array_end(text: str, start: int, stop: int) -> int | None:
    """Where the assessments array at ``text[start]`` ends, or ``None``.

    Assessment values are any JSON, so the end is read: another key follows the
    array, so it ends at some ``], "`` before ``stop``, and the first such cut
    that orjson reads whole is the array's end (a cut inside it leaves it
    unclosed or a string unterminated). Otherwise json's scanner finds the end.
    """
    end = text.find('], "', start, stop)
    for _ in range(_TRIES):
        if end < 0:
            break
        try:
            orjson.loads(text[start : end + 1])
        except orjson.JSONDecodeError:
            end = text.find('], "', end + 1, stop)
        else:
            return end + 1
    try:
        _, end = _DECODER.raw_decode(text, start)
    except ValueError:
        return None
    return end if end <= stop else None


def _plain_head(text: str, state: int) -> bool:
    """Whether the info's members before ``text[state]`` are an object without parts.

    Read whole, they prove the state found is the info's own key, not one nested
    in a value before it (a trace location holding a ``state`` and, after it, an
    info member holding the spans mark once sent the cut to the nested mark).
    A part before the state (another order) would be missed by the walk in
    `cut`: such a text is decoded.
    """
    try:
        head = orjson.loads(text[len(_HEAD) - 1 : state] + "}")
    except orjson.JSONDecodeError:
        return False
    return type(head) is dict and _PARTS.isdisjoint(head)


def _plain_tail(text: str, start: int, stop: int) -> bool:
    """Whether ``text[start:stop]``, the rest of the info object, is what it seems.

    In ``Trace.to_json`` text only previews and the duration follow the parts.
    Any other key there (a part written in another order, say) means the walk
    in `cut` did not see the info's own parts. Read whole, it also proves that
    ``stop`` closes the info object (a text nested deeper reads unbalanced).
    """
    if start == stop:
        return True
    if not text.startswith(", ", start):
        return False
    try:
        rest = orjson.loads("{" + text[start + 2 : stop + 1])
    except orjson.JSONDecodeError:
        return False  # NaN, a lone surrogate...: rare enough to decode the trace
    return type(rest) is dict and _TAIL_KEYS.issuperset(rest)
