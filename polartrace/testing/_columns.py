"""The strategy for ``columns=`` of ``search_traces``: `column_lists`.

Entries are every ``order_by`` key of `polartrace.testing.order_by_lists` (except
``trace_id`` and ``state``, which name columns the result has), aggregates over
spans and trace measures, and feedback and expectation names of the shared
vocabulary; every list it draws is valid.
"""

from __future__ import annotations

from hypothesis import strategies as st

from polartrace.bind.columns import RESULT_COLUMNS
from polartrace.testing._order_by import _order_fields
from polartrace.testing._trees import _aggregate, _aggregate_text
from polartrace.testing._vocab import _KEYS

_LLM_AGGREGATES = (
    "sum(span.tokens.total)",
    "max(span.tokens.input)",
    "avg(span.cost.total)",
    "min(span.cost.output)",
    "count(SPAN WHERE model = 'gpt-4o')",
)


def _assessment_names() -> tuple[str, ...]:
    def quoted(name: str) -> str:
        return f"`{name}`" if "." in name else name

    return tuple(
        f"{kind}.{quoted(name)}"
        for kind in ("feedback", "expectation")
        for name in _KEYS[f"{kind}.<name>"]
    )


_NAMES = tuple(
    name
    for name in (
        *_order_fields(),
        *_assessment_names(),
        *_LLM_AGGREGATES,
        "span_count",
        "depth",
    )
    if name not in RESULT_COLUMNS
)
_ENTRIES = st.one_of(st.sampled_from(_NAMES), _aggregate().map(_aggregate_text))
_COLUMNS = st.lists(_ENTRIES, max_size=4, unique=True)


def column_lists() -> st.SearchStrategy[list[str]]:
    """Generate ``columns=`` lists of ``search_traces``: up to four distinct entries.

    Entries are orderable fields (aliases included), tags and metadata keys of the
    vocabulary of :func:`traces`, ``feedback.<name>`` and ``expectation.<name>``,
    ``span_count``, ``depth`` and aggregates over spans.

    Returns:
        A strategy of lists of strings.

    Example:
        >>> from hypothesis import find
        >>> find(column_lists(), lambda names: len(names) == 1)
        ['status']
    """
    return _COLUMNS
