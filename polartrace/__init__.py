"""polartrace: find the LLM-application traces you are looking for, fast.

MLflow-compatible ``search_traces`` filter strings, parsed by a lark grammar, checked
against one field catalogue and compiled to Polars expressions over an Arrow-backed
trace frame. A plain-Python reference evaluator gives the same answers row by row.

The public names below load on first use (PEP 562), so ``import polartrace`` costs
nothing beyond the names a program touches.

>>> import polartrace
>>> polartrace.parse_filter("status = 'OK' OR latency > 1000").root is not None
True
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:  # what type checkers and IDEs see; _EXPORTS is what runs
    from polartrace import openai as openai
    from polartrace.api.lazy import scan_traces as scan_traces
    from polartrace.api.metrics import metrics as metrics
    from polartrace.api.rows import search_assessments as search_assessments
    from polartrace.api.rows import search_spans as search_spans
    from polartrace.api.search import count as count
    from polartrace.api.search import search_traces as search_traces
    from polartrace.api.sessions import search_sessions as search_sessions
    from polartrace.bind.filter import BoundFilter as BoundFilter
    from polartrace.bind.filter import parse_filter as parse_filter
    from polartrace.frame.concat import concat as concat
    from polartrace.frame.trace_frame import TraceFrame as TraceFrame
    from polartrace.io import read_traces as read_traces
    from polartrace.io import write_jsonl as write_jsonl
    from polartrace.io import write_parquet as write_parquet
    from polartrace.model.trace import Assessment as Assessment
    from polartrace.model.trace import Span as Span
    from polartrace.model.trace import SpanEvent as SpanEvent
    from polartrace.model.trace import Trace as Trace
    from polartrace.model.trace import TraceData as TraceData
    from polartrace.model.trace import TraceInfo as TraceInfo
    from polartrace.model.trace import TraceState as TraceState
    from polartrace.output.tokens import next_page_token as next_page_token
    from polartrace.tracing.sdk import LiveSpan as LiveSpan
    from polartrace.tracing.sdk import TraceStore as TraceStore
    from polartrace.tracing.sdk import TracingError as TracingError
    from polartrace.tracing.sdk import TracingWarning as TracingWarning
    from polartrace.tracing.sdk import delete_trace_tag as delete_trace_tag
    from polartrace.tracing.sdk import (
        get_current_active_span as get_current_active_span,
    )
    from polartrace.tracing.sdk import (
        get_last_active_trace_id as get_last_active_trace_id,
    )
    from polartrace.tracing.sdk import get_store as get_store
    from polartrace.tracing.sdk import get_trace as get_trace
    from polartrace.tracing.sdk import log_expectation as log_expectation
    from polartrace.tracing.sdk import log_feedback as log_feedback
    from polartrace.tracing.sdk import override_feedback as override_feedback
    from polartrace.tracing.sdk import set_trace_tag as set_trace_tag
    from polartrace.tracing.sdk import start_span as start_span
    from polartrace.tracing.sdk import start_span_no_context as start_span_no_context
    from polartrace.tracing.sdk import trace as trace
    from polartrace.tracing.sdk import update_current_trace as update_current_trace
    from polartrace.values.errors import FilterError as FilterError
    from polartrace.values.errors import MetricError as MetricError
    from polartrace.values.errors import OrderByError as OrderByError
    from polartrace.values.errors import PageTokenError as PageTokenError
    from polartrace.values.errors import PolartraceError as PolartraceError
    from polartrace.values.errors import SearchArgumentError as SearchArgumentError
    from polartrace.values.errors import TraceFormatError as TraceFormatError

# Public name -> the module that defines it. A name equal to the module's last part
# (``openai``) is that submodule itself. Adding a public name is one line here and
# one in the TYPE_CHECKING block above; tests/test_package.py checks they agree.
_EXPORTS: Final[dict[str, str]] = {
    "Assessment": "polartrace.model.trace",
    "BoundFilter": "polartrace.bind.filter",
    "FilterError": "polartrace.values.errors",
    "LiveSpan": "polartrace.tracing.sdk",
    "MetricError": "polartrace.values.errors",
    "OrderByError": "polartrace.values.errors",
    "PageTokenError": "polartrace.values.errors",
    "PolartraceError": "polartrace.values.errors",
    "SearchArgumentError": "polartrace.values.errors",
    "Span": "polartrace.model.trace",
    "SpanEvent": "polartrace.model.trace",
    "Trace": "polartrace.model.trace",
    "TraceData": "polartrace.model.trace",
    "TraceFormatError": "polartrace.values.errors",
    "TraceFrame": "polartrace.frame.trace_frame",
    "TraceInfo": "polartrace.model.trace",
    "TraceState": "polartrace.model.trace",
    "TraceStore": "polartrace.tracing.sdk",
    "TracingError": "polartrace.tracing.sdk",
    "TracingWarning": "polartrace.tracing.sdk",
    "concat": "polartrace.frame.concat",
    "count": "polartrace.api.search",
    "delete_trace_tag": "polartrace.tracing.sdk",
    "get_current_active_span": "polartrace.tracing.sdk",
    "get_last_active_trace_id": "polartrace.tracing.sdk",
    "get_store": "polartrace.tracing.sdk",
    "get_trace": "polartrace.tracing.sdk",
    "log_expectation": "polartrace.tracing.sdk",
    "log_feedback": "polartrace.tracing.sdk",
    "metrics": "polartrace.api.metrics",
    "next_page_token": "polartrace.output.tokens",
    "openai": "polartrace.openai",
    "override_feedback": "polartrace.tracing.sdk",
    "parse_filter": "polartrace.bind.filter",
    "read_traces": "polartrace.io",
    "scan_traces": "polartrace.api.lazy",
    "search_assessments": "polartrace.api.rows",
    "search_sessions": "polartrace.api.sessions",
    "search_spans": "polartrace.api.rows",
    "search_traces": "polartrace.api.search",
    "set_trace_tag": "polartrace.tracing.sdk",
    "start_span": "polartrace.tracing.sdk",
    "start_span_no_context": "polartrace.tracing.sdk",
    "trace": "polartrace.tracing.sdk",
    "update_current_trace": "polartrace.tracing.sdk",
    "write_jsonl": "polartrace.io",
    "write_parquet": "polartrace.io",
}

__all__ = sorted(_EXPORTS)

__version__ = "0.1.0"


if not TYPE_CHECKING:  # hidden from type checkers, which would then accept any name

    def __getattr__(name: str) -> Any:
        """Import the module that defines a public name, on first use."""
        try:
            module_name = _EXPORTS[name]
        except KeyError:
            msg = f"module {__name__!r} has no attribute {name!r}"
            raise AttributeError(msg) from None
        module = importlib.import_module(module_name)
        value = module if module_name == f"{__name__}.{name}" else getattr(module, name)
        globals()[name] = value  # later lookups skip this function
        return value


def __dir__() -> list[str]:
    """List the public names and the module's own attributes."""
    return sorted({*globals(), *_EXPORTS})
