"""Page tokens: opaque, offset-based, and valid only for the search that made them."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import TYPE_CHECKING, Any

from polartrace.values.errors import PageTokenError
from polartrace.values.nesting import loads

if TYPE_CHECKING:
    from polartrace.bind.restrict import Restriction

__all__ = ["decode_page_token", "encode_page_token", "page_fingerprint"]

# Tokens polartrace writes are about 60 characters; anything far longer is not one.
_MAX_TOKEN = 1000
# Offsets stay exact in JSON and far from overflowing a 64-bit row index.
_MAX_OFFSET = 2**53


def page_fingerprint(
    filter_string: str | None, order_by: Any, scope: Restriction | None = None
) -> str:
    """Identify a search so that a page token only serves that search.

    Args:
        filter_string: The search's filter.
        order_by: Its ``order_by``.
        scope: Its experiments, run and model restriction, if any.

    Returns:
        A short hex digest of all three.
    """
    parts: list[Any] = [filter_string or "", order_by]
    if scope is not None and scope.key:
        parts.append(scope.key)
    text = json.dumps(parts, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def encode_page_token(offset: int, fingerprint: str) -> str:
    """Return the opaque token of the page starting at ``offset`` of a search."""
    payload = json.dumps({"offset": offset, "search": fingerprint}).encode()
    return base64.urlsafe_b64encode(payload).decode()


def decode_page_token(token: str, fingerprint: str) -> int:
    """Return the offset a token points at, checking it belongs to this search.

    Raises:
        PageTokenError: If the token is malformed or from another search.
    """
    if not isinstance(token, str):
        msg = f"page_token must be a str, not {type(token).__name__}"
        raise PageTokenError(msg)
    if len(token) > _MAX_TOKEN:
        msg = f"invalid page token {token[:40]!r}...: longer than any polartrace token"
        raise PageTokenError(msg)
    try:
        # ValueError covers bad JSON, non-ASCII text and JSON nested too deeply.
        payload = loads(base64.urlsafe_b64decode(token.encode()))
    except (binascii.Error, ValueError) as exc:
        msg = f"invalid page token {token!r}: not a polartrace token"
        raise PageTokenError(msg) from exc
    offset = payload.get("offset") if isinstance(payload, dict) else None
    if (
        not isinstance(offset, int)
        or isinstance(offset, bool)
        or not 1 <= offset <= _MAX_OFFSET
    ):
        msg = f"invalid page token {token!r}: bad offset"
        raise PageTokenError(msg)
    if payload.get("search") != fingerprint:
        msg = (
            "page token belongs to a different search (filter, order_by or the "
            "experiments, run or model searched changed)"
        )
        raise PageTokenError(msg)
    return offset
