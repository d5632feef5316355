"""The span tree of a finished trace, written as MLflow's ``Span.to_dict()`` JSON.

A chain app keeps the highest-priority steps of its plan; an agent alternates LLM
calls and tool calls. Times nest (siblings run one after another inside their
parent), an ERROR trace has one failing span whose error propagates to its
ancestors while later steps never ran, and each span type gets MLflow's attributes
in MLflow's order.
"""

from __future__ import annotations

import itertools
import random

from polartrace.generate._apps import _App
from polartrace.generate._content import _Content
from polartrace.generate._fragments import (
    _A_DIMS,
    _A_EXPERIMENT,
    _A_FUNCTION,
    _A_K,
    _A_LEVEL,
    _A_LLM_MODEL,
    _A_MAX_TOKENS,
    _A_MODEL,
    _A_PROVIDER,
    _A_STREAM,
    _A_TEMPERATURE,
    _A_TYPE,
    _STATUS_ERROR,
    _STATUS_OK,
    _cost,
    _ea,
    _jstr,
    _kv,
)
from polartrace.generate._primitives import (
    _MS_NS,
    _SQRT3,
    _b64,
    _exp2,
    _pick,
    _stacktrace,
    _truncate,
)
from polartrace.generate._vocab import (
    _DOCS_KB,
    _ERRORS,
    _FAIL_WEIGHT,
    _PRICES,
    _RESEARCH_KB,
    _SUPPORT_KB,
    _SYSTEM_PROMPTS,
    _TIME_WEIGHT,
)
from polartrace.values.conventions import CHAT_USAGE_KEY, LLM_COST_KEY


class _Span:
    __slots__ = ("end", "error", "name", "parent", "start", "type")

    def __init__(self, name: str, type_: str, parent: int) -> None:
        self.name = name
        self.type = type_
        self.parent = parent
        self.start = 0
        self.end = 0
        self.error: tuple[str, str] | None = None


def _chain_skeleton(app: _App, k: int) -> tuple[tuple[str, str, int], ...]:
    """Return (name, type, parent index) of the spans of a ``k``-span chain trace."""
    plan = app.plan
    wanted = sorted(range(len(plan)), key=lambda j: (plan[j][3], j))[: k - 1]
    out = [(app.name, app.root_type, -1)]
    parent = 0
    for j, (name, typ, depth, _) in enumerate(plan):
        if j not in wanted:
            continue
        if depth == 1:
            out.append((name, typ, 0))
            parent = len(out) - 1
        else:  # nests under the step before it when that one was kept
            nested = j - 1 in wanted and plan[j - 1][2] == 1
            out.append((name, typ, parent if nested else 0))
    while len(out) < k:  # more spans asked for than the plan has: extra LLM calls
        out.append((app.llm_name, "LLM", 0))
    return tuple(out)


class _SpanWriter:
    """Draws the spans of traces from the generator's RNG.

    It keeps two output-neutral caches across traces: chain skeletons by app and
    size, and the escaped LLM messages, which recur often.
    """

    def __init__(self, rng: random.Random, span_range: tuple[int, int]) -> None:
        self.rng = rng
        self.span_lo, self.span_hi = span_range
        self.skeletons: dict[tuple[int, int], tuple[tuple[str, str, int], ...]] = {}
        self.cache: dict[tuple[str, str], tuple[str, int]] = {}

    def _duration_ns(self, app: _App, n_spans: int) -> int:
        rng = self.rng
        # Irwin-Hall(4) approximates a standard normal with IEEE arithmetic only.
        z = (rng.random() + rng.random() + rng.random() + rng.random() - 2.0) * _SQRT3
        factor = _exp2(1.25 * z)
        if rng.random() < 0.05:  # slow tail: retries, long generations
            factor *= 4.0
        ms = app.median_ms * (0.7 + 0.1 * n_spans) * factor
        ms = min(max(ms, 50.0), 30_000.0)
        return int(ms * _MS_NS) + int(rng.random() * _MS_NS)

    def _span_plan(self, app_i: int, app: _App) -> list[_Span]:
        """Choose the spans of a trace: root first, then children in time order."""
        rng = self.rng
        offset = (-2, -1, -1, 0, 0, 0, 1, 1, 2, 3)[int(rng.random() * 10)]
        k = min(max(app.spans + offset, self.span_lo), self.span_hi)
        if app.root_type != "AGENT":
            skeleton = self.skeletons.get((app_i, k))
            if skeleton is None:
                skeleton = self.skeletons[app_i, k] = _chain_skeleton(app, k)
            return [_Span(*s) for s in skeleton]
        spans = [_Span(app.name, app.root_type, -1)]
        think = True
        while len(spans) < k:  # think, act, think, act, ...
            if think:
                spans.append(_Span(app.llm_name, "LLM", 0))
            else:
                tool = app.plan[int(rng.random() * len(app.plan))][0]
                spans.append(_Span(tool, "TOOL", 0))
                if tool == "tool:search_kb" and len(spans) < k and rng.random() < 0.7:
                    spans.append(_Span("retriever", "RETRIEVER", len(spans) - 1))
            think = not think
        return spans

    def _layout(self, spans: list[_Span], start: int, dur: int) -> None:
        """Nest start/end times: siblings run one after another inside their parent.

        Parents precede their children in ``spans``, so one pass suffices.
        """
        rng = self.rng
        k = len(spans)
        spans[0].start, spans[0].end = start, start + dur
        weights = [0.0] * k
        totals = [0.0] * k
        for i in range(1, k):
            w = _TIME_WEIGHT[spans[i].type] * (0.5 + rng.random())
            weights[i] = w
            totals[spans[i].parent] += w
        cursor = [0] * k
        usable = [0] * k
        for i in range(k):
            s = spans[i]
            if i:
                p = s.parent
                slot = int(usable[p] * weights[i] / totals[p])
                c = cursor[p]
                s.start = c + int(slot * 0.04 * rng.random())
                s.end = max(c + int(slot * (0.85 + 0.15 * rng.random())), s.start + 1)
                cursor[p] = c + slot
            if totals[i]:
                width = s.end - s.start
                lead = int(width * (0.005 + 0.03 * rng.random()))
                cursor[i] = s.start + lead
                usable[i] = width - lead - width // 50

    def _error(self, span_type: str, model: str) -> tuple[str, str]:
        pool = _ERRORS[span_type]
        etype, msg = pool[int(self.rng.random() * len(pool))]
        return etype, msg.replace("{model}", model)

    def _fail(self, spans: list[_Span], model: str) -> list[_Span]:
        """Make one span raise: its ancestors fail with it, later steps never ran."""
        rng = self.rng
        cands = [i for i in range(1, len(spans)) if spans[i].type in _FAIL_WEIGHT]
        idx = 0
        if cands:
            cum = list(itertools.accumulate(_FAIL_WEIGHT[spans[i].type] for i in cands))
            idx = cands[_pick(rng, cum)]
        bad = spans[idx]
        bad.error = self._error(bad.type, model)
        cut = bad.end
        ancestors: list[int] = []
        p = bad.parent
        while p >= 0:
            ancestors.append(p)
            p = spans[p].parent
        kept: list[_Span] = []
        remap: dict[int, int] = {}
        for i, s in enumerate(spans):
            if i == idx or i in ancestors or s.end <= cut:
                remap[i] = len(kept)
                kept.append(s)
        for s in kept:
            s.parent = remap[s.parent] if s.parent >= 0 else -1
        end = cut
        for i in ancestors:  # innermost first; each re-raises a little later
            end += 1 + int(rng.random() * 5 * _MS_NS)
            spans[i].end = max(end, spans[i].start + 1)
            spans[i].error = bad.error
        return kept

    def _llm_io(self, c: _Content, model: str, role: str) -> tuple[str, str, int, int]:
        """Return the escaped inputs and outputs members and token counts of a call.

        The members are pure functions of their text, so they are cached: the same
        questions and answers recur often and escaping them twice is the main cost.
        """
        cache = self.cache
        if len(cache) > 50_000:  # bounded memory; the output does not depend on it
            cache.clear()
        key = (c.domain, c.question)
        hit = cache.get(key)
        if hit is None:
            inner = (
                f'{{"messages": [{{"role": "system", "content": '
                f"{_jstr(_SYSTEM_PROMPTS[c.domain])}}}, "
                f'{{"role": "user", "content": {_jstr(c.question)}}}]}}'
            )
            hit = cache[key] = (f'"mlflow.spanInputs": {_ea(inner)}', len(inner) // 4)
        inputs, in_tok = hit
        if role == "final":
            text = c.answer
        elif role == "condense_question":
            text = c.question
        else:
            text = "Let me look that up first."
        claude = model.startswith("claude")
        key = ("claude" if claude else "openai", text)
        hit = cache.get(key)
        if hit is None:
            if claude:
                inner = (
                    f'{{"content": [{{"type": "text", "text": {_jstr(text)}}}], '
                    '"stop_reason": "end_turn"}'
                )
            else:
                inner = (
                    '{"choices": [{"message": {"role": "assistant", "content": '
                    f'{_jstr(text)}}}, "finish_reason": "stop"}}]}}'
                )
            hit = cache[key] = (f'"mlflow.spanOutputs": {_ea(inner)}', len(text) // 4)
        out, out_tok = hit
        return inputs, out, in_tok + int(self.rng.random() * 400), out_tok + 1

    def _documents(self, c: _Content, k: int) -> str:
        """Return retrieved documents (JSON text) from the question's domain."""
        rng = self.rng
        if c.domain == "support":
            pool = _SUPPORT_KB
        elif c.domain == "research":
            pool = _RESEARCH_KB
        else:
            pool = _DOCS_KB
        docs = []
        for _ in range(k):
            text = pool[int(rng.random() * len(pool))].format_map(c.slots)
            docs.append(
                f'{{"page_content": {_jstr(text)}, "metadata": {{"doc_uri": '
                f'"https://docs.my_company.com/kb/{rng.getrandbits(24):06x}"}}}}'
            )
        return "[" + ", ".join(docs) + "]"

    def _tool_io(self, fn: str, c: _Content) -> tuple[str, str]:
        """Return the inputs and outputs (JSON text) of a tool call."""
        rng = self.rng
        if fn in ("lookup_order", "get_invoice", "apply_credit", "check_warranty"):
            order = c.slots["order_id"]
            state = ("shipped", "delivered", "processing", "returned")[
                int(rng.random() * 4)
            ]
            total = round(20 + rng.random() * 900, 2)
            return f'{{"order_id": "{order}"}}', (
                f'{{"order_id": "{order}", "status": "{state}", "total": {total}}}'
            )
        if fn == "run_sql":
            return f'{{"sql": {_jstr(c.extra or "SELECT 1")}}}', (
                f'{{"rows": [[{_jstr(c.slots["region"])}, '
                f"{int(rng.random() * 1_000_000)}]]}}"
            )
        if fn in ("list_tables", "describe_table"):
            return '{"schema": "analytics"}', '["orders", "customers", "tickets"]'
        if fn in ("search_web", "arxiv_search", "search_kb"):
            return f'{{"query": {_jstr(c.question)}}}', (
                f'[{{"title": {_jstr(c.answer[:60])}, "url": '
                f'"https://example.org/a/{rng.getrandbits(32):08x}"}}]'
            )
        if fn == "fetch_url":
            return f'{{"url": "https://example.org/a/{rng.getrandbits(32):08x}"}}', (
                f'{{"status": 200, "text": {_jstr(c.answer)}}}'
            )
        if fn == "moderation":
            return f'{{"input": {_jstr(c.question)}}}', '{"flagged": false}'
        if fn == "get_contact":
            first = c.slots["person"].split(" ")[0].lower()
            return f'{{"name": {_jstr(c.slots["person"])}}}', (
                f'{{"email": {_jstr(first + "@example.com")}}}'
            )
        ticket = 100_000 + int(rng.random() * 900_000)  # create_ticket
        return f'{{"summary": {_jstr(c.question)}}}', f'{{"ticket_id": "TCK-{ticket}"}}'

    def _attributes(self, span: _Span, role: str, c: _Content, model: str,
                    usage: list[int]) -> str:  # fmt: skip
        """Return a span's attribute members after ``mlflow.spanType`` (JSON text).

        The order is MLflow's: inputs, type-specific keys, outputs, log level.
        """
        rng = self.rng
        typ = span.type
        ok = span.error is None
        if role == "root":
            out = f', "mlflow.spanOutputs": {c.root_out_j}' if ok else ""
            return f'"mlflow.spanInputs": {c.root_in_j}{out}, {_A_LEVEL[typ]}'
        if typ == "LLM":
            inputs, out, in_tok, out_tok = self._llm_io(c, model, role)
            temperature = _A_TEMPERATURE[int(rng.random() * len(_A_TEMPERATURE))]
            max_tokens = _A_MAX_TOKENS[int(rng.random() * len(_A_MAX_TOKENS))]
            stream = f", {_A_STREAM[rng.random() < 0.3]}" if rng.random() < 0.12 else ""
            tail = ""
            if ok:
                price_in, price_out = _PRICES[model]
                in_micro, out_micro = (
                    round(in_tok * price_in),
                    round(out_tok * price_out),
                )
                usage[0] += in_tok
                usage[1] += out_tok
                usage[2] += in_micro
                usage[3] += out_micro
                tail = (
                    f', "{CHAT_USAGE_KEY}": "{{\\"input_tokens\\": {in_tok}, '
                    f'\\"output_tokens\\": {out_tok}, '
                    f'\\"total_tokens\\": {in_tok + out_tok}}}", '
                    f"{_kv(LLM_COST_KEY, _cost(in_micro, out_micro))}, {out}"
                )
            return (
                f"{inputs}, {_A_MODEL[model]}, {_A_LLM_MODEL[model]}, "
                f"{_A_PROVIDER[model]}, {temperature}, {max_tokens}{stream}"
                f"{tail}, {_A_LEVEL[typ]}"
            )
        extra = ""
        if typ == "RETRIEVER":
            k = 2 + int(rng.random() * 2)
            inputs = f'{{"query": {_jstr(c.question)}}}'
            extra = f", {_A_K[k]}"
            out = self._documents(c, k)
        elif typ == "EMBEDDING":
            inputs = f'{{"input": [{_jstr(c.question)}]}}'
            extra = f", {_A_MODEL['text-embedding-3-small']}, {_A_DIMS}"
            out = '{"dimensions": 1536}'
        elif typ == "RERANKER":
            inputs = f'{{"query": {_jstr(c.question)}, "top_n": 3}}'
            extra = f", {_A_MODEL['rerank-english-v3.0']}"
            top = round(0.6 + rng.random() * 0.39, 3)
            out = f'{{"scores": [{top}, {round(top / 2, 3)}]}}'
        elif typ == "PARSER":
            inputs = f'{{"text": {_jstr(_truncate(c.answer, 80))}}}'
            out = '{"valid": true}'
        else:  # TOOL: MLflow's @trace records the function name before the inputs
            inputs, out = self._tool_io(span.name.removeprefix("tool:"), c)
            out = f', "mlflow.spanOutputs": {_ea(out)}' if ok else ""
            return (
                f'{_A_FUNCTION[span.name]}, "mlflow.spanInputs": {_ea(inputs)}{out}, '
                f"{_A_LEVEL[typ]}"
            )
        out = f', "mlflow.spanOutputs": {_ea(out)}' if ok else ""
        return f'"mlflow.spanInputs": {_ea(inputs)}{extra}{out}, {_A_LEVEL[typ]}'

    def spans(
        self, app_i: int, app: _App, state: str, request_ms: int, c: _Content,
        model: str, trace_id: str, otel_tid: str,
    ) -> tuple[list[str], int, list[int], list[int]]:  # fmt: skip
        """Return the span texts, the duration (ms), the token usage and span sizes."""
        rng = self.rng
        spans = self._span_plan(app_i, app)
        start = request_ms * _MS_NS + int(rng.random() * _MS_NS)
        self._layout(spans, start, self._duration_ns(app, len(spans)))
        if state == "ERROR":
            spans = self._fail(spans, model)
        elif app.root_type == "AGENT" and len(spans) > 2 and rng.random() < 0.04:
            tools = [s for s in spans if s.type == "TOOL"]
            if tools:  # a tool error the agent caught and recovered from
                tools[0].error = self._error("TOOL", model)
        k = len(spans)
        raw = rng.getrandbits(64 * k).to_bytes(8 * k, "big")
        ids = [_b64(raw[8 * j : 8 * j + 8]) for j in range(k)]
        last_llm = max((i for i, s in enumerate(spans) if s.type == "LLM"), default=-1)
        llm_name = app.llm_name
        if llm_name == "ChatOpenAI" and model.startswith("claude"):
            llm_name = "ChatAnthropic"
        # Every span's first members: the otel trace id, and after the start time the
        # mlflow.traceRequestId attribute (the root puts mlflow.experimentId before).
        head = f'{{"trace_id": "{otel_tid}", "span_id": "'
        tid_attr = f'"mlflow.traceRequestId": "\\"{trace_id}\\""'
        usage = [0, 0, 0, 0]  # tokens in, out; cost in, out (micro-USD)
        texts: list[str] = []
        sizes: list[int] = []
        for i, s in enumerate(spans):
            if i == 0:
                role = "root"
                pre = f"{_A_EXPERIMENT}, {tid_attr}"
                parent = "null"
            else:
                pre = tid_attr
                parent = f'"{ids[s.parent]}"'
                role = ""
                if s.type == "LLM":
                    role = "final" if i == last_llm else s.name
                    if s.name == app.llm_name:
                        s.name = llm_name
            attrs = self._attributes(s, role, c, model, usage)
            if s.error is None:
                events, status = "", _STATUS_OK
            else:
                etype, msg = s.error
                stack = _ea(_stacktrace(app.name, s.name, etype, msg))
                events = (
                    f'{{"name": "exception", "time_unix_nano": {s.end}, "attributes": '
                    f'{{"exception.message": {_ea(msg)}, "exception.type": "{etype}", '
                    f'"exception.stacktrace": {stack}}}}}'
                )
                status = _STATUS_ERROR
            text = (
                f'{head}{ids[i]}", "parent_span_id": {parent}, "name": "{s.name}", '
                f'"start_time_unix_nano": {s.start}, "end_time_unix_nano": {s.end}, '
                f'"events": [{events}], {status}, "attributes": '
                f'{{"mlflow.spanStartTimeNs": "{s.start}", {pre}, {_A_TYPE[s.type]}, '
                f'{attrs}}}, "links": []}}'
            )
            texts.append(text)
            sizes.append(len(text))
        root = spans[0]
        sizes.sort()
        return texts, (root.end - root.start) // _MS_NS, usage, sizes
