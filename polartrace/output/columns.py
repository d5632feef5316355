"""The ``columns=`` of ``search_traces``, typed and appended to a result page.

The Polars engine hands the values over as a Polars table (`trace_columns`), the
reference engine as tuples (`from_records` types them the same way). `attach`
appends them to the page after every other column, typed for the result:

| values | Polars, Arrow | pandas |
|---|---|---|
| counts, durations in ms | Int64 | ``Int64`` (nullable, ``pd.NA``) |
| costs, feedback, other aggregates | Float64 | ``Float64`` (nullable, ``pd.NA``) |
| text | String | ``string`` (nullable, ``pd.NA``) |
| timestamps | Datetime(ms, UTC) | ``datetime64[ms, UTC]`` (``NaT``) |
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from polartrace.bind.columns import TraceColumn
from polartrace.bind.metric_nodes import Output
from polartrace.engines.polars.columns import RAW_DTYPES

__all__ = ["attach", "from_records", "public"]

_PUBLIC: dict[Output, pl.DataType] = {
    **RAW_DTYPES,
    Output.TIME: pl.Datetime("ms", "UTC"),
}
_PANDAS = {
    Output.INT: "Int64",
    Output.FLOAT: "Float64",
    Output.STRING: "string",
}


def from_records(
    records: Sequence[tuple[Any, ...]], columns: Sequence[TraceColumn]
) -> pl.DataFrame:
    """The reference engine's tuples as the table `trace_columns` returns."""
    schema = {c.label: RAW_DTYPES[c.output] for c in columns}
    return pl.DataFrame(list(records), schema=schema, orient="row")


def public(table: pl.DataFrame, columns: Sequence[TraceColumn]) -> pl.DataFrame:
    """The raw ``table`` with the result's dtypes (timestamps as UTC datetimes)."""
    return table.select(pl.col(c.label).cast(_PUBLIC[c.output]) for c in columns)


def _pandas(values: pl.Series, output: Output, index: Any) -> Any:
    import pandas as pd

    if output is Output.TIME:
        return pd.Series(values.to_pandas().array, index=index, name=values.name)
    # From a list: Polars hands an integer column with nulls to pandas as floats.
    array = pd.array(values.to_list(), dtype=_PANDAS[output])
    return pd.Series(array, index=index, name=values.name)


def attach(
    result: Any, table: pl.DataFrame, columns: Sequence[TraceColumn], return_type: str
) -> Any:
    """``result`` (one page) with the ``columns`` of ``table`` after its own.

    The pandas and Polars results are new objects: pandas with the ``attrs`` of
    ``result`` (the next page's token), Arrow with its schema metadata; the caller
    remembers a Polars result's token.
    """
    if not columns:
        return result
    typed = public(table, columns)
    if return_type == "polars":
        return result.hstack(typed.get_columns())
    if return_type == "arrow":  # large strings, as the other columns
        arrow = typed.to_arrow(compat_level=pl.CompatLevel.oldest())
        for name, values in zip(arrow.column_names, arrow.columns, strict=True):
            result = result.append_column(name, values)
        return result
    import pandas as pd

    # One concat, not one insert per column: pandas warns of a fragmented frame
    # after many inserts, and each costs a copy of the block list.
    added = pd.DataFrame(
        {c.label: _pandas(typed[c.label], c.output, result.index) for c in columns},
        index=result.index,
    )
    joined = pd.concat([result, added], axis=1)
    joined.attrs = dict(result.attrs)  # the next page's token
    return joined
