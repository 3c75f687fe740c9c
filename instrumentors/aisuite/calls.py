"""What an AISuite call records, and how it keeps the one-inference-span rule.

`client.chat.completions.create(model="provider:model", …)` runs one model round trip
(`provider.chat_completions_create(model, messages, …)`), or, with Python functions as `tools`
and `max_turns`, a loop of round trips and tool runs. AISuite calls the provider's SDK
(openai, anthropic …) underneath, so a round trip opens no span of its own: like a LangChain
model run, it puts a `PendingModelCall` in the context, and the provider instrumentor's span
(the billed span) claims it. A round trip no instrumented SDK call claimed (a provider we do
not instrument, or its instrumentor off) gets its inference span when it ends, from its start
time, read from AISuite's OpenAI-shaped response. One billed call, one inference span.

A tool loop gets one INTERNAL `invoke_agent {model}` span for the whole call (as google-genai's
automatic function calling: `instrumentors/genai/afc.py`), an inference span per round trip
and an `execute_tool {name}` span per function run under it.

The round-trip and tool hooks are class-wide and passive: they act only inside a traced
`create` (a context variable carries its tracer, content switch and extra attributes), so
`track_aisuite(client)` traces that client only.
"""

from __future__ import annotations

import contextvars
import importlib
import inspect
import logging
import sys
import time
from typing import Any, Callable, NamedTuple

import wrapt
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from opik_otel import semconv as sc
from opik_otel._content import ContentPolicy
from opik_otel._errors import record_error
from opik_otel._model_call import PendingModelCall, forget_stream, pend_on_stream, with_pending_model_call
from opik_otel.instrumentors._adapter import request_attributes, request_content
from opik_otel.instrumentors._engine import SUPPRESS_INSTRUMENTATION_KEY, Attributes, EndingProxy
from opik_otel.instrumentors._read import as_plain, field
from opik_otel.instrumentors.openai.chat import ChatCompletions, ChatStreamState, input_messages, output_message, tool_definitions
from opik_otel.instrumentors.openai.common import PARAMETERS
from opik_otel.semconv.providers import known_provider

logger = logging.getLogger(__name__)


class _Run(NamedTuple):
    """The traced `create` in progress: how its round trips and tool runs are recorded."""

    tracer: trace.Tracer
    capture: bool
    extra: Attributes | None
    provider: str  # `gen_ai.provider.name`


_RUN: contextvars.ContextVar[_Run | None] = contextvars.ContextVar("opik_otel_aisuite_run", default=None)
_IN_ROUND_TRIP: contextvars.ContextVar[bool] = contextvars.ContextVar("opik_otel_aisuite_round_trip", default=False)

# AISuite's provider keys whose convention name `known_provider` does not give (AISuite's
# `google` provider is Vertex AI; its `azure` one, Azure AI serverless endpoints).
_PROVIDER_NAMES = {"google": sc.GenAiProvider.GCP_VERTEX_AI, "azure": sc.GenAiProvider.AZURE_INFERENCE}

_CHAT = ChatCompletions()


def provider_name(key: str) -> str:
    """`gen_ai.provider.name` of an AISuite provider key (`aws` → `aws.bedrock`); an unknown key as is."""
    named = _PROVIDER_NAMES.get(key)
    if named is not None:
        return named
    known = known_provider(key)
    return known.name if known is not None else key


def split_model(model: Any) -> tuple[str, str] | None:
    """(provider key, model name) of `"provider:model"`; None for anything else."""
    if not isinstance(model, str) or ":" not in model:
        return None
    key, name = model.split(":", 1)
    return key, name


# -- the provider classes' round trips ---------------------------------------------------------

_HOOKED: set[type] = set()


def hook_provider(key: str) -> None:
    """Make the round trips of provider `key`'s class (`aisuite.providers.{key}_provider`) claimable.
    Once per class; importing it here is what AISuite's own call is about to do."""
    module = sys.modules.get(f"aisuite.providers.{key}_provider")
    if module is None:
        module = importlib.import_module(f"aisuite.providers.{key}_provider")
    cls = getattr(module, f"{key.capitalize()}Provider")
    if cls in _HOOKED:
        return
    _HOOKED.add(cls)
    wrapt.wrap_function_wrapper(cls, "chat_completions_create", _round_trip)
    for method, wrapper in (
        ("achat_completions_create", _async_round_trip),  # aisuite >= 0.2 (acreate)
        ("chat_completions_create_stream", _streamed_round_trip),  # aisuite >= 0.2 (stream=True)
        ("achat_completions_create_stream", _streamed_round_trip),
    ):
        if hasattr(cls, method):
            wrapt.wrap_function_wrapper(cls, method, wrapper)


class _RoundTrip:
    """One model round trip: its pending call, and the span it makes if nobody claimed it."""

    __slots__ = ("run", "model", "messages", "kwargs", "pending", "start", "tokens")

    def __init__(self, run: _Run, args: tuple, kwargs: dict[str, Any], attach: bool = True) -> None:
        self.run = run
        self.model = kwargs.get("model", args[0] if args else None)
        self.messages = kwargs.get("messages", args[1] if len(args) > 1 else None)
        self.kwargs = kwargs
        self.pending = PendingModelCall(dict(run.extra) if run.extra else {})
        self.start = time.time_ns()
        context = with_pending_model_call(self.pending)
        self.tokens = (otel_context.attach(context), _IN_ROUND_TRIP.set(True)) if attach else None

    def leave(self) -> None:
        if self.tokens is not None:
            _IN_ROUND_TRIP.reset(self.tokens[1])
            otel_context.detach(self.tokens[0])

    def end(self, response: Any = None, exc: BaseException | None = None) -> None:
        """The inference span of a round trip no provider call claimed (none when one did)."""
        self.span(lambda: response_attributes(response, self.run), exc)

    def span(self, read: Callable[[], Attributes], exc: BaseException | None = None, streamed: Attributes | None = None) -> None:
        """Make the unclaimed round trip's span from its start time; `read` gives the response's attributes."""
        if self.pending.claimed:
            return
        try:
            run = self.run
            name, attributes = request_attributes(
                sc.GenAiOperation.CHAT, self.model, {sc.GEN_AI_PROVIDER_NAME: run.provider}, self.kwargs, PARAMETERS
            )
            if run.capture:
                _safely(self._request_content, attributes)
            if streamed:
                attributes.update(streamed)
            if run.extra:
                attributes.update(run.extra)
            span = run.tracer.start_span(name, start_time=self.start, kind=SpanKind.CLIENT, attributes=attributes)
            if exc is not None:
                record_error(span, sdk_error(exc))
            else:
                span.set_attributes(_safely(read) or {})
            span.end()
        except Exception:
            logger.debug("opik-otel: could not record an aisuite round trip", exc_info=True)


    def _request_content(self, attributes: Attributes) -> None:
        tools = self.kwargs.get("tools")
        request_content(attributes, input_messages(self.messages), tools=tool_definitions(tools if isinstance(tools, list) else None))


def _safely(read: Callable[..., Any], *args: Any) -> Any:
    """`read(*args)`, or None (with a debug line) if it fails: a reader loses attributes, not the span."""
    try:
        return read(*args)
    except Exception:
        logger.debug("opik-otel: could not read %s; attributes dropped", getattr(read, "__qualname__", read), exc_info=True)
        return None


def sdk_error(exc: BaseException) -> BaseException:
    """The provider SDK's exception inside AISuite's `LLMError` (its openai provider wraps every
    error in one): what the provider's own span would record."""
    if type(exc).__name__ == "LLMError":
        inner = exc.__cause__ or exc.__context__
        if inner is not None:
            return inner
    return exc


def response_attributes(response: Any, run: _Run) -> Attributes:
    """AISuite's OpenAI-shaped response, read as a chat completion. Its Anthropic provider gives
    Anthropic's input count (without cache reads) as `prompt_tokens`: the convention's input
    count includes them."""
    return cache_inclusive(_CHAT.response(response, run.capture), run)


def cache_inclusive(attributes: Attributes, run: _Run) -> Attributes:
    """The input count with cache reads (AISuite's Anthropic provider leaves them out of it)."""
    if run.provider == sc.GenAiProvider.ANTHROPIC:
        cached = attributes.get(sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS)
        if cached and sc.GEN_AI_USAGE_INPUT_TOKENS in attributes:
            attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] += cached
    return attributes


def _begin_round_trip(args: tuple, kwargs: dict[str, Any], attach: bool = True) -> _RoundTrip | None:
    """The round trip of a provider call inside an AISuite run (None outside one, inside another
    round trip, or with instrumentation suppressed)."""
    run = _RUN.get()
    if run is None or _IN_ROUND_TRIP.get() or otel_context.get_value(SUPPRESS_INSTRUMENTATION_KEY):
        return None
    try:
        return _RoundTrip(run, args, kwargs, attach)
    except Exception:
        logger.debug("opik-otel: could not start an aisuite round trip", exc_info=True)
        return None


def _round_trip(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
    trip = _begin_round_trip(args, kwargs)
    if trip is None:
        return wrapped(*args, **kwargs)
    try:
        response = wrapped(*args, **kwargs)
    except BaseException as exc:
        trip.leave()
        trip.end(exc=exc)
        raise
    trip.leave()
    trip.end(response)
    return response


async def _async_round_trip(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
    trip = _begin_round_trip(args, kwargs)
    if trip is None:
        return await wrapped(*args, **kwargs)
    try:
        response = await wrapped(*args, **kwargs)
    except BaseException as exc:
        trip.leave()
        trip.end(exc=exc)
        raise
    trip.leave()
    trip.end(response)
    return response


def _streamed_round_trip(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
    """`chat_completions_create_stream` / `achat_completions_create_stream`: a generator whose
    provider request is made when it is first read, after `create` returned. Its pending call
    waits on the generator's frame (`pend_on_stream`): the provider SDK's call made while it runs
    claims it, in the context `create` was called in; else the span is made when the stream ends."""
    trip = _begin_round_trip(args, {**kwargs, "stream": True}, attach=False)
    if trip is None:
        return wrapped(*args, **kwargs)
    inside = _IN_ROUND_TRIP.set(True)  # a subclass's hook over its parent's adds no second round trip
    try:
        stream = wrapped(*args, **kwargs)
    except BaseException as exc:
        trip.end(exc=exc)
        raise
    finally:
        _IN_ROUND_TRIP.reset(inside)
    try:
        pend_on_stream(stream, trip.pending)
        return (AsyncRoundTripStream if hasattr(stream, "__anext__") else RoundTripStream)(stream, trip)
    except Exception:  # pragma: no cover - never break the app
        logger.debug("opik-otel: could not follow an aisuite stream", exc_info=True)
        return stream


class _RoundTripStreamBase(EndingProxy):
    """AISuite's chunk generator, unchanged for the user: read chunk by chunk for the span of an
    unclaimed round trip (made once, when the stream ends, fails, is closed or dropped)."""

    def __init__(self, wrapped: Any, trip: _RoundTrip) -> None:
        super().__init__(wrapped)
        self._self_trip = trip
        self._self_state = ChatStreamState(trip.run.capture)
        self._self_first: int | None = None
        self._self_ended = False

    def _self_chunk(self, chunk: Any) -> None:
        if self._self_first is None:
            self._self_first = time.time_ns()
        if not self._self_trip.pending.claimed:
            try:
                self._self_state.on_chunk(chunk)
            except Exception:
                logger.debug("opik-otel: could not read an aisuite stream chunk", exc_info=True)

    def _self_end(self, exc: BaseException | None = None) -> None:
        if self._self_ended:
            return
        self._self_ended = True
        trip = self._self_trip
        forget_stream(trip.pending)
        streamed: Attributes = {}
        if self._self_first is not None:
            streamed[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (self._self_first - trip.start) / 1e9
        trip.span(lambda: cache_inclusive(self._self_state.attributes(), trip.run), exc, streamed)


class RoundTripStream(_RoundTripStreamBase):
    def __iter__(self) -> RoundTripStream:
        return self

    def __next__(self) -> Any:
        try:
            chunk = next(self.__wrapped__)
        except StopIteration:
            self._self_end()
            raise
        except BaseException as exc:
            self._self_end(exc)
            raise
        self._self_chunk(chunk)
        return chunk

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_end()


class AsyncRoundTripStream(_RoundTripStreamBase):
    def __aiter__(self) -> AsyncRoundTripStream:
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            self._self_end()
            raise
        except BaseException as exc:
            self._self_end(exc)
            raise
        self._self_chunk(chunk)
        return chunk

    async def aclose(self) -> None:
        try:
            await self.__wrapped__.aclose()
        finally:
            self._self_end()


# -- the call ----------------------------------------------------------------------------------


class _Call:
    """One traced `create`: its run set as current, and its `invoke_agent` span for a tool loop."""

    __slots__ = ("run", "span", "tokens")

    def __init__(self, run: _Run, model: str, kwargs: dict[str, Any]) -> None:
        self.run = run
        self.span: trace.Span | None = None
        context = None
        if kwargs.get("max_turns") is not None and kwargs.get("tools") is not None and not kwargs.get("stream"):
            attributes: Attributes = {
                sc.GEN_AI_OPERATION_NAME: sc.GenAiOperation.INVOKE_AGENT,
                sc.GEN_AI_PROVIDER_NAME: run.provider,
                sc.GEN_AI_REQUEST_MODEL: model,
            }
            if run.capture:
                attributes[sc.GEN_AI_INPUT_MESSAGES] = sc.content_json(input_messages(kwargs.get("messages")))
            if run.extra:
                attributes.update(run.extra)
            self.span = run.tracer.start_span(f"{sc.GenAiOperation.INVOKE_AGENT} {model}".rstrip(), kind=SpanKind.INTERNAL, attributes=attributes)
            context = trace.set_span_in_context(self.span)
        self.tokens = (None if context is None else otel_context.attach(context), _RUN.set(run))

    def leave(self, response: Any = None, exc: BaseException | None = None) -> None:
        _RUN.reset(self.tokens[1])
        if self.tokens[0] is not None:
            otel_context.detach(self.tokens[0])
        span = self.span
        if span is None:
            return
        try:
            if exc is not None:
                record_error(span, exc)
            elif self.run.capture:
                choices = field(response, "choices") or ()
                outputs = [output_message(field(c, "message"), field(c, "finish_reason")) for c in choices]
                span.set_attribute(sc.GEN_AI_OUTPUT_MESSAGES, sc.content_json(outputs))
        except Exception:
            logger.debug("opik-otel: could not read an aisuite tool loop's reply", exc_info=True)
        span.end()


def _begin(tracer: trace.Tracer, content: ContentPolicy, extra: Attributes | None, args: tuple, kwargs: dict[str, Any]) -> _Call | None:
    """The traced call, or None (nested in one, suppressed, or a model string AISuite will reject)."""
    if _RUN.get() is not None or otel_context.get_value(SUPPRESS_INSTRUMENTATION_KEY):
        return None
    try:
        request = dict(kwargs)
        if args:
            request.setdefault("model", args[0])
        if len(args) > 1:
            request.setdefault("messages", args[1])
        split = split_model(request.get("model"))
        if split is None:
            return None
        key, model = split
        hook_provider(key)
        hook_tools()
        return _Call(_Run(tracer, content.enabled, extra, provider_name(key)), model, request)
    except Exception:
        logger.debug("opik-otel: could not start tracing an aisuite call", exc_info=True)
        return None


def create_wrapper(tracer: trace.Tracer, content: ContentPolicy, extra: Attributes | None = None) -> Callable[..., Any]:
    """A `wrapt` wrapper for `Completions.create`."""

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        call = _begin(tracer, content, extra, args, kwargs)
        if call is None:
            return wrapped(*args, **kwargs)
        try:
            response = wrapped(*args, **kwargs)
        except BaseException as exc:
            call.leave(exc=exc)
            raise
        call.leave(response)
        return response

    return wrapper


def async_create_wrapper(tracer: trace.Tracer, content: ContentPolicy, extra: Attributes | None = None) -> Callable[..., Any]:
    """A `wrapt` wrapper for `Completions.acreate` (aisuite >= 0.2)."""

    async def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        call = _begin(tracer, content, extra, args, kwargs)
        if call is None:
            return await wrapped(*args, **kwargs)
        try:
            response = await wrapped(*args, **kwargs)
        except BaseException as exc:
            call.leave(exc=exc)
            raise
        call.leave(response)
        return response

    return wrapper


# -- the tool runs -----------------------------------------------------------------------------


def _tool_start(run: _Run, name: str, call_id: Any, arguments: Any) -> tuple[trace.Span, Any, Any]:
    """A tool run's `execute_tool` span, made current; the tool's own aisuite calls are calls of their own."""
    attributes: Attributes = {sc.GEN_AI_OPERATION_NAME: sc.GenAiOperation.EXECUTE_TOOL, sc.GEN_AI_TOOL_NAME: name}
    if isinstance(call_id, str):
        attributes[sc.GEN_AI_TOOL_CALL_ID] = call_id
    if run.capture:
        attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = sc.content_json(as_plain(arguments))
    if run.extra:
        attributes.update(run.extra)
    span = run.tracer.start_span(f"{sc.GenAiOperation.EXECUTE_TOOL} {name}", kind=SpanKind.INTERNAL, attributes=attributes)
    return span, otel_context.attach(trace.set_span_in_context(span)), _RUN.set(None)


def _tool_end(span: trace.Span, tokens: tuple[Any, Any], run: _Run, result: Any = None, exc: BaseException | None = None) -> None:
    _RUN.reset(tokens[1])
    otel_context.detach(tokens[0])
    try:
        if exc is not None:
            record_error(span, exc)
        elif run.capture:
            span.set_attribute(sc.GEN_AI_TOOL_CALL_RESULT, sc.content_json(as_plain(result)))
    except Exception:  # pragma: no cover - never break the app
        logger.debug("opik-otel: could not record a tool result", exc_info=True)
    span.end()


def _ctx_tool(args: tuple, kwargs: dict[str, Any]) -> tuple[str, Any, Any]:
    """(name, call id, arguments) of `Tools._invoke_tool_sync(ctx)` / `_invoke_tool_async(ctx)`."""
    ctx = kwargs.get("ctx", args[0] if args else None)
    return field(ctx, "tool_name") or "function", field(ctx, "tool_call_id"), field(ctx, "args")


def _begin_tool(read: Callable[[tuple, dict[str, Any]], tuple[str, Any, Any]], args: tuple, kwargs: dict[str, Any]) -> tuple[_Run, trace.Span, tuple[Any, Any]] | None:
    run = _RUN.get()
    if run is None:
        return None
    try:
        span, context_token, run_token = _tool_start(run, *read(args, kwargs))
    except Exception:
        logger.debug("opik-otel: could not start a tool span", exc_info=True)
        return None
    return run, span, (context_token, run_token)


def _sync_tool(read: Callable[[tuple, dict[str, Any]], tuple[str, Any, Any]]) -> Callable[..., Any]:
    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        begun = _begin_tool(read, args, kwargs)
        if begun is None:
            return wrapped(*args, **kwargs)
        run, span, tokens = begun
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            _tool_end(span, tokens, run, exc=exc)
            raise
        _tool_end(span, tokens, run, result)
        return result

    return wrapper


async def async_tool_wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
    """`Tools._invoke_tool_async(ctx)`: an `execute_tool` span inside a traced call."""
    begun = _begin_tool(_ctx_tool, args, kwargs)
    if begun is None:
        return await wrapped(*args, **kwargs)
    run, span, tokens = begun
    try:
        result = await wrapped(*args, **kwargs)
    except BaseException as exc:
        _tool_end(span, tokens, run, exc=exc)
        raise
    _tool_end(span, tokens, run, result)
    return result


#: `Tools._invoke_tool_sync(ctx)` (aisuite >= 0.2): an `execute_tool` span inside a traced call.
tool_wrapper = _sync_tool(_ctx_tool)


def _function_tool(function: Callable[..., Any]) -> Callable[..., Any]:
    """A registered function's wrapper (aisuite < 0.2 calls `tool["function"](**args)` inline)."""
    name = getattr(function, "__name__", None) or "function"
    return _sync_tool(lambda args, kwargs: (name, None, kwargs))


def _registered(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
    """`Tools._add_tool(func, …)` (aisuite < 0.2): the registered function traced when it runs."""
    result = wrapped(*args, **kwargs)
    try:
        function = kwargs.get("func", args[0] if args else None)
        entry = instance._tools.get(getattr(function, "__name__", None))
        if entry is not None and entry.get("function") is function and not inspect.iscoroutinefunction(function):
            entry["function"] = wrapt.FunctionWrapper(function, _function_tool(function))
    except Exception:
        logger.debug("opik-otel: could not trace a registered tool", exc_info=True)
    return result


_TOOLS_HOOKED = False


def hook_tools() -> None:
    """The tool hooks, once per process (passive outside a traced call): aisuite >= 0.2 runs a
    tool in `Tools._invoke_tool_sync` / `_invoke_tool_async`; older versions call the function
    registered by `Tools._add_tool` inline (aisuite < 0.1.10 has no tool loop)."""
    global _TOOLS_HOOKED
    if _TOOLS_HOOKED:
        return
    _TOOLS_HOOKED = True
    try:
        from aisuite.utils.tools import Tools
    except ImportError:
        return
    if hasattr(Tools, "_invoke_tool_sync"):
        hooks = (("Tools._invoke_tool_sync", tool_wrapper), ("Tools._invoke_tool_async", async_tool_wrapper))
    else:
        hooks = (("Tools._add_tool", _registered),)
    for method, wrapper in hooks:
        try:
            wrapt.wrap_function_wrapper("aisuite.utils.tools", method, wrapper)
        except (ImportError, AttributeError):
            logger.debug("opik-otel: aisuite.utils.tools.%s not found; tool runs are not traced", method)


__all__ = ["create_wrapper", "async_create_wrapper", "provider_name", "split_model"]
