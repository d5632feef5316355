"""A tiny stand-in for the OpenAI chat-completions endpoint, for examples and tests.

`FakeOpenAIServer` serves ``POST /v1/chat/completions`` on 127.0.0.1 from a thread,
answering in OpenAI's JSON format, or as a server-sent-event stream when the
request says ``"stream": true``. Point the real ``openai`` client at it::

    with FakeOpenAIServer() as server:
        client = OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)

The answer is ``"Stand-in answer to: <last user message>"``; token counts are word
counts. A prompt longer than ``max_prompt_chars`` is refused with HTTP 400
``context_length_exceeded``, as a real model refuses an over-long prompt, so that a
failing call can be demonstrated without a network.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["FakeOpenAIServer"]


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts
        return " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return ""


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: examples and tests print their own output."""

    def _send_json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        """Answer a chat-completions request."""
        length = int(self.headers.get("Content-Length") or 0)
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            request = None
        if self.path.rstrip("/") != "/v1/chat/completions" or not isinstance(
            request, dict
        ):
            error = {
                "message": f"no route {self.path}",
                "type": "invalid_request_error",
            }
            self._send_json(404, {"error": error})
            return
        self.server.requests.append(request)
        if self.server.delay:
            time.sleep(self.server.delay)
        messages = request.get("messages") or []
        prompt = " ".join(
            _text(m.get("content")) for m in messages if isinstance(m, dict)
        )
        if len(prompt) > self.server.max_prompt_chars:
            error = {
                "message": f"This model's maximum context length is "
                f"{self.server.max_prompt_chars} characters; "
                f"the prompt has {len(prompt)}.",
                "type": "invalid_request_error",
                "param": "messages",
                "code": "context_length_exceeded",
            }
            self._send_json(400, {"error": error})
            return
        users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
        question = _text(users[-1].get("content")) if users else ""
        answer = f"Stand-in answer to: {question}"
        usage = {
            "prompt_tokens": len(prompt.split()),
            "completion_tokens": len(answer.split()),
            "total_tokens": len(prompt.split()) + len(answer.split()),
        }
        base = {
            "id": f"chatcmpl-{len(self.server.requests):06d}",
            "created": int(time.time()),
            "model": str(request.get("model", "stand-in")),
            "system_fingerprint": "fp_stand_in",
        }
        if request.get("stream"):
            include_usage = bool(
                (request.get("stream_options") or {}).get("include_usage")
            )
            self._stream(base, answer, usage if include_usage else None)
            return
        message = {"role": "assistant", "content": answer}
        choice = {
            "index": 0,
            "message": message,
            "finish_reason": "stop",
            "logprobs": None,
        }
        self._send_json(
            200,
            {**base, "object": "chat.completion", "choices": [choice], "usage": usage},
        )

    def _stream(self, base: dict[str, Any], answer: str, usage: Any) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()
        chunk = {**base, "object": "chat.completion.chunk"}
        words = answer.split(" ")
        deltas = [{"role": "assistant", "content": ""}]
        deltas += [{"content": w if i == 0 else " " + w} for i, w in enumerate(words)]
        events = [
            {**chunk, "choices": [{"index": 0, "delta": d, "finish_reason": None}]}
            for d in deltas
        ]
        events.append(
            {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        )
        if usage is not None:
            events.append({**chunk, "choices": [], "usage": usage})
        for event in events:
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    requests: list[dict[str, Any]]
    delay: float
    max_prompt_chars: int


class FakeOpenAIServer:
    """A local chat-completions server on 127.0.0.1, running in a daemon thread.

    Attributes:
        requests: The JSON body of every chat-completions request received.

    Example:
        >>> with FakeOpenAIServer() as server:
        ...     server.base_url.startswith("http://127.0.0.1:")
        True
    """

    def __init__(
        self, *, port: int = 0, delay: float = 0.0, max_prompt_chars: int = 2000
    ) -> None:
        """Bind the server (port 0: any free port); `start` begins serving.

        Args:
            port: The TCP port on 127.0.0.1.
            delay: Seconds to wait before answering each request.
            max_prompt_chars: Longer prompts get HTTP 400 ``context_length_exceeded``.
        """
        self._server = _Server(("127.0.0.1", port), _Handler)
        self._server.requests = []
        self._server.delay = delay
        self._server.max_prompt_chars = max_prompt_chars
        self._thread: threading.Thread | None = None

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The JSON body of every chat-completions request received."""
        return self._server.requests

    @property
    def base_url(self) -> str:
        """The URL to pass as the OpenAI client's ``base_url``."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def start(self) -> FakeOpenAIServer:
        """Serve requests from a daemon thread; returns ``self``."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="fake-openai-server",
                daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> FakeOpenAIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
