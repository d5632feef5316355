"""A progress bar over the sources a load reads, shown only where someone watches.

The bar is tqdm's (``tqdm.auto``: a widget in notebooks, a text bar on terminals),
imported only when a bar is shown. By default it is shown when stderr is a
terminal or the code runs in a Jupyter kernel, and never in scripts whose output
goes to a file or a pipe.
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

__all__ = ["Progress", "interactive"]


def _in_notebook() -> bool:
    ipython = sys.modules.get("IPython")  # only if the session imported it already
    get = getattr(ipython, "get_ipython", None)
    shell = get() if callable(get) else None
    return shell is not None and hasattr(shell, "kernel")


def interactive() -> bool:
    """Whether a person is likely watching: stderr is a terminal, or a notebook."""
    stream = sys.stderr
    try:
        if stream is not None and stream.isatty():
            return True
    except (AttributeError, ValueError):  # a replaced or closed stderr
        pass
    return _in_notebook()


class Progress:
    """Count sources as they are read; a no-op unless ``enabled``."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self._bar: Any = None
        if enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=total, desc="reading traces", unit="file")

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._bar is not None:
            self._bar.close()

    def start(self, name: str) -> None:
        """Show which source is being read."""
        if self._bar is not None:
            self._bar.set_postfix_str(name, refresh=True)

    def done(self) -> None:
        """Count one source as read."""
        if self._bar is not None:
            self._bar.update(1)
