"""Metrics results in the shape asked for: Polars, pandas or Arrow.

Both engines hand over their rows in ``plan.columns`` order with times as epoch
milliseconds (the Polars executor as a DataFrame, the reference engine as tuples);
here each column gets its public dtype (``Output.TIME`` becomes a UTC datetime in
milliseconds) and the table its return type. An empty result keeps its columns and
their dtypes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import polars as pl

from polartrace.bind.metric_nodes import Output
from polartrace.plan.metrics import MetricsPlan
from polartrace.values.errors import SearchArgumentError

__all__ = ["RETURN_TYPES", "ReturnType", "from_rows", "public_dtypes", "shaped"]

ReturnType = Literal["pandas", "polars", "arrow"]
RETURN_TYPES: tuple[ReturnType, ...] = ("pandas", "polars", "arrow")

_RAW: dict[Output, pl.DataType] = {
    Output.INT: pl.Int64(),
    Output.FLOAT: pl.Float64(),
    Output.STRING: pl.String(),
    Output.TIME: pl.Int64(),
}
_PUBLIC: dict[Output, pl.DataType] = {
    **_RAW,
    Output.TIME: pl.Datetime("ms", "UTC"),
}


def public_dtypes(columns: Sequence[tuple[str, Output]]) -> dict[str, pl.DataType]:
    """The dtype of each result column as callers see it."""
    return {name: _PUBLIC[output] for name, output in columns}


def from_rows(rows: Sequence[tuple[Any, ...]], plan: MetricsPlan) -> pl.DataFrame:
    """The reference engine's tuples as a DataFrame of the engines' raw dtypes."""
    schema = {name: _RAW[output] for name, output in plan.columns}
    return pl.DataFrame(list(rows), schema=schema, orient="row")


def check_return_type(return_type: str | None) -> ReturnType:
    """``return_type`` checked; ``None`` is ``"pandas"``."""
    if return_type is None:
        return "pandas"
    if return_type not in RETURN_TYPES:
        msg = f"return_type must be one of {RETURN_TYPES}, not {return_type!r}"
        raise SearchArgumentError(msg)
    return return_type


def shaped(
    table: pl.DataFrame, columns: Sequence[tuple[str, Output]], return_type: ReturnType
) -> Any:
    """``table`` (raw dtypes) with public dtypes, as ``return_type``."""
    result = table.cast(public_dtypes(columns))  # type: ignore[arg-type]
    if return_type == "polars":
        return result
    if return_type == "arrow":
        return result.to_arrow()
    return result.to_pandas()
