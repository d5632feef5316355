"""The strategy for ``order_by`` arguments: `order_by_lists`.

Keys are the orderable attributes and the tag and metadata keys of the shared
vocabulary; every list it draws is valid.
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import strategies as st

from polartrace.bind.filter import bind_order_by
from polartrace.catalogue.fields import (
    ORDER_KEYS,
)
from polartrace.testing._vocab import (
    _KEYS,
)

_BARE_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*\Z")


def _order_fields() -> tuple[str, ...]:
    def quoted(key: str) -> str:
        return key if _BARE_KEY.match(key) else f"`{key}`"

    tags = (f"tags.{quoted(key)}" for key in _KEYS["tags.<key>"])
    metadata = (f"metadata.{quoted(key)}" for key in _KEYS["metadata.<key>"])
    return (*ORDER_KEYS, *tags, *metadata)


def _identity(entry: str) -> Any:
    return bind_order_by([entry])[0].identity


_ORDER_BY = st.one_of(
    st.none(),
    st.lists(
        st.tuples(
            st.sampled_from(_order_fields()),
            st.sampled_from(("", " ASC", " DESC", " asc", " Desc")),
        ).map("".join),
        max_size=3,
        unique_by=_identity,
    ),
)


def order_by_lists() -> st.SearchStrategy[list[str] | None]:
    """Generate ``order_by`` arguments: ``None`` or lists of up to three keys.

    Keys are the orderable attributes (aliases included) and tags and metadata from
    the vocabulary of :func:`traces`, each with no direction, ``ASC`` or ``DESC``
    in any case. No two entries name the same key (also through an alias), so
    every list is valid.

    Returns:
        A strategy of ``None`` or lists of strings.

    Example:
        >>> from hypothesis import find
        >>> find(order_by_lists(), lambda keys: bool(keys))
        ['status']
    """
    return _ORDER_BY
