"""The one small vocabulary that generated traces and filters share.

Tag keys and values, span names, attribute values, assessment names and times a
few hundred milliseconds apart: traces are drawn from these, and filter literals
(`_WORDS`, `_NUMBERS`, `_KEYS`) from the same words or numbers just beside them,
so generated filters often match some traces and miss others.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from polartrace.catalogue.fields import (
    SPAN_STATUS_VALUES,
    STATE_VALUES,
)
from polartrace.values.conventions import SESSION_KEY, SOURCE_RUN_KEY
from polartrace.values.json_values import canonical_text

#: Request times are this (2023-11-14T22:13:20Z) plus a few seconds at most.
BASE_TIME_MS: Final = 1_700_000_000_000
_TIMES: Final = tuple(BASE_TIME_MS + ms for ms in (0, 0, 500, 1000, 1000, 2000, 60_000))
_DURATIONS: Final = (0, 50, 150, 150, 1000, 2500)
_ISO_TIMES: Final = (
    "2023-11-14", "2023-11-14T22:13:20Z", "2023-11-14T22:13:20.500Z",
    "2023-11-14 22:13:21", "2023-11-14T23:13:22+01:00", "2023-11-15",
)  # fmt: skip
# Fixed pseudo-random ids, so that id filters (request_id LIKE 'tr-9e%') can hit.
_TRACE_IDS: Final = tuple(
    f"tr-{i * 0x9E3779B97F4A7C15F39CC0605CEDC835 % 2**128:032x}" for i in range(1, 25)
)
_CLIENT_IDS: Final = ("req-1", "req-2", "REQ-1", "req_1", "")
_TRACE_NAMES: Final = ("chat_pipeline", "rag.query", "Summarize", "chat", "Ünï name")
_TAG_KEYS: Final = ("environment", "team", "my key", "env.region", "a-b")
_TAG_VALUES: Final = (
    "production", "Production", "staging", "dev", "", "a%b_c", "it's", "İstanbul",
    "ünï", "us-east-1", "100%", "line\nbreak", 'say "hi"',
)  # fmt: skip
_META_KEYS: Final = (
    "mlflow.trace.user", "weird.key-1", "mlflow.trace.tokenUsage", "mlflow.trace.cost",
)  # fmt: skip
_META_VALUES: Final = (
    "alice", "bob", "Älice", "", '{"input_tokens": 3}', "production",
    '{"input_tokens": 5, "output_tokens": 2, "total_tokens": 7}',
    '{"total_cost": 0.5, "input_cost": 0.25}', '{"total_tokens": "7"}', "[7]",
)  # fmt: skip
_SESSIONS: Final = ("s1", "s2")
_RUNS: Final = ("run-1", "run-2", "RUN-1")
_PROMPTS: Final = (("qa", "1"), ("qa", "2"), ("summarize", "3"))
_SPAN_NAMES: Final = (
    "root", "retriever", "Retriever", "llm", "tool_call", "embed", "parse ü",
)  # fmt: skip
_SPAN_TYPES: Final = ("LLM", "CHAIN", "TOOL", "RETRIEVER", "custom type")
# Lengths in ns; 1_234_567 and 333_333 are durations in ms with no exact float.
_SPAN_NS: Final = (
    0, 1_000_000, 2_500_000, 150_000_000, 1_000_000_000, 1_234_567, 333_333,
)  # fmt: skip
_ATTR_KEYS: Final = ("model", "temperature", "dims", "flag", "score", "mlflow.chat.x")
#: Decoded attribute values: strings, numbers, booleans, null, lists and objects.
_VALUES: Final[tuple[Any, ...]] = (
    "gpt-4", "GPT-4", "3", "3.0", "true", "", "ünï", "a%b_c", "1e+20", 0, 1, 3, 3.0,
    0.7, -1, -0.5, 1536, 2.5, 1e20, 2**53 + 1, True, False, None, [1, "a"], [],
    {"k": "v"}, {"k": [1.0, "é"]},
)  # fmt: skip
#: LLM attributes (docs/fields.md#llm-fields), valid and bad. Costs are binary
#: fractions, so that sums are exact in any order of addition.
_MODELS: Final = ("gpt-4o", "gpt-4o-mini", "claude-3-5", "GPT-4o")
_PROVIDERS: Final = ("openai", "anthropic")
_COUNTS: Final[tuple[Any, ...]] = (
    0, 3, 7, 12, 100, 2**40, 2**40 + 1, -3, "12", 12.0, 12.5, True, None, [3],
)  # fmt: skip
_COSTS: Final[tuple[Any, ...]] = (
    0, 0.25, 0.5, 1.125, 3, -0.5, "0.5", True, None, float("nan"),
)  # fmt: skip
_NAMES_BAD: Final[tuple[Any, ...]] = (*_MODELS, "", 42, None, ["gpt-4o"])
#: Attribute text that is not JSON: MLflow reads it back as the string itself.
_RAW_ATTRIBUTES: Final = ("LLM", "plain text")
_TEXTS: Final = (
    "What is MLflow?", "refund policy", "Ünïcode café", 'say "hi" 100%',
    "line one\nline two", "42", "\u0391\u03a3 \u03c3", "emoji 😀", "it's", "",
)  # fmt: skip
_EVENT_NAMES: Final = ("exception", "retry", "token")
_ASSESSMENT_NAMES: Final = ("correctness", "relevance", "tone", "judge", "my.metric")
_ASSESSMENT_VALUES: Final[tuple[Any, ...]] = (
    True, False, 0, 1, 3, 3.0, 0.5, 0.75, "positive", "Positive", "3", "", [1, 2],
    ["a", "b"], {"k": "v"}, None,
)  # fmt: skip
_ISSUE_IDS: Final = ("iss-1", "iss-2")
_MISSES: Final = ("zzz", "nope")  # strings no generated trace holds


def _texts_of(values: Sequence[Any]) -> tuple[str, ...]:
    texts = (canonical_text(value) for value in values)
    return tuple(dict.fromkeys(text for text in texts if text is not None))


def _numbers_of(values: Sequence[Any]) -> tuple[int | float, ...]:
    return tuple(
        v for v in values if isinstance(v, int | float) and not isinstance(v, bool)
    )


_DYNAMIC_WORDS: Final = (
    *_texts_of(_VALUES), *_texts_of(_ASSESSMENT_VALUES), '"positive"', '"Positive"',
    '"3"', "1e3", "0.50", "0.70", "3.00", "-0.50",
)  # fmt: skip
_FULL_TEXT_WORDS: Final = (
    *_TEXTS[:-1], *_SPAN_NAMES, *_EVENT_NAMES, "gpt-4", "ünï", "3", "true", "1536",
)  # fmt: skip
#: String literals by field (catalogue name); patterns are cut from the same words.
_WORDS: Final[dict[str, tuple[str, ...]]] = {
    "status": tuple(STATE_VALUES),
    "request_id": _TRACE_IDS[:8],
    "client_request_id": _CLIENT_IDS,
    "name": _TRACE_NAMES,
    "run_id": _RUNS,
    "prompt": ("qa/1", "qa/2", "summarize/3", "qa/3"),
    "text": _FULL_TEXT_WORDS,
    "tags.<key>": _TAG_VALUES,
    "metadata.<key>": (*_META_VALUES, *_SESSIONS, *_RUNS),
    "span.name": _SPAN_NAMES,
    "span.type": (*_SPAN_TYPES, "UNKNOWN"),
    "span.status": tuple(SPAN_STATUS_VALUES),
    "span.content": _FULL_TEXT_WORDS,
    "span.attributes.<key>": _DYNAMIC_WORDS,
    "feedback.<name>": _DYNAMIC_WORDS,
    "expectation.<name>": _DYNAMIC_WORDS,
    "issue.id": _ISSUE_IDS,
    "session": _SESSIONS,
    "user": ("alice", "bob", "Älice", ""),
    "models": _MODELS,
    "span.model": _MODELS,
    "span.provider": _PROVIDERS,
}
#: Number literals by field; equal to stored values, or just beside them.
_NUMBERS: Final[dict[str, tuple[int | float, ...]]] = {
    "timestamp_ms": (*_TIMES, BASE_TIME_MS - 1, BASE_TIME_MS + 999.5),
    "end_time_ms": (*_TIMES, BASE_TIME_MS + 150, BASE_TIME_MS + 2500, 1.7e12),
    "execution_time_ms": (*_DURATIONS, 149, 151, 0.5, -1),
    "span.duration_ms": (*(ns / 1e6 for ns in _SPAN_NS), 2, 149.5),
    "span.attributes.<key>": (*_numbers_of(_VALUES), 0.69, 2),
    "feedback.<name>": (*_numbers_of(_ASSESSMENT_VALUES), 0.6, 4),
    "expectation.<name>": (*_numbers_of(_ASSESSMENT_VALUES), 0.6, 4),
    **{
        f"{level}{name}": (0, 3, 7, 12, 15, 100, 103, 2**40, 0.5)
        for level in ("", "span.")
        for name in (
            "tokens.input", "tokens.output", "tokens.total", "tokens.cache_read",
            "tokens.cache_write", "tokens.reasoning",
        )
    },
    **{
        f"{level}{name}": (0, 0.25, 0.5, 0.75, 1.125, 3, 1)
        for level in ("", "span.")
        for name in ("cost.input", "cost.output", "cost.total")
    },
    "span.time_to_first_token_ms": (0, 250, 500, 250.5),
}  # fmt: skip
#: Keys of keyed fields; reserved keys resolve to other fields (tags.mlflow.traceName).
_KEYS: Final[dict[str, tuple[str, ...]]] = {
    "tags.<key>": (*_TAG_KEYS, "mlflow.traceName", "mlflow.linkedPrompts", "missing"),
    "metadata.<key>": (*_META_KEYS, SESSION_KEY, SOURCE_RUN_KEY, "x"),
    "span.attributes.<key>": (*_ATTR_KEYS, "mlflow.spanType", "mlflow.spanInputs"),
    "feedback.<name>": (*_ASSESSMENT_NAMES, "missing"),
    "expectation.<name>": (*_ASSESSMENT_NAMES, "missing"),
}
