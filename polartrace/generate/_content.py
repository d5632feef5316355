"""What a trace is about: the user's question, the answer and the root span's I/O.

Questions and answers are templates over the vocabulary, filled by `_Slots`; the
root inputs and outputs take the JSON shape of the app's kind (chat messages, a
RAG answer with sources, an SQL result, ...). Conversational apps carry the earlier
turns of their `_Session` in the chat history.
"""

from __future__ import annotations

import random
from typing import NamedTuple

from polartrace.generate._apps import _App
from polartrace.generate._fragments import _ea, _jstr
from polartrace.generate._primitives import _Slots
from polartrace.generate._vocab import (
    _ANALYTICS,
    _CODE_TASKS,
    _DOCS,
    _EMAIL_INTENTS,
    _RESEARCH,
    _SENTENCES,
    _SUPPORT,
    _TRANSLATIONS,
    _VOCAB,
)


class _Session:
    __slots__ = ("env", "history", "id", "remaining", "user")

    def __init__(self, sid: str, user: str, env: str, remaining: int) -> None:
        self.id = sid
        self.user = user
        self.env = env
        self.remaining = remaining
        self.history: list[tuple[str, str]] = []


class _Content(NamedTuple):
    domain: str  # support, docs, analytics, research, code, writing
    question: str  # what the user asked: LLM user message, retriever query
    answer: str  # the final natural-language answer
    root_in: str  # JSON text of the root span inputs
    root_out: str  # JSON text of the root span outputs
    root_in_j: str  # root_in as a JSON string (escaped once, used up to three times)
    root_out_j: str
    slots: _Slots
    extra: str  # SQL text, ticket category, target language, e-mail subject, ...


def draw_content(rng: random.Random, app: _App, session: _Session | None) -> _Content:
    """Draw what one trace is about: the question, answer and root inputs/outputs."""
    slots = _Slots(rng)
    kind = app.kind
    if kind == "chat":
        kind = "support" if rng.random() < 0.5 else "rag"
    extra = ""
    if kind in ("support", "classify"):
        extra, q_t, a_t = _SUPPORT[int(rng.random() * len(_SUPPORT))]
        q, a, domain = q_t.format_map(slots), a_t.format_map(slots), "support"
    elif kind == "rag":
        q_t, a_t = _DOCS[int(rng.random() * len(_DOCS))]
        q, a, domain = q_t.format_map(slots), a_t.format_map(slots), "docs"
    elif kind == "analytics":
        q_t, a_t = _ANALYTICS[int(rng.random() * len(_ANALYTICS))]
        q, a, domain = q_t.format_map(slots), a_t.format_map(slots), "analytics"
        a = a[0].upper() + a[1:]
        column = slots["metric"].replace(" ", "_")
        extra = (
            f"SELECT {slots['dimension'].replace(' ', '_')}, SUM({column}) AS "
            f"total FROM analytics.orders WHERE region = '{slots['region']}' "
            f"GROUP BY 1 ORDER BY total DESC LIMIT {slots['k']}"
        )
    elif kind == "research":
        q_t, a_t = _RESEARCH[int(rng.random() * len(_RESEARCH))]
        q, a, domain = q_t.format_map(slots), a_t.format_map(slots), "research"
    elif kind == "code":
        task, a = _CODE_TASKS[int(rng.random() * len(_CODE_TASKS))]
        q, domain = f"Write a Python function that {task}.", "code"
    else:
        q, a, extra = _writing(rng, kind, slots)
        domain = "writing"
    root_in, root_out = _root_io(rng, app.kind, kind, q, a, extra, slots, session)
    return _Content(
        domain, q, a, root_in, root_out, _ea(root_in), _ea(root_out), slots, extra
    )


def _writing(rng: random.Random, kind: str, slots: _Slots) -> tuple[str, str, str]:
    """Return (input text, output text, extra) of a one-shot writing task."""
    if kind == "summarize":
        count = 2 + int(rng.random() * 3)
        first = int(rng.random() * len(_SENTENCES))
        chosen = [_SENTENCES[(first + 3 * j) % len(_SENTENCES)] for j in range(count)]
        return " ".join(chosen), f"{chosen[0]} {chosen[1]}", ""
    if kind == "translate":
        src, *targets = _TRANSLATIONS[int(rng.random() * len(_TRANSLATIONS))]
        lang = int(rng.random() * len(targets))
        return src, targets[lang], _VOCAB["language"][lang]
    if kind == "extract":
        text = (
            "{person} from {company} will visit our {city} office on {weekday} to "
            "discuss the {product} launch."
        ).format_map(slots)
        labels = (("person", "PERSON"), ("company", "ORG"), ("city", "LOC"),
                  ("weekday", "DATE"))  # fmt: skip
        ents = ", ".join(
            f'{{"text": {_jstr(slots[s])}, "label": "{label}"}}' for s, label in labels
        )
        return text, f"[{ents}]", ""
    intent_t, subject_t = _EMAIL_INTENTS[int(rng.random() * len(_EMAIL_INTENTS))]
    intent = intent_t.format_map(slots)
    body = (
        f"Hi {slots['person'].split(' ')[0]},\n\nI wanted to {intent}. Would "
        f"{slots['weekday']} work for a quick call?\n\nBest regards,\n"
        f"The {slots['company']} team"
    )
    return intent, body, subject_t.format_map(slots)


def _root_io(
    rng: random.Random,
    app_kind: str,
    kind: str,
    q: str,
    a: str,
    extra: str,
    slots: _Slots,
    session: _Session | None,
) -> tuple[str, str]:
    """Return the JSON texts of the root span's inputs and outputs."""
    jq, ja = _jstr(q), _jstr(a)
    if app_kind in ("chat", "support", "code"):
        turns = []
        if session is not None:
            for prev_q, prev_a in session.history:
                turns.append(f'{{"role": "user", "content": {_jstr(prev_q)}}}')
                turns.append(f'{{"role": "assistant", "content": {_jstr(prev_a)}}}')
        turns.append(f'{{"role": "user", "content": {jq}}}')
        root_in = '{"messages": [' + ", ".join(turns) + "]}"
        if app_kind == "chat":
            return root_in, ja
        if app_kind == "code":
            return root_in, (
                '{"choices": [{"index": 0, "message": {"role": "assistant", '
                f'"content": {ja}}}, "finish_reason": "stop"}}]}}'
            )
        return (
            root_in,
            f'{{"messages": [{{"role": "assistant", "content": {ja}}}]}}',
        )
    if kind == "rag":
        tool = slots["tool"].lower()
        uris = ", ".join(
            f'"https://docs.my_company.com/{tool}/{rng.getrandbits(16):04x}"'
            for _ in range(1 + int(rng.random() * 2))
        )
        return f'{{"question": {jq}}}', f'{{"answer": {ja}, "sources": [{uris}]}}'
    if kind == "analytics":
        rows = 1 + int(rng.random() * 40)
        return f'{{"question": {jq}}}', (
            f'{{"answer": {ja}, "sql": {_jstr(extra)}, "row_count": {rows}}}'
        )
    if kind == "research":
        paper = f"24{1 + int(rng.random() * 12):02d}.{int(rng.random() * 99999):05d}"
        return f'{{"query": {jq}, "max_sources": 5}}', (
            f'{{"report": {ja}, "sources": ["https://arxiv.org/abs/{paper}"]}}'
        )
    if kind == "summarize":
        return f'{{"text": {jq}, "max_words": 80}}', f'{{"summary": {ja}}}'
    if kind == "classify":
        ticket = 100_000 + int(rng.random() * 900_000)
        prio = ("low", "medium", "medium", "high", "urgent")[int(rng.random() * 5)]
        conf = round(0.55 + rng.random() * 0.44, 2)
        return f'{{"ticket_id": "TCK-{ticket}", "text": {jq}}}', (
            f'{{"category": "{extra}", "priority": "{prio}", "confidence": {conf}}}'
        )
    if kind == "translate":
        return (
            f'{{"text": {jq}, "target_language": "{extra}"}}',
            f'{{"translation": {ja}}}',
        )
    if kind == "extract":
        return f'{{"text": {jq}}}', f'{{"entities": {a}}}'
    return (  # email
        f'{{"recipient": {_jstr(slots["person"])}, "intent": {jq}}}',
        f'{{"subject": {_jstr(extra)}, "body": {ja}}}',
    )
