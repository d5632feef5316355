"""Model prices, and the cost of one LLM call they give.

A price table maps a model name to a `ModelPrice`: US dollars per input token and per
output token, as LiteLLM's ``model_cost`` table (which MLflow's own cost tracking
reads) writes them. `price_table` checks a table given by a user, in either spelling:
``{"gpt-4o": {"input": 2.5e-6, "output": 1e-5}}`` or LiteLLM's
``{"gpt-4o": {"input_cost_per_token": 2.5e-6, "output_cost_per_token": 1e-5, ...}}``
(other keys of a LiteLLM entry are ignored, so ``litellm.model_cost`` itself may be
passed). `ModelPrice.per_million` builds one from list prices per million tokens.

`call_cost` is the ``mlflow.llm.cost`` object of a call: ``input_cost``,
``output_cost`` and ``total_cost``, the members whose token count is known.
Cached and reasoning tokens are priced as the input and output tokens they are part of
(OpenAI counts them inside ``prompt_tokens`` and ``completion_tokens``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from polartrace.values.errors import TracingError

__all__ = ["ModelPrice", "call_cost", "price_table"]

#: The spellings of a price entry's two members: (input key, output key).
_SPELLINGS: Final = (
    ("input", "output"),
    ("input_cost_per_token", "output_cost_per_token"),
)


@dataclass(frozen=True)
class ModelPrice:
    """A model's price in US dollars per token.

    Attributes:
        input: Dollars per input (prompt) token.
        output: Dollars per output (completion) token.
    """

    input: float
    output: float

    @classmethod
    def per_million(cls, input: float, output: float) -> ModelPrice:
        """A price from dollars per million tokens, as providers list them.

        >>> ModelPrice.per_million(2.5, 10.0)
        ModelPrice(input=2.5e-06, output=1e-05)
        """
        return cls(input / 1_000_000, output / 1_000_000)


def _rate(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        msg = (
            f"{where}: a price must be a number of dollars per token, got {value!r:.40}"
        )
        raise TracingError(msg)
    rate = float(value)
    if not math.isfinite(rate) or rate < 0:
        msg = f"{where}: a price must be finite and >= 0, got {value!r}"
        raise TracingError(msg)
    return rate


def _price(entry: Any, model: str) -> ModelPrice:
    if isinstance(entry, ModelPrice):
        return ModelPrice(
            _rate(entry.input, f"{model}.input"), _rate(entry.output, f"{model}.output")
        )
    if not isinstance(entry, Mapping):
        msg = f"{model}: expected a ModelPrice or a mapping, got {type(entry).__name__}"
        raise TracingError(msg)
    for in_key, out_key in _SPELLINGS:
        if in_key in entry or out_key in entry:
            missing = [k for k in (in_key, out_key) if k not in entry]
            if missing:
                msg = f"{model}: price without {missing[0]!r}"
                raise TracingError(msg)
            return ModelPrice(
                _rate(entry[in_key], f"{model}.{in_key}"),
                _rate(entry[out_key], f"{model}.{out_key}"),
            )
    msg = (
        f"{model}: price without 'input' and 'output' (dollars per token); write "
        "{'input': 2.5e-6, 'output': 1e-5} or ModelPrice.per_million(2.5, 10.0)"
    )
    raise TracingError(msg)


def price_table(prices: Mapping[str, Any]) -> dict[str, ModelPrice]:
    """Check a user's price table: model name to `ModelPrice` or a mapping.

    Raises:
        TracingError: Naming the model whose entry is not a price.

    >>> price_table({"gpt-4o": {"input": 2.5e-6, "output": 1e-5}})
    {'gpt-4o': ModelPrice(input=2.5e-06, output=1e-05)}
    """
    if not isinstance(prices, Mapping):
        msg = f"expected a mapping of model name to price, got {type(prices).__name__}"
        raise TracingError(msg)
    table = {}
    for model, entry in prices.items():
        if not isinstance(model, str) or not model:
            msg = f"a model name must be a non-empty string, got {model!r}"
            raise TracingError(msg)
        table[model] = _price(entry, model)
    return table


def call_cost(
    price: ModelPrice, input_tokens: int | None, output_tokens: int | None
) -> dict[str, float] | None:
    """The ``mlflow.llm.cost`` object of one call, or ``None`` without token counts.

    ``total_cost`` is there when both counts are known.

    >>> call_cost(ModelPrice(2e-6, 1e-5), 1000, 200)
    {'input_cost': 0.002, 'output_cost': 0.002, 'total_cost': 0.004}
    """
    cost = {}
    if input_tokens is not None:
        cost["input_cost"] = input_tokens * price.input
    if output_tokens is not None:
        cost["output_cost"] = output_tokens * price.output
    if len(cost) == 2:
        cost["total_cost"] = cost["input_cost"] + cost["output_cost"]
    return cost or None
