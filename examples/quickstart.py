"""MLflow's tracing tutorial, end to end, in one process and with no server.

    pip install -e '.[openai]'   # from the repository root
    python examples/quickstart.py

1. Trace an app: ``@polartrace.trace`` on our functions, ``polartrace.openai.autolog()``
   for the LLM calls made through the official OpenAI client.
2. Tag each request with ``polartrace.update_current_trace``: the end user in
   metadata ``mlflow.trace.user``, the deployment in tag ``environment``.
3. Call the app three times: a quick call, a slow one, and one the model refuses.
4. Search the captured traces with every filter of MLflow's quick reference.

The LLM is a stand-in server on 127.0.0.1 that speaks the OpenAI chat-completions
protocol, so the example runs offline; point ``base_url`` at a real endpoint (and
set ``OPENAI_API_KEY``) and nothing else changes.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import openai

import polartrace
from polartrace.tracing.integrations._fake_openai_server import FakeOpenAIServer

SLOW_SECONDS = 0.6  # the slow request: well above the 500 ms searched for below
DOCS = {
    "tracing": "MLflow Tracing records the inputs, outputs and timing of each step.",
    "search": "search_traces filters traces by status, time, tags and metadata.",
}


def build_app(client: openai.OpenAI) -> Callable[[str, str], str]:
    @polartrace.trace(span_type="RETRIEVER")
    def retrieve(question: str) -> list[str]:
        if "slow" in question:
            time.sleep(SLOW_SECONDS)  # a cold cache, say
        words = set(question.lower().split())
        return [text for key, text in DOCS.items() if key in words] or list(
            DOCS.values()
        )

    @polartrace.trace(span_type="AGENT")
    def answer_question(question: str, user: str) -> str:
        polartrace.update_current_trace(
            metadata={"mlflow.trace.user": user},
            tags={"environment": "production"},
        )
        context = "\n".join(retrieve(question))
        response = client.chat.completions.create(
            model="gpt-4o-mini",
            temperature=0.1,
            messages=[
                {"role": "system", "content": f"Answer from this context:\n{context}"},
                {"role": "user", "content": question},
            ],
        )
        return response.choices[0].message.content or ""

    return answer_question


def run_app(server: FakeOpenAIServer) -> str:
    client = openai.OpenAI(base_url=server.base_url, api_key="offline", max_retries=0)
    answer_question = build_app(client)
    calls = [
        ("alice", "How does tracing work?"),
        ("bob", "Why is search slow on my slow laptop?"),
        ("carol", "Summarize this log: " + "ERROR disk full; " * 200),  # too long
    ]
    first_trace = ""
    for user, question in calls:
        try:
            answer = answer_question(question, user)
        except openai.BadRequestError as exc:
            answer = f"failed: {exc.code}"
        trace_id = polartrace.get_last_active_trace_id() or ""
        first_trace = first_trace or trace_id
        print(f"{user:<6} {trace_id}  {answer[:60]}")
    return first_trace


def search(label: str, filter_string: str, **kwargs: object) -> None:
    traces = polartrace.search_traces(
        filter_string=filter_string, return_type="list", **kwargs
    )
    users = [t.info.trace_metadata.get("mlflow.trace.user", "?") for t in traces]
    shown = filter_string or "(no filter)"
    print(f"{label:<20} {len(traces):>2}  {shown}  -> {', '.join(users)}")


def main() -> None:
    polartrace.openai.autolog()
    with FakeOpenAIServer() as server:
        print("== three requests ==")
        first_trace = run_app(server)

    # A reviewer liked the first answer: feedback is searchable too.
    polartrace.log_feedback(trace_id=first_trace, name="helpful", value="yes")

    now = datetime.now(UTC)
    five_minutes_ago = int((now - timedelta(minutes=5)).timestamp() * 1000)
    yesterday = (now - timedelta(days=1)).date().isoformat()
    tomorrow = (now + timedelta(days=1)).date().isoformat()

    print("\n== search the captured traces ==")
    search("ok", "status = 'OK'")
    search("error", "status = 'ERROR'")
    search("last 5 minutes", f"timestamp_ms > {five_minutes_ago}")
    search(
        "date range",
        f"timestamp_ms >= '{yesterday}' AND timestamp_ms < '{tomorrow}'",
    )
    search("slow", "execution_time_ms > 500")
    search("slow (latency)", "latency > 500")
    search("user alice", "metadata.`mlflow.trace.user` = 'alice'")
    search("production", "tags.environment = 'production'")
    search("by trace name", "tags.`mlflow.traceName` = 'answer_question'")
    search(
        "fast ok in prod",
        "status = 'OK' AND tags.environment = 'production' AND latency < 500",
    )
    search(
        "llm calls",
        "span.type = 'CHAT_MODEL' AND span.attributes.model = 'gpt-4o-mini'",
    )
    search("helpful", "feedback.helpful = 'yes'")
    search("slowest first", "", order_by=["execution_time_ms DESC"], max_results=1)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "traces.jsonl"
        saved = polartrace.get_store().save(path)
        again = polartrace.count(polartrace.read_traces(path), "status = 'ERROR'")
        print(f"\nsaved {saved} traces to JSONL; read back, {again} with status ERROR")


if __name__ == "__main__":
    main()
