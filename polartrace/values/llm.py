"""The LLM fields (model, provider, tokens, cost) and where each convention keeps them.

One table, `SPAN_FIELDS`, says for every normalised span field which span attributes
hold it, in precedence order, across the three conventions users have: MLflow's
(``mlflow.chat.tokenUsage``, ``mlflow.llm.cost``, ``mlflow.llm.model``), the
OpenTelemetry GenAI semantic conventions (``gen_ai.usage.*``, ``gen_ai.*.model``) and
OpenInference (``llm.token_count.*``, ``llm.model_name``, ``llm.cost.*``).
`TRACE_FIELDS` says which trace metadata entry (``mlflow.trace.tokenUsage``,
``mlflow.trace.cost``) holds a trace-level total.

The rules, written once here and read by both engines (docs/fields.md#llm-fields):

* A span field takes the first source, in table order, whose value is valid for it;
  an invalid value (a count that is a string, a float, a boolean, negative or huge; a
  cost that is not a finite non-negative number; a model that is not a string; a
  member of a JSON value that is not an object) counts as absent, so the next source
  is tried and, if none is valid, the field is null. ``span.tokens.total`` without a
  valid total is input + output when both are valid.
* A trace field is its metadata value when that is valid, else the sum over the spans
  MLflow's rule counts (`counted_spans`: a span that reports tokens, or cost, unless an
  ancestor also does); null when no counted span has a valid value.

The frame builders (`polartrace.frame.llm`) decode each distinct attribute text once
and apply these functions; the reference engine applies them to one ``Span`` at a
time. Nothing here imports anything of polartrace's but the JSON decoding.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from polartrace.values.conventions import (
    CHAT_USAGE_KEY,
    COST_KEY,
    LLM_COST_KEY,
    LLM_MODEL_KEY,
    LLM_PROVIDER_KEY,
    TOKEN_USAGE_KEY,
    counted_spans,
)
from polartrace.values.json_values import decode_attribute

__all__ = [
    "MAX_COUNT",
    "SPAN_FIELDS",
    "TRACE_FIELDS",
    "Kind",
    "LlmField",
    "Source",
    "normalise",
    "span_value",
    "trace_value",
]

#: The largest valid token count. No call uses a trillion tokens, and a bound keeps
#: every trace sum inside Int64 (2**40 per span, up to 2**23 spans).
MAX_COUNT: Final = 2**40


class Kind(enum.Enum):
    """How a field's raw value is checked and converted."""

    COUNT = "count"  # an int (not a bool), 0 <= n <= MAX_COUNT
    COST = "cost"  # an int or float (not a bool), finite, >= 0; as a float
    NAME = "name"  # a non-empty string
    SECONDS = "seconds"  # a finite non-negative number of seconds, read as ms


@dataclass(frozen=True)
class Source:
    """One place a field's value may be: an attribute (or metadata) key, and a member.

    Attributes:
        key: The span attribute (or trace metadata) key.
        member: The member of the decoded JSON object that holds the value, or
            ``None`` when the decoded value itself is it.
    """

    key: str
    member: str | None = None


@dataclass(frozen=True)
class LlmField:
    """A normalised LLM field.

    Attributes:
        name: The field name after its prefix (``tokens.input``, ``model``).
        kind: How values are checked.
        sources: Where the value may be, first valid one wins.
        family: ``tokens`` or ``cost`` for the fields that trace totals sum (a span
            reports a family when any of its fields in the family is valid);
            ``None`` for the rest.
    """

    name: str
    kind: Kind
    sources: tuple[Source, ...]
    family: str | None = None


def _usage(member: str) -> Source:
    return Source(CHAT_USAGE_KEY, member)


def _cost(member: str) -> Source:
    return Source(LLM_COST_KEY, member)


_T, _C = "tokens", "cost"

#: The span fields, in documentation order; each with its sources, first wins.
SPAN_FIELDS: Final[tuple[LlmField, ...]] = (
    LlmField(
        "model",
        Kind.NAME,
        (
            Source(LLM_MODEL_KEY),
            Source("gen_ai.response.model"),
            Source("gen_ai.request.model"),
            Source("llm.model_name"),
        ),
    ),
    LlmField(
        "provider",
        Kind.NAME,
        (
            Source(LLM_PROVIDER_KEY),
            Source("gen_ai.provider.name"),
            Source("gen_ai.system"),
            Source("llm.provider"),
            Source("llm.system"),
        ),
    ),
    LlmField(
        "tokens.input",
        Kind.COUNT,
        (
            _usage("input_tokens"),
            Source("gen_ai.usage.input_tokens"),
            Source("llm.token_count.prompt"),
        ),
        _T,
    ),
    LlmField(
        "tokens.output",
        Kind.COUNT,
        (
            _usage("output_tokens"),
            Source("gen_ai.usage.output_tokens"),
            Source("llm.token_count.completion"),
        ),
        _T,
    ),
    LlmField(
        "tokens.total",
        Kind.COUNT,
        (_usage("total_tokens"), Source("llm.token_count.total")),
        _T,
    ),
    LlmField(
        "tokens.cache_read",
        Kind.COUNT,
        (
            _usage("cache_read_input_tokens"),
            Source("gen_ai.usage.cache_read.input_tokens"),
            Source("llm.token_count.prompt_details.cache_read"),
        ),
        _T,
    ),
    LlmField(
        "tokens.cache_write",
        Kind.COUNT,
        (
            _usage("cache_creation_input_tokens"),
            Source("gen_ai.usage.cache_creation.input_tokens"),
            Source("gen_ai.usage.cache_write.input_tokens"),
            Source("llm.token_count.prompt_details.cache_write"),
        ),
        _T,
    ),
    LlmField(
        "tokens.reasoning",
        Kind.COUNT,
        (
            _usage("reasoning_tokens"),
            Source("gen_ai.usage.reasoning.output_tokens"),
            Source("llm.token_count.completion_details.reasoning"),
        ),
        _T,
    ),
    LlmField(
        "cost.input",
        Kind.COST,
        (_cost("input_cost"), Source("llm.cost.prompt")),
        _C,
    ),
    LlmField(
        "cost.output",
        Kind.COST,
        (_cost("output_cost"), Source("llm.cost.completion")),
        _C,
    ),
    LlmField(
        "cost.total",
        Kind.COST,
        (_cost("total_cost"), Source("llm.cost.total")),
        _C,
    ),
    LlmField(
        "time_to_first_token_ms",
        Kind.SECONDS,
        (Source("gen_ai.response.time_to_first_chunk"),),
    ),
)

#: ``span.tokens.total`` without a valid total: the sum of these, when all are valid.
TOTAL_PARTS: Final = {"tokens.total": ("tokens.input", "tokens.output")}

#: The trace fields: the metadata entry MLflow writes, then the sum over spans.
TRACE_FIELDS: Final[dict[str, Source | None]] = {
    "tokens.input": Source(TOKEN_USAGE_KEY, "input_tokens"),
    "tokens.output": Source(TOKEN_USAGE_KEY, "output_tokens"),
    "tokens.total": Source(TOKEN_USAGE_KEY, "total_tokens"),
    "tokens.cache_read": None,
    "tokens.cache_write": None,
    "tokens.reasoning": None,
    "cost.input": Source(COST_KEY, "input_cost"),
    "cost.output": Source(COST_KEY, "output_cost"),
    "cost.total": Source(COST_KEY, "total_cost"),
}

FIELDS_BY_NAME: Final = {field.name: field for field in SPAN_FIELDS}


# --- one value ---------------------------------------------------------------------


def normalise(kind: Kind, value: Any) -> Any:
    """Return ``value`` as a valid value of ``kind``, or ``None`` if it is not one.

    >>> [normalise(Kind.COUNT, v) for v in (12, "12", -1, 12.0, True)]
    [12, None, None, None, None]
    >>> normalise(Kind.COST, 1), normalise(Kind.SECONDS, 0.25)
    (1.0, 250.0)
    """
    if isinstance(value, bool):
        return None
    match kind:
        case Kind.COUNT:
            return value if isinstance(value, int) and 0 <= value <= MAX_COUNT else None
        case Kind.COST | Kind.SECONDS:
            if not isinstance(value, int | float):
                return None
            try:
                number = float(value)
            except OverflowError:  # an int beyond any float
                return None
            if not math.isfinite(number) or number < 0:
                return None
            return number * 1000 if kind is Kind.SECONDS else number
        case Kind.NAME:
            return value if isinstance(value, str) and value else None
    return None  # pragma: no cover - every kind is matched


def member(decoded: Any, name: str | None) -> Any:
    """The member ``name`` of a decoded JSON object (``None`` if not an object)."""
    if name is None:
        return decoded
    return decoded.get(name) if isinstance(decoded, dict) else None


def span_value(field: LlmField, attribute: Callable[[str], Any]) -> Any:
    """The value of a span field, given the span's decoded attributes.

    Args:
        field: One of `SPAN_FIELDS`.
        attribute: The decoded value of an attribute key, ``None`` when absent.
    """
    for source in field.sources:
        value = normalise(field.kind, member(attribute(source.key), source.member))
        if value is not None:
            return value
    parts = TOTAL_PARTS.get(field.name)
    if parts is not None:
        values = [span_value(FIELDS_BY_NAME[p], attribute) for p in parts]
        if all(v is not None for v in values):
            return sum(values)
    return None


def metadata_value(name: str, metadata: Mapping[str, str]) -> Any:
    """The trace field ``name`` from MLflow's metadata entry, ``None`` if not valid."""
    source = TRACE_FIELDS[name]
    if source is None:
        return None
    text = metadata.get(source.key)
    if text is None:
        return None
    kind = FIELDS_BY_NAME[name].kind
    return normalise(kind, member(decode_attribute(text), source.member))


# --- the trace totals ------------------------------------------------------------


def trace_value(
    name: str,
    metadata: Mapping[str, str],
    spans: Iterable[tuple[str, str | None, Callable[[str], Any]]],
) -> Any:
    """The value of trace field ``name`` (``tokens.total``, ``cost.input``, ...).

    Args:
        name: A key of `TRACE_FIELDS`.
        metadata: The trace's metadata.
        spans: ``(span id, parent id, decoded attribute by key)`` per span.
    """
    value = metadata_value(name, metadata)
    if value is not None:
        return value
    family = FIELDS_BY_NAME[name].family
    members = [f for f in SPAN_FIELDS if f.family == family]
    rows = []
    for span_id, parent, attribute in spans:
        values = {f.name: span_value(f, attribute) for f in members}
        rows.append((span_id, parent, values))
    reports = [
        (span_id, parent, any(v is not None for v in values.values()))
        for span_id, parent, values in rows
    ]
    found = [rows[i][2][name] for i in counted_spans(reports)]
    present = [v for v in found if v is not None]
    if not present:
        return None
    total = present[0]
    for v in present[1:]:
        total += v  # in span order, as the frame sums them
    return total


# --- documentation ---------------------------------------------------------------

_RULES: Final = """\
## LLM fields

The span fields `span.model` ... `span.time_to_first_token_ms` and the trace fields
`tokens.*`, `cost.*` are normalised when a frame is built, from whichever convention
wrote them: MLflow's own attributes, the OpenTelemetry GenAI semantic conventions, or
OpenInference. Both engines apply the same table (`polartrace/values/llm.py`).

**Precedence.** A span field takes the first source in the table below whose value is
valid. A span that carries usage under two conventions that disagree therefore gets
MLflow's value, then GenAI's, then OpenInference's, field by field: a span whose
`mlflow.chat.tokenUsage` says 10 input tokens and whose `gen_ai.usage.input_tokens`
says 12 has `span.tokens.input = 10`, and a `gen_ai.usage.cache_read.input_tokens`
beside that object still gives its `span.tokens.cache_read`. `span.tokens.total`
without a valid total under any convention is input + output when both are valid.

**Bad input** is a typed null, never an error and never part of a sum. A token count
is valid when it is a JSON integer from 0 to 2^40 (MLflow writes integers): the string
`"12"`, the float `12.0` or `12.5`, `true`, `-3` and `2^41` are not counts. A cost is
valid when it is a finite JSON number >= 0 (an integer reads as a float). A model or
provider is a non-empty string. A source that names a member (`input_tokens` of
`mlflow.chat.tokenUsage`) is missing when the attribute is not a JSON object (a list,
a number, a JSON string holding an object, text that is not JSON). An invalid value
falls through to the next source.

**Trace totals.** `tokens.input`, `tokens.output`, `tokens.total` and `cost.*` are
MLflow's trace metadata (`mlflow.trace.tokenUsage`, `mlflow.trace.cost`) when its
member is valid. Otherwise, and always for `tokens.cache_read`, `tokens.cache_write`
and `tokens.reasoning`, they are the sum over the spans MLflow's own rule counts
(`aggregate_usage_from_spans`): a span that reports tokens (any valid token field) is
counted unless an ancestor also reports tokens, since the ancestor already holds the
same call seen by a second integration; cost fields use the same rule with the cost
fields. A total is null when no counted span has a valid value. Costs are sums of
floats: two engines that add them in another order may differ in the last bit.

**`models`** is the set of `span.model` values of a trace. `models = 'gpt-4o'`, `IN`,
`LIKE`, `ILIKE` and `RLIKE` are true when some model matches; `!=`, `NOT IN`,
`NOT LIKE`, ... are true when the trace called some model and none matches;
`models IS NULL` when it called none. It is not orderable.

**`session` and `user`** are the metadata entries `mlflow.trace.session` and
`mlflow.trace.user` (`metadata.\\`mlflow.trace.user\\`` still works, unchanged).
OpenInference writes `session.id` and `user.id` on spans instead; search them with
`span.attributes.\\`session.id\\``.

**Time to first token.** Neither MLflow nor OpenInference records one; the GenAI
conventions define `gen_ai.response.time_to_first_chunk` (seconds) on the span, which
`span.time_to_first_token_ms` reads in milliseconds.

| field | sources, first valid wins |
|---|---|
"""


def conventions_markdown() -> str:
    """The LLM section of ``docs/fields.md``: the rules and the convention table."""
    rows = []
    for field in SPAN_FIELDS:
        sources = ", ".join(
            f"`{s.key}`" + (f" `.{s.member}`" if s.member else "")
            for s in field.sources
        )
        if field.name in TOTAL_PARTS:
            sources += ", else " + " + ".join(
                f"`span.{p}`" for p in TOTAL_PARTS[field.name]
            )
        rows.append(f"| `span.{field.name}` | {sources} |")
    for name, source in TRACE_FIELDS.items():
        head = f"`{source.key}` `.{source.member}`, else " if source else ""
        rows.append(f"| `{name}` | {head}the sum of `span.{name}` over counted spans |")
    return _RULES + "\n".join(rows) + "\n"
