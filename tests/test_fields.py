"""The field catalogue: one table every stage reads, and the docs generated from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from polartrace.catalogue.fields import (
    ATTRIBUTE_FIELDS,
    FIELDS,
    ORDER_KEYS,
    render_markdown,
)
from polartrace.language.ast import Op

DOCS = Path(__file__).resolve().parents[1] / "docs" / "fields.md"


def test_generated_field_table_is_up_to_date() -> None:
    assert DOCS.read_text(encoding="utf-8") == render_markdown(), (
        "docs/fields.md is stale: run python -m polartrace.fields > docs/fields.md"
    )


def test_every_field_is_documented() -> None:
    text = render_markdown()
    for spec in FIELDS:
        assert f"`{spec.name}`" in text


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("latency", "execution_time_ms"),
        ("execution_time", "execution_time_ms"),
        ("timestamp", "timestamp_ms"),
        ("end_time", "end_time_ms"),
        ("trace_id", "request_id"),
        ("state", "status"),
    ],
    ids=lambda v: str(v),
)
def test_aliases(name: str, canonical: str) -> None:
    assert ATTRIBUTE_FIELDS[name].name == canonical


def test_only_nullable_fields_accept_is_null() -> None:
    nullable = {spec.name for spec in FIELDS if Op.IS_NULL in spec.ops}
    assert "status" not in nullable
    assert "timestamp_ms" not in nullable
    assert {"execution_time_ms", "client_request_id", "tags.<key>"} <= nullable


def test_text_and_prompt_are_not_orderable() -> None:
    assert "text" not in ORDER_KEYS
    assert "prompt" not in ORDER_KEYS
    assert "experiment_id" in ORDER_KEYS
