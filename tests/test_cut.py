"""Cutting metadata, tags, assessments and spans out of a trace's JSON text.

`polartrace.frame.cut.cut` slices the parts out of ``Trace.to_json`` text and answers
``None`` for any other shape (the caller then decodes the text). Each test states
the slices expected, written out, or that the text is left to the decoder. The
offsets it slices at are kept in Parquet files; `at` slices a text at kept
offsets after checking that they fit it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from polartrace import Trace
from polartrace.frame.cut import OFFSETS, at, cut, offsets

TIME = "2024-01-01T00:00:00Z"
SPAN: dict[str, Any] = {
    "trace_id": "AAAAAAAAAAAAAAAAAAAAAA==",
    "span_id": "AAAAAAAAAAE=",
    "parent_span_id": None,
    "name": "root",
    "start_time_unix_nano": 1,
    "end_time_unix_nano": 2,
    "events": [],
    "status": {"code": "STATUS_CODE_OK", "message": ""},
    "attributes": {"mlflow.spanInputs": '{"q": "}, \\"tags\\": {"}'},
    "links": [],
}
FEEDBACK = {
    "assessment_id": "a-1",
    "assessment_name": "score",
    "trace_id": "tr-1",
    "source": {"source_type": "HUMAN", "source_id": "ana"},
    "create_time": TIME,
    "last_update_time": TIME,
    "feedback": {"value": {"tags": {"x": ['], "tags": {']}}},
    "valid": True,
}


def _text(**info: Any) -> str:
    """``Trace.to_json`` of a trace with the given info fields."""
    base: dict[str, Any] = {"trace_id": "tr-1", "request_time": TIME, "state": "OK"}
    return Trace.from_dict({"info": base | info, "data": {"spans": [SPAN]}}).to_json()


SPANS = json.dumps([SPAN])


def test_every_part_is_cut_as_written() -> None:
    text = _text(
        trace_metadata={"mlflow.user": "ana", "k": "v"},
        assessments=[FEEDBACK],
        tags={"mlflow.traceName": "t"},
        request_preview="q",
        execution_duration_ms=5,
    )
    assert cut(text) == (
        '{"mlflow.user": "ana", "k": "v"}',
        '{"mlflow.traceName": "t"}',
        json.dumps([FEEDBACK]),
        SPANS,
    )


def test_keys_keep_the_trace_order() -> None:
    text = _text(trace_metadata={"z": "1", "a": "2"}, tags={"b": "1", "a": "2"})
    assert cut(text) == ('{"z": "1", "a": "2"}', '{"b": "1", "a": "2"}', "[]", SPANS)


def test_absent_parts_are_empty() -> None:
    assert cut(_text(execution_duration_ms=5)) == ("{}", "{}", "[]", SPANS)


def test_tags_as_the_last_info_key() -> None:
    # An in-progress trace has no previews or duration: the tags close the info.
    text = _text(state="IN_PROGRESS", tags={"k": "v"})
    assert cut(text) == ("{}", '{"k": "v"}', "[]", SPANS)


@pytest.mark.parametrize(
    "value",
    ['}, "tags": {', "x}, ", "}, ", '}, "', '"}', "}", "], ", "é 🚀 \\ \n", ""],
    ids=["tags-key-text", "ends-brace-comma", "brace-comma", "brace-comma-quote",
         "quote-brace", "brace", "bracket-comma", "unicode-escapes", "empty"],
)  # fmt: skip
def test_values_that_look_like_the_end_of_an_object(value: str) -> None:
    text = _text(
        trace_metadata={"a": value, "b": value},
        tags={"c": value},
        request_preview=value,
    )
    assert cut(text) == (
        json.dumps({"a": value, "b": value}),
        json.dumps({"c": value}),
        "[]",
        SPANS,
    )


def test_assessments_holding_part_keys_are_read_to_their_end() -> None:
    text = _text(assessments=[FEEDBACK, FEEDBACK], tags={"k": "v"})
    assert cut(text) == ("{}", '{"k": "v"}', json.dumps([FEEDBACK, FEEDBACK]), SPANS)


def test_a_location_key_named_like_the_state() -> None:
    text = _text(trace_location={"state": "X", "type": "T"}, tags={"k": "v"})
    assert cut(text) == ("{}", '{"k": "v"}', "[]", SPANS)


def _info_text(info: str) -> str:
    return '{"info": ' + info + ', "data": {"spans": ' + SPANS + "}}"


@pytest.mark.parametrize(
    "info",
    [
        # tags before the state, and after a preview
        '{"trace_id": "tr-1", "tags": {"k": "v"}, "state": "OK"}',
        '{"trace_id": "tr-1", "state": "OK", "request_preview": "q", '
        '"tags": {"k": "v"}}',
        # a part of another type
        '{"trace_id": "tr-1", "state": "OK", "tags": null}',
        # keys a trace location holds: the state, the spans marker
        '{"trace_id": "tr-1", "trace_location": {"type": "T", "state": "X"}, '
        '"state": "OK", "tags": {"k": "v"}}',
        '{"trace_id": "tr-1", "trace_location": {"a": {}, "data": {"spans": [1]}}, '
        '"state": "OK", "tags": {"k": "v"}}',
        # a location holding the state, then an info member holding the marker
        '{"trace_id": "tr-1", "trace_location": {"type": "T", "state": "X"}, '
        '"data": {"spans": [1]}, "state": "OK", "tags": {"k": "v"}}',
        # an unknown key after the parts, holding the spans marker
        '{"trace_id": "tr-1", "state": "OK", "tags": {"k": "v"}, '
        '"x": {"y": {}, "data": {"spans": [1]}}}',
        # an escaped quote in the state
        '{"trace_id": "tr-1", "state": "O\\"K", "tags": {"k": "v"}}',
        # a value orjson does not read (json does): decoded instead
        '{"trace_id": "tr-1", "state": "OK", "tags": {"k": "v"}, '
        '"execution_duration_ms": NaN}',
    ],
    ids=["tags-first", "tags-after-preview", "null-tags", "location-state",
         "location-spans-mark", "location-state-then-spans-mark",
         "tail-spans-mark", "escaped-state", "nan-tail"],
)  # fmt: skip
def test_other_shapes_are_left_to_the_decoder(info: str) -> None:
    assert cut(_info_text(info)) is None


@pytest.mark.parametrize(
    "text",
    [
        json.dumps(json.loads(_text(tags={"k": "v"})), separators=(",", ":")),
        json.dumps(json.loads(_text(tags={"k": "v"})), indent=2),
        '{"data": {"spans": []}, "info": {"trace_id": "tr-1", "state": "OK"}}',
        '{"info": {"trace_id": "tr-1", "state": "OK"}, "data": {"spans": [], '
        '"x": [{"data": {"spans": [1]}}]}}',
        # the one spans mark is an info member's; the state found, the location's
        '{"info": {"trace_id": "tr-1", "trace_location": {"type": "T", "state": '
        '"X"}, "data": {"spans": [1]}, "state": "OK"}, "data": {"x": 1, "spans": []}}',
    ],
    ids=["compact", "indented", "data-first", "second-spans-mark", "nested-state"],
)
def test_other_spellings_are_left_to_the_decoder(text: str) -> None:
    assert cut(text) is None


_ORDER_SEEN_WRONG = [
    "client_request_id",
    "request_time",
    "state",
    "tags",
    "trace_id",
    "trace_location",
    "trace_metadata",
    "request_preview",
    "execution_duration_ms",
]


@pytest.mark.parametrize("seed", [-1, *range(200)])
def test_info_keys_in_any_order_are_cut_right_or_left_to_the_decoder(
    seed: int,
) -> None:
    # Another writer may order the info's keys differently. A part followed by a
    # key Trace.to_json writes before it (tags then trace_id, trace_metadata)
    # once made the tags slice run on to the end of the metadata.
    import random

    rng = random.Random(seed)
    info = {
        "trace_id": "tr-1",
        "client_request_id": "r-1",
        "trace_location": {
            "type": "MLFLOW_EXPERIMENT",
            "mlflow_experiment": {"e": "1"},
        },
        "request_time": TIME,
        "state": "OK",
        "trace_metadata": {"m": '}, "x'},
        "assessments": [FEEDBACK],
        "tags": {"t": "v}", "u": "w"},
        "request_preview": "{}",
        "execution_duration_ms": 5,
    }
    items = list(info.items())
    rng.shuffle(items)
    shuffled = dict(items)
    if seed < 0:  # the order in which the bug was found
        shuffled = {key: info[key] for key in _ORDER_SEEN_WRONG}
    text = json.dumps({"info": shuffled, "data": {"spans": [SPAN]}})
    parts = cut(text)
    if parts is not None:
        meta, tags, assessments, spans = (json.loads(p) for p in parts)
        assert meta == info["trace_metadata"]
        assert tags == info["tags"]
        assert assessments == shuffled.get("assessments", [])
        assert spans == [SPAN]


# --- kept offsets -------------------------------------------------------------------

_ALL_PARTS = _text(
    trace_metadata={"mlflow.user": "ana"},
    assessments=[FEEDBACK],
    tags={"t": "v"},
    execution_duration_ms=5,
)


def test_offsets_are_where_the_parts_are() -> None:
    text = _text(tags={"k": "v"})
    found = offsets(text)
    assert found is not None
    assert len(found) == len(OFFSETS)
    start, end = text.index('{"k": "v"}'), text.index('{"k": "v"}') + len('{"k": "v"}')
    assert found == (None, None, start, end, None, None, text.index("[{"))


@pytest.mark.parametrize(
    "text",
    [
        _ALL_PARTS,
        _text(),
        _text(tags={"a": '}, "b": {'}),
        _text(assessments=[FEEDBACK, FEEDBACK], request_preview="q"),
    ],
    ids=["every-part", "no-part", "tricky-tags", "assessments-only"],
)
def test_kept_offsets_slice_what_cut_cuts(text: str) -> None:
    found = offsets(text)
    assert found is not None
    assert at(text, found) == cut(text)


def _moved(found: tuple[int | None, ...], index: int, by: int) -> list[int | None]:
    moved = list(found)
    value = moved[index]
    assert value is not None
    moved[index] = value + by
    return moved


@pytest.mark.parametrize("index", range(len(OFFSETS)))
@pytest.mark.parametrize("by", [-1, 1])
def test_offsets_moved_by_one_do_not_fit(index: int, by: int) -> None:
    found = offsets(_ALL_PARTS)
    assert found is not None
    assert at(_ALL_PARTS, _moved(found, index, by)) is None


def test_offsets_of_another_text_do_not_fit() -> None:
    other = offsets(_text(tags={"k": "v"}, request_preview="a longer request"))
    assert other is not None
    assert at(_ALL_PARTS, other) is None


@pytest.mark.parametrize(
    "found",
    [
        (None,) * 7,
        (None, None, None, None, None, None),
        (None, 40, None, None, None, None, 300),
    ],
    ids=["unknown", "short", "half-a-part"],
)
def test_incomplete_offsets_do_not_fit(found: tuple[int | None, ...]) -> None:
    assert at(_ALL_PARTS, found) is None


@pytest.mark.parametrize("index", [0, 6])
@pytest.mark.parametrize("value", [0, 1, 5])
def test_offsets_near_the_start_do_not_fit(index: int, value: int) -> None:
    found = list(offsets(_ALL_PARTS) or ())
    found[index] = value
    assert at(_ALL_PARTS, found) is None
