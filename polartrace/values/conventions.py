"""MLflow's tracing conventions, each defined once.

The names MLflow gives trace states and span status codes, the reserved tag,
metadata and span attribute keys, how long a request/response preview may be and
how it is cut, which span is a trace's root, and how a trace's token usage is summed
from its spans. The model, the tracing SDK, the readers and the outputs all read
them from here, so a reader and the SDK cannot disagree on what MLflow means.

The spellings are MLflow's (``mlflow/tracing/constant.py``,
``mlflow/entities/trace_state.py``, ``mlflow/tracing/utils``). Nothing here imports
anything of polartrace's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final, TypeVar

__all__ = [
    "LINKED_PROMPTS_TAG",
    "MLFLOW2_STATE_UNSPECIFIED",
    "PREVIEW_MAX_CHARS",
    "RESULT_COLUMNS",
    "SESSION_KEY",
    "SOURCE_RUN_KEY",
    "SPAN_STATUS_CODES",
    "SPAN_STATUS_SPELLINGS",
    "STATE_SPELLINGS",
    "TOKEN_USAGE_KEY",
    "TRACE_NAME_TAG",
    "TRACE_STATES",
    "counted_spans",
    "root_span",
    "status_code_json",
    "token_usage",
    "truncate_preview",
]

_S = TypeVar("_S")

# --- trace states and span status codes ----------------------------------------------

#: Trace states, as ``TraceState`` names them (MLflow 3).
#: The columns of MLflow's ``search_traces`` DataFrame, in MLflow's order.
RESULT_COLUMNS: Final = (
    "trace_id",
    "trace",
    "client_request_id",
    "state",
    "request_time",
    "execution_duration",
    "request",
    "response",
    "trace_metadata",
    "tags",
    "spans",
    "assessments",
)
TRACE_STATES: Final = ("STATE_UNSPECIFIED", "OK", "ERROR", "IN_PROGRESS")
STATE_UNSPECIFIED: Final = "STATE_UNSPECIFIED"
#: MLflow 2's ``TraceStatus`` name for the unset state; MLflow 3 still reads it.
MLFLOW2_STATE_UNSPECIFIED: Final = "TRACE_STATUS_UNSPECIFIED"
#: Every spelling of a trace state that MLflow reads, and the state it names.
STATE_SPELLINGS: Final[Mapping[str, str]] = MappingProxyType(
    {
        STATE_UNSPECIFIED: STATE_UNSPECIFIED,
        MLFLOW2_STATE_UNSPECIFIED: STATE_UNSPECIFIED,
        "OK": "OK",
        "ERROR": "ERROR",
        "IN_PROGRESS": "IN_PROGRESS",
    }
)

#: Span status codes without the ``STATUS_CODE_`` prefix of the span JSON.
SPAN_STATUS_CODES: Final = ("UNSET", "OK", "ERROR")
_STATUS_CODE_PREFIX: Final = "STATUS_CODE_"
#: OTLP's numeric status codes (``Status.StatusCode``).
OTLP_STATUS_CODES: Final[Mapping[int, str]] = MappingProxyType(
    dict(enumerate(SPAN_STATUS_CODES))
)


def status_code_json(code: str) -> str:
    """Return a status code as the span JSON spells it.

    >>> status_code_json("ERROR")
    'STATUS_CODE_ERROR'
    """
    return _STATUS_CODE_PREFIX + code


def status_code_name(text: str) -> str:
    """Return ``text`` without the span JSON's ``STATUS_CODE_`` prefix, if it has one.

    The result is not checked: a caller that needs a real code looks it up.
    """
    return text.removeprefix(_STATUS_CODE_PREFIX)


#: Every spelling of a span status code that MLflow reads, and the code it names.
SPAN_STATUS_SPELLINGS: Final[Mapping[str, str]] = MappingProxyType(
    {
        **{status_code_json(code): code for code in SPAN_STATUS_CODES},
        **{code: code for code in SPAN_STATUS_CODES},
    }
)

# --- reserved keys ---------------------------------------------------------------

#: Trace tags.
TRACE_NAME_TAG: Final = "mlflow.traceName"
LINKED_PROMPTS_TAG: Final = "mlflow.linkedPrompts"
SPANS_LOCATION_TAG: Final = "mlflow.trace.spansLocation"
ARTIFACT_LOCATION_TAG: Final = "mlflow.artifactLocation"

#: Trace metadata.
SESSION_KEY: Final = "mlflow.trace.session"
USER_KEY: Final = "mlflow.trace.user"
SOURCE_RUN_KEY: Final = "mlflow.sourceRun"
MODEL_ID_KEY: Final = "mlflow.modelId"
TOKEN_USAGE_KEY: Final = "mlflow.trace.tokenUsage"
COST_KEY: Final = "mlflow.trace.cost"
SIZE_BYTES_KEY: Final = "mlflow.trace.sizeBytes"
SIZE_STATS_KEY: Final = "mlflow.trace.sizeStats"
TRACE_INPUTS_KEY: Final = "mlflow.traceInputs"
TRACE_OUTPUTS_KEY: Final = "mlflow.traceOutputs"
INFO_FINALIZED_KEY: Final = "mlflow.trace.infoFinalized"

#: Span attributes (JSON text, like every span attribute).
SPAN_INPUTS: Final = "mlflow.spanInputs"
SPAN_OUTPUTS: Final = "mlflow.spanOutputs"
SPAN_TYPE_KEY: Final = "mlflow.spanType"
TRACE_REQUEST_ID_KEY: Final = "mlflow.traceRequestId"
CHAT_USAGE_KEY: Final = "mlflow.chat.tokenUsage"
LLM_COST_KEY: Final = "mlflow.llm.cost"
LLM_MODEL_KEY: Final = "mlflow.llm.model"
LLM_PROVIDER_KEY: Final = "mlflow.llm.provider"

#: Assessment metadata: the run that produced an assessment.
ASSESSMENT_SOURCE_RUN_KEY: Final = "mlflow.assessment.sourceRunId"

# --- previews --------------------------------------------------------------------

#: ``TRACE_REQUEST_RESPONSE_PREVIEW_MAX_LENGTH_OSS``: characters in a preview.
PREVIEW_MAX_CHARS: Final = 1000
#: ``MAX_CHARS_IN_TRACE_INFO_METADATA``: characters in a metadata value MLflow cuts.
METADATA_MAX_CHARS: Final = 250


def truncate_preview(text: str | None, limit: int = PREVIEW_MAX_CHARS) -> str:
    """Cut ``text`` to ``limit`` characters as MLflow does: the end becomes ``...``.

    Characters are code points, as Python counts them, so a multi-byte character is
    never split. No text gives ``""`` (MLflow's ``_get_truncated_preview``).

    >>> truncate_preview("abcdef", 5), truncate_preview("abcde", 5)
    ('ab...', 'abcde')
    """
    if not text:
        return ""
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- the root span ---------------------------------------------------------------


def root_span(spans: Iterable[_S], parent_of: Callable[[_S], str | None]) -> _S | None:
    """Return a trace's root span: its first span without a parent id, or ``None``.

    A span whose parent id names no span of the trace (an orphan) is not a root:
    its parent may still arrive. The Polars page path (``frame.root_spans``) applies
    the same rule to the span table.

    >>> root_span([("b", "a"), ("a", None)], parent_of=lambda s: s[1])
    ('a', None)
    """
    return next((span for span in spans if parent_of(span) is None), None)


# --- token usage -----------------------------------------------------------------

#: The counts of a token usage, in the order MLflow writes them.
TOKEN_USAGE_COUNTS: Final = ("input_tokens", "output_tokens", "total_tokens")


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def counted_spans(spans: Iterable[tuple[str, str | None, bool]]) -> list[int]:
    """The positions of the spans a trace's usage (or cost) sums, MLflow's rule.

    A span that reports is counted unless an ancestor also reports: an ancestor's
    usage already holds the same call, seen by a second integration. A span whose
    parent is not in the trace starts a subtree of its own; a span under a parent
    cycle is reached from no root and not counted; of repeated span ids, the first
    one reached decides.

    Args:
        spans: ``(span id, parent id, reports)`` per span, in trace order.

    Returns:
        The counted positions, ascending.

    >>> counted_spans([("a", None, True), ("b", "a", True), ("c", None, True)])
    [0, 2]
    """
    rows = list(spans)
    ids = {span_id for span_id, _, _ in rows}
    children: dict[str, list[int]] = {}
    stack: list[tuple[int, bool]] = []
    for index, (_, parent, _) in enumerate(rows):
        if parent and parent in ids:
            children.setdefault(parent, []).append(index)
        else:
            stack.append((index, False))
    stack.reverse()
    counted: list[int] = []
    seen: set[int] = set()  # repeated span ids must not loop
    while stack:
        index, covered = stack.pop()
        if index in seen:
            continue
        seen.add(index)
        span_id, _, reports = rows[index]
        if reports and not covered:
            counted.append(index)
        stack.extend(
            (child, covered or reports) for child in reversed(children.get(span_id, ()))
        )
    return sorted(counted)


def token_usage(
    spans: Iterable[tuple[str, str | None, Any]],
) -> dict[str, int] | None:
    """Sum a trace's token usage over its spans, as MLflow's ``aggregate_usage``.

    A span reports usage when its decoded ``mlflow.chat.tokenUsage`` is an object;
    the spans summed are those `counted_spans` counts. Counts that are not integers
    add 0.

    Args:
        spans: ``(span id, parent id, decoded usage or None)`` per span.

    Returns:
        ``input_tokens``, ``output_tokens`` and ``total_tokens``, or ``None`` when
        no span reports usage.

    >>> token_usage([("a", None, {"input_tokens": 2}), ("b", "a", {"input_tokens": 5})])
    {'input_tokens': 2, 'output_tokens': 0, 'total_tokens': 0}
    """
    rows = list(spans)
    counted = counted_spans(
        (span_id, parent, isinstance(usage, dict)) for span_id, parent, usage in rows
    )
    if not counted:
        return None
    totals = dict.fromkeys(TOKEN_USAGE_COUNTS, 0)
    for index in counted:
        usage = rows[index][2]
        for key in TOKEN_USAGE_COUNTS:
            totals[key] += _count(usage.get(key, 0))
    return totals
