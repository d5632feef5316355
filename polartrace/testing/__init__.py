r"""Hypothesis strategies for polartrace: traces, filters and ``order_by`` lists.

Like ``polars.testing.parametric``, this package is public so that code built on
polartrace can be property-tested with the data that proves polartrace's Polars
engine equal to its reference evaluator (``property_tests/``, ``docs/testing.md``).

It needs Hypothesis, a development dependency (``pip install -e '.[dev]'`` from the
checkout, or ``pip install hypothesis``): importing it without Hypothesis raises
``ImportError`` saying so. Nothing else in polartrace imports it.

Everything is drawn from one small shared vocabulary (a handful of tag keys and
values, span names, attribute values, assessment names, times a few hundred
milliseconds apart), and :func:`filters` draws field names and literals from the
same vocabulary, so generated filters often match some traces and miss others.
Fields and operators come from the field catalogue
(``polartrace.catalogue.fields.FIELDS``): a new field or operator is covered without
touching this package.

Texts are chosen where Python and Rust agree (see docs/testing.md): no string ends
with a newline (Python's ``$`` also matches before one, Rust's does not), and every
character lower-cases the same in Python 3.11 and in Polars (Polars knows newer
Unicode versions). RLIKE patterns use a common regex subset: literals, ``.``, ``^``,
``$``, classes such as ``[a-z]``, ``\d``, ``* + ?``, groups and alternation.

One module per family: ``_traces`` (`traces`, `trace_lists`), ``_filters``
(`comparisons`, `filters`, `filter_strings`), ``_order_by`` (`order_by_lists`) and
``_columns`` (`column_lists`, ``columns=`` of ``search_traces``), ``_examples``
(`example_traces`, fixed traces for doctests), all drawing from
``_vocab``, the shared vocabulary; ``_trees`` (`tree_trace_lists`,
`structure_filters`, `aggregate_order_by`) draws traces with deep span trees and the
trace-level questions asked of them.

Strategies are built once (module constants, or cached per field and operator):
Hypothesis validates every new strategy object, so building them inside draws
would repeat that work on every example.
"""

from __future__ import annotations

try:
    import hypothesis  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    _MSG = "polartrace.testing needs Hypothesis: pip install hypothesis"
    raise ImportError(_MSG) from exc

from polartrace.testing._columns import column_lists
from polartrace.testing._examples import example_traces
from polartrace.testing._filters import comparisons, filter_strings, filters
from polartrace.testing._order_by import order_by_lists
from polartrace.testing._traces import trace_lists, traces
from polartrace.testing._trees import (
    aggregate_order_by,
    structure_filters,
    tree_trace_lists,
)
from polartrace.testing._vocab import BASE_TIME_MS

__all__ = [
    "BASE_TIME_MS",
    "aggregate_order_by",
    "column_lists",
    "comparisons",
    "example_traces",
    "filter_strings",
    "filters",
    "order_by_lists",
    "structure_filters",
    "trace_lists",
    "traces",
    "tree_trace_lists",
]
