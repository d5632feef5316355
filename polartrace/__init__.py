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
    from polartrace._concat import concat as concat
    from polartrace.bind import BoundFilter as BoundFilter
    from polartrace.bind import parse_filter as parse_filter
    from polartrace.errors import FilterError as FilterError
    from polartrace.errors import OrderByError as OrderByError
    from polartrace.errors import PageTokenError as PageTokenError
    from polartrace.errors import PolartraceError as PolartraceError
    from polartrace.errors import SearchArgumentError as SearchArgumentError
    from polartrace.errors import TraceFormatError as TraceFormatError
    from polartrace.frame import TraceFrame as TraceFrame
    from polartrace.io import read_traces as read_traces
    from polartrace.io import scan_traces as scan_traces
    from polartrace.io import write_jsonl as write_jsonl
    from polartrace.io import write_parquet as write_parquet
    from polartrace.model import Assessment as Assessment
    from polartrace.model import Span as Span
    from polartrace.model import SpanEvent as SpanEvent
    from polartrace.model import Trace as Trace
    from polartrace.model import TraceData as TraceData
    from polartrace.model import TraceInfo as TraceInfo
    from polartrace.model import TraceState as TraceState
    from polartrace.search import count as count
    from polartrace.search import search_traces as search_traces
    from polartrace.tracing import LiveSpan as LiveSpan
    from polartrace.tracing import TraceStore as TraceStore
    from polartrace.tracing import TracingError as TracingError
    from polartrace.tracing import TracingWarning as TracingWarning
    from polartrace.tracing import delete_trace_tag as delete_trace_tag
    from polartrace.tracing import get_current_active_span as get_current_active_span
    from polartrace.tracing import get_last_active_trace_id as get_last_active_trace_id
    from polartrace.tracing import get_store as get_store
    from polartrace.tracing import get_trace as get_trace
    from polartrace.tracing import log_expectation as log_expectation
    from polartrace.tracing import log_feedback as log_feedback
    from polartrace.tracing import override_feedback as override_feedback
    from polartrace.tracing import set_trace_tag as set_trace_tag
    from polartrace.tracing import start_span as start_span
    from polartrace.tracing import start_span_no_context as start_span_no_context
    from polartrace.tracing import trace as trace
    from polartrace.tracing import update_current_trace as update_current_trace

# Public name -> the module that defines it. A name equal to the module's last part
# (``openai``) is that submodule itself. Adding a public name is one line here and
# one in the TYPE_CHECKING block above; tests/test_package.py checks they agree.
_EXPORTS: Final[dict[str, str]] = {
    "Assessment": "polartrace.model",
    "BoundFilter": "polartrace.bind",
    "FilterError": "polartrace.errors",
    "LiveSpan": "polartrace.tracing",
    "OrderByError": "polartrace.errors",
    "PageTokenError": "polartrace.errors",
    "PolartraceError": "polartrace.errors",
    "SearchArgumentError": "polartrace.errors",
    "Span": "polartrace.model",
    "SpanEvent": "polartrace.model",
    "Trace": "polartrace.model",
    "TraceData": "polartrace.model",
    "TraceFormatError": "polartrace.errors",
    "TraceFrame": "polartrace.frame",
    "TraceInfo": "polartrace.model",
    "TraceState": "polartrace.model",
    "TraceStore": "polartrace.tracing",
    "TracingError": "polartrace.tracing",
    "TracingWarning": "polartrace.tracing",
    "concat": "polartrace._concat",
    "count": "polartrace.search",
    "delete_trace_tag": "polartrace.tracing",
    "get_current_active_span": "polartrace.tracing",
    "get_last_active_trace_id": "polartrace.tracing",
    "get_store": "polartrace.tracing",
    "get_trace": "polartrace.tracing",
    "log_expectation": "polartrace.tracing",
    "log_feedback": "polartrace.tracing",
    "openai": "polartrace.openai",
    "override_feedback": "polartrace.tracing",
    "parse_filter": "polartrace.bind",
    "read_traces": "polartrace.io",
    "scan_traces": "polartrace.io",
    "search_traces": "polartrace.search",
    "set_trace_tag": "polartrace.tracing",
    "start_span": "polartrace.tracing",
    "start_span_no_context": "polartrace.tracing",
    "trace": "polartrace.tracing",
    "update_current_trace": "polartrace.tracing",
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
