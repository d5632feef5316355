"""Lower-case text as Polars does, for the reference engine's ILIKE.

Polars' ``str.to_lowercase`` follows a newer Unicode version (16) than Python
3.11's ``str.lower`` (14): capitals added since then lower-case in Polars and stay
unchanged in Python. `LATER_CAPITALS` maps each of them to its lower case, read off
Polars code point by code point (tests/test_lowercase.py checks the table against
the installed Polars), so `lower` gives both engines one folding.
"""

from __future__ import annotations

from typing import Final

__all__ = ["LATER_CAPITALS", "lower"]


def _shifted(first: int, last: int, delta: int) -> dict[int, int]:
    return {point: point + delta for point in range(first, last + 1)}


#: Capital letter: its lower case, for capitals newer than Python 3.11's Unicode.
LATER_CAPITALS: Final[dict[int, int]] = {
    0x1C89: 0x1C8A,  # Cyrillic capital TJE
    0xA7CB: 0x0264, 0xA7CC: 0xA7CD, 0xA7CE: 0xA7CF, 0xA7D2: 0xA7D3,
    0xA7D4: 0xA7D5, 0xA7DA: 0xA7DB, 0xA7DC: 0x019B,  # Latin Extended-D
    **_shifted(0x10D50, 0x10D65, 0x20),  # Garay
    **_shifted(0x16EA0, 0x16EB8, 0x1B),  # Beria Erfe
}  # fmt: skip


def lower(text: str) -> str:
    """``text`` in lower case, as Polars' ``str.to_lowercase`` gives it.

    Example:
        >>> lower("ÄB" + chr(0x10D50)) == "äb" + chr(0x10D70)
        True
    """
    return text.translate(LATER_CAPITALS).lower()
