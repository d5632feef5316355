"""The tracing SDK, its in-memory store and integrations.

`set_model_prices` (`polartrace.tracing.prices`) sets the prices tracing writes
LLM costs with.
"""

from polartrace.tracing.prices import ModelPrice, get_model_prices, set_model_prices

__all__ = ["ModelPrice", "get_model_prices", "set_model_prices"]
