"""The column prefixes of the frame tables, as plain strings.

A tag, a metadata entry or a span attribute is one column of the frame's trace or span
table, named by one of these prefixes and its key. They live below the query core so
that the field catalogue can name the column of a field without knowing Polars; the
tables' dtypes are in `polartrace.frame.schema`.
"""

from __future__ import annotations

from typing import Final

__all__ = ["ATTR_PREFIX", "META_PREFIX", "NUM_PREFIX", "RAW_PREFIX", "TAG_PREFIX"]

#: A trace tag: ``tag:<key>``.
TAG_PREFIX: Final = "tag:"
#: A trace metadata entry: ``meta:<key>``.
META_PREFIX: Final = "meta:"
#: A span attribute's canonical text, derived on first use: ``attr:<key>``.
ATTR_PREFIX: Final = "attr:"
#: A span attribute's numeric value, derived on first use: ``num:<key>``.
NUM_PREFIX: Final = "num:"
#: A span attribute's stored JSON text: ``raw:<key>``.
RAW_PREFIX: Final = "raw:"
