"""The one wrapping engine every provider instrumentor uses.

A provider module describes each API call as an `Operation`: how to read the request
(span name and start attributes), the response, and a stream chunk. The engine does the
rest, identically for every provider: start a CLIENT span, call the library, record
errors, end the span exactly once, and hand streams back wrapped in a transparent proxy.

Rules it keeps (ARCHITECTURE.md §4, §7): nothing raises into user code, the return value is
the library's own object (streams are `wrapt.ObjectProxy`s, so `isinstance` still holds),
the span is not current while the user iterates a stream, and a span that is not recording
gets no response or stream work (its request attributes are read before it starts).
"""

from __future__ import annotations

import contextlib
import contextvars
import inspect
import logging
import time
from typing import Any, Callable, Iterator

import wrapt
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from opik_otel import semconv as sc
from opik_otel._content import ContentPolicy  # noqa: F401 - re-exported; the content switch lives in the core
from opik_otel._errors import record_error
from opik_otel._model_call import claim_model_call

logger = logging.getLogger(__name__)

Attributes = dict[str, Any]

# Set while an instrumented call runs, so a call the library makes to itself
# (`parse` → `create`, a per-client wrapper over a class-level one) adds no second span.
_INSIDE_CALL: contextvars.ContextVar[bool] = contextvars.ContextVar("opik_otel_inside_call", default=False)

try:  # the key moved between opentelemetry versions
    from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY as SUPPRESS_INSTRUMENTATION_KEY
except ImportError:  # pragma: no cover
    from opentelemetry.instrumentation.utils import _SUPPRESS_INSTRUMENTATION_KEY as SUPPRESS_INSTRUMENTATION_KEY


class StreamState:
    """Accumulates what a stream says, chunk by chunk. Subclass per provider."""

    __slots__ = ()

    def on_chunk(self, chunk: Any) -> None:  # pragma: no cover - interface
        """Record one chunk. Must be cheap: it runs on the user's thread per chunk."""

    def attributes(self) -> Attributes:  # pragma: no cover - interface
        """The response attributes, computed once when the stream ends."""
        return {}

    def on_end(self, stream: Any) -> None:
        """Called once with the library's stream object as the stream ends, before `attributes()`."""


class Operation:
    """How to read one kind of API call. Subclass per provider operation."""

    operation_name: str = sc.GenAiOperation.CHAT
    #: The names of the method's leading parameters a caller may pass positionally (most SDK
    #: methods are keyword-only and leave this empty): read as if they were named.
    positional: tuple[str, ...] = ()

    def arguments(self, args: tuple, kwargs: dict[str, Any]) -> dict[str, Any]:
        """The call's arguments by name, for reading (the call itself gets them as passed)."""
        if not args or not self.positional:
            return kwargs
        return {**dict(zip(self.positional, args)), **kwargs}

    def request(self, instance: Any, kwargs: dict[str, Any], capture_content: bool) -> tuple[str, Attributes]:
        """The span name and the attributes known before the call."""
        raise NotImplementedError

    def response(self, response: Any, capture_content: bool) -> Attributes:
        """Attributes read from a complete (non-streamed) response."""
        return {}

    def is_stream(self, kwargs: dict[str, Any], result: Any) -> bool:
        return bool(kwargs.get("stream"))

    def stream_state(self, capture_content: bool) -> StreamState | None:
        """A fresh accumulator for a streamed response, or None if the call never streams."""
        return None

    def stream_of(self, result: Any) -> Any:
        """The stream inside a streamed call's result (the result itself, unless it is a container)."""
        return result

    def with_stream(self, result: Any, stream: Any) -> Any:
        """The result to hand back, holding the wrapped `stream` in place of the library's."""
        return stream

    def stream_start(self, result: Any) -> Attributes:
        """Attributes a streamed call's result says before its first chunk (a request id …)."""
        return {}

    #: True when the call returns a context manager whose `__enter__` gives the stream
    #: (Anthropic's `messages.stream()`); the span then ends at that `with` block's exit.
    returns_stream_manager: bool = False


def _safe(read: Callable[..., Attributes], *args: Any) -> Attributes:
    try:
        return read(*args)
    except Exception:
        logger.debug("opik-otel: could not read %s; attributes dropped", getattr(read, "__qualname__", read), exc_info=True)
        return {}


def inside_instrumented_call() -> bool:
    """True while one of our instrumented library calls is running on this context."""
    return _INSIDE_CALL.get()


def _should_skip(current: otel_context.Context) -> bool:
    return _INSIDE_CALL.get() or bool(otel_context.get_value(SUPPRESS_INSTRUMENTATION_KEY, current))


class _Call:
    """One instrumented call in flight: its span, and how to finish it once."""

    __slots__ = ("span", "operation", "capture", "started", "ended")

    def __init__(self, span: trace.Span, operation: Operation, capture: bool) -> None:
        self.span = span
        self.operation = operation
        self.capture = capture
        self.started = time.perf_counter()
        self.ended = False

    def fail(self, exc: BaseException) -> None:
        if not self.ended:
            self.ended = True
            record_error(self.span, exc)
            self.span.end()

    def succeed(self, attributes: Attributes) -> None:
        if not self.ended:
            self.ended = True
            if attributes:
                self.span.set_attributes(attributes)
            self.span.end()


def _start(
    operation: Operation,
    tracer: trace.Tracer,
    content: ContentPolicy,
    instance: Any,
    kwargs: dict[str, Any],
    extra_attributes: Attributes | None,
    current: otel_context.Context,
) -> _Call | None:
    capture = content.enabled
    try:
        name, attributes = operation.request(instance, kwargs, capture)
        if extra_attributes:
            attributes.update(extra_attributes)
        parent = current
        framework = claim_model_call(current)  # a framework's model run above this billed call (LangChain …)
        if framework:
            claimed, claimed_parent = framework
            parent = claimed_parent or current
            for key, value in claimed.items():
                attributes.setdefault(key, value)
        span = tracer.start_span(name, context=parent, kind=SpanKind.CLIENT, attributes=attributes)
    except Exception:
        logger.debug("opik-otel: could not start a span; the call goes on untraced", exc_info=True)
        return None
    return _Call(span, operation, capture)


def _finish(call: _Call, kwargs: dict[str, Any], result: Any, proxy: type) -> Any:
    """End the span for a complete response, or hand back the stream (or raw response) wrapped."""
    operation = call.operation
    try:
        if _is_raw_response(result):
            parse = getattr(type(result), "parse", None)
            return (AsyncRawResponseProxy if inspect.iscoroutinefunction(parse) else RawResponseProxy)(result, call)
        if operation.is_stream(kwargs, result):
            state = operation.stream_state(call.capture)
            if state is not None:
                if operation.returns_stream_manager:
                    return StreamManagerProxy(result, call, state)
                started = _safe(operation.stream_start, result)
                if started:
                    call.span.set_attributes(started)
                return operation.with_stream(result, proxy(operation.stream_of(result), call, state))
        call.succeed(_safe(operation.response, result, call.capture))
    except Exception:  # pragma: no cover - defensive: the result must reach the user
        logger.debug("opik-otel: could not finish a span", exc_info=True)
        call.succeed({})
    return result


_RAW_RESPONSE_TYPES: dict[type, bool] = {}


def _is_raw_response(result: Any) -> bool:
    """`client.x.with_raw_response.create(...)` / `with_streaming_response` (Stainless SDKs) results.

    Asked once per result type: on a pydantic model a missing attribute costs an exception."""
    kind = type(result)
    known = _RAW_RESPONSE_TYPES.get(kind)
    if known is None:
        known = _RAW_RESPONSE_TYPES[kind] = hasattr(result, "http_response") and hasattr(result, "parse")
    return known


def _parsed(call: _Call, parsed: Any) -> Any:
    """What a raw response's `parse()` returned: a stream to wrap, or the response that ends the span."""
    if call.ended:
        return parsed
    if hasattr(parsed, "__next__") or hasattr(parsed, "__anext__"):
        state = call.operation.stream_state(call.capture)
        if state is not None:
            wrapper = AsyncStreamProxy if hasattr(parsed, "__anext__") else SyncStreamProxy
            return wrapper(parsed, call, state)
    call.succeed(_safe(call.operation.response, parsed, call.capture))
    return parsed


class _RawResponseProxyBase(wrapt.ObjectProxy):
    """A raw HTTP response: the span ends when the user parses it (or drops it unparsed).

    A stream that `parse()` returns takes the span over: dropping the raw response then
    (`create(...).parse()` in one expression) leaves the span to end with the stream."""

    def __init__(self, wrapped: Any, call: _Call) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_parsed: Any = None
        self._self_was_parsed = False

    def _self_on_parsed(self, parsed: Any) -> Any:
        if not self._self_was_parsed:
            self._self_was_parsed = True
            try:
                self._self_parsed = _parsed(self._self_call, parsed)
            except Exception:  # pragma: no cover - defensive
                logger.debug("opik-otel: could not read a parsed raw response", exc_info=True)
                self._self_parsed = parsed
        return self._self_parsed

    def __del__(self) -> None:
        try:
            if not self._self_was_parsed:  # once parsed, the span is ended or its stream's
                self._self_call.succeed({})
        except Exception:  # pragma: no cover
            pass


class RawResponseProxy(_RawResponseProxyBase):
    def parse(self, *args: Any, **kwargs: Any) -> Any:
        try:
            parsed = self.__wrapped__.parse(*args, **kwargs)
        except BaseException as exc:
            self._self_call.fail(exc)
            raise
        return self._self_on_parsed(parsed)


class AsyncRawResponseProxy(_RawResponseProxyBase):
    async def parse(self, *args: Any, **kwargs: Any) -> Any:
        try:
            parsed = await self.__wrapped__.parse(*args, **kwargs)
        except BaseException as exc:
            self._self_call.fail(exc)
            raise
        return self._self_on_parsed(parsed)


def sync_wrapper(
    operation: Operation,
    tracer: trace.Tracer,
    content: ContentPolicy,
    extra_attributes: Attributes | None = None,
) -> Callable[..., Any]:
    """A `wrapt` wrapper that traces a synchronous library method."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        current = otel_context.get_current()
        if _should_skip(current):
            return wrapped(*args, **kwargs)
        named = operation.arguments(args, kwargs)
        call = _start(operation, tracer, content, instance, named, extra_attributes, current)
        if call is None:
            return wrapped(*args, **kwargs)
        if not call.span.is_recording():
            call.span.end()
            return wrapped(*args, **kwargs)
        token = otel_context.attach(trace.set_span_in_context(call.span, current))
        inside = _INSIDE_CALL.set(True)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            _INSIDE_CALL.reset(inside)
            otel_context.detach(token)
        return _finish(call, named, result, SyncStreamProxy)

    return wrapper


def async_wrapper(
    operation: Operation,
    tracer: trace.Tracer,
    content: ContentPolicy,
    extra_attributes: Attributes | None = None,
) -> Callable[..., Any]:
    """A `wrapt` wrapper that traces an `async def` library method."""

    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        current = otel_context.get_current()
        if _should_skip(current):
            return await wrapped(*args, **kwargs)
        named = operation.arguments(args, kwargs)
        call = _start(operation, tracer, content, instance, named, extra_attributes, current)
        if call is None:
            return await wrapped(*args, **kwargs)
        if not call.span.is_recording():
            call.span.end()
            return await wrapped(*args, **kwargs)
        token = otel_context.attach(trace.set_span_in_context(call.span, current))
        inside = _INSIDE_CALL.set(True)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            call.fail(exc)
            raise
        finally:
            _INSIDE_CALL.reset(inside)
            otel_context.detach(token)
        return _finish(call, named, result, AsyncStreamProxy)

    return wrapper


class _StreamRun:
    """One stream's bookkeeping, in a plain slotted object: per-chunk work stays cheap.

    The time to first chunk is noted on the first chunk and set on the span with the rest
    when the stream ends, so the first chunk reaches the user without a span write."""

    __slots__ = ("call", "state", "stream", "first_chunk_at", "advance", "read")

    def __init__(self, call: _Call, state: StreamState, stream: Any, is_async: bool) -> None:
        self.call = call
        self.state = state
        self.stream = stream
        self.first_chunk_at: float | None = None
        self.advance = _advancer(stream, is_async)
        self.read = state.on_chunk

    def on_chunk(self, chunk: Any) -> None:
        if self.first_chunk_at is None:
            self.first_chunk_at = time.perf_counter()
        try:
            self.read(chunk)
        except Exception:
            logger.debug("opik-otel: could not read a stream chunk", exc_info=True)

    def end(self, exc: BaseException | None = None) -> None:
        call = self.call
        if call.ended:
            return
        first = self.first_chunk_at
        timing = {} if first is None else {sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: first - call.started}
        if exc is not None:
            if timing:
                call.span.set_attributes(timing)
            call.fail(exc)
            return
        try:
            self.state.on_end(self.stream)
        except Exception:
            logger.debug("opik-otel: could not read the end of a stream", exc_info=True)
        attributes = _safe(self.state.attributes)
        attributes.update(timing)
        call.succeed(attributes)


def _advancer(stream: Any, is_async: bool) -> Callable[[], Any]:
    """The stream's `__next__` / `__anext__`, bound once, the one its proxy's kind reads first (a
    stream may be both, as LiteLLM's are); for an iterable that is not its own iterator
    (botocore's `EventStream`), that of the iterator it makes on first use."""
    for name in ("__anext__", "__next__") if is_async else ("__next__", "__anext__"):
        bound = getattr(stream, name, None)
        if bound is not None:
            return bound
    is_async = hasattr(stream, "__aiter__")
    iterator: list[Any] = []

    def advance() -> Any:
        if not iterator:
            iterator.append(stream.__aiter__() if is_async else iter(stream))
        return iterator[0].__anext__() if is_async else next(iterator[0])

    return advance


class _IfWrappedHas:
    """A proxy method that exists only where the wrapped object has one of that name, so that
    `hasattr(proxy, "close")` (and the `with` statement) answer as for the library's object."""

    def __init__(self, method: Callable[..., Any]) -> None:
        self.method = method
        self.name = method.__name__

    def __get__(self, proxy: Any, owner: type | None = None) -> Any:
        if proxy is None:
            return self
        if not hasattr(proxy.__wrapped__, self.name):
            raise AttributeError(self.name)
        return self.method.__get__(proxy, owner)


class EndingProxy(wrapt.ObjectProxy):
    """A proxy whose span ends with it: `_self_end()` (which ends it at most once) also runs
    when the proxy is garbage-collected (an abandoned stream)."""

    def _self_end(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def __del__(self) -> None:
        try:
            self._self_end()
        except Exception:  # pragma: no cover
            pass


class _StreamProxyBase(EndingProxy):
    """Shared bookkeeping of the sync and async stream proxies."""

    _reads_async = False  # class-level: which of a stream's iterator methods the proxy advances

    def __init__(self, wrapped: Any, call: _Call, state: StreamState) -> None:
        super().__init__(wrapped)
        self._self_run = _StreamRun(call, state, wrapped, self._reads_async)

    def _self_end(self, exc: BaseException | None = None) -> None:
        self._self_run.end(exc)

    @property
    def response(self) -> Any:
        """The HTTP response; closing it (as the SDKs' `.stream()` helpers do) ends the span."""
        return _ClosingResponse(self.__wrapped__.response, self)


@contextlib.contextmanager
def _running(call: _Call) -> Iterator[None]:
    """The library works for `call` (its request is sent here): the span is current, nested calls add none."""
    token = otel_context.attach(trace.set_span_in_context(call.span))
    inside = _INSIDE_CALL.set(True)
    try:
        yield
    except BaseException as exc:
        call.fail(exc)
        raise
    finally:
        _INSIDE_CALL.reset(inside)
        otel_context.detach(token)


class StreamManagerProxy(EndingProxy):
    """A library's stream manager (`with client.messages.stream(...) as stream:`), sync or async.

    Entering gives the library's stream wrapped in a stream proxy; the span ends at exit
    (or with the stream, whichever comes first), or on garbage collection if never entered.
    """

    def __init__(self, wrapped: Any, call: _Call, state: StreamState) -> None:
        super().__init__(wrapped)
        self._self_call = call
        self._self_state = state
        self._self_stream: Any = None

    def _self_wrap(self, stream: Any) -> Any:
        proxy = AsyncStreamProxy if hasattr(stream, "__anext__") else SyncStreamProxy
        self._self_stream = proxy(stream, self._self_call, self._self_state)
        return self._self_stream

    def _self_end(self) -> None:
        if self._self_stream is not None:
            self._self_stream._self_end()
        else:
            self._self_call.succeed({})

    def __enter__(self) -> Any:
        with _running(self._self_call):
            stream = self.__wrapped__.__enter__()
        return self._self_wrap(stream)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_end()

    async def __aenter__(self) -> Any:
        with _running(self._self_call):
            stream = await self.__wrapped__.__aenter__()
        return self._self_wrap(stream)

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_end()


class _ClosingResponse(wrapt.ObjectProxy):
    """An HTTP response whose `close()`/`aclose()` also ends the stream's span."""

    def __init__(self, wrapped: Any, stream: _StreamProxyBase) -> None:
        super().__init__(wrapped)
        self._self_stream = stream

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_stream._self_end()

    async def aclose(self) -> Any:
        try:
            return await self.__wrapped__.aclose()
        finally:
            self._self_stream._self_end()


class SyncStreamProxy(_StreamProxyBase):
    """The library's stream, unchanged for the user; the span ends exactly once."""

    def __iter__(self) -> SyncStreamProxy:
        return self

    def __next__(self) -> Any:
        try:
            chunk = self._self_run.advance()
        except StopIteration:
            self._self_run.end()
            raise
        except BaseException as exc:
            self._self_run.end(exc)
            raise
        self._self_run.on_chunk(chunk)
        return chunk

    @_IfWrappedHas
    def __enter__(self) -> SyncStreamProxy:
        self.__wrapped__.__enter__()
        return self

    @_IfWrappedHas
    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_end()

    @_IfWrappedHas
    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_end()


class AsyncStreamProxy(_StreamProxyBase):
    """The async twin of `SyncStreamProxy`."""

    _reads_async = True

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self._self_run.advance()
        except StopAsyncIteration:
            self._self_run.end()
            raise
        except BaseException as exc:
            self._self_run.end(exc)
            raise
        self._self_run.on_chunk(chunk)
        return chunk

    @_IfWrappedHas
    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    @_IfWrappedHas
    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_end()

    @_IfWrappedHas
    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_end()

    @_IfWrappedHas
    async def aclose(self) -> None:
        try:
            await self.__wrapped__.aclose()
        finally:
            self._self_end()
