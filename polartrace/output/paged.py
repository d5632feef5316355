"""The lists a ``return_type="list"`` search returns, with their page token."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from polartrace.model.trace import Trace

__all__ = ["PagedList", "PagedRows"]


class PagedList(list[Trace]):
    """A list of traces with the token of the next page (``None`` on the last page)."""

    def __init__(self, items: Iterable[Trace], token: str | None) -> None:
        super().__init__(items)
        self.token = token


class PagedRows(list[dict[str, Any]]):
    """Rows of a span or assessment table as dicts, with the next page's token."""

    def __init__(self, items: Iterable[dict[str, Any]], token: str | None) -> None:
        super().__init__(items)
        self.token = token
