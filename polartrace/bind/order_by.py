"""Bind ``order_by`` entries (``"key [ASC|DESC]"``) to the field catalogue.

Separate from the filter binder in `polartrace.bind.filter` because it reads other input
(one key per string, not a filter expression) and shares only the catalogue and the
"did you mean" hint with it. An entry that sorts by an aggregate over spans
(``"count(SPAN WHERE type = 'TOOL') DESC"``) is bound by the filter binder, which
`bind_order_keys` calls back; `polartrace.bind.filter.bind_order_by` is the entry
point, and `polartrace.bind.filter` re-exports `OrderKey`: import them from there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import attrs

from polartrace.bind.nodes import Aggregate
from polartrace.catalogue.fields import (
    FIELDS,
    ORDER_KEYS,
    PREFIXES,
    RESERVED_KEYS,
    FieldSpec,
    Prefix,
    Source,
    suggest_field,
    suggest_prefix,
    unprefixed,
)
from polartrace.language import ast
from polartrace.values.errors import OrderByError, SearchArgumentError, closest_match

__all__ = ["AggregateKey", "OrderKey", "SortKey", "bind_order_keys"]


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


@attrs.frozen
class AggregateKey:
    """An ``order_by`` entry that sorts by an aggregate over each trace's spans.

    Attributes:
        aggregate: What is computed per trace; traces where it is null (``max`` of
            no span) sort last, as missing values do.
        descending: The direction.
        text: The aggregate as written, for messages.
    """

    aggregate: Aggregate
    descending: bool
    text: str = attrs.field(default="", eq=False)

    @property
    def identity(self) -> tuple[str, Any]:
        """What the key reads; two entries with the same identity are duplicates."""
        return ("aggregate", self.aggregate)


#: One sort key of a search: a field, or an aggregate over spans.
SortKey: TypeAlias = OrderKey | AggregateKey


_ORDER_RE = re.compile(
    r"\s*(?P<field>(?:(?:[A-Za-z_][A-Za-z0-9_]*|`[^`]*`)\.)?"
    r"(?:[A-Za-z0-9_.\-]+|`[^`]*`|\"[^\"]*\"|'[^']*')+)"
    r"(?:\s+(?P<direction>\S+))?\s*\Z"
)
_ORDERABLE_PREFIXES = {Prefix.ATTRIBUTE, Prefix.TAG, Prefix.METADATA}
# A comma outside quotes, and SQL's "ORDER BY" written into an entry.
_COMMA = re.compile(r"`[^`]*`|\"[^\"]*\"|'[^']*'|(,)")
_ORDER_BY_WORDS = re.compile(r"\s*((?i:order\s+by))\s+")


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


def bind_order_keys(
    order_by: Sequence[str] | str | None,
    aggregate: Callable[[str], AggregateKey | None] = lambda _: None,
) -> tuple[SortKey, ...]:
    """Resolve ``order_by`` entries (``"key [ASC|DESC]"``) against the catalogue.

    Args:
        order_by: A list of entries, one key each; a single string is one entry.
        aggregate: Binds an entry that sorts by an aggregate, or returns ``None``
            for an entry that names a field.

    Returns:
        The keys in priority order (tie-breakers are added by the search).

    Raises:
        OrderByError: For an unparsable entry, an unknown or unorderable key, a bad
            direction, or a key named twice (also through an alias).

    Example:
        >>> [k.field.name for k in bind_order_keys(["latency DESC", "tags.team"])]
        ['execution_time_ms', 'tags.<key>']
    """
    if order_by is None:
        return ()
    entries = [order_by] if isinstance(order_by, str) else list(order_by)
    keys: list[SortKey] = []
    seen: dict[tuple[Any, Any], str] = {}
    for entry in entries:
        if not isinstance(entry, str):
            msg = f"order_by entries must be strings, not {type(entry).__name__}"
            raise SearchArgumentError(msg)
        key: SortKey | None = aggregate(entry)
        if key is None:
            key = _order_key(entry)
        if key.identity in seen:
            msg = "order_by names the same key twice"
            raise OrderByError(
                msg,
                entry,
                end=len(entry.rstrip()),
                hint=f"{seen[key.identity]!r} already orders by it",
            )
        seen[key.identity] = entry
        keys.append(key)
    return tuple(keys)


def _order_key(entry: str) -> OrderKey:
    match = _ORDER_RE.match(entry)
    if match is None or not entry.strip():
        raise _unparsable(entry)
    at, to = match.start("field"), match.end("field")
    written = match["direction"]
    direction = (written or "ASC").upper()
    if direction not in ("ASC", "DESC"):
        msg = f"unknown direction {written!r}; use ASC or DESC"
        guess = next((d for d in ("DESC", "ASC") if direction.startswith(d)), None)
        guess = guess or closest_match(direction, ["ASC", "DESC"])
        raise OrderByError(
            msg,
            entry,
            position=match.start("direction"),
            end=match.end("direction"),
            hint=f"did you mean {guess!r}?" if guess else None,
        )
    field = _split_field(match["field"])
    field = ast.Field(*unprefixed(field.prefix, field.key))
    prefix = PREFIXES.get(field.prefix)
    if prefix is None or prefix not in _ORDERABLE_PREFIXES:
        msg = (
            f"cannot order by {match['field']!r}: only trace attributes, tags and "
            "metadata are orderable"
        )
        guess = suggest_prefix(field.prefix or "") if prefix is None else None
        orderable = guess is not None and PREFIXES[guess] in _ORDERABLE_PREFIXES
        hint = f"did you mean '{guess}.{field.key}'?" if orderable else None
        raise OrderByError(msg, entry, position=at, end=to, hint=hint)
    if not field.key:
        msg = "empty key"
        raise OrderByError(msg, entry, position=at, end=to)
    if prefix is Prefix.ATTRIBUTE:
        spec = ORDER_KEYS.get(field.key)
        if spec is None:
            msg = f"cannot order by {field.key!r}"
            raise OrderByError(
                msg, entry, position=at, end=to, hint=_field_hint(field.key)
            )
        key = spec.column if spec.source in (Source.TAG, Source.METADATA) else None
        return OrderKey(spec, key, direction == "DESC")
    reserved = RESERVED_KEYS.get((prefix, field.key))
    if reserved is not None and reserved.orderable:
        return OrderKey(reserved, reserved.column, direction == "DESC")
    spec = next(s for s in FIELDS if s.keyed and s.prefix is prefix)
    return OrderKey(spec, field.key, direction == "DESC")


def _field_hint(key: str) -> str | None:
    guess = suggest_field(key, orderable=True)
    if guess is None:
        return None
    if "<" in guess:  # tags.<key>, metadata.<key>
        return f"{key!r} needs a key: {guess}"
    return f"did you mean {guess!r}?"


def _unparsable(entry: str) -> OrderByError:
    """Explain an entry that is not "key [ASC|DESC]"."""
    msg = "cannot parse order_by entry"
    if not entry.strip():
        hint = "write a key, e.g. 'timestamp_ms DESC'"
        return OrderByError(f"{msg}: it is empty", entry, end=len(entry), hint=hint)
    if comma := _COMMA.search(entry):
        parts = ", ".join(repr(p.strip()) for p in entry.split(","))
        hint = f"give each key its own entry: {parts}"
        msg = f"{msg}: ',' joins two keys"
        return OrderByError(msg, entry, position=comma.start(1), hint=hint)
    if prefix := _ORDER_BY_WORDS.match(entry):
        msg = f"{msg}: {prefix[1]!r} is not part of it"
        hint = f"write the key alone: {entry[prefix.end() :]!r}"
        return OrderByError(
            msg, entry, position=prefix.start(1), end=prefix.end(1), hint=hint
        )
    words = list(re.finditer(r"\S+", entry))
    if len(words) > 2:  # "timestamp_ms DESC LIMIT 5"
        extra = words[2]
        msg = f"{msg}: unexpected {extra[0]!r} after the direction"
        hint = "an entry is one key and an optional ASC or DESC"
        return OrderByError(
            msg, entry, position=extra.start(), end=len(entry.rstrip()), hint=hint
        )
    hint = "one key per entry, e.g. ['timestamp_ms DESC', 'tags.env']"
    return OrderByError(msg, entry, end=len(entry), hint=hint)
