"""Full-text units and linked prompts: one definition read by both engines.

docs/semantics.md#full-text defines what full-text search sees. The frame builder
turns these units into the ``units`` table; the reference evaluator iterates them
directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping

from polartrace.model.trace import Span, TraceInfo
from polartrace.values.conventions import LINKED_PROMPTS_TAG
from polartrace.values.json_values import text_leaves

__all__ = ["linked_prompts", "preview_units", "span_units"]


def span_units(span: Span) -> Iterator[str]:
    """Yield a span's full-text units.

    They are its name; every leaf value of its inputs, its outputs, its attributes
    whose key does not start with ``mlflow.``, and its events' attributes (object
    keys excluded, numbers and booleans as canonical text); and its events' names.
    """
    if span.name:
        yield span.name
    yield from text_leaves(span.inputs)
    yield from text_leaves(span.outputs)
    for key, value in span.attributes.items():
        if not key.startswith("mlflow."):
            yield from text_leaves(value)
    for event in span.events:
        if event.name:
            yield event.name
        yield from text_leaves(dict(event.attributes))


def preview_units(info: TraceInfo) -> Iterator[str]:
    """Yield the trace-level units: the request and response previews, as stored."""
    for preview in (info.request_preview, info.response_preview):
        if preview:
            yield preview


def linked_prompts(tags: Mapping[str, str]) -> list[str]:
    """Return ``name/version`` for each entry of the ``mlflow.linkedPrompts`` tag.

    >>> linked_prompts({"mlflow.linkedPrompts": '[{"name": "qa", "version": "1"}]'})
    ['qa/1']
    """
    raw = tags.get(LINKED_PROMPTS_TAG)
    try:
        entries = json.loads(raw) if raw else []
    except ValueError:
        return []
    if not isinstance(entries, list):
        return []
    return [
        f"{e['name']}/{e['version']}"
        for e in entries
        if isinstance(e, dict) and "name" in e and "version" in e
    ]
