"""``extract_fields``: span inputs and outputs as extra pandas columns, as in MLflow.

An entry is ``"<span>.inputs"``, ``"<span>.outputs"`` or ``"<span>.<inputs|outputs>.
<field>"``; a span name or field that contains dots is written in backticks
(```"`rag.query`.inputs.q"```). Each entry adds one column, named by the entry with
the backticks removed (``rag.query.inputs.q``). A row's value comes from the last
span of that name in the trace (``None`` when no span has the name): the whole
inputs or outputs, or the field when they are a dict that has it (else ``None``).
The parsing and its error messages follow MLflow 3.17's ``_FieldParser``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import attrs

from polartrace.frame.trace_frame import TraceFrame
from polartrace.model.trace import Trace
from polartrace.values.errors import SearchArgumentError

__all__ = ["ExtractField", "add_columns", "parse_fields", "with_extracted"]

_TICK = "`"
# MLflow's messages for entries it cannot parse; the entry follows each.
_UNCLOSED = "Expected closing backtick"
_NO_DOT = "Expected dot after span name"
_TRAILING = "Unexpected characters after closing backtick"


@attrs.frozen
class ExtractField:
    """One parsed ``extract_fields`` entry."""

    span_name: str
    kind: Literal["inputs", "outputs"]
    field: str | None

    @property
    def column(self) -> str:
        """The column name: the entry without backticks."""
        head = f"{self.span_name}.{self.kind}"
        return head if self.field is None else f"{head}.{self.field}"

    def value(self, trace: Trace) -> Any:
        """The value of this entry on one trace (``None`` where it has none)."""
        span = None
        for candidate in trace.data.spans:  # the last span of that name wins
            if candidate.name == self.span_name:
                span = candidate
        if span is None:
            return None
        found = span.inputs if self.kind == "inputs" else span.outputs
        if self.field is None:
            return found
        if isinstance(found, dict) and self.field in found:
            return found[self.field]
        return None


class _Reader:
    """Reads one entry left to right, as MLflow's parser does."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0

    def _peek(self) -> str | None:
        return self.text[self.at] if self.at < len(self.text) else None

    def _until(self, stop: str | None) -> str:
        start = self.at
        while self.at < len(self.text) and self.text[self.at] != stop:
            self.at += 1
        return self.text[start : self.at]

    def _fail(self, problem: str) -> SearchArgumentError:
        return SearchArgumentError(f"{problem}: {self.text!r}")

    def _quoted(self) -> str:
        self.at += 1  # the opening backtick
        name = self._until(_TICK)
        if self._peek() != _TICK:
            raise self._fail(_UNCLOSED)
        self.at += 1
        return name

    def parse(self) -> ExtractField:
        span_name = self._quoted() if self._peek() == _TICK else self._until(".")
        if self._peek() != ".":
            raise self._fail(_NO_DOT)
        self.at += 1
        kind = self._until(".")
        if kind not in ("inputs", "outputs"):
            msg = f"Invalid field type: {kind!r}. Expected 'inputs' or 'outputs'."
            raise SearchArgumentError(msg)
        self.at += 1  # the dot after the kind, if any
        field = None
        if self.at < len(self.text):
            if self._peek() == _TICK:
                field = self._quoted()
                if self.at < len(self.text):
                    raise self._fail(_TRAILING)
            else:
                field = self._until(None)
        return ExtractField(
            span_name, "inputs" if kind == "inputs" else "outputs", field
        )


def parse_fields(fields: Any) -> list[ExtractField]:
    """Parse ``extract_fields`` entries.

    Raises:
        SearchArgumentError: For an entry MLflow's parser rejects (with MLflow's
            message), or for ``fields`` that is not a list of strings.

    Example:
        >>> [f.column for f in parse_fields(["`rag.query`.inputs.q", "llm.outputs"])]
        ['rag.query.inputs.q', 'llm.outputs']
    """
    if not isinstance(fields, list | tuple) or not all(
        isinstance(f, str) for f in fields
    ):
        msg = f"extract_fields must be a list of strings, not {fields!r}"
        raise SearchArgumentError(msg)
    return [_Reader(text).parse() for text in fields]


def add_columns(
    df: Any, traces: Sequence[Trace] | None, fields: list[ExtractField]
) -> Any:
    """Add one column per field to a pandas result whose rows are ``traces``.

    ``traces=None``: the rows carry no spans, so every value is ``None``.
    """
    import pandas as pd

    for field in fields:
        if traces is None:
            values: list[Any] = [None] * len(df)
        else:
            values = [field.value(trace) for trace in traces]
        df[field.column] = pd.Series(values, index=df.index, dtype=object)
    return df


def with_extracted(
    result: Any,
    frame: TraceFrame,
    keys: Sequence[int],
    fields: list[ExtractField],
    include_spans: bool,
) -> Any:
    """Add the ``extract_fields`` columns to a pandas result of rows ``keys``.

    Without spans (``include_spans=False``) every value is ``None``, as in MLflow,
    whose traces then have no spans to read.
    """
    if not fields:
        return result
    return add_columns(result, frame.traces_at(keys) if include_spans else None, fields)
