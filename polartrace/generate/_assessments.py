"""Assessments of a finished trace, as MLflow's ``Assessment.to_dictionary`` JSON.

About 30 % of finished traces get feedback (``correctness``, ``relevance``,
``tone``, judge errors, reviewer overrides) and expectations
(``expected_answer``, ``expected_facts``); rarely a session-scoped
``session_quality`` feedback. Sources, delays and ids come from the same RNG.
"""

from __future__ import annotations

import json
import random

from polartrace.generate._content import _Content, _Session
from polartrace.generate._fragments import _ea, _kv
from polartrace.generate._primitives import _DAY_MS, _HOUR_MS, _rfc3339
from polartrace.generate._vocab import (
    _JUDGE_ERRORS,
    _JUDGES,
    _RATIONALES,
    _RELEVANCE_WHY,
    _REVIEWERS,
    _STARS,
    _TONES,
)
from polartrace.values.conventions import SESSION_KEY


def draw_assessments(
    rng: random.Random,
    trace_id: str,
    end_ms: int,
    ok: bool,
    c: _Content,
    session: _Session | None,
) -> list[str]:
    """Return the trace's assessments as ``Assessment.to_dictionary`` JSON."""
    found: list[str] = []

    def add(
        name: str, source: str, body: str, *, kind: str = "feedback",
        later_ms: int = 0, rationale: str | None = None, extra: str = "",
        valid: bool = True,
    ) -> str:  # fmt: skip
        if source == "HUMAN":
            source_id = _REVIEWERS[int(rng.random() * len(_REVIEWERS))]
            delay = _HOUR_MS + int(rng.random() * 4 * _DAY_MS)
        elif source == "LLM_JUDGE":
            source_id = _JUDGES[int(rng.random() * len(_JUDGES))]
            delay = 5_000 + int(rng.random() * 600_000)
        else:
            source_id = "check_guidelines"
            delay = 1_000 + int(rng.random() * 30_000)
        when = _rfc3339(end_ms + delay + later_ms)
        aid = f"a-{rng.getrandbits(128):032x}"
        why = "" if rationale is None else f", {_kv('rationale', rationale)}"
        found.append(
            f'{{"assessment_id": "{aid}", "assessment_name": "{name}", '
            f'"trace_id": "{trace_id}", "source": {{"source_type": "{source}", '
            f'"source_id": "{source_id}"}}, "create_time": "{when}", '
            f'"last_update_time": "{when}", "{kind}": {body}{why}{extra}, '
            f'"valid": {"true" if valid else "false"}}}'
        )
        return aid

    if rng.random() < 0.30:
        if rng.random() < 0.70:
            judge = rng.random() < 0.6
            right = rng.random() < (0.8 if ok else 0.3)
            value = '{"value": true}' if right else '{"value": false}'
            if rng.random() < 0.08:  # a reviewer overrode the judge
                old = add("correctness", "LLM_JUDGE", value,
                          rationale=_RATIONALES[right], valid=False)  # fmt: skip
                fixed = '{"value": false}' if right else '{"value": true}'
                add("correctness", "HUMAN", fixed, later_ms=_DAY_MS,
                    extra=f', "overrides": "{old}"')  # fmt: skip
            elif judge:
                add("correctness", "LLM_JUDGE", value, rationale=_RATIONALES[right])
            else:
                add("correctness", "HUMAN", value)
        if rng.random() < 0.60:
            if rng.random() < 0.7:
                score = round(max(rng.random(), rng.random()), 2)
                add("relevance", "LLM_JUDGE", f'{{"value": {score!r}}}',
                    rationale=_RELEVANCE_WHY[score > 0.5])  # fmt: skip
            else:  # a 1-5 human score, a float as MLflow returns it
                stars = _STARS[int(rng.random() * len(_STARS))]
                add("relevance", "HUMAN", f'{{"value": {stars!r}}}')
        if rng.random() < 0.30:
            tone = f'{{"value": "{_TONES[int(rng.random() * len(_TONES))]}"}}'
            if rng.random() < 0.1:
                old = add("tone", "LLM_JUDGE", '{"value": "neutral"}', valid=False)
                add("tone", "HUMAN", tone, later_ms=_DAY_MS,
                    extra=f', "overrides": "{old}"')  # fmt: skip
            else:
                add("tone", "CODE" if rng.random() < 0.3 else "HUMAN", tone)
        if rng.random() < 0.04:
            name = ("groundedness", "safety")[int(rng.random() * 2)]
            etype, msg = _JUDGE_ERRORS[int(rng.random() * len(_JUDGE_ERRORS))]
            error = (
                f'{{"value": null, "error": {{"error_code": "{etype}", '
                f'"error_message": {_ea(msg)}, '
                f'"stack_trace": {_ea(f"{etype}({msg!r}){etype}: {msg}")}}}}}'
            )
            add(name, "LLM_JUDGE", error)
        if rng.random() < 0.15:
            expected = c.answer.split(". ")[0].rstrip(".") + "."
            add("expected_answer", "HUMAN", f'{{"value": {_ea(expected)}}}',
                kind="expectation")  # fmt: skip
        if rng.random() < 0.10:
            facts = json.dumps([f.rstrip(".") for f in c.answer.split(". ")[:3]])
            body = (
                '{"serialized_value": {"serialization_format": "JSON_FORMAT", '
                f'"value": {_ea(facts)}}}}}'
            )
            add("expected_facts", "HUMAN", body, kind="expectation")
        if not found:
            add("correctness", "LLM_JUDGE", '{"value": true}' if ok else
                '{"value": false}', rationale=_RATIONALES[ok])  # fmt: skip
    if session is not None and rng.random() < 0.01:
        quality = ("good", "good", "ok", "poor")[int(rng.random() * 4)]
        scope = f', "metadata": {{"{SESSION_KEY}": "{session.id}"}}'
        add("session_quality", "LLM_JUDGE", f'{{"value": "{quality}"}}',
            later_ms=_HOUR_MS, extra=scope)  # fmt: skip
    return found
