"""One trace at a time: its app, user, session, time, state and metadata.

`_Generator` owns the one ``random.Random`` everything is drawn from and calls the
other stages (content, spans, assessments) in a fixed order, so the order of draws,
and with it the output, is the same on every machine.
"""

from __future__ import annotations

import bisect
import itertools
import random
from typing import Final

from polartrace.generate._apps import _APP_CUM, _APPS
from polartrace.generate._assessments import draw_assessments
from polartrace.generate._content import _Session, draw_content
from polartrace.generate._fragments import _LOCATION, _cost, _kv, _preview, _usage
from polartrace.generate._primitives import (
    _DAY_MS,
    _HOUR_MS,
    _WINDOW_DAYS,
    _b64,
    _percentile,
    _pick,
    _rfc3339,
)
from polartrace.generate._spans import _SpanWriter
from polartrace.generate._vocab import (
    _DEV_LOGINS,
    _ENV_CUM,
    _ENVS,
    _MODEL_CUM,
    _MODELS,
    _SESSION_LEN_CUM,
    _VOCAB,
)
from polartrace.values.conventions import (
    COST_KEY,
    PREVIEW_MAX_CHARS,
    SESSION_KEY,
    TOKEN_USAGE_KEY,
    USER_KEY,
)

_METADATA_CHARS: Final = 250  # MLflow's MAX_CHARS_IN_TRACE_INFO_METADATA
_STATES: Final = ("OK", "ERROR", "IN_PROGRESS")
_STATE_CUM: Final = (0.85, 0.97)


class _Generator:
    """Stateful trace factory: one per generator call, drawing from one RNG."""

    def __init__(self, seed: int, start_ms: int, span_range: tuple[int, int]) -> None:
        self.rng = rng = random.Random(seed)
        self.start_ms = start_ms
        names = [f"{f}.{g}" for f in _VOCAB["first_name"] for g in _VOCAB["last_name"]]
        rng.shuffle(names)
        self.users = [f"{u}@my_company.com" for u in names[:500]]
        # Zipf-Mandelbrot weights 1 / (rank + 10), in exact integers.
        self.user_cum = list(
            itertools.accumulate(1_000_000_000 // (r + 10) for r in range(1, 501))
        )
        self.runs = [f"{rng.getrandbits(128):032x}" for _ in range(40)]
        self.commits = [f"{rng.getrandbits(160):040x}" for _ in range(len(_APPS) * 5)]
        self.active: list[list[_Session]] = [[] for _ in _APPS]
        self.time_cum = self._traffic_curve(start_ms)
        self.span_writer = _SpanWriter(rng, span_range)

    @staticmethod
    def _traffic_curve(start_ms: int) -> list[int]:
        """Return cumulative integer traffic weights per hour (diurnal and weekday)."""
        hourly = (3, 2, 2, 2, 2, 3, 5, 8, 11, 13, 14, 14, 13, 14, 14, 13, 12, 11, 10, 9,
                  8, 6, 5, 4)  # fmt: skip
        cum = [0]
        for h in range(_WINDOW_DAYS * 24):
            t = start_ms + h * _HOUR_MS
            weekday = (t // _DAY_MS + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
            cum.append(
                cum[-1] + hourly[t // _HOUR_MS % 24] * (10 if weekday < 5 else 6)
            )
        return cum

    def _request_ms(self, i: int, n: int) -> int:
        pos = (i + self.rng.random() * 2.0 - 0.5) / n
        pos = min(max(pos, 0.0), 0.999_999_999)
        cum = self.time_cum
        target = pos * cum[-1]
        h = bisect.bisect_right(cum, target) - 1
        within = (target - cum[h]) / (cum[h + 1] - cum[h])
        return self.start_ms + h * _HOUR_MS + int(within * _HOUR_MS)

    def _session(self, app_i: int) -> _Session:
        """Continue one of the app's open sessions, or open a new one."""
        rng = self.rng
        active = self.active[app_i]
        if active and rng.random() < 0.7:
            j = int(rng.random() * len(active))
            s = active[j]
            s.remaining -= 1
            if s.remaining <= 0:
                del active[j]
            return s
        length = _pick(rng, _SESSION_LEN_CUM) + 1
        s = _Session(
            f"sess-{rng.getrandbits(64):016x}",
            self.users[_pick(rng, self.user_cum)],
            _ENVS[_pick(rng, _ENV_CUM)],
            length - 1,
        )
        if length > 1:
            active.append(s)
            if len(active) > 64:  # abandoned conversations
                del active[0]
        return s

    def trace(self, i: int, n: int) -> str:
        """Return trace ``i`` of ``n`` as the JSON text of its ``Trace.to_dict()``."""
        rng = self.rng
        app_i = _pick(rng, _APP_CUM)
        app = _APPS[app_i]
        session: _Session | None = None
        if app.conversational:
            session = self._session(app_i)
            user, env = session.user, session.env
        else:
            user = self.users[_pick(rng, self.user_cum)]
            env = _ENVS[_pick(rng, _ENV_CUM)]
        request_ms = self._request_ms(i, n)
        state = _STATES[bisect.bisect_right(_STATE_CUM, rng.random())]
        tid = rng.getrandbits(128)
        trace_id = f"tr-{tid:032x}"
        model = _MODELS[_pick(rng, _MODEL_CUM)]
        c = draw_content(rng, app, session)
        if session is not None:
            session.history.append((c.question, c.answer))
            del session.history[:-1]
        week = min((request_ms - self.start_ms) // (7 * _DAY_MS), 4)

        md = []  # trace_metadata members
        if env == "dev":
            login = _DEV_LOGINS[int(rng.random() * len(_DEV_LOGINS))]
            md.append(
                f'"mlflow.source.type": "NOTEBOOK", "mlflow.source.name": '
                f'"/Users/{login}/{app.name}_dev", "mlflow.user": "{login}"'
            )
        else:
            md.append(
                f'"mlflow.source.type": "LOCAL", "mlflow.source.name": '
                f'"/app/{app.name.replace(".", "_")}/server.py", '
                f'"mlflow.user": "svc-{app.team or "genai"}"'
            )
            if env == "staging":  # deployed from a checkout; production images aren't
                md.append(
                    f'"mlflow.source.git.commit": "{self.commits[app_i * 5 + week]}", '
                    '"mlflow.source.git.branch": "staging"'
                )
        md.append(f'"mlflow.trace_schema.version": "3", "{USER_KEY}": "{user}"')
        if session is not None:
            md.append(f'"{SESSION_KEY}": "{session.id}"')
        if rng.random() < 0.20:
            run = self.runs[int(rng.random() * len(self.runs))]
            md.append(f'"mlflow.sourceRun": "{run}"')
        info = [f'{{"info": {{"trace_id": "{trace_id}", ']
        if rng.random() < 0.60:
            info.append(f'"client_request_id": "req-{rng.getrandbits(48):012x}", ')
        info.append(_LOCATION)
        info.append(f', "request_time": "{_rfc3339(request_ms)}", "state": "{state}"')

        tags = [
            f'"mlflow.traceName": "{app.name}", "mlflow.artifactLocation": '
            f'"file:///mlruns/1/traces/{trace_id}/artifacts"'
        ]
        spans: list[str] = []
        tail = ""
        assessments: list[str] = []
        if state != "IN_PROGRESS":
            spans, duration_ms, usage, sizes = self.span_writer.spans(
                app_i, app, state, request_ms, c, model, trace_id,
                _b64(tid.to_bytes(16, "big")),
            )  # fmt: skip
            ok = state == "OK"
            inputs = _preview(c.root_in, c.root_in_j, _METADATA_CHARS)
            md.append(f'"mlflow.traceInputs": {inputs}')
            outputs = (
                _preview(c.root_out, c.root_out_j, _METADATA_CHARS) if ok else '""'
            )
            md.append(f'"mlflow.traceOutputs": {outputs}')
            in_tok, out_tok, in_micro, out_micro = usage
            if in_tok:
                md.append(_kv(TOKEN_USAGE_KEY, _usage(in_tok, out_tok)))
                md.append(_kv(COST_KEY, _cost(in_micro, out_micro)))
            total = sum(sizes) + 1200 + 2 * (len(c.root_in) + len(c.root_out))
            stats = (
                f'{{"total_size_bytes": {total}, "num_spans": {len(sizes)}, '
                f'"max": {sizes[-1]}, "p25": {_percentile(sizes, 0.25)}, '
                f'"p50": {_percentile(sizes, 0.5)}, "p75": {_percentile(sizes, 0.75)}}}'
            )
            md.append(f'"mlflow.trace.sizeBytes": "{total}"')
            md.append(_kv("mlflow.trace.sizeStats", stats))
            tags.append('"mlflow.trace.spansLocation": "TRACKING_STORE"')
            assessments = draw_assessments(
                rng, trace_id, request_ms + duration_ms, ok, c, session
            )
            preview = _preview(c.root_in, c.root_in_j, PREVIEW_MAX_CHARS)
            tail = f', "request_preview": {preview}'
            if ok:
                preview = _preview(c.root_out, c.root_out_j, PREVIEW_MAX_CHARS)
                tail += f', "response_preview": {preview}'
            tail += f', "execution_duration_ms": {duration_ms}'
        md.append('"mlflow.trace.infoFinalized": "true"')

        tags.append(f'"environment": "{env}"')
        if app.team is not None:
            tags.append(f'"team": "{app.team}"')
        if app.tags_version:
            tags.append(f'"version": "v{1 + app_i % 3}.{4 + app_i}.{week}"')
        if app.tags_model:
            tags.append(f'"model_name": "{model}"')
        if rng.random() < 0.10:
            version = 1 + week + int(rng.random() * 3)
            prompts = f'[{{"name": "{app.prompt}", "version": "{version}"}}]'
            tags.append(_kv("mlflow.linkedPrompts", prompts))

        info.append(', "trace_metadata": {')
        info.append(", ".join(md))
        if assessments:
            info.append('}, "assessments": [')
            info.append(", ".join(assessments))
            info.append('], "tags": {')
        else:
            info.append('}, "tags": {')
        info.append(", ".join(tags))
        info.append("}")
        info.append(tail)
        info.append('}, "data": {"spans": [')
        info.append(", ".join(spans))
        info.append("]}}")
        return "".join(info)
