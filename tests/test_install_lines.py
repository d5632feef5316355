"""Nothing in the repository tells a user to install the unrelated ``polartrace``.

The name ``polartrace`` on the public package index belongs to another project; this
one is the distribution ``polartrace-query``, installed from the checkout. An install
line or error hint that names ``polartrace`` (with or without extras) would install
the wrong thing.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WRONG = re.compile(r"pip install\s+['\"]?polartrace(?![-\w])")
SOURCES = sorted(
    path
    for pattern in ("*.md", "docs/*.md", "polartrace/**/*.py", "examples/*.py")
    for path in ROOT.glob(pattern)
)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_line_installs_the_unrelated_polartrace(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = [m.group(0) for m in WRONG.finditer(text)]
    assert not found, f"{path.relative_to(ROOT)} says {found}"


def test_the_pattern_catches_the_wrong_lines() -> None:
    for wrong in ("pip install polartrace", "pip install 'polartrace[chart]'"):
        assert WRONG.search(wrong)
    for right in ("pip install -e '.[chart]'", "pip install polartrace-query"):
        assert not WRONG.search(right)
