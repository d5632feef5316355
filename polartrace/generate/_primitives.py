"""Deterministic sampling and formatting primitives of the trace generator.

Only IEEE arithmetic and integers decide a sample here: no ``hash()``, no set
iteration and no libm call (``2 ** y`` comes from an exact table), so that a seed
gives byte-identical traces on every machine.
"""

from __future__ import annotations

import binascii
import bisect
import functools
import math
import random
from collections.abc import Sequence
from typing import Final

from polartrace.generate._vocab import _VOCAB
from polartrace.values.conventions import truncate_preview

_DAY_MS: Final = 86_400_000
_HOUR_MS: Final = 3_600_000
_WINDOW_DAYS: Final = 30
_MS_NS: Final = 1_000_000


# 2 ** (j / 16) for j = 0..16, written out so that no libm call decides a sample.
_POW2_16THS: Final = (
    1.0,
    1.0442737824274138,
    1.0905077326652577,
    1.1387886347566916,
    1.189207115002721,
    1.241857812073484,
    1.2968395546510096,
    1.3542555469368927,
    1.4142135623730951,
    1.4768261459394993,
    1.5422108254079407,
    1.6104903319492543,
    1.681792830507429,
    1.7562521603732995,
    1.8340080864093424,
    1.9152065613971474,
    2.0,
)
_SQRT3: Final = 1.7320508075688772


def _exp2(y: float) -> float:
    """Return ``2 ** y`` to within 0.2 %, by table and linear interpolation.

    >>> _exp2(0.0), _exp2(3.0), _exp2(-1.0), round(_exp2(0.5), 3)
    (1.0, 8.0, 0.5, 1.414)
    """
    i = math.floor(y)
    f = (y - i) * 16.0
    j = int(f)
    lo = _POW2_16THS[j]
    return math.ldexp(lo + (_POW2_16THS[j + 1] - lo) * (f - j), i)


def _pick(rng: random.Random, cum: Sequence[int]) -> int:
    """Return an index drawn with the integer cumulative weights ``cum``."""
    return bisect.bisect_right(cum, int(rng.random() * cum[-1]))


@functools.lru_cache(maxsize=1024)
def _date(days: int) -> str:
    """Return ``YYYY-MM-DDT`` for days since 1970-01-01 (Hinnant's civil_from_days)."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return f"{yoe + era * 400 + (month <= 2):04d}-{month:02d}-{day:02d}T"


def _rfc3339(ms: int) -> str:
    """Format epoch milliseconds as MLflow writes ``request_time`` (UTC, ``Z``).

    >>> _rfc3339(1_700_000_000_000), _rfc3339(1_700_000_000_500)
    ('2023-11-14T22:13:20Z', '2023-11-14T22:13:20.500Z')
    """
    days, rem = divmod(ms, _DAY_MS)
    sec, milli = divmod(rem, 1000)
    hh, sec = divmod(sec, 3600)
    mm, ss = divmod(sec, 60)
    if milli:
        return f"{_date(days)}{hh:02d}:{mm:02d}:{ss:02d}.{milli:03d}Z"
    return f"{_date(days)}{hh:02d}:{mm:02d}:{ss:02d}Z"


def _truncate(text: str, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters the way MLflow does (``...`` suffix)."""
    return truncate_preview(text, limit)


def _b64(raw: bytes) -> str:
    return binascii.b2a_base64(raw, newline=False).decode("ascii")


class _Slots(dict[str, str]):
    """Template slots drawn on first use, in template order (hence deterministic)."""

    __slots__ = ("_rng",)

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self._rng = rng

    def __missing__(self, key: str) -> str:
        base = key.rstrip("0123456789")
        pool = _VOCAB[base]
        i = int(self._rng.random() * len(pool))
        if base != key and pool[i] == self[base]:
            i = (i + 1) % len(pool)
        self[key] = pool[i]
        return pool[i]


def _stacktrace(app: str, span: str, etype: str, msg: str) -> str:
    """Return a traceback laid out as MLflow's ``get_stacktrace`` writes one."""
    fn = span.replace("tool:", "").replace(".", "_")
    return (
        f"{etype}({msg!r})Traceback (most recent call last):\n\n"
        f'  File "/app/{app}/pipeline.py", line {40 + len(app)}, in predict\n'
        "    return self._run(request)\n\n"
        f'  File "/app/{app}/steps.py", line {100 + 7 * len(fn)}, in {fn}\n'
        "    result = client.invoke(payload)\n\n"
        f"{etype}: {msg}"
    )


def _percentile(values: list[int], q: float) -> int:
    """Return the linearly interpolated percentile of sorted ``values``."""
    pos = q * (len(values) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(values) - 1)
    return int(values[lo] + (values[hi] - values[lo]) * (pos - lo))
