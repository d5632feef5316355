"""Bind ``order_by`` entries (``"key [ASC|DESC]"``) to the field catalogue.

Separate from the filter binder in `polartrace.bind` because it reads other input
(one key per string, not a filter expression) and shares only the catalogue and the
"did you mean" hint with it. `polartrace.bind` re-exports `bind_order_by` and
`OrderKey`: import them from there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import attrs

from polartrace import ast
from polartrace.errors import OrderByError, SearchArgumentError, closest_match
from polartrace.fields import (
    FIELDS,
    ORDER_KEYS,
    PREFIXES,
    RESERVED_KEYS,
    FieldSpec,
    Prefix,
    Source,
)

__all__ = ["OrderKey", "bind_order_by"]


@attrs.frozen
class OrderKey:
    """One ``order_by`` entry resolved against the catalogue."""

    field: FieldSpec
    key: str | None
    descending: bool

    @property
    def identity(self) -> tuple[Source, str | None]:
        """What the key reads; two entries with the same identity are duplicates."""
        if self.field.source in (Source.TAG, Source.METADATA):
            return (self.field.source, self.key)
        return (self.field.source, self.field.column)


_ORDER_RE = re.compile(
    r"\s*(?P<field>(?:(?:[A-Za-z_][A-Za-z0-9_]*|`[^`]*`)\.)?"
    r"(?:[A-Za-z0-9_.\-]+|`[^`]*`|\"[^\"]*\"|'[^']*')+)"
    r"(?:\s+(?P<direction>\S+))?\s*\Z"
)
_ORDERABLE_PREFIXES = {Prefix.ATTRIBUTE, Prefix.TAG, Prefix.METADATA}


def _split_field(text: str) -> ast.Field:
    # The same "split on the first dot, then unquote" rule as the filter parser.
    head, dot, rest = text.partition(".")
    if (
        dot
        and (head.startswith("`") or re.fullmatch(r"[A-Za-z_]\w*", head))
        and not (head.startswith("`") and not head.endswith("`"))
    ):
        prefix = head.strip("`")
        key_text = rest
    else:
        prefix, key_text = None, text
    key = "".join(
        part[1:-1] if part[:1] in "`\"'" else part
        for part in re.findall(r"`[^`]*`|\"[^\"]*\"|'[^']*'|[^`\"']+", key_text)
    )
    return ast.Field(prefix, key)


def bind_order_by(order_by: Sequence[str] | str | None) -> tuple[OrderKey, ...]:
    """Resolve ``order_by`` entries (``"key [ASC|DESC]"``) against the catalogue.

    Args:
        order_by: A list of entries, one key each; a single string is one entry.

    Returns:
        The keys in priority order (tie-breakers are added by the search).

    Raises:
        OrderByError: For an unparsable entry, an unknown or unorderable key, a bad
            direction, or a key named twice (also through an alias).

    Example:
        >>> [k.field.name for k in bind_order_by(["latency DESC", "tags.team"])]
        ['execution_time_ms', 'tags.<key>']
    """
    if order_by is None:
        return ()
    entries = [order_by] if isinstance(order_by, str) else list(order_by)
    keys: list[OrderKey] = []
    seen: dict[tuple[Source, str | None], str] = {}
    for entry in entries:
        if not isinstance(entry, str):
            msg = f"order_by entries must be strings, not {type(entry).__name__}"
            raise SearchArgumentError(msg)
        key = _order_key(entry)
        if key.identity in seen:
            msg = "order_by names the same key twice"
            raise OrderByError(
                msg,
                entry,
                hint=f"{seen[key.identity]!r} already orders by it",
            )
        seen[key.identity] = entry
        keys.append(key)
    return tuple(keys)


def _order_key(entry: str) -> OrderKey:
    match = _ORDER_RE.match(entry)
    if match is None or not entry.strip():
        msg = "cannot parse order_by entry"
        raise OrderByError(
            msg,
            entry,
            hint="one key per entry, e.g. ['timestamp_ms DESC', 'tags.env']",
        )
    direction = (match["direction"] or "ASC").upper()
    if direction not in ("ASC", "DESC"):
        msg = f"unknown direction {match['direction']!r}; use ASC or DESC"
        raise OrderByError(msg, entry)
    field = _split_field(match["field"])
    prefix = PREFIXES.get(field.prefix)
    if prefix is None or prefix not in _ORDERABLE_PREFIXES:
        msg = (
            f"cannot order by {match['field']!r}: only trace attributes, tags and "
            "metadata are orderable"
        )
        raise OrderByError(msg, entry)
    if not field.key:
        msg = "empty key"
        raise OrderByError(msg, entry)
    if prefix is Prefix.ATTRIBUTE:
        spec = ORDER_KEYS.get(field.key)
        if spec is None:
            guess = closest_match(field.key, list(ORDER_KEYS))
            msg = f"cannot order by {field.key!r}"
            raise OrderByError(
                msg,
                entry,
                hint=f"did you mean {guess!r}?" if guess else None,
            )
        key = spec.column if spec.source in (Source.TAG, Source.METADATA) else None
        return OrderKey(spec, key, direction == "DESC")
    reserved = RESERVED_KEYS.get((prefix, field.key))
    if reserved is not None and reserved.orderable:
        return OrderKey(reserved, reserved.column, direction == "DESC")
    spec = next(s for s in FIELDS if s.keyed and s.prefix is prefix)
    return OrderKey(spec, field.key, direction == "DESC")
