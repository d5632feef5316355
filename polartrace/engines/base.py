"""The one interface every executor of a plan offers."""

from __future__ import annotations

from typing import Protocol

from polartrace.plan.search import SearchPlan

__all__ = ["Engine"]


class Engine(Protocol):
    """Runs a `SearchPlan` over one set of traces.

    A trace is named by its key: its row number in the set the engine was made
    for. The caller builds result rows from the keys (`polartrace.output`).
    """

    def count(self, plan: SearchPlan) -> int:
        """How many traces ``plan.where`` selects (order and page do not apply)."""
        ...

    def keys(self, plan: SearchPlan) -> list[int]:
        """Keys of the selected traces in ``plan.order``, from ``plan.offset``.

        At most ``plan.limit`` keys (all of them when it is ``None``).
        """
        ...
