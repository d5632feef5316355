"""The list a ``return_type="list"`` search returns, with its page token."""

from __future__ import annotations

from collections.abc import Iterable

from polartrace.model.trace import Trace

__all__ = [
    "PagedList",
]


class PagedList(list[Trace]):
    """A list of traces with the token of the next page (``None`` on the last page)."""

    def __init__(self, items: Iterable[Trace], token: str | None) -> None:
        super().__init__(items)
        self.token = token
