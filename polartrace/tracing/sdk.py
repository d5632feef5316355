"""Capture traces in-process, as MLflow's tracing API does, with no server.

Decorate a function with `trace` or open a `start_span` block, and every call
becomes a span; calls made inside it become its children. When the outermost span
ends, the finished `polartrace.Trace` lands in the in-memory `TraceStore`, which
`polartrace.search_traces` searches when it is given no traces:

>>> import polartrace
>>> @polartrace.trace(span_type="CHAIN")
... def add(x, y=1):
...     return x + y
>>> add(2)
3
>>> trace = polartrace.get_trace(polartrace.get_last_active_trace_id())
>>> trace.info.state.value, trace.data.spans[0].inputs, trace.data.spans[0].outputs
('OK', {'x': 2, 'y': 1}, 3)

The active span is a `contextvars` variable: a new thread starts outside any span,
and an asyncio task starts inside the span that was active when it was created.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import inspect
import os
import warnings
from collections.abc import AsyncGenerator, Callable, Generator, Iterator, Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Any, TypeVar, overload

import attrs

from polartrace.model.trace import SpanType, Trace, TraceState
from polartrace.tracing.assessments import (
    log_expectation,
    log_feedback,
    override_feedback,
    string_map,
)
from polartrace.tracing.encode import exception_event
from polartrace.tracing.live import (
    ACTIVE_SPAN,
    FUNCTION_NAME,
    LiveSpan,
    TracingWarning,
    last_trace_id,
)
from polartrace.tracing.store import TraceStore, get_store
from polartrace.tracing.tags import delete_trace_tag, set_trace_tag
from polartrace.values.errors import TraceNotFoundError, TracingError

__all__ = [
    "LiveSpan",
    "TraceNotFoundError",
    "TraceStore",
    "TracingError",
    "TracingWarning",
    "delete_trace_tag",
    "get_current_active_span",
    "get_last_active_trace_id",
    "get_store",
    "get_trace",
    "log_expectation",
    "log_feedback",
    "override_feedback",
    "set_trace_tag",
    "start_span",
    "start_span_no_context",
    "trace",
    "update_current_trace",
]

F = TypeVar("F", bound=Callable[..., Any])
_T = TypeVar("_T")


# --- spans -------------------------------------------------------------------------


def get_current_active_span() -> LiveSpan | None:
    """Return the span active in this context, or ``None`` outside any span.

    Example:
        >>> get_current_active_span() is None
        True
        >>> with start_span("outer") as span:
        ...     get_current_active_span() is span
        True
    """
    return ACTIVE_SPAN.get()


def get_last_active_trace_id(thread_local: bool = False) -> str | None:
    """Return the id of the last trace that finished, or ``None``.

    Args:
        thread_local: Only a trace finished in this thread (or asyncio task
            context); by default the last one in the whole process.

    Example:
        >>> with start_span("step") as span:
        ...     pass
        >>> get_last_active_trace_id() == span.trace_id
        True
    """
    return last_trace_id(thread_local=thread_local)


def start_span_no_context(
    name: str,
    span_type: str | None = SpanType.UNKNOWN,
    *,
    parent: LiveSpan | None = None,
    inputs: Any = None,
    attributes: Mapping[str, Any] | None = None,
) -> LiveSpan:
    """Start a span without making it active; the caller must call ``span.end()``.

    This is for work that outlives the current block, such as a response stream
    consumed after the call that made it returned.

    Args:
        name: The span name.
        span_type: A `polartrace.model.trace.SpanType` or any string.
        parent: The parent span; ``None`` starts a new trace.
        inputs: Inputs to record, unless ``None``.
        attributes: Attributes to record.

    Returns:
        The running span.

    Example:
        >>> span = start_span_no_context("stream", inputs={"n": 3})
        >>> get_current_active_span() is None
        True
        >>> span.end(outputs=[1, 2, 3])
        >>> get_trace(span.trace_id).data.spans[0].outputs
        [1, 2, 3]
    """
    span = LiveSpan(name, span_type, parent, attributes)
    if inputs is not None:
        span.set_inputs(inputs)
    return span


class _SpanScope:
    """The context manager `start_span` returns: activates a span, ends it on exit."""

    def __init__(
        self, name: str, span_type: str | None, attributes: Mapping[str, Any] | None
    ) -> None:
        self._args = (name, span_type, attributes)
        self._span: LiveSpan | None = None
        self._token: contextvars.Token[LiveSpan | None] | None = None

    def __enter__(self) -> LiveSpan:
        name, span_type, attributes = self._args
        self._span = LiveSpan(name, span_type, ACTIVE_SPAN.get(), attributes)
        self._token = ACTIVE_SPAN.set(self._span)
        return self._span

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        span, token = self._span, self._token
        if span is None or token is None:
            msg = "start_span: __exit__ called without __enter__"
            raise RuntimeError(msg)
        try:
            ACTIVE_SPAN.reset(token)
        except ValueError:  # exited in another context, e.g. a finalized generator
            if ACTIVE_SPAN.get() is span:
                old = token.old_value
                ACTIVE_SPAN.set(None if old is contextvars.Token.MISSING else old)
        if exc is not None and not isinstance(exc, GeneratorExit):
            span.record_exception(exc)
        span.end()


def start_span(
    name: str = "span",
    span_type: str | None = SpanType.UNKNOWN,
    attributes: Mapping[str, Any] | None = None,
) -> AbstractContextManager[LiveSpan]:
    """Open a span for a block of code; spans opened inside it become its children.

    An exception leaving the block sets the span's status to ERROR, records an
    ``exception`` event and propagates unchanged. The outermost span's end finishes
    the trace.

    Args:
        name: The span name (the trace name when it is the outermost span).
        span_type: A `polartrace.model.trace.SpanType` or any string.
        attributes: Attributes to record at the start.

    Returns:
        A context manager whose ``with`` value is the `LiveSpan`.

    Example:
        >>> with start_span("retrieve", span_type="RETRIEVER") as span:
        ...     span.set_inputs({"query": "polars"})
        ...     span.set_outputs(["doc-1"])
        >>> get_trace(span.trace_id).data.spans[0].span_type
        'RETRIEVER'
    """
    return _SpanScope(name, span_type, attributes)


def _signature(fn: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):  # some builtins have none
        return None


def _inputs(
    signature: inspect.Signature | None, args: Any, kwargs: Any
) -> dict[str, Any] | None:
    # capture_function_input_args: bound arguments with defaults, without self/cls.
    if signature is None:
        return None
    try:
        bound = signature.bind(*args, **kwargs)
    except TypeError:  # a bad call: the function raises it itself
        return None
    bound.apply_defaults()
    arguments = dict(bound.arguments)
    if arguments.get("self") is not None:
        del arguments["self"]
    if isinstance(arguments.get("cls"), type) and next(iter(arguments)) == "cls":
        del arguments["cls"]
    return arguments


@overload
def trace(func: F, /) -> F: ...


@overload
def trace(
    func: None = None,
    name: str | None = None,
    span_type: str = SpanType.UNKNOWN,
    attributes: Mapping[str, Any] | None = None,
    output_reducer: Callable[[list[Any]], Any] | None = None,
) -> Callable[[F], F]: ...


def trace(
    func: Callable[..., Any] | None = None,
    name: str | None = None,
    span_type: str = SpanType.UNKNOWN,
    attributes: Mapping[str, Any] | None = None,
    output_reducer: Callable[[list[Any]], Any] | None = None,
) -> Any:
    """Record every call of a function as a span, with its arguments and result.

    Works on plain and ``async`` functions and on (async) generator functions,
    with or without arguments (``@trace`` or ``@trace(name=...)``). Inputs are the
    bound arguments by name, defaults included and ``self`` left out; outputs are
    the return value. For a generator the span covers the whole iteration, each
    item is recorded as an ``mlflow.chunk.item.<i>`` event, and the outputs are the
    list of items (or ``output_reducer(items)``). An exception marks the span
    ERROR and propagates unchanged.

    Args:
        func: The function, when used as ``@trace`` or ``trace(fn)``.
        name: The span name; the function's ``__name__`` by default.
        span_type: A `polartrace.model.trace.SpanType` or any string.
        attributes: Attributes set on every span of this function.
        output_reducer: For generators: turns the list of items into the outputs.

    Returns:
        The wrapped function, or a decorator when ``func`` is not given.

    Example:
        >>> @trace(name="tokens", span_type="PARSER")
        ... def tokens(text):
        ...     yield from text.split()
        >>> list(tokens("a b"))
        ['a', 'b']
        >>> span = get_trace(get_last_active_trace_id()).data.spans[0]
        >>> span.name, span.span_type, span.outputs
        ('tokens', 'PARSER', ['a', 'b'])
    """

    def decorate(fn: F) -> F:
        function_name = str(getattr(fn, "__name__", "span"))
        extra = {**(attributes or {}), FUNCTION_NAME: function_name}
        options = _Options(
            name or function_name, span_type, extra, output_reducer, _signature(fn)
        )
        if inspect.isasyncgenfunction(fn):
            agen = _async_generator_wrapper(fn, options)
            return functools.wraps(fn)(agen)  # type: ignore[return-value]
        if inspect.isgeneratorfunction(fn):
            gen = _generator_wrapper(fn, options)
            return functools.wraps(fn)(gen)  # type: ignore[return-value]
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with options.call_span(args, kwargs) as span:
                    result = await fn(*args, **kwargs)
                    span.set_outputs(result)
                    return result

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with options.call_span(args, kwargs) as span:
                result = fn(*args, **kwargs)
                span.set_outputs(result)
                return result

        return wrapper  # type: ignore[return-value]

    return decorate if func is None else decorate(func)


@attrs.frozen
class _Options:
    """What `trace` was given, shared by the wrappers of every kind of function."""

    name: str
    span_type: str
    attributes: dict[str, Any]
    reducer: Callable[[list[Any]], Any] | None
    signature: inspect.Signature | None

    @contextlib.contextmanager
    def call_span(self, args: Any, kwargs: Any) -> Iterator[LiveSpan]:
        """Open the active span of one call of a plain or ``async`` function."""
        with start_span(self.name, self.span_type, self.attributes) as span:
            if (inputs := _inputs(self.signature, args, kwargs)) is not None:
                span.set_inputs(inputs)
            yield span


class _Stream:
    """The span of one (async) generator call: its items, activation and end.

    The sync and async wrappers differ only in ``send``/``asend`` and ``await``,
    which Python cannot abstract over, so they keep their own drive loops and
    share everything else through this object.
    """

    def __init__(self, options: _Options, args: Any, kwargs: Any) -> None:
        self.span = start_span_no_context(
            options.name,
            options.span_type,
            parent=ACTIVE_SPAN.get(),
            inputs=_inputs(options.signature, args, kwargs),
            attributes=options.attributes,
        )
        self.reducer = options.reducer
        self.items: list[Any] = []
        # What the consumer passed in at the last ``yield``, for the next step.
        self.sent: Any = None
        self.thrown: BaseException | None = None

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        """Make the span active while the generator body runs, and only then."""
        token = ACTIVE_SPAN.set(self.span)
        try:
            yield
        finally:
            ACTIVE_SPAN.reset(token)

    def resume(
        self, send: Callable[[Any], _T], throw: Callable[[BaseException], _T]
    ) -> _T:
        """Pass on what the consumer sent or threw; the result of ``send``/``throw``.

        Given ``asend``/``athrow`` the result is an awaitable, so both wrappers
        share this one step.
        """
        sent, thrown = self.sent, self.thrown
        self.sent, self.thrown = None, None
        return send(sent) if thrown is None else throw(thrown)

    def record(self, item: Any) -> Any:
        """Record ``item`` as the next chunk event and return it."""
        self.span.add_chunk_event(len(self.items), item)
        self.items.append(item)
        return item

    def finish(self) -> None:
        """End the span with the items (or what the reducer makes of them)."""
        outputs: Any = self.items
        if self.reducer is not None:
            try:
                outputs = self.reducer(self.items)
            except Exception as exc:
                self.span.add_event(exception_event(exc))
        self.span.end(outputs=outputs)

    @contextlib.contextmanager
    def call(self) -> Iterator[_Stream]:
        """Wrap a whole call: the span ends however the generator stops."""
        try:
            yield self
        except GeneratorExit:  # the consumer stopped early: keep the items it got
            self.finish()
            raise
        except BaseException as exc:
            self.span.record_exception(exc)
            self.span.end()
            raise


def _generator_wrapper(
    fn: Callable[..., Generator[Any, Any, Any]],
    options: _Options,
) -> Callable[..., Generator[Any, Any, Any]]:
    def wrapper(*args: Any, **kwargs: Any) -> Generator[Any, Any, Any]:
        with _Stream(options, args, kwargs).call() as stream:
            generator = fn(*args, **kwargs)
            while True:
                try:
                    with stream.running():
                        item = stream.resume(generator.send, generator.throw)
                except StopIteration as stop:
                    stream.finish()
                    return stop.value
                try:
                    stream.sent = yield stream.record(item)
                except GeneratorExit:
                    generator.close()
                    raise
                except BaseException as exc:
                    stream.thrown = exc

    return wrapper


def _async_generator_wrapper(
    fn: Callable[..., AsyncGenerator[Any, Any]],
    options: _Options,
) -> Callable[..., AsyncGenerator[Any, Any]]:
    async def wrapper(*args: Any, **kwargs: Any) -> AsyncGenerator[Any, Any]:
        with _Stream(options, args, kwargs).call() as stream:
            generator = fn(*args, **kwargs)
            while True:
                try:
                    with stream.running():
                        item = await stream.resume(generator.asend, generator.athrow)
                except StopAsyncIteration:
                    stream.finish()
                    return
                try:
                    stream.sent = yield stream.record(item)
                except GeneratorExit:
                    await generator.aclose()
                    raise
                except BaseException as exc:
                    stream.thrown = exc

    return wrapper


# --- the current trace ----------------------------------------------------------------

_STATES = (TraceState.OK, TraceState.ERROR)


def update_current_trace(
    tags: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    client_request_id: str | None = None,
    request_preview: str | None = None,
    response_preview: str | None = None,
    state: TraceState | str | None = None,
) -> None:
    """Add tags and metadata to the trace of the active span, or override its fields.

    Outside any span this does nothing but emit a `TracingWarning` (MLflow logs a
    warning). Non-string tag and metadata values are stored as their ``str()``.

    Args:
        tags: Tags to merge in, e.g. ``{"environment": "production"}``.
        metadata: Metadata to merge in, e.g. ``{"mlflow.trace.user": "alice"}``
            or ``{"mlflow.trace.session": "s-1"}``.
        client_request_id: The caller's own id for this request.
        request_preview: Replaces the preview computed from the root inputs.
        response_preview: Replaces the preview computed from the root outputs.
        state: ``"OK"`` or ``"ERROR"``, overriding the root span's status.

    Raises:
        TracingError: For a preview that is not a string or another state.

    Example:
        >>> with start_span("answer") as span:
        ...     update_current_trace(tags={"environment": "production"},
        ...                          metadata={"mlflow.trace.user": "alice"})
        >>> info = get_trace(span.trace_id).info
        >>> info.tags["environment"], info.trace_metadata["mlflow.trace.user"]
        ('production', 'alice')
    """
    for label, preview in (
        ("request", request_preview),
        ("response", response_preview),
    ):
        if preview is not None and not isinstance(preview, str):
            msg = f"{label}_preview must be a str, not {type(preview).__name__}"
            raise TracingError(msg)
    new_state = None
    if state is not None:
        new_state = TraceState(state) if str(state) in _STATES else None
        if new_state is None:
            msg = f"state must be 'OK' or 'ERROR', not {state!r}"
            raise TracingError(msg)
    new_tags, new_metadata = string_map(tags, "tags"), string_map(metadata, "metadata")
    span = ACTIVE_SPAN.get()
    if span is None:
        warnings.warn(
            "update_current_trace: no active trace; call it inside a function "
            "decorated with @polartrace.trace or a polartrace.start_span block",
            TracingWarning,
            stacklevel=2,
        )
        return
    live = span._trace
    with live.lock:
        live.tags.update(new_tags)
        live.metadata.update(new_metadata)
        if client_request_id is not None:
            live.client_request_id = str(client_request_id)
        if request_preview is not None:
            live.request_preview = request_preview
        if response_preview is not None:
            live.response_preview = response_preview
        if new_state is not None:
            live.state = new_state
        if live.published:  # a late child span of a finished trace
            live.publish()


def get_trace(trace_id: str, *, traces: Any = None) -> Trace | None:
    """Return the trace with this id, or ``None`` if there is none (as in MLflow).

    Args:
        trace_id: The trace id (``tr-...``).
        traces: Where to look: a ``TraceFrame``, an iterable of ``Trace``, a path or
            database URL (read with `polartrace.read_traces`), or ``None`` for the
            finished traces of the in-memory store.

    Returns:
        The trace, or ``None``.

    Example:
        >>> get_trace("tr-00000000000000000000000000000000") is None
        True
        >>> from polartrace.testing import example_traces
        >>> found = get_trace("tr-00000000000000000000000000000002",
        ...                   traces=example_traces())
        >>> found.info.state.value
        'ERROR'
    """
    if traces is None:
        return get_store().get_trace(trace_id)
    from polartrace.frame.trace_frame import TraceFrame

    if isinstance(traces, TraceFrame):
        return traces.get_trace(trace_id)
    if isinstance(traces, str | os.PathLike):
        from polartrace.io import read_traces

        return read_traces(traces).get_trace(trace_id)
    if isinstance(traces, Trace):
        traces = [traces]
    return next((t for t in traces if t.info.trace_id == trace_id), None)
