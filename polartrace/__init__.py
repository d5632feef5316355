"""polartrace: find the LLM-application traces you are looking for, fast.

MLflow-compatible ``search_traces`` filter strings, parsed by a lark grammar, checked
against one field catalogue and compiled to Polars expressions over an Arrow-backed
trace frame. A plain-Python reference evaluator gives the same answers row by row.

>>> import polartrace
>>> polartrace.parse_filter("status = 'OK' OR latency > 1000").root is not None
True
"""

from polartrace import openai
from polartrace._concat import concat
from polartrace.bind import BoundFilter, parse_filter
from polartrace.errors import (
    FilterError,
    OrderByError,
    PageTokenError,
    PolartraceError,
    SearchArgumentError,
    TraceFormatError,
)
from polartrace.frame import TraceFrame
from polartrace.io import read_traces, scan_traces, write_jsonl, write_parquet
from polartrace.model import (
    Assessment,
    Span,
    SpanEvent,
    Trace,
    TraceData,
    TraceInfo,
    TraceState,
)
from polartrace.search import count, search_traces
from polartrace.tracing import (
    LiveSpan,
    TraceStore,
    TracingError,
    TracingWarning,
    delete_trace_tag,
    get_current_active_span,
    get_last_active_trace_id,
    get_store,
    get_trace,
    log_expectation,
    log_feedback,
    override_feedback,
    set_trace_tag,
    start_span,
    start_span_no_context,
    trace,
    update_current_trace,
)

__all__ = [
    "Assessment",
    "BoundFilter",
    "FilterError",
    "LiveSpan",
    "OrderByError",
    "PageTokenError",
    "PolartraceError",
    "SearchArgumentError",
    "Span",
    "SpanEvent",
    "Trace",
    "TraceData",
    "TraceFormatError",
    "TraceFrame",
    "TraceInfo",
    "TraceState",
    "TraceStore",
    "TracingError",
    "TracingWarning",
    "concat",
    "count",
    "delete_trace_tag",
    "get_current_active_span",
    "get_last_active_trace_id",
    "get_store",
    "get_trace",
    "log_expectation",
    "log_feedback",
    "openai",
    "override_feedback",
    "parse_filter",
    "read_traces",
    "scan_traces",
    "search_traces",
    "set_trace_tag",
    "start_span",
    "start_span_no_context",
    "trace",
    "update_current_trace",
    "write_jsonl",
    "write_parquet",
]

__version__ = "0.1.0"
