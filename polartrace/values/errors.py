"""One error hierarchy for everything polartrace rejects.

Every exception polartrace raises on bad input is a :class:`PolartraceError`, which
subclasses :class:`ValueError` so that code written for MLflow (which raises
``MlflowException``, itself a plain exception) can catch a familiar base. Errors are
classes with fields, not formatted strings: tests and callers read ``position`` and
``hint`` instead of parsing messages.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence

__all__ = [
    "ColumnError",
    "FilterError",
    "FilterSyntaxError",
    "FilterTypeError",
    "MetricError",
    "OrderByError",
    "PageTokenError",
    "PolartraceError",
    "RegexTimeoutError",
    "SearchArgumentError",
    "TraceFormatError",
    "TraceNotFoundError",
    "TracingError",
    "UnknownFieldError",
    "UnsupportedOperatorError",
]


class PolartraceError(ValueError):
    """Root of every error polartrace raises on bad input."""


def closest_match(word: str, candidates: Sequence[str]) -> str | None:
    """Return the candidate a ``did you mean ...?`` hint should name, or ``None``.

    A case-insensitive exact match wins (``Status`` for ``status``); otherwise the
    closest spelling by `difflib`, if any is close enough.

    Example:
        >>> closest_match("stauts", ["status", "name"]), closest_match("x", ["name"])
        ('status', None)
    """
    lowered = {c.lower(): c for c in candidates}
    if word.lower() in lowered:
        return lowered[word.lower()]
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.6)
    return close[0] if close else None


def caret_line(text: str, position: int, end: int | None = None) -> str:
    """Return ``text`` and a caret line under ``text[position:end]``.

    Multi-line filters are shown from the line that holds ``position`` so the caret
    lines up; tabs are kept in the caret prefix for the same reason.
    """
    position = max(0, min(position, len(text)))
    line_start = text.rfind("\n", 0, position) + 1
    line_end = text.find("\n", position)
    if line_end == -1:
        line_end = len(text)
    line = text[line_start:line_end]
    prefix = "".join("\t" if ch == "\t" else " " for ch in text[line_start:position])
    width = 1 if end is None else max(1, min(end, line_end) - position)
    return f"  {line}\n  {prefix}{'^' * width}"


class FilterError(PolartraceError):
    """A filter string that polartrace rejects.

    Attributes:
        message: What is wrong, quoting the offending input.
        filter_string: The whole filter as the user wrote it.
        position: 0-based offset of the offending text in ``filter_string``.
        end: Offset just past the offending text (``None``: one character).
        hint: A suggestion such as ``did you mean 'tags.environment'?``, or ``None``.
    """

    def __init__(
        self,
        message: str,
        filter_string: str,
        position: int,
        *,
        end: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.filter_string = filter_string
        self.position = position
        self.end = end
        self.hint = hint
        super().__init__(self._render())

    def _render(self) -> str:
        text = f"{self.message} (at position {self.position})\n"
        text += caret_line(self.filter_string, self.position, self.end)
        if self.hint:
            text += f"\nHint: {self.hint}"
        return text

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only fields would be lost by ValueError's default pickling.
        return (
            _rebuild_filter_error,
            (
                type(self),
                self.message,
                self.filter_string,
                self.position,
                self.end,
                self.hint,
            ),
        )


def _rebuild_filter_error(
    cls: type[FilterError],
    message: str,
    filter_string: str,
    position: int,
    end: int | None,
    hint: str | None,
) -> FilterError:
    return cls(message, filter_string, position, end=end, hint=hint)


class FilterSyntaxError(FilterError):
    """The filter text does not follow the grammar (quotes, parentheses, tokens)."""


class UnknownFieldError(FilterError):
    """The filter names a prefix, field or key that does not exist."""


class UnsupportedOperatorError(FilterError):
    """The operator is not allowed on the field it is applied to."""


class FilterTypeError(FilterError):
    """The value does not fit the field (a number for a tag, a bad date or regex)."""


class _EntryError(PolartraceError):
    """An error in one entry of a list argument (``order_by``, ``columns``).

    Subclasses name the argument in ``ARGUMENT``.

    Attributes:
        message: What is wrong, quoting the offending input.
        clause: The whole entry as the user wrote it.
        position: 0-based offset of the offending text in ``clause``.
        end: Offset just past the offending text (``None``: one character).
        hint: A suggestion such as ``did you mean 'timestamp_ms'?``, or ``None``.
    """

    ARGUMENT = "list"

    def __init__(
        self,
        message: str,
        clause: str,
        *,
        position: int = 0,
        end: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.clause = clause
        self.position = position
        self.end = end
        self.hint = hint
        text = f"{message} (at position {position} of the {self.ARGUMENT} entry)\n"
        text += caret_line(clause, position, end)
        super().__init__(f"{text}\nHint: {hint}" if hint else text)

    def __reduce__(self) -> tuple[object, ...]:
        # Keyword-only fields would be lost by ValueError's default pickling.
        return (
            _rebuild_entry_error,
            (type(self), self.message, self.clause, self.position, self.end, self.hint),
        )


def _rebuild_entry_error(
    cls: type[_EntryError],
    message: str,
    clause: str,
    position: int,
    end: int | None,
    hint: str | None,
) -> _EntryError:
    return cls(message, clause, position=position, end=end, hint=hint)


class OrderByError(_EntryError):
    """An ``order_by`` entry that cannot be parsed or names an unorderable key."""

    ARGUMENT = "order_by"


class PageTokenError(PolartraceError):
    """A ``page_token`` that was not produced by polartrace for this search."""


class RegexTimeoutError(PolartraceError):
    """An RLIKE pattern the reference engine gave up on: it backtracks too long.

    Python's regular expressions backtrack; the Polars engine's do not, so it
    answers such a pattern. ``pattern`` is the pattern as written in the filter.
    """

    def __init__(self, pattern: str, seconds: float) -> None:
        self.pattern = pattern
        self.seconds = seconds
        super().__init__(
            f"RLIKE {pattern!r} took more than {seconds:g} s on one value in the "
            "reference engine (its regex engine backtracks); search with "
            "engine='polars', which answers it in linear time"
        )


class SearchArgumentError(PolartraceError):
    """An argument of ``search_traces`` or ``count`` that is out of range or unknown."""


class MetricError(SearchArgumentError):
    """A metric, ``group_by`` key or ``every`` of ``metrics`` that cannot be used.

    Attributes:
        message: What is wrong, quoting the offending input.
        spec: The whole metric, key or interval as the user wrote it.
        hint: A suggestion such as ``did you mean 'p95(latency)'?``, or ``None``.
    """

    def __init__(self, message: str, spec: str, *, hint: str | None = None) -> None:
        self.message = message
        self.spec = spec
        self.hint = hint
        super().__init__(f"{message}\nHint: {hint}" if hint else message)

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_metric_error, (self.message, self.spec, self.hint))


def _rebuild_metric_error(message: str, spec: str, hint: str | None) -> MetricError:
    return MetricError(message, spec, hint=hint)


class ColumnError(_EntryError, SearchArgumentError):
    """A ``columns=`` entry of ``search_traces`` that names no column a trace has.

    Its attributes are `OrderByError`'s: the entry, the position, the hint.
    """

    ARGUMENT = "columns"


class TraceFormatError(PolartraceError):
    """Trace data that cannot be read: corrupt JSON, wrong types, missing fields.

    Attributes:
        message: What is wrong.
        source: The file or object the data came from (``None`` for in-memory data).
        location: Where in the source, e.g. ``line 17`` or ``info.request_time``.
    """

    def __init__(
        self, message: str, *, source: str | None = None, location: str | None = None
    ) -> None:
        self.message = message
        self.source = source
        self.location = location
        where = ", ".join(part for part in (source, location) if part)
        super().__init__(f"{where}: {message}" if where else message)

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild_format_error, (self.message, self.source, self.location))


def _rebuild_format_error(
    message: str, source: str | None, location: str | None
) -> TraceFormatError:
    return TraceFormatError(message, source=source, location=location)


class TracingError(PolartraceError):
    """A tracing call with bad arguments, such as an unknown span status."""


class TraceNotFoundError(TracingError):
    """No finished or running trace has the given id."""
