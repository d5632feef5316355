"""The twelve simulated applications: names, weights, span plans, tags, latency.

Each app decides the shape of its traces (chain or agent, which steps, which root
inputs and outputs, which tags); the weights set how often each is drawn, and so
the selectivities listed in `polartrace.generate`.
"""

from __future__ import annotations

import itertools
from typing import Final, NamedTuple


class _App(NamedTuple):
    name: str
    weight: int
    kind: str  # content generator and root input/output shape
    root_type: str
    median_ms: int
    spans: int  # typical span count, root included
    team: str | None
    tags_version: bool
    tags_model: bool
    conversational: bool
    llm_name: str
    # Chains: (name, type, depth, priority) in time order; the k - 1 steps of lowest
    # priority make a k-span trace, depth 2 nests under the step before. Agents: tools.
    plan: tuple[tuple[str, str, int, int], ...]
    prompt: str


_L, _T, _R, _E, _K, _P = "LLM", "TOOL", "RETRIEVER", "EMBEDDING", "RERANKER", "PARSER"
# fmt: off
_CHAT_PLAN: Final = (("tool:moderation", _T, 1, 1), ("retriever", _R, 1, 2),
                     ("embed", _E, 2, 4), ("llm_call", _L, 1, 0),
                     ("parse_output", _P, 1, 3))
_RAG_PLAN: Final = (("condense_question", _L, 1, 5), ("retriever", _R, 1, 1),
                    ("embed", _E, 2, 2), ("rerank", _K, 1, 3), ("llm_call", _L, 1, 0),
                    ("parse_output", _P, 1, 4), ("tool:moderation", _T, 1, 6))
_APPS: Final = (
    _App("chat_pipeline", 18, "chat", "CHAIN", 900, 3, "assistants", True, True, True,
         "ChatOpenAI", _CHAT_PLAN, "chat-system-prompt"),
    _App("rag.query", 15, "rag", "CHAIN", 1100, 4, "search", True, False, True,
         "llm_call", _RAG_PLAN, "rag-answer-prompt"),
    _App("support_agent", 12, "support", "AGENT", 2700, 4, "cx-ai", True, True, True,
         "llm_call", (("tool:lookup_order", _T, 1, 0), ("tool:search_kb", _T, 1, 0),
                      ("tool:create_ticket", _T, 1, 0),
                      ("tool:check_warranty", _T, 1, 0)), "support-system-prompt"),
    _App("sql_agent", 7, "analytics", "AGENT", 3300, 5, "data-platform", False, True,
         True, "llm_call", (("tool:list_tables", _T, 1, 0),
                            ("tool:describe_table", _T, 1, 0),
                            ("tool:run_sql", _T, 1, 0)), "sql-generator"),
    _App("research_agent", 5, "research", "AGENT", 6000, 5, None, False, False, True,
         "llm_call", (("tool:search_web", _T, 1, 0), ("tool:fetch_url", _T, 1, 0),
                      ("tool:arxiv_search", _T, 1, 0)), "research-planner"),
    _App("billing_agent", 4, "support", "AGENT", 2300, 4, "cx-ai", True, True, True,
         "llm_call", (("tool:get_invoice", _T, 1, 0), ("tool:lookup_order", _T, 1, 0),
                      ("tool:apply_credit", _T, 1, 0)), "billing-system-prompt"),
    _App("summarize", 9, "summarize", "CHAIN", 1700, 2, "assistants", False, False,
         False, "llm_call", (("llm_call", _L, 1, 0), ("parse_output", _P, 1, 1)),
         "summarize-prompt"),
    _App("classify_ticket", 8, "classify", "CHAIN", 350, 2, "cx-ai", True, False, False,
         "llm_call", (("embed", _E, 1, 2), ("llm_call", _L, 1, 0),
                      ("parse_output", _P, 1, 1)), "ticket-classifier"),
    _App("extract_entities", 6, "extract", "CHAIN", 500, 2, None, False, False, False,
         "llm_call", (("llm_call", _L, 1, 0), ("json_parser", _P, 1, 1)), "ner-prompt"),
    _App("translate", 5, "translate", "CHAIN", 600, 1, None, True, True, False,
         "llm_call", (("llm_call", _L, 1, 0),), "translate-prompt"),
    _App("email_drafter", 5, "email", "CHAIN", 1500, 2, "growth", False, False, False,
         "llm_call", (("tool:get_contact", _T, 1, 1), ("llm_call", _L, 1, 0),
                      ("parse_output", _P, 1, 2)), "email-writer"),
    _App("code_assistant", 6, "code", "CHAIN", 2000, 3, "devex", True, True, True,
         "Completions", (("retriever", _R, 1, 1), ("embed", _E, 2, 2),
                         ("Completions", _L, 1, 0), ("parse_output", _P, 1, 3)),
         "code-helper"),
)
# fmt: on
_APP_CUM: Final = tuple(itertools.accumulate(a.weight for a in _APPS))
