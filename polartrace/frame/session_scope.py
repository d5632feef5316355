"""Session-scoped assessments across the parts of a stored dataset.

A Parquet dataset written in parts (`polartrace.io.parquet.DatasetWriter`) stores
each part's assessment table as that part's frame built it: a session-scoped
assessment (docs/semantics.md) is expanded to the traces of its session *in its own
part* only, since a writer cannot know the parts still to come. A reader therefore
re-expands them over the whole dataset:

1. `scoped_assessments` finds the traces whose assessments text names the session
   key (one vectorised substring test) and decodes only those;
2. `rescope` takes every trace such an assessment reaches (its owner and every trace
   of its session, anywhere in the dataset) and rebuilds all the assessment rows of
   those traces from their own assessments and their sessions' ones;
3. `SessionScope.apply` replaces the stored rows of those traces by the rebuilt
   ones. Replacing, not adding, means an assessment already expanded within its
   part is not counted twice, and datasets written by any earlier version (whose
   stored tables are expanded per part the same way) read the same.

No other stored row can hold a session-scoped assessment: a stored expansion only
ever reaches the owner and traces of the session, which are all rebuilt.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import attrs
import polars as pl

from polartrace.frame.schema import _ASSESSMENT_SCHEMA
from polartrace.frame.trace_frame import _assessment_rows
from polartrace.model.assessment import Assessment, read_assessment
from polartrace.values.conventions import SESSION_KEY

__all__ = ["SessionScope", "rescope", "scoped_assessments", "valid_assessments"]

#: Reads the assessments texts (a page table's ``assessments`` column) of some keys.
TextsOf = Callable[[Sequence[int]], pl.Series]


def valid_assessments(
    keys: Sequence[int], texts: Sequence[str | None]
) -> list[tuple[int, Assessment]]:
    """The valid assessments of each key's assessments text (a JSON array), in order."""
    out: list[tuple[int, Assessment]] = []
    for key, text in zip(keys, texts, strict=True):
        if text is None:
            continue
        for i, item in enumerate(json.loads(text)):
            assessment = read_assessment(item, f"info.assessments[{i}]")
            if assessment.is_valid:
                out.append((key, assessment))
    return out


def scoped_assessments(
    keys: pl.Series, texts: pl.Series
) -> list[tuple[int, Assessment]]:
    """The valid session-scoped assessments among ``texts`` with their owners' keys.

    Example:
        >>> text = '[{"assessment_name": "tone", "feedback": {"value": "ok"}, '
        >>> text += '"metadata": {"mlflow.trace.session": "s1"}}]'
        >>> [(k, a.session_id) for k, a in scoped_assessments(
        ...     pl.Series([0, 1]), pl.Series([None, text]))]
        [(1, 's1')]
    """
    named = texts.str.contains(SESSION_KEY, literal=True).fill_null(False)
    found = valid_assessments(
        keys.filter(named).to_list(), texts.filter(named).to_list()
    )
    return [(key, a) for key, a in found if a.session_id is not None]


@attrs.frozen
class SessionScope:
    """The rebuilt assessment rows of the traces session-scoped assessments reach.

    Attributes:
        keys: Those traces' keys, ascending.
        rows: All their assessment rows (``_ASSESSMENT_SCHEMA``), by key.
    """

    keys: pl.Series
    rows: pl.DataFrame

    def apply(self, stored: pl.DataFrame) -> pl.DataFrame:
        """``stored`` with the rows of `keys` replaced by `rows`, sorted by key."""
        if self.keys.is_empty():
            return stored
        kept = stored.filter(~pl.col("_key").is_in(self.keys.implode()))
        rows = self.rows.select(
            pl.col(name).cast(dtype) for name, dtype in stored.schema.items()
        )
        return pl.concat([kept, rows]).sort("_key", maintain_order=True)


def rescope(
    scoped: list[tuple[int, Assessment]],
    members: pl.LazyFrame | pl.DataFrame,
    texts_of: TextsOf,
) -> SessionScope:
    """Expand ``scoped`` over every trace of their sessions.

    Args:
        scoped: Every valid session-scoped assessment of the dataset, with its
            owner's key (`scoped_assessments`).
        members: ``_key`` and ``session`` (text) of the dataset's traces.
        texts_of: The assessments texts of the given keys, in their order.
    """
    if not scoped:
        empty = pl.DataFrame(schema=_ASSESSMENT_SCHEMA)
        return SessionScope(pl.Series("_key", [], dtype=pl.UInt32), empty)
    names = pl.Series(sorted({a.session_id for _, a in scoped}), dtype=pl.String)
    grouped = (
        members.lazy()
        .filter(pl.col("session").is_in(names.implode()))
        .group_by("session")
        .agg(pl.col("_key").cast(pl.Int64).sort())
        .collect()
    )
    sessions: dict[str, list[int]] = dict(grouped.iter_rows())
    reached = sorted({key for key, _ in scoped}.union(*sessions.values()))
    valid = valid_assessments(reached, texts_of(reached).to_list())
    rows: list[tuple[Any, ...]] = _assessment_rows(valid, sessions)
    table = pl.DataFrame(rows, schema=_ASSESSMENT_SCHEMA, orient="row")
    return SessionScope(
        pl.Series("_key", reached, dtype=pl.UInt32),
        table.sort("_key", maintain_order=True),
    )
