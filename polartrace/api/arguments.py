"""Arguments of ``search_traces`` that exist for MLflow call sites.

A ported ``mlflow.search_traces`` call must fail loudly where polartrace cannot mean
what MLflow means: a third positional argument (MLflow's ``max_results``), a
Databricks SQL warehouse, ``extract_fields`` for a non-pandas result. The rest of
MLflow's keywords are restrictions (`polartrace.bind.restrict`) or output columns
(`polartrace.output.extract`). These checks belong to the api: nothing below it
sees an argument.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from polartrace.output.extract import ExtractField, parse_fields
from polartrace.values.errors import SearchArgumentError

__all__ = [
    "check_extract_fields",
    "check_max_results",
    "refuse_sql_warehouse",
    "two_positional",
]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def two_positional(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Refuse a third positional argument with a message that names the keywords.

    MLflow's third positional argument is ``max_results`` and polartrace's first is
    ``traces``, so a ported positional call would bind values to the wrong
    parameters: everything after ``filter_string`` is keyword-only.
    """

    @functools.wraps(fn)
    def checked(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        if len(args) > 2:
            msg = (
                f"{fn.__name__}() takes traces and filter_string positionally, but "
                f"{len(args)} positional arguments were given; pass {args[2]!r} by "
                "keyword, e.g. max_results=, order_by= or engine= (MLflow's third "
                "positional argument is max_results)"
            )
            raise SearchArgumentError(msg)
        return fn(*args, **kwargs)

    return checked


def check_max_results(max_results: Any) -> None:
    """Refuse a ``max_results`` that is not ``None`` or a non-negative int."""
    if max_results is not None and (
        not isinstance(max_results, int)
        or isinstance(max_results, bool)
        or max_results < 0
    ):
        msg = f"max_results must be a non-negative int or None, not {max_results!r}"
        raise SearchArgumentError(msg)


def refuse_sql_warehouse(sql_warehouse_id: str | None) -> None:
    """Refuse ``sql_warehouse_id``: only a Databricks server searches a warehouse.

    Raises:
        SearchArgumentError: For any value but ``None``.
    """
    if sql_warehouse_id is not None:
        msg = (
            "sql_warehouse_id names a Databricks SQL warehouse, which only a "
            "Databricks server searches; polartrace searches traces you have loaded"
        )
        raise SearchArgumentError(msg)


def check_extract_fields(fields: Any, return_type: str) -> list[ExtractField]:
    """Parse ``extract_fields``, which MLflow offers for pandas results only."""
    if not fields:
        return []
    if return_type != "pandas":
        msg = (
            "The `extract_fields` parameter is only supported when return type is "
            f"set to 'pandas', not {return_type!r}."
        )
        raise SearchArgumentError(msg)
    return parse_fields(fields)
