"""The price table tracing prices LLM calls with, and the cost it writes.

Without a table, tracing writes no cost: a span's ``span.cost.*`` and a trace's
``cost.*`` stay null, never 0. With one (`set_model_prices`), every span that ends
with a priced model (``span.model``: ``mlflow.llm.model``, or the GenAI and
OpenInference model attributes) and token counts (``span.tokens.input`` and
``.output``), and no ``mlflow.llm.cost`` of its own, gets ``mlflow.llm.cost``
(``input_cost``, ``output_cost``, ``total_cost`` in US dollars), as MLflow's tracing
writes it; the trace gets ``mlflow.trace.cost``, the sum over the spans MLflow's rule
counts (`polartrace.values.llm.trace_totals`).

>>> import polartrace
>>> polartrace.set_model_prices({"gpt-4o": {"input": 2.5e-6, "output": 1e-5}})
>>> polartrace.tracing.get_model_prices()
{'gpt-4o': ModelPrice(input=2.5e-06, output=1e-05)}
>>> polartrace.set_model_prices(None)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from polartrace.model.trace import Span
from polartrace.tracing.encode import dump_value
from polartrace.values.conventions import LLM_COST_KEY
from polartrace.values.json_values import decode_attribute
from polartrace.values.llm import FIELDS_BY_NAME, span_value
from polartrace.values.prices import ModelPrice, call_cost, price_table

__all__ = ["ModelPrice", "get_model_prices", "priced", "set_model_prices"]

# The table in use; replaced whole, never changed in place, so readers need no lock.
_PRICES: dict[str, ModelPrice] = {}


def set_model_prices(prices: Mapping[str, Any] | None) -> None:
    """Set the prices tracing writes costs with (``None`` or ``{}``: no costs).

    Args:
        prices: Model name to a `ModelPrice`, or to a mapping of dollars per token:
            ``{"input": 2.5e-6, "output": 1e-5}``, or LiteLLM's
            ``input_cost_per_token``/``output_cost_per_token`` (so
            ``litellm.model_cost`` may be passed as it is). A model is matched by
            its exact name. Replaces the whole table; traces already finished keep
            their costs.

    Raises:
        TracingError: If an entry is not a price (naming the model).
    """
    global _PRICES
    _PRICES = {} if prices is None else price_table(prices)


def get_model_prices() -> dict[str, ModelPrice]:
    """The price table in use (a copy)."""
    return dict(_PRICES)


def priced(span: Span) -> Span:
    """``span`` with ``mlflow.llm.cost`` from the price table, when it can be priced.

    A span keeps its own ``mlflow.llm.cost``; one whose model has no price, or that
    has no valid input or output token count, is returned as it is.
    """
    prices = _PRICES
    if not prices or LLM_COST_KEY in span.raw_attributes:
        return span
    raw = span.raw_attributes

    def attribute(key: str) -> Any:
        return decode_attribute(raw[key]) if key in raw else None

    model = span_value(FIELDS_BY_NAME["model"], attribute)
    price = prices.get(model) if isinstance(model, str) else None
    if price is None:
        return span
    cost = call_cost(
        price,
        span_value(FIELDS_BY_NAME["tokens.input"], attribute),
        span_value(FIELDS_BY_NAME["tokens.output"], attribute),
    )
    if cost is None:
        return span
    return attrs.evolve(span, raw_attributes={**raw, LLM_COST_KEY: dump_value(cost)})
