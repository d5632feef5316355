"""Trace the ``openai`` client's chat completions, as ``mlflow.openai.autolog`` does.

After `autolog`, every ``client.chat.completions.create(...)`` call, sync or async,
becomes a ``CHAT_MODEL`` span named after the resource class (``Completions`` or
``AsyncCompletions``), a child of the active span or the root of a new trace:

- inputs: the call's keyword arguments (``messages``, ``model``, ...);
- attributes: every argument except ``messages`` (so ``model``, ``temperature``,
  ``max_tokens`` ... are searchable as ``span.attributes.model``), plus
  ``mlflow.message.format = "openai"`` and ``mlflow.chat.tools`` when tools are given;
- outputs: the ``ChatCompletion``; for ``stream=True`` the completion reassembled
  from the chunks, each chunk also recorded as an ``mlflow.chunk.item.<i>`` event;
- ``mlflow.chat.tokenUsage``: ``{"input_tokens", "output_tokens", "total_tokens"}``
  from the response's ``usage`` (for streams, when the server sends it, that is with
  ``stream_options={"include_usage": True}``);
- an API error marks the span ERROR and propagates unchanged.

A streamed span ends when the stream is exhausted or closed (or garbage-collected),
not when ``create`` returns. Tracing never changes what the client returns, and a
failure inside tracing never breaks the call.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Final

from polartrace.tracing.live import LiveSpan
from polartrace.tracing.sdk import get_current_active_span, start_span_no_context
from polartrace.values.conventions import (
    CHAT_USAGE_KEY,
    LLM_MODEL_KEY,
    LLM_PROVIDER_KEY,
)

__all__ = ["autolog"]

_SPAN_TYPE: Final = "CHAT_MODEL"
_METHOD: Final = "create"
_NOT_ATTRIBUTES: Final = ("messages", "input")
_LOCK = threading.Lock()
# (class, method name) -> the original function, while patched.
_ORIGINALS: dict[tuple[type, str], Any] = {}


def autolog(disable: bool = False) -> None:
    """Trace the OpenAI client's chat completions (or stop tracing them).

    Patching is process-wide and idempotent: clients created before or after the
    call are traced alike.

    Args:
        disable: Remove the patches instead, restoring the client's own methods.

    Raises:
        ImportError: If the ``openai`` package (1.0 or later) is not installed
            (``pip install 'openai>=1.40'``).

    Example:
        >>> import polartrace.openai  # doctest: +SKIP
        >>> polartrace.openai.autolog()  # doctest: +SKIP
    """
    try:
        from openai.resources.chat.completions import (
            AsyncCompletions,
            Completions,
        )
    except ImportError as exc:
        msg = (
            "polartrace.openai.autolog needs the openai package (1.0 or later): "
            "pip install 'openai>=1.40'"
        )
        raise ImportError(msg) from exc
    with _LOCK:
        if disable:
            for (cls, method), original in _ORIGINALS.items():
                setattr(cls, method, original)
            _ORIGINALS.clear()
            return
        for cls, patch in (
            (Completions, _patch_sync),
            (AsyncCompletions, _patch_async),
        ):
            if (cls, _METHOD) not in _ORIGINALS:
                original = cls.__dict__[_METHOD]
                _ORIGINALS[(cls, _METHOD)] = original
                setattr(cls, _METHOD, patch(original))


def _start(instance: Any, kwargs: dict[str, Any]) -> LiveSpan | None:
    try:
        attributes = {k: v for k, v in kwargs.items() if k not in _NOT_ATTRIBUTES}
        attributes["mlflow.message.format"] = "openai"
        # As MLflow's autolog: the model asked for and the provider, which the
        # span.model and span.provider fields read.
        if isinstance(model := kwargs.get("model"), str):
            attributes[LLM_MODEL_KEY] = model
        attributes[LLM_PROVIDER_KEY] = "openai"
        if isinstance(tools := kwargs.get("tools"), list | tuple):
            attributes["mlflow.chat.tools"] = list(tools)
        return start_span_no_context(
            type(instance).__name__,
            _SPAN_TYPE,
            parent=get_current_active_span(),
            inputs=dict(kwargs),
            attributes=attributes,
        )
    except Exception:
        return None


def _fail(span: LiveSpan, exc: BaseException) -> None:
    try:
        span.record_exception(exc)
        span.end()
    except Exception:
        pass


@contextlib.contextmanager
def _call_span(instance: Any, kwargs: dict[str, Any]) -> Iterator[LiveSpan | None]:
    """Open the span of one ``create`` call (``None`` if tracing failed to start).

    An exception from the call marks the span ERROR and propagates; the caller
    ends the span with the result, outside the block, as `_finish`.
    """
    span = _start(instance, kwargs)
    try:
        yield span
    except BaseException as exc:
        if span is not None:
            _fail(span, exc)
        raise


def _patch_sync(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _call_span(self, kwargs) as span:
            result = original(self, *args, **kwargs)
        if span is not None:
            _finish(span, result)
        return result

    return create


def _patch_async(original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    async def create(self: Any, *args: Any, **kwargs: Any) -> Any:
        with _call_span(self, kwargs) as span:
            result = await original(self, *args, **kwargs)
        if span is not None:
            _finish(span, result)
        return result

    return create


def _get(obj: Any, key: str) -> Any:
    return obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)


def _usage(response: Any) -> dict[str, int] | None:
    usage = _get(response, "usage")
    if usage is None:
        return None
    values = (
        _get(usage, "prompt_tokens"),
        _get(usage, "completion_tokens"),
        _get(usage, "total_tokens"),
    )
    if not all(isinstance(v, int) for v in values):
        return None
    return dict(
        zip(("input_tokens", "output_tokens", "total_tokens"), values, strict=True)
    )


def _end_with(span: LiveSpan, output: Any) -> None:
    if (usage := _usage(output)) is not None:
        span.set_attribute(CHAT_USAGE_KEY, usage)
    span.end(outputs=output)


def _finish(span: LiveSpan, result: Any) -> None:
    try:
        import openai

        parsed = result
        legacy = getattr(openai, "_legacy_response", None)
        if legacy is not None and isinstance(result, legacy.LegacyAPIResponse):
            parsed = result.parse()  # cached: the caller's parse() gets the same object
        if isinstance(parsed, openai.Stream | openai.AsyncStream):
            _watch_stream(span, parsed, is_async=isinstance(parsed, openai.AsyncStream))
        else:
            _end_with(span, parsed)
    except Exception:
        span.end()


def _assemble(chunks: list[Any]) -> Any:
    """Rebuild the ``ChatCompletion`` the chunks of a stream stand for, as MLflow."""
    if not chunks:
        return None
    texts, finish_reason, usage = [], "stop", None
    for chunk in chunks:
        choices = _get(chunk, "choices") or []
        if choices:
            content = _get(_get(choices[0], "delta"), "content")
            if isinstance(content, str):
                texts.append(content)
            finish_reason = _get(choices[0], "finish_reason") or finish_reason
        usage = _get(chunk, "usage") or usage
    last = chunks[-1]
    usage_dict = getattr(usage, "model_dump", lambda: usage)()
    completion = {
        "id": _get(last, "id"),
        "choices": [
            {
                "finish_reason": finish_reason,
                "index": 0,
                "logprobs": None,
                "message": {"content": "".join(texts), "role": "assistant"},
            }
        ],
        "created": _get(last, "created"),
        "model": _get(last, "model"),
        "object": "chat.completion",
        "system_fingerprint": _get(last, "system_fingerprint"),
        "usage": usage_dict,
    }
    try:
        from openai.types.chat import ChatCompletion

        return ChatCompletion.model_validate(completion)
    except Exception:
        return completion


class _StreamEnd:
    """Ends a streamed span once: on exhaustion, error, close or garbage collection.

    Both stream kinds share it; only the iteration (``for`` or ``async for``) and
    ``close`` (plain or awaited) differ, and Python cannot abstract over those.
    """

    def __init__(self, span: LiveSpan) -> None:
        self.span = span
        self.chunks: list[Any] = []
        self.done = False

    def add(self, chunk: Any) -> Any:
        self.span.add_chunk_event(len(self.chunks), chunk)
        self.chunks.append(chunk)
        return chunk

    def finish(self, error: BaseException | None = None) -> None:
        if self.done:
            return
        self.done = True
        if error is not None:
            _fail(self.span, error)
            return
        try:
            _end_with(self.span, _assemble(self.chunks))
        except Exception:
            self.span.end()

    @contextlib.contextmanager
    def ending(self) -> Iterator[None]:
        """End the span however the iteration inside the block stops."""
        try:
            yield
        except GeneratorExit:  # the consumer stopped: keep the chunks it got
            self.finish()
            raise
        except BaseException as exc:
            self.finish(exc)
            raise
        self.finish()

    def watch(self, iterator: Iterator[Any]) -> Iterator[Any]:
        with self.ending():
            for chunk in iterator:
                yield self.add(chunk)

    async def watch_async(self, iterator: AsyncIterator[Any]) -> AsyncIterator[Any]:
        with self.ending():
            async for chunk in iterator:
                yield self.add(chunk)


def _watch_stream(span: LiveSpan, stream: Any, *, is_async: bool) -> None:
    """Record the chunks of an ``openai.Stream`` or ``AsyncStream`` as it is read."""
    end = _StreamEnd(span)
    if not hasattr(stream, "_iterator"):
        end.finish()
        return
    close = stream.close
    if is_async:
        stream._iterator = end.watch_async(stream._iterator)

        async def close_and_end_async() -> None:
            end.finish()
            await close()

        stream.close = close_and_end_async
    else:
        stream._iterator = end.watch(stream._iterator)

        def close_and_end() -> None:
            end.finish()
            close()

        stream.close = close_and_end
