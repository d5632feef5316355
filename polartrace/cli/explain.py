"""``polartrace explain``: how a filter is parsed, resolved and, given data, matched.

Without data it shows the syntax tree written back as text, the resolved clauses and
the Polars plan on an empty frame. With data (``--data PATH``) the plan gives way to
the resolved clauses with, for each, the table it reads and the number of traces it
matches on its own, and the total: that is what a user debugging "why does this
match nothing" needs, where a plan of pre-computed masks says little.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from polartrace.bind.filter import (
    AllOf,
    AnyOf,
    BoundFilter,
    Cond,
    Dynamic,
    Negate,
    Node,
    SpanGroup,
    parse_filter,
)
from polartrace.catalogue.fields import ISSUE_ID, Source
from polartrace.engines.polars.compile import compile_filter
from polartrace.frame.trace_frame import TraceFrame
from polartrace.language.ast import unparse
from polartrace.language.parser import parse

__all__ = ["explain"]

#: The table of a frame each kind of clause reads, as the counted tree names it.
TABLES: Final = {
    Source.INFO: "traces",
    Source.TAG: "trace tags",
    Source.METADATA: "trace metadata",
    Source.PROMPT: "trace tags (linked prompts)",
    Source.TEXT: "text units",
    Source.SPAN: "spans",
    Source.ASSESSMENT: "assessments",
}


def _field(cond: Cond) -> str:
    name = cond.field.name
    return re.sub(r"<[^>]*>", str(cond.key), name) if cond.key is not None else name


def _value(value: Any) -> str:
    if isinstance(value, tuple):
        return "(" + ", ".join(_value(v) for v in value) + ")"
    if isinstance(value, Dynamic) and value.is_number:
        return value.text
    if isinstance(value, Dynamic):
        return json.dumps(value.text) + (
            f" (or number {value.number:g})" if value.number is not None else ""
        )
    return "" if value is None else json.dumps(value)


def _label(node: Node) -> str:
    """One line of the resolved tree for ``node``, without its children."""
    match node:
        case Cond(field=field, key=key) if field is ISSUE_ID:
            return f"issue.id = {json.dumps(key)}"  # bound as "issue <id> exists"
        case Cond():
            return f"{_field(node)} {node.op.value} {_value(node.value)}".rstrip()
        case SpanGroup():
            return "ONE SPAN satisfies all of:"
        case AllOf():
            return "ALL of:"
        case AnyOf():
            return "ANY of:"
        case Negate():
            return "NOT:"
    raise AssertionError(node)  # pragma: no cover - Node is closed


def _children(node: Node) -> tuple[Node, ...]:
    match node:
        case SpanGroup(conds=conds):
            return conds
        case AllOf(items=items) | AnyOf(items=items):
            return items
        case Negate(item=item):
            return (item,)
    return ()


def _tree(node: Node, depth: int = 1) -> list[str]:
    line = "  " * depth + _label(node)
    if isinstance(node, Cond):
        line += f"   [{node.field.source.value}]"
    return [line] + [row for c in _children(node) for row in _tree(c, depth + 1)]


def _matches(node: Node | None, frame: TraceFrame) -> int:
    """How many traces of ``frame`` satisfy ``node`` (``None``: all)."""
    if node is None:
        return len(frame)
    # compile_filter caches by filter text: give every clause its own key.
    bound = BoundFilter(f"explain {node!r}", node)
    return int(frame.traces.select(compile_filter(bound, frame).sum()).item())


def _counted(
    node: Node, frame: TraceFrame, depth: int = 1, in_span: bool = False
) -> list[tuple[str, str, str]]:
    """Rows (clause, table, traces matched by the clause alone) for a subtree.

    A condition inside ONE SPAN is counted as "some span satisfies it".
    """
    alone: Node = SpanGroup([node]) if in_span and isinstance(node, Cond) else node
    table = ""
    if isinstance(node, Cond):
        table = TABLES[node.field.source]
    elif isinstance(node, SpanGroup):
        table = TABLES[Source.SPAN]
    rows = [("  " * depth + _label(node), table, f"{_matches(alone, frame):,}")]
    inner = in_span or isinstance(node, SpanGroup)
    for child in _children(node):
        rows += _counted(child, frame, depth + 1, inner)
    return rows


def _counts(bound: BoundFilter, frame: TraceFrame, source: str) -> list[str]:
    total = len(frame)
    lines = [f"Matches in {source} ({total:,} traces), each clause on its own:"]
    if bound.root is None:
        lines.append("  (no filter: every trace)")
    else:
        rows = [("  clause", "reads", "traces"), *_counted(bound.root, frame)]
        widths = [max(len(row[i]) for row in rows) for i in range(3)]
        lines += [
            f"{clause.ljust(widths[0])}  {table.ljust(widths[1])}  "
            f"{matched.rjust(widths[2])}"
            for clause, table, matched in rows
        ]
    matched = _matches(bound.root, frame)
    noun = "trace matches" if matched == 1 else "traces match"
    return [*lines, "", f"{matched:,} of {total:,} {noun} the filter."]


def explain(
    filter_string: str, frame: TraceFrame | None = None, source: str = "the data"
) -> str:
    """Return the parsed filter and its resolved clauses, with counts given data.

    Args:
        filter_string: The filter.
        frame: Data to count matches on; without it, the Polars plan on an empty
            frame is shown instead.
        source: How to name the data (its path).

    Raises:
        FilterError: If the filter is rejected.
    """
    bound = parse_filter(filter_string)
    head = [
        "Parsed (the syntax tree written back as filter text):",
        f"  {unparse(parse(filter_string))}",
        "",
    ]
    if frame is not None:
        return "\n".join([*head, *_counts(bound, frame, source), ""])
    empty = TraceFrame.from_traces([])
    plan = empty.traces.lazy().filter(compile_filter(bound, empty)).explain()
    resolved = _tree(bound.root) if bound.root is not None else ["  (every trace)"]
    return "\n".join(
        [
            *head,
            "Resolved fields (aliases resolved, literals converted):",
            *resolved,
            "",
            "Polars plan (on an empty frame; span, assessment and text clauses are",
            "masks scattered from their own tables):",
            *("  " + line for line in plan.splitlines()),
            "",
        ]
    )
