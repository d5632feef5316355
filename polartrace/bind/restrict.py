"""MLflow's search scope keywords as filter conjuncts: experiments, run, model.

``mlflow.search_traces`` narrows a search with ``locations`` (or the older
``experiment_ids``), ``run_id`` and ``model_id``. Here each becomes one bound
condition ANDed onto the filter, so the engines, ``count``, paging and the lazy scan
all evaluate one filter and agree on it:

* ``locations=["1", "2"]``: the trace's experiment id is one of them;
* ``run_id="r"``: metadata ``mlflow.sourceRun`` is ``r`` (the ``run_id`` field);
* ``model_id="m"``: metadata ``mlflow.modelId`` is ``m``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from polartrace.bind.filter import AllOf, BoundFilter, Cond, Node
from polartrace.catalogue.fields import EXPERIMENT_ID, METADATA, RUN_ID
from polartrace.language.ast import Op
from polartrace.values.conventions import MODEL_ID_KEY
from polartrace.values.errors import SearchArgumentError

__all__ = ["Restriction", "restrict", "restriction"]

#: The metadata key MLflow stores a trace's logged model under.


def _ids(values: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if values is None else tuple(values)


@attrs.frozen
class Restriction:
    """Which experiments, run and model a search is limited to (``None``: any)."""

    experiment_ids: tuple[str, ...] | None = attrs.field(default=None, converter=_ids)
    run_id: str | None = None
    model_id: str | None = None

    @property
    def key(self) -> str:
        """A text naming the restriction, empty when there is none."""
        if self == _NONE:
            return ""
        return repr((self.experiment_ids, self.run_id, self.model_id))

    def conds(self) -> list[Node]:
        """The conditions that express the restriction."""
        found: list[Node] = []
        if self.experiment_ids is not None:
            found.append(Cond(EXPERIMENT_ID, None, Op.IN, self.experiment_ids))
        if self.run_id is not None:
            found.append(Cond(RUN_ID, RUN_ID.column, Op.EQ, self.run_id))
        if self.model_id is not None:
            found.append(Cond(METADATA, MODEL_ID_KEY, Op.EQ, self.model_id))
        return found


_NONE = Restriction()


def _id_list(name: str, value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list | tuple):
        # MLflow's own words: a bare string must not be read as its characters.
        msg = (
            f"{name} must be a list, got {type(value).__name__}. "
            f"Did you mean to use {name}=[{value!r}]?"
        )
        raise SearchArgumentError(msg)
    for item in value:
        if not isinstance(item, str):
            msg = f"{name} must hold experiment id strings, not {item!r}"
            raise SearchArgumentError(msg)
        if "." in item:
            msg = (
                f"{name} entry {item!r} is a Unity Catalog location "
                "(catalog.schema), which only a Databricks server can search; "
                "give experiment ids"
            )
            raise SearchArgumentError(msg)
    # An empty list is no restriction: MLflow reads it as "the active experiment",
    # and there is no active experiment here.
    return tuple(value) or None


def _one_id(name: str, value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    msg = f"{name} must be a str, not {type(value).__name__}"
    raise SearchArgumentError(msg)


def restriction(
    *,
    experiment_ids: Any = None,
    locations: Any = None,
    run_id: Any = None,
    model_id: Any = None,
) -> Restriction:
    """Check MLflow's scope keywords and return the restriction they ask for.

    Raises:
        SearchArgumentError: For a value that is not a list of experiment ids (a
            bare string included), both ``experiment_ids`` and ``locations``, or an
            id that is not a string.

    Example:
        >>> restriction(locations=["1"], run_id="r").experiment_ids
        ('1',)
    """
    if experiment_ids is not None and locations is not None:
        msg = (
            "Cannot specify both 'experiment_ids' (deprecated) and 'locations'. "
            "Use 'locations' only."
        )
        raise SearchArgumentError(msg)
    ids = _id_list("experiment_ids", experiment_ids)
    if locations is not None:
        ids = _id_list("locations", locations)
    return Restriction(ids, _one_id("run_id", run_id), _one_id("model_id", model_id))


def restrict(bound: BoundFilter, limits: Restriction) -> BoundFilter:
    """AND the restriction's conditions onto a bound filter.

    The result's text (the per-frame cache key of compiled filters) names the
    restriction, so a restricted and an unrestricted search never share an entry.
    """
    extra = limits.conds()
    if not extra:
        return bound
    items = extra if bound.root is None else [*extra, bound.root]
    root = items[0] if len(items) == 1 else AllOf(items)
    return BoundFilter(f"{bound.text}\x00{limits.key}", root)
