"""Pre-built JSON text of the members every trace repeats.

Traces are written straight to the text ``json.dumps`` would produce (default
separators, ASCII escapes), so the JSONL path never builds a dict;
`polartrace.generate.generate_trace_dicts` parses that text back.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Final

from polartrace.generate._apps import _APPS, _E, _K, _L, _P, _R, _T
from polartrace.generate._vocab import (
    _LOG_LEVEL,
    _MAX_TOKENS,
    _MODELS,
    _PROVIDERS,
    _TEMPERATURES,
)
from polartrace.values.conventions import (
    LLM_MODEL_KEY,
    LLM_PROVIDER_KEY,
    truncate_preview,
)

# JSON text of a str exactly as json.dumps(s, ensure_ascii=False) writes it, which is
# how MLflow encodes span attributes (non-ASCII kept); C-accelerated.
_jstr: Final[Callable[[str], str]] = json.encoder.encode_basestring

# The JSON text of a str as json.dumps(s) writes it (ensure_ascii=True); C-accelerated.
_ea: Final[Callable[[str], str]] = json.encoder.encode_basestring_ascii


def _kv(key: str, value: str) -> str:
    """Return the JSON member ``"key": "value"`` with ``value`` escaped."""
    return f'"{key}": {_ea(value)}'


_SPAN_TYPES: Final = ("CHAIN", "AGENT", _L, _T, _R, _E, _K, _P)
_A_EXPERIMENT: Final = _kv("mlflow.experimentId", '"1"')
_A_TYPE: Final = {t: _kv("mlflow.spanType", f'"{t}"') for t in _SPAN_TYPES}
_A_LEVEL: Final = {
    t: _kv("mlflow.spanLogLevel", _LOG_LEVEL.get(t, "20")) for t in _SPAN_TYPES
}
_A_MODEL: Final = {
    m: _kv("model", f'"{m}"')
    for m in (*_MODELS, "text-embedding-3-small", "rerank-english-v3.0")
}
_A_LLM_MODEL: Final = {m: _kv(LLM_MODEL_KEY, f'"{m}"') for m in _MODELS}
_A_PROVIDER: Final = {m: _kv(LLM_PROVIDER_KEY, f'"{p}"') for m, p in _PROVIDERS.items()}
_A_TEMPERATURE: Final = tuple(_kv("temperature", t) for t in _TEMPERATURES)
_A_MAX_TOKENS: Final = tuple(_kv("max_tokens", m) for m in _MAX_TOKENS)
_A_STREAM: Final = (_kv("stream", "true"), _kv("stream", "false"))
_A_DIMS: Final = _kv("dims", "1536")
_A_K: Final = tuple(_kv("retriever.k", str(k)) for k in range(8))
_A_FUNCTION: Final = {
    name: _kv("mlflow.spanFunctionName", f'"{name.removeprefix("tool:")}"')
    for app in _APPS
    for name, typ, _, _ in app.plan
    if typ == _T
}
_STATUS_OK: Final = '"status": {"code": "STATUS_CODE_OK", "message": ""}'
_STATUS_ERROR: Final = '"status": {"code": "STATUS_CODE_ERROR", "message": ""}'
_LOCATION: Final = (
    '"trace_location": {"type": "MLFLOW_EXPERIMENT", '
    '"mlflow_experiment": {"experiment_id": "1"}}'
)


def _preview(text: str, escaped: str, limit: int) -> str:
    """Return ``text`` cut to ``limit`` characters as MLflow does, JSON-escaped.

    ``escaped`` is ``text`` already escaped, reused when no cut is needed.
    """
    return escaped if len(text) <= limit else _ea(truncate_preview(text, limit))


def _cost(in_micro: int, out_micro: int) -> str:
    """Return the ``mlflow.llm.cost`` / ``mlflow.trace.cost`` JSON text (USD)."""
    total = in_micro + out_micro
    return (
        f'{{"input_cost": {in_micro / 1e6!r}, "output_cost": {out_micro / 1e6!r}, '
        f'"total_cost": {total / 1e6!r}}}'
    )


def _usage(in_tok: int, out_tok: int) -> str:
    """Return the ``tokenUsage`` JSON text MLflow writes for LLM calls and traces."""
    return (
        f'{{"input_tokens": {in_tok}, "output_tokens": {out_tok}, '
        f'"total_tokens": {in_tok + out_tok}}}'
    )
