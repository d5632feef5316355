"""The field catalogue: every searchable and orderable field, in one declarative table.

The binder resolves names against it, both engines read ``FieldSpec.source`` to know
what a field reads, the Hypothesis strategies draw fields from it and
``docs/fields.md`` is generated from it (``python -m polartrace.fields``). Each field
also declares how its value is read from a ``Trace`` or a ``Span``
(``FieldSpec.read``, ``FieldSpec.read_span``) and which frame column holds it
(``FieldSpec.frame_column``): the reference engine, the frame builder and the CLI's
columns read these, so adding a field or an operator is a change here and nowhere
else.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import TYPE_CHECKING, Any

import attrs

from polartrace.language.ast import Op
from polartrace.values.columns import META_PREFIX, TAG_PREFIX
from polartrace.values.conventions import (
    LINKED_PROMPTS_TAG,
    SESSION_KEY,
    SOURCE_RUN_KEY,
    SPAN_STATUS_CODES,
    STATE_SPELLINGS,
    TRACE_NAME_TAG,
    USER_KEY,
)
from polartrace.values.errors import closest_match
from polartrace.values.llm import (
    SPAN_FIELDS as LLM_SPAN_FIELDS,
)
from polartrace.values.llm import (
    TRACE_FIELDS as LLM_TRACE_FIELDS,
)
from polartrace.values.llm import (
    Kind,
    LlmField,
    conventions_markdown,
    span_value,
    trace_value,
)

if TYPE_CHECKING:
    from polartrace.model.trace import Span, Trace

__all__ = [
    "ATTRIBUTE_FIELDS",
    "FIELDS",
    "LLM_SPAN_COLUMNS",
    "LLM_TRACE_COLUMNS",
    "MODELS",
    "NAME_HINTS",
    "ORDER_KEYS",
    "PREFIXES",
    "PREFIX_HINTS",
    "SPAN_FIELDS",
    "FieldSpec",
    "Prefix",
    "Source",
    "ValueType",
    "render_markdown",
    "suggest_field",
    "suggest_prefix",
    "unprefixed",
]


class Prefix(enum.Enum):
    """Canonical field prefixes; several spellings map to each (see ``PREFIXES``)."""

    ATTRIBUTE = "attribute"
    TAG = "tag"
    METADATA = "metadata"
    SPAN = "span"
    FEEDBACK = "feedback"
    EXPECTATION = "expectation"
    ISSUE = "issue"


#: Prefix spellings (case-sensitive, as in MLflow). ``None`` is an unprefixed name.
PREFIXES: dict[str | None, Prefix] = {
    None: Prefix.ATTRIBUTE,
    "attribute": Prefix.ATTRIBUTE,
    "attributes": Prefix.ATTRIBUTE,
    "trace": Prefix.ATTRIBUTE,
    "tag": Prefix.TAG,
    "tags": Prefix.TAG,
    "metadata": Prefix.METADATA,
    "request_metadata": Prefix.METADATA,
    "span": Prefix.SPAN,
    "feedback": Prefix.FEEDBACK,
    "expectation": Prefix.EXPECTATION,
    "issue": Prefix.ISSUE,
}


class Source(enum.Enum):
    """Where a field's value lives; the engines dispatch on this."""

    INFO = "info"  # a typed trace column; FieldSpec.column names it
    TAG = "tag"  # a tag value; the key comes from the filter or FieldSpec.column
    METADATA = "metadata"  # a metadata value, likewise
    PROMPT = "prompt"  # linked prompt versions (tag mlflow.linkedPrompts)
    TEXT = "text"  # the trace's full-text units
    SPAN = "span"  # a per-span value; FieldSpec.column names it
    ASSESSMENT = "assessment"  # valid assessments; FieldSpec.column is the kind


class ValueType(enum.Enum):
    """How literals are checked and compared for a field."""

    STATE = "state"  # a TraceState name
    SPAN_STATUS = "span status"  # OK, ERROR or UNSET
    STRING = "string"
    TIME = "time ms"  # a number, a numeric string or an ISO-8601 date
    NUMBER = "number"  # a number or a numeric string (durations)
    DYNAMIC = "dynamic"  # decoded JSON, compared through its canonical text
    TEXT = "text"  # full-text units, LIKE/ILIKE only
    PROMPT = "name/version"


_STRING_OPS = frozenset(
    {
        Op.EQ,
        Op.NE,
        Op.LIKE,
        Op.ILIKE,
        Op.RLIKE,
        Op.IN,
        Op.NOT_IN,
        Op.NOT_LIKE,
        Op.NOT_ILIKE,
        Op.NOT_RLIKE,
    }
)
_NULL_OPS = frozenset({Op.IS_NULL, Op.IS_NOT_NULL})
_ORDER_OPS = frozenset({Op.LT, Op.LE, Op.GT, Op.GE})
_NUMERIC_OPS = frozenset({Op.EQ, Op.NE, Op.IN, Op.NOT_IN}) | _ORDER_OPS
_TEXT_OPS = frozenset({Op.LIKE, Op.ILIKE})


def _names(values: Iterable[str]) -> tuple[str, ...]:
    # A typed converter: attrs' mypy plugin cannot infer element types of `tuple`.
    return tuple(values)


@attrs.frozen
class FieldSpec:
    """One searchable field.

    Attributes:
        name: Canonical spelling, as documented (``status``, ``tags.<key>``).
        prefix: The canonical prefix it is written under.
        value_type: How literals are checked and compared.
        ops: The operators it accepts.
        source: Where the engines read it.
        column: The trace or span column (``Source.INFO``/``SPAN``), the fixed tag or
            metadata key (``name``, ``run_id``), or the assessment kind.
        keyed: Whether the filter supplies a key (``tags.<key>``, ``feedback.<name>``).
        aliases: Other attribute names that mean the same field.
        orderable: Whether ``order_by`` accepts it.
        description: One line for the generated field table.
        read: The field's value on a ``Trace``, for a field with one value per
            trace (``None`` when missing); ``None`` for keyed, span, text and
            assessment fields.
        read_span: The field's value on a ``Span``, for a span field with one
            value per span.
    """

    name: str
    prefix: Prefix
    value_type: ValueType
    ops: frozenset[Op]
    source: Source
    column: str | None = None
    keyed: bool = False
    aliases: tuple[str, ...] = attrs.field(default=(), converter=_names)
    orderable: bool = False
    description: str = ""
    read: Callable[[Trace], Any] | None = attrs.field(default=None, eq=False)
    read_span: Callable[[Span], Any] | None = attrs.field(default=None, eq=False)

    @property
    def nullable(self) -> bool:
        """Whether the field can be missing on a trace (it accepts ``IS NULL``)."""
        return Op.IS_NULL in self.ops

    @property
    def frame_column(self) -> str | None:
        """The frame column that holds the field, if one fixed column does.

        A trace-table column for ``Source.INFO`` and for a tag or metadata field
        with a fixed key (``name`` is ``tag:mlflow.traceName``), a span-table column
        for ``Source.SPAN``; ``None`` for keyed fields, full-text fields (their
        units have a table of their own) and the other sources.
        """
        if self.keyed or self.column is None or self.value_type is ValueType.TEXT:
            return None
        match self.source:
            case Source.INFO | Source.SPAN:
                return self.column
            case Source.TAG:
                return TAG_PREFIX + self.column
            case Source.METADATA:
                return META_PREFIX + self.column
        return None


def _source_run(trace: Trace) -> str | None:
    return trace.info.trace_metadata.get(SOURCE_RUN_KEY)


_A = Prefix.ATTRIBUTE

STATUS = FieldSpec(
    "status", _A, ValueType.STATE, _STRING_OPS, Source.INFO, "state",
    aliases=("state",), orderable=True, read=attrgetter("info.state.value"),
    description="Trace state: OK, ERROR, IN_PROGRESS or STATE_UNSPECIFIED.",
)  # fmt: skip
TIMESTAMP = FieldSpec(
    "timestamp_ms", _A, ValueType.TIME, _NUMERIC_OPS, Source.INFO, "request_time",
    aliases=("timestamp",), orderable=True, read=attrgetter("info.request_time"),
    description="Request start, epoch ms; ISO-8601 dates accepted (UTC by default).",
)  # fmt: skip
EXECUTION_TIME = FieldSpec(
    "execution_time_ms", _A, ValueType.NUMBER, _NUMERIC_OPS | _NULL_OPS, Source.INFO,
    "execution_duration", aliases=("execution_time", "latency"), orderable=True,
    read=attrgetter("info.execution_duration"),
    description="Duration in ms; null while the trace is in progress.",
)  # fmt: skip
END_TIME = FieldSpec(
    "end_time_ms", _A, ValueType.TIME, _NUMERIC_OPS, Source.INFO, "end_time",
    aliases=("end_time",), orderable=True, read=attrgetter("info.end_time_ms"),
    description="Request start + duration (0 while in progress), epoch ms.",
)  # fmt: skip
REQUEST_ID = FieldSpec(
    "request_id", _A, ValueType.STRING, _STRING_OPS, Source.INFO, "trace_id",
    aliases=("trace_id",), orderable=True, description="The trace id (tr-...).",
    read=attrgetter("info.trace_id"),
)  # fmt: skip
CLIENT_REQUEST_ID = FieldSpec(
    "client_request_id", _A, ValueType.STRING, _STRING_OPS | _NULL_OPS, Source.INFO,
    "client_request_id", orderable=True, read=attrgetter("info.client_request_id"),
    description="The caller's own request id; may be missing.",
)  # fmt: skip
NAME = FieldSpec(
    "name", _A, ValueType.STRING, _STRING_OPS | _NULL_OPS, Source.TAG,
    TRACE_NAME_TAG, orderable=True, read=attrgetter("info.trace_name"),
    description="Trace name (tag mlflow.traceName, the root span's name).",
)  # fmt: skip
RUN_ID = FieldSpec(
    "run_id", _A, ValueType.STRING, _STRING_OPS | _NULL_OPS, Source.METADATA,
    SOURCE_RUN_KEY, orderable=True, read=_source_run,
    description="The MLflow run that produced the trace (metadata mlflow.sourceRun).",
)  # fmt: skip
PROMPT = FieldSpec(
    "prompt", _A, ValueType.PROMPT, frozenset({Op.EQ, Op.IN}), Source.PROMPT,
    LINKED_PROMPTS_TAG,
    description="A linked prompt version, written name/version.",
)  # fmt: skip
TEXT = FieldSpec(
    "text", _A, ValueType.TEXT, _TEXT_OPS, Source.TEXT,
    description="Full text: span names, input/output/attribute/event leaf values, "
    "previews. Exclude with NOT text LIKE ...",
)  # fmt: skip
TAGS = FieldSpec(
    "tags.<key>", Prefix.TAG, ValueType.STRING, _STRING_OPS | _NULL_OPS, Source.TAG,
    keyed=True, orderable=True, description="A trace tag; missing when unset.",
)  # fmt: skip
METADATA = FieldSpec(
    "metadata.<key>", Prefix.METADATA, ValueType.STRING, _STRING_OPS | _NULL_OPS,
    Source.METADATA, keyed=True, orderable=True,
    description="A trace metadata entry; missing when unset.",
)  # fmt: skip
SPAN_NAME = FieldSpec(
    "span.name", Prefix.SPAN, ValueType.STRING, _STRING_OPS, Source.SPAN, "name",
    description="Some span's name.", read_span=attrgetter("name"),
)  # fmt: skip
SPAN_TYPE = FieldSpec(
    "span.type", Prefix.SPAN, ValueType.STRING, _STRING_OPS, Source.SPAN, "type",
    description="Some span's type (LLM, CHAIN, TOOL, RETRIEVER, ...).",
    read_span=attrgetter("span_type"),
)  # fmt: skip
SPAN_STATUS = FieldSpec(
    "span.status", Prefix.SPAN, ValueType.SPAN_STATUS, _STRING_OPS, Source.SPAN,
    "status", description="Some span's status: OK, ERROR or UNSET.",
    read_span=attrgetter("status.code.value"),
)  # fmt: skip
SPAN_DURATION = FieldSpec(
    "span.duration_ms", Prefix.SPAN, ValueType.NUMBER, _NUMERIC_OPS, Source.SPAN,
    "duration_ms", description="Some span's duration in ms (end - start).",
    read_span=attrgetter("duration_ms"),
)  # fmt: skip
SPAN_CONTENT = FieldSpec(
    "span.content", Prefix.SPAN, ValueType.TEXT, _TEXT_OPS, Source.SPAN, "content",
    description="Some span's full-text units (joins its span group).",
)  # fmt: skip
SPAN_ATTRIBUTES = FieldSpec(
    "span.attributes.<key>", Prefix.SPAN, ValueType.DYNAMIC,
    _STRING_OPS | _ORDER_OPS | _NULL_OPS, Source.SPAN, "attributes", keyed=True,
    description="Some span's attribute, decoded from JSON, compared as a dynamic "
    "value.",
)  # fmt: skip
FEEDBACK = FieldSpec(
    "feedback.<name>", Prefix.FEEDBACK, ValueType.DYNAMIC,
    _STRING_OPS | _ORDER_OPS | _NULL_OPS, Source.ASSESSMENT, "feedback", keyed=True,
    description="Some valid feedback of that name (session-scoped ones included).",
)  # fmt: skip
EXPECTATION = FieldSpec(
    "expectation.<name>", Prefix.EXPECTATION, ValueType.DYNAMIC,
    _STRING_OPS | _ORDER_OPS | _NULL_OPS, Source.ASSESSMENT, "expectation",
    keyed=True, description="Some valid expectation of that name.",
)  # fmt: skip
ISSUE_ID = FieldSpec(
    "issue.id", Prefix.ISSUE, ValueType.STRING, frozenset({Op.EQ}), Source.ASSESSMENT,
    "issue", description="An issue assessment with that id.",
)  # fmt: skip
EXPERIMENT_ID = FieldSpec(
    "experiment_id", _A, ValueType.STRING, frozenset(), Source.INFO, "experiment_id",
    orderable=True, description="The experiment; orderable only (as in MLflow).",
    read=attrgetter("info.experiment_id"),
)  # fmt: skip

SESSION = FieldSpec(
    "session", _A, ValueType.STRING, _STRING_OPS | _NULL_OPS, Source.METADATA,
    SESSION_KEY, orderable=True,
    read=lambda trace: trace.info.trace_metadata.get(SESSION_KEY),
    description="The trace's session (metadata mlflow.trace.session).",
)  # fmt: skip
USER = FieldSpec(
    "user", _A, ValueType.STRING, _STRING_OPS | _NULL_OPS, Source.METADATA,
    USER_KEY, orderable=True,
    read=lambda trace: trace.info.trace_metadata.get(USER_KEY),
    description="The trace's user (metadata mlflow.trace.user).",
)  # fmt: skip


# --- the LLM fields (conventions and rules: values/llm.py, docs/fields.md) ----------

_LLM_WORDS = {
    "model": "model",
    "provider": "model provider",
    "tokens.input": "input (prompt) tokens",
    "tokens.output": "output (completion) tokens",
    "tokens.total": "total tokens (input + output when not stated)",
    "tokens.cache_read": "input tokens read from the provider's cache",
    "tokens.cache_write": "input tokens written to the provider's cache",
    "tokens.reasoning": "output tokens spent on reasoning",
    "cost.input": "cost of the input tokens",
    "cost.output": "cost of the output tokens",
    "cost.total": "total cost",
    "time_to_first_token_ms": "time to the first streamed token, ms",
}


def _llm_span_spec(field: LlmField) -> FieldSpec:
    def read(span: Span) -> Any:
        return span_value(field, span.get_attribute)

    name = field.name
    if field.kind is Kind.NAME:
        vtype, ops = ValueType.STRING, _STRING_OPS | _NULL_OPS
    else:
        vtype, ops = ValueType.NUMBER, _NUMERIC_OPS | _NULL_OPS
    return FieldSpec(
        "span." + name, Prefix.SPAN, vtype, ops, Source.SPAN, name, read_span=read,
        description=f"Some span's {_LLM_WORDS[name]}; null when no source is "
        "valid.",
    )  # fmt: skip


def _llm_trace_spec(name: str) -> FieldSpec:
    def read(trace: Trace) -> Any:
        spans = [(s.span_id, s.parent_id, s.get_attribute) for s in trace.data.spans]
        return trace_value(name, trace.info.trace_metadata, spans)

    return FieldSpec(
        name, _A, ValueType.NUMBER, _NUMERIC_OPS | _NULL_OPS, Source.INFO, name,
        orderable=True, read=read,
        description=f"The trace's {_LLM_WORDS[name]}: MLflow's trace metadata, else "
        "the sum over the spans MLflow counts.",
    )  # fmt: skip


LLM_SPAN_SPECS: tuple[FieldSpec, ...] = tuple(map(_llm_span_spec, LLM_SPAN_FIELDS))
LLM_TRACE_SPECS: tuple[FieldSpec, ...] = tuple(map(_llm_trace_spec, LLM_TRACE_FIELDS))
SPAN_MODEL = LLM_SPAN_SPECS[0]
MODELS = FieldSpec(
    "models", _A, ValueType.STRING, _STRING_OPS | _NULL_OPS, Source.SPAN, "model",
    description="The models the trace called (span.model of its spans): = IN LIKE "
    "are true when any model matches, != NOT IN NOT LIKE when some model exists and "
    "none matches, IS NULL when it called none.",
)  # fmt: skip
#: The frame columns the LLM fields add, by table; `polartrace.frame.llm` fills them.
LLM_SPAN_COLUMNS: tuple[str, ...] = tuple(str(s.column) for s in LLM_SPAN_SPECS)
LLM_TRACE_COLUMNS: tuple[str, ...] = tuple(str(s.column) for s in LLM_TRACE_SPECS)

#: Every field, in documentation order.
FIELDS: tuple[FieldSpec, ...] = (
    STATUS, TIMESTAMP, EXECUTION_TIME, END_TIME, REQUEST_ID, CLIENT_REQUEST_ID, NAME,
    RUN_ID, SESSION, USER, *LLM_TRACE_SPECS, MODELS, PROMPT, TEXT, EXPERIMENT_ID, TAGS,
    METADATA, SPAN_NAME, SPAN_TYPE, SPAN_STATUS, SPAN_DURATION, *LLM_SPAN_SPECS,
    SPAN_CONTENT, SPAN_ATTRIBUTES, FEEDBACK, EXPECTATION, ISSUE_ID,
)  # fmt: skip

#: Unprefixed (or attribute-prefixed) names, aliases included.
ATTRIBUTE_FIELDS: dict[str, FieldSpec] = {
    name: spec
    for spec in FIELDS
    if spec.prefix is Prefix.ATTRIBUTE
    for name in (spec.name, *spec.aliases)
}

#: ``span.<key>`` fields other than ``span.attributes.<key>``.
SPAN_FIELDS: dict[str, FieldSpec] = {
    spec.name.removeprefix("span."): spec
    for spec in (
        SPAN_NAME, SPAN_TYPE, SPAN_STATUS, SPAN_DURATION, *LLM_SPAN_SPECS, SPAN_CONTENT
    )
}  # fmt: skip

#: Reserved tag/metadata keys that are really attribute fields.
RESERVED_KEYS: dict[tuple[Prefix, str], FieldSpec] = {
    (Prefix.TAG, TRACE_NAME_TAG): NAME,
    (Prefix.TAG, LINKED_PROMPTS_TAG): PROMPT,
    (Prefix.METADATA, SOURCE_RUN_KEY): RUN_ID,
}

#: Attribute names accepted by ``order_by`` (tags and metadata come on top).
ORDER_KEYS: dict[str, FieldSpec] = {
    name: spec for name, spec in ATTRIBUTE_FIELDS.items() if spec.orderable
}

#: Names that are not fields but that users write for one: the columns of MLflow's
#: ``search_traces`` DataFrame (MLflow 2 and 3) and common words. "Did you mean"
#: hints offer these fields instead of a look-alike spelling (``request_time`` is
#: ``timestamp_ms``, not ``request_id``).
NAME_HINTS: dict[str, FieldSpec] = {
    "request_time": TIMESTAMP, "start_time": TIMESTAMP, "time": TIMESTAMP,
    "execution_duration": EXECUTION_TIME, "duration": EXECUTION_TIME,
    "id": REQUEST_ID,
    "request": TEXT, "response": TEXT, "inputs": TEXT, "outputs": TEXT,
    "tags": TAGS, "tag": TAGS,
    "metadata": METADATA, "trace_metadata": METADATA, "request_metadata": METADATA,
    "assessments": FEEDBACK, "feedback": FEEDBACK, "expectation": EXPECTATION,
    "expectations": EXPECTATION,
}  # fmt: skip

#: Prefix spellings that are no prefix, and the prefix meant.
PREFIX_HINTS: dict[str, str] = {
    "assessment": "feedback", "assessments": "feedback", "feedbacks": "feedback",
    "expectations": "expectation", "spans": "span", "attr": "attributes",
    "run": "attributes", "meta": "metadata", "trace_metadata": "metadata",
}  # fmt: skip


def unprefixed(prefix: str | None, key: str) -> tuple[str | None, str]:
    """Read ``prefix.key`` as one dotted attribute name when it is one.

    ``tokens.total`` parses as prefix ``tokens`` and key ``total``; no prefix is
    spelled ``tokens``, so it names the attribute field ``tokens.total``.

    >>> unprefixed("cost", "total"), unprefixed("tags", "env")
    ((None, 'cost.total'), ('tags', 'env'))
    """
    if prefix is not None and prefix not in PREFIXES:
        dotted = f"{prefix}.{key}"
        if dotted in ATTRIBUTE_FIELDS:
            return None, dotted
    return prefix, key


def suggest_field(name: str, *, orderable: bool = False) -> str | None:
    """Return the field a "did you mean" hint offers for an unknown attribute name.

    A name in ``NAME_HINTS`` gives its field, or nothing if that field cannot be
    used there (``orderable``): it is never guessed by spelling instead. Any other
    name gives the closest attribute name, if one is close.

    Example:
        >>> suggest_field("request_time", orderable=True), suggest_field("stauts")
        ('timestamp_ms', 'status')
    """
    spec = NAME_HINTS.get(name)
    if spec is not None:
        return spec.name if spec.orderable or not orderable else None
    return closest_match(name, list(ORDER_KEYS if orderable else ATTRIBUTE_FIELDS))


def suggest_prefix(written: str) -> str | None:
    """Return the prefix a "did you mean" hint offers for an unknown prefix."""
    known = [p for p in PREFIXES if p]
    return PREFIX_HINTS.get(written.lower()) or closest_match(written, known)


#: The values ``status`` and ``span.status`` accept, with their stored spelling.
STATE_VALUES: dict[str, str] = dict(STATE_SPELLINGS)
#: Unlike the span JSON, a filter does not accept the ``STATUS_CODE_`` spellings.
SPAN_STATUS_VALUES: dict[str, str] = {
    code: code for code in sorted(SPAN_STATUS_CODES, key=("OK", "ERROR", "UNSET").index)
}


_PREFIX_WORD = {Prefix.TAG: "tags", Prefix.METADATA: "metadata"}


def _ops_text(ops: frozenset[Op]) -> str:
    order = list(Op)
    return " ".join(f"`{op.value}`" for op in sorted(ops, key=order.index)) or "-"


def render_markdown() -> str:
    """Render the catalogue as the Markdown table shipped in ``docs/fields.md``.

    Returns:
        The whole document, generated: edit ``fields.py``, not the Markdown.
    """
    lines = [
        "# Fields",
        "",
        "Generated from `polartrace/catalogue/fields.py` by `python -m "
        "polartrace.fields`;"
        " do not edit by hand.",
        "",
        "Prefixes: " + ", ".join(f"`{p}`" for p in PREFIXES if p) + " (no prefix ="
        " attribute).",
        "",
        "| field | aliases | value | operators | orderable | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for spec in FIELDS:
        aliases = ", ".join(f"`{a}`" for a in spec.aliases) or "-"
        lines.append(
            f"| `{spec.name}` | {aliases} | {spec.value_type.value} | "
            f"{_ops_text(spec.ops)} | {'yes' if spec.orderable else 'no'} | "
            f"{spec.description} |"
        )
    lines += [
        "",
        "Reserved keys that resolve to attribute fields: "
        + ", ".join(
            f"`{_PREFIX_WORD[prefix]}.{key}` → `{spec.name}`"
            for (prefix, key), spec in RESERVED_KEYS.items()
        )
        + ".",
        "",
        conventions_markdown(),
    ]
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover - documentation generator
    print(render_markdown(), end="")
