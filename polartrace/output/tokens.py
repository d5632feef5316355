"""The next page's token of a search result, whatever its return type.

Each type carries the token where its users look for it: a list as ``.token``, a
pandas DataFrame in ``df.attrs["next_page_token"]``, an Arrow table in its schema
metadata (``next_page_token``). A Polars DataFrame has no place for it (no attrs,
and a subclass would not survive the first operation), so polartrace remembers the
token of each Polars result it returns, by identity, for as long as that object
lives: `next_page_token` finds it for the object a search returned, not for frames
derived from it (``df.head()``, ``df.filter(...)`` have none).
"""

from __future__ import annotations

import threading
import weakref
from typing import Any

import polars as pl

from polartrace.output.paged import PagedList, PagedRows
from polartrace.values.errors import SearchArgumentError

__all__ = ["next_page_token", "remember", "with_token"]

_KEY = "next_page_token"
# id(result) -> (a weak reference to it, its token); an entry leaves when its
# object is collected, and the reference tells a reused id from the object itself.
_POLARS: dict[int, tuple[weakref.ref[pl.DataFrame], str]] = {}
_LOCK = threading.Lock()


def _forget(ident: int) -> None:
    with _LOCK:
        _POLARS.pop(ident, None)


def remember(result: pl.DataFrame, token: str | None) -> None:
    """Keep ``token`` as the next page's token of the Polars result ``result``."""
    if token is None:
        return
    ident = id(result)
    with _LOCK:
        _POLARS[ident] = (weakref.ref(result), token)
    weakref.finalize(result, _forget, ident)


def with_token(result: Any, token: str | None) -> Any:
    """``result`` (Polars, pandas or Arrow) carrying ``token`` where its type does."""
    if isinstance(result, pl.DataFrame):
        remember(result, token)
        return result
    if hasattr(result, "attrs"):  # pandas: the key is there even on the last page
        result.attrs[_KEY] = token
        return result
    if token is not None:  # arrow
        return result.replace_schema_metadata({_KEY: token})
    return result


def next_page_token(result: Any) -> str | None:
    """The token of the page after ``result``; ``None`` on the last page.

    Works for every return type of ``search_traces``, ``search_spans`` and
    ``search_assessments``: a list (``.token``), a pandas DataFrame
    (``df.attrs["next_page_token"]``), an Arrow table (schema metadata) and a
    Polars DataFrame (the object the search returned; a frame derived from it has
    no token).

    Raises:
        SearchArgumentError: For an object that is no search result.

    Example:
        >>> from polartrace import search_traces
        >>> from polartrace.testing import example_traces
        >>> page = search_traces(example_traces(), max_results=1, return_type="polars")
        >>> next_page_token(page) is not None, next_page_token(page.head())
        (True, None)
    """
    if isinstance(result, PagedList | PagedRows):
        return result.token
    if isinstance(result, pl.DataFrame):
        with _LOCK:
            found = _POLARS.get(id(result))
        return found[1] if found is not None and found[0]() is result else None
    attrs = getattr(result, "attrs", None)
    if isinstance(attrs, dict) and hasattr(result, "columns"):  # pandas
        token = attrs.get(_KEY)
        return token if isinstance(token, str) else None
    schema = getattr(result, "schema", None)
    if schema is not None and hasattr(schema, "metadata"):  # arrow
        metadata = schema.metadata or {}
        token = metadata.get(_KEY.encode())
        return None if token is None else token.decode()
    msg = (
        "next_page_token reads the result of search_traces, search_spans or "
        f"search_assessments, not {type(result).__name__}"
    )
    raise SearchArgumentError(msg)
