"""polartrace: find the LLM-application traces you are looking for, fast.

MLflow-compatible ``search_traces`` filter strings, parsed by a lark grammar, checked
against one field catalogue and compiled to Polars expressions over an Arrow-backed
trace frame. A plain-Python reference evaluator gives the same answers row by row.

>>> import polartrace
>>> polartrace.parse_filter("status = 'OK' OR latency > 1000").root is not None
True
"""

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
from polartrace.io import read_traces
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

__all__ = [
    "Assessment",
    "BoundFilter",
    "FilterError",
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
    "count",
    "parse_filter",
    "read_traces",
    "search_traces",
]

__version__ = "0.1.0"
