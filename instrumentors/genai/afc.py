"""Automatic function calling (AFC): google-genai calls the app's Python functions itself.

A `generate_content` / `generate_content_stream` (or a chat's `send_message` /
`send_message_stream`) whose config lists Python functions, with AFC on, runs a loop inside
the SDK: model round trip, the functions the model asked for, round trip … Each round trip
is its own inference span (models.py); each function run is an `execute_tool {name}` span.
All of them sit under one INTERNAL `invoke_agent {model}` span for the whole SDK call, so
that one call is one trace (with no span of the app's around it, they would otherwise be
separate root spans: separate traces in Opik). A call without AFC gets no such span.

The function wrapper (`invoke_function_from_dict_args`, sync and async) records a span only
inside one of our AFC spans (a context variable says which tracer and content switch).
"""

from __future__ import annotations

import contextvars
import logging
from typing import Any, Callable, NamedTuple

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from opik_otel import semconv as sc
from opik_otel._content import ContentPolicy
from opik_otel._errors import record_error
from opik_otel.instrumentors._engine import SUPPRESS_INSTRUMENTATION_KEY, Attributes, EndingProxy
from opik_otel.instrumentors._read import as_plain
from opik_otel.instrumentors.genai.models import get, input_messages, request_start, response_attributes_of, system_parts, tool_definitions

logger = logging.getLogger(__name__)


class _Run(NamedTuple):
    """The AFC call in progress: how its tool spans are made."""

    tracer: trace.Tracer
    capture: bool
    extra: Attributes | None


_RUN: contextvars.ContextVar[_Run | None] = contextvars.ContextVar("opik_otel_genai_afc", default=None)


def afc_enabled(config: Any) -> bool:
    """Whether the SDK will call Python functions itself for this config: some tool is a
    Python function and automatic function calling is not disabled."""
    tools = get(config, "tools")
    if not tools or not any(callable(tool) and not isinstance(tool, (dict, type)) for tool in tools):
        return False
    afc = get(config, "automatic_function_calling")
    if get(afc, "disable") is True:
        return False
    maximum = get(afc, "maximum_remote_calls")
    return not (isinstance(maximum, int) and maximum <= 0)


def models_config(instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
    return kwargs.get("config")


def chat_config(instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
    config = kwargs.get("config", args[1] if len(args) > 1 else None)
    return config if config else getattr(instance, "_config", None)


def models_request(instance: Any, args: tuple, kwargs: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(models object, model, contents) of a `Models.generate_content*` call."""
    return instance, kwargs.get("model"), kwargs.get("contents")


def chat_request(instance: Any, args: tuple, kwargs: dict[str, Any]) -> tuple[Any, Any, Any]:
    message = kwargs.get("message", args[0] if args else None)
    return getattr(instance, "_modules", None), getattr(instance, "_model", None), message


def _skip() -> bool:
    return _RUN.get() is not None or bool(otel_context.get_value(SUPPRESS_INSTRUMENTATION_KEY))


class _Afc:
    """One AFC call's span: started, made current around each step, ended once."""

    __slots__ = ("span", "run", "ended")

    def __init__(self, tracer: trace.Tracer, capture: bool, extra: Attributes | None, models: Any, model: Any, contents: Any, config: Any) -> None:
        _, attributes = request_start(sc.GenAiOperation.INVOKE_AGENT, models, {"model": model})
        if capture:
            attributes[sc.GEN_AI_INPUT_MESSAGES] = sc.content_json(input_messages(contents))
            system = system_parts(get(config, "system_instruction"))
            if system:
                attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = sc.content_json(system)
            attributes[sc.GEN_AI_TOOL_DEFINITIONS] = sc.content_json(tool_definitions(get(config, "tools")))
        if extra:
            attributes.update(extra)
        name = f"{sc.GenAiOperation.INVOKE_AGENT} {attributes.get(sc.GEN_AI_REQUEST_MODEL) or ''}".rstrip()
        self.span = tracer.start_span(name, kind=SpanKind.INTERNAL, attributes=attributes)
        self.run = _Run(tracer, capture, extra)
        self.ended = False

    def enter(self) -> tuple[Any, Any]:
        return otel_context.attach(trace.set_span_in_context(self.span)), _RUN.set(self.run)

    @staticmethod
    def leave(tokens: tuple[Any, Any]) -> None:
        _RUN.reset(tokens[1])
        otel_context.detach(tokens[0])

    def end(self, exc: BaseException | None = None, response: Any = None) -> None:
        if self.ended:
            return
        self.ended = True
        if exc is not None:
            record_error(self.span, exc)
        elif response is not None and self.run.capture:
            try:
                output = response_attributes_of(response, True).get(sc.GEN_AI_OUTPUT_MESSAGES)
                if output is not None:
                    self.span.set_attribute(sc.GEN_AI_OUTPUT_MESSAGES, output)
            except Exception:
                logger.debug("opik-otel: could not read an automatic function calling reply", exc_info=True)
        self.span.end()


def _start(tracer: trace.Tracer, content: ContentPolicy, extra: Attributes | None, read_config: Callable[..., Any], read_request: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> _Afc | None:
    """The AFC span for this call, or None (no AFC, nested, suppressed, or unreadable)."""
    try:
        if _skip():
            return None
        config = read_config(instance, args, kwargs)
        if not afc_enabled(config):
            return None
        models, model, contents = read_request(instance, args, kwargs)
        afc = _Afc(tracer, content.enabled, extra, models, model, contents, config)
        if not afc.span.is_recording():
            afc.span.end()
            return None
        return afc
    except Exception:
        logger.debug("opik-otel: could not start an automatic function calling span", exc_info=True)
        return None


def _may_run_afc(read_config: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> bool:
    """Whether this call's config lets the SDK call Python functions (True when unreadable: the
    traced path then decides, and logs)."""
    try:
        return afc_enabled(read_config(instance, args, kwargs))
    except Exception:
        return True


def afc_wrapper(read_config: Callable[..., Any], read_request: Callable[..., Any], is_async: bool) -> Callable[..., Any]:
    """A factory `(tracer, content, extra) → wrapt wrapper` for an SDK call that may run AFC:
    a plain call, a generator (sync stream), or a coroutine (its result may be an async stream)."""

    def build(tracer: trace.Tracer, content: ContentPolicy, extra: Attributes | None = None) -> Callable[..., Any]:
        def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
            afc = _start(tracer, content, extra, read_config, read_request, instance, args, kwargs)
            if afc is None:
                return wrapped(*args, **kwargs)
            tokens = afc.enter()
            try:
                result = wrapped(*args, **kwargs)
            except BaseException as exc:
                afc.end(exc)
                raise
            finally:
                afc.leave(tokens)
            if hasattr(result, "__next__"):  # a generator: the SDK's loop runs as it is iterated
                return AfcStream(result, afc)
            afc.end(response=result)
            return result

        def async_wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
            """The SDK's own coroutine where no AFC can run (no coroutine of ours around it); else ours."""
            if not _may_run_afc(read_config, instance, args, kwargs):
                return wrapped(*args, **kwargs)
            return traced_async(wrapped, instance, args, kwargs)

        async def traced_async(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
            afc = _start(tracer, content, extra, read_config, read_request, instance, args, kwargs)
            if afc is None:
                return await wrapped(*args, **kwargs)
            tokens = afc.enter()
            try:
                result = await wrapped(*args, **kwargs)
            except BaseException as exc:
                afc.end(exc)
                raise
            finally:
                afc.leave(tokens)
            if hasattr(result, "__anext__"):
                return AsyncAfcStream(result, afc)
            afc.end(response=result)
            return result

        return async_wrapper if is_async else wrapper

    return build


def tracked_chat_wrapper(is_async: bool) -> Callable[..., Any]:
    """A chat method's wrapper for `track_genai`: traces AFC only for a chat of a tracked client
    (its models object carries `_opik_otel_afc`: tracer, content switch, extra attributes)."""
    build = afc_wrapper(chat_config, chat_request, is_async)

    def tracked(instance: Any) -> Any:
        return getattr(getattr(instance, "_modules", None), "_opik_otel_afc", None)

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        run = tracked(instance)
        if run is None:
            return wrapped(*args, **kwargs)
        return build(*run)(wrapped, instance, args, kwargs)

    async def async_wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        run = tracked(instance)
        if run is None:
            return await wrapped(*args, **kwargs)
        return await build(*run)(wrapped, instance, args, kwargs)

    return async_wrapper if is_async else wrapper


class _AfcStreamBase(EndingProxy):
    """What the sync and async AFC streams share: the AFC span, ended with the stream."""

    def __init__(self, wrapped: Any, afc: _Afc) -> None:
        super().__init__(wrapped)
        self._self_afc = afc

    def _self_end(self) -> None:
        self._self_afc.end()


class AfcStream(_AfcStreamBase):
    """The SDK's generator, unchanged for the user; each step runs under the AFC span, which
    ends with the generator (exhausted, failed, closed or dropped)."""

    def __iter__(self) -> AfcStream:
        return self

    def __next__(self) -> Any:
        afc = self._self_afc
        tokens = afc.enter()
        try:
            return next(self.__wrapped__)
        except StopIteration:
            afc.end()
            raise
        except BaseException as exc:
            afc.end(exc)
            raise
        finally:
            afc.leave(tokens)

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_end()


class AsyncAfcStream(_AfcStreamBase):
    """The async twin of `AfcStream`."""

    def __aiter__(self) -> AsyncAfcStream:
        return self

    async def __anext__(self) -> Any:
        afc = self._self_afc
        tokens = afc.enter()
        try:
            return await self.__wrapped__.__anext__()
        except StopAsyncIteration:
            afc.end()
            raise
        except BaseException as exc:
            afc.end(exc)
            raise
        finally:
            afc.leave(tokens)

    async def aclose(self) -> None:
        try:
            await self.__wrapped__.aclose()
        finally:
            self._self_end()


# -- the function runs ------------------------------------------------------------------------


def _tool_start(run: _Run, args: tuple, kwargs: dict[str, Any]) -> tuple[trace.Span, Any]:
    """The `execute_tool` span of `invoke_function_from_dict_args(args, function_to_invoke)`, made current."""
    call_args = kwargs.get("args", args[0] if args else None)
    function = kwargs.get("function_to_invoke", args[1] if len(args) > 1 else None)
    name = getattr(function, "__name__", None) or "function"
    attributes: Attributes = {sc.GEN_AI_OPERATION_NAME: sc.GenAiOperation.EXECUTE_TOOL, sc.GEN_AI_TOOL_NAME: name}
    if run.capture:
        attributes[sc.GEN_AI_TOOL_CALL_ARGUMENTS] = sc.content_json(call_args)
    if run.extra:
        attributes.update(run.extra)
    span = run.tracer.start_span(f"{sc.GenAiOperation.EXECUTE_TOOL} {name}", kind=SpanKind.INTERNAL, attributes=attributes)
    return span, otel_context.attach(trace.set_span_in_context(span))


def _tool_end(span: trace.Span, token: Any, run: _Run, result: Any = None, exc: BaseException | None = None) -> None:
    otel_context.detach(token)
    try:
        if exc is not None:  # the app's own exception, not the SDK's FunctionInvocationError around it
            wrapped = exc.__cause__ or exc.__context__
            record_error(span, wrapped if type(exc).__name__ == "FunctionInvocationError" and wrapped is not None else exc)
        elif run.capture:
            span.set_attribute(sc.GEN_AI_TOOL_CALL_RESULT, sc.content_json(as_plain(result)))
    except Exception:  # pragma: no cover - never break the app
        logger.debug("opik-otel: could not record a function result", exc_info=True)
    span.end()


def tool_wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
    """`_extra_utils.invoke_function_from_dict_args`: an `execute_tool` span inside an AFC span."""
    run = _RUN.get()
    if run is None:
        return wrapped(*args, **kwargs)
    try:
        span, token = _tool_start(run, args, kwargs)
    except Exception:
        logger.debug("opik-otel: could not start a function span", exc_info=True)
        return wrapped(*args, **kwargs)
    inner = _RUN.set(None)  # the function's own genai calls are calls of their own
    try:
        result = wrapped(*args, **kwargs)
    except BaseException as exc:
        _RUN.reset(inner)
        _tool_end(span, token, run, exc=exc)
        raise
    _RUN.reset(inner)
    _tool_end(span, token, run, result)
    return result


async def async_tool_wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
    """`_extra_utils.invoke_function_from_dict_args_async`: the async twin of `tool_wrapper`."""
    run = _RUN.get()
    if run is None:
        return await wrapped(*args, **kwargs)
    try:
        span, token = _tool_start(run, args, kwargs)
    except Exception:
        logger.debug("opik-otel: could not start a function span", exc_info=True)
        return await wrapped(*args, **kwargs)
    inner = _RUN.set(None)
    try:
        result = await wrapped(*args, **kwargs)
    except BaseException as exc:
        _RUN.reset(inner)
        _tool_end(span, token, run, exc=exc)
        raise
    _RUN.reset(inner)
    _tool_end(span, token, run, result)
    return result
