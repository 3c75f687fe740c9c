"""`@track` for your own functions, and `update_current_span` / `update_current_trace`.

The Opik SDK's `@opik.track`, on OpenTelemetry: each call is an INTERNAL span that is
current while the function runs, so instrumented library calls inside nest under it.
Inputs are the bound arguments (`self`/`cls` left out) as `input.value`, the result is
`output.value`; both honour the content switch (`capture_content`).
"""

from __future__ import annotations

import functools
import inspect
import logging
from typing import Any, Callable, Mapping, Sequence, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from opik_otel import semconv as sc
from opik_otel import _configure
from opik_otel._content import capture_content
from opik_otel._context import local_root, propagate_context_to_threads
from opik_otel._distributed import extract_distributed_context
from opik_otel._version import __version__
from opik_otel.instrumentors._engine import record_error

logger = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

_SCOPE = "opik_otel.track"
_SPAN_TYPES = ("general", "tool", "llm", "guardrail")
_MAX_COLLECTED = 1000  # yielded items kept as a generator's output
_HEADERS_KWARG = "opik_distributed_trace_headers"  # the Opik SDK's per-call keyword


@overload
def track(func: F) -> F: ...


@overload
def track(
    func: None = None, *, name: str | None = None, type: str = "general", capture_input: bool = True, capture_output: bool = True,
    project_name: str | None = None, tags: Sequence[str] | None = None, metadata: Mapping[str, Any] | None = None,
) -> Callable[[F], F]: ...


def track(
    func: Callable[..., Any] | None = None,
    *,
    name: str | None = None,
    type: str = "general",
    capture_input: bool = True,
    capture_output: bool = True,
    project_name: str | None = None,
    tags: Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Any:
    """Trace each call of a function, method, coroutine, generator or async generator.

    `@track` or `@track(name=…, type="tool", project_name=…, tags=[…], metadata={…})`.
    A generator's span ends when it is exhausted or closed. Exceptions are recorded and
    re-raised. A call may pass `opik_distributed_trace_headers=` (as with the Opik SDK) to
    continue a trace from another process.
    """
    if type not in _SPAN_TYPES:
        raise ValueError(f"track(type={type!r}): must be one of {', '.join(_SPAN_TYPES)}")
    if func is None:
        return lambda f: track(f, name=name, type=type, capture_input=capture_input, capture_output=capture_output,
                               project_name=project_name, tags=tags, metadata=metadata)
    spec = _Spec(func, name, type, capture_input, capture_output, project_name, tags, metadata)
    if inspect.isasyncgenfunction(func):
        wrapper: Callable[..., Any] = _async_generator_wrapper(func, spec)
    elif inspect.iscoroutinefunction(func):
        wrapper = _coroutine_wrapper(func, spec)
    elif inspect.isgeneratorfunction(func):
        wrapper = _generator_wrapper(func, spec)
    else:
        wrapper = _function_wrapper(func, spec)
    return functools.wraps(func)(wrapper)


class _Spec:
    """What one decorated function records."""

    def __init__(self, func: Callable[..., Any], name: str | None, span_type: str, capture_input: bool, capture_output: bool,
                 project_name: str | None, tags: Sequence[str] | None, metadata: Mapping[str, Any] | None) -> None:
        self.name = name or getattr(func, "__name__", "call")
        self.capture_input, self.capture_output = capture_input, capture_output
        try:
            self.signature: inspect.Signature | None = inspect.signature(func)
        except (TypeError, ValueError):
            self.signature = None
        parameters = list(self.signature.parameters) if self.signature else []
        self.skip_first = bool(parameters) and parameters[0] in ("self", "cls")
        attributes: dict[str, Any] = {sc.OPIK_SPAN_TYPE: span_type, sc.INPUT_MIME_TYPE: sc.JSON_MIME_TYPE, sc.OUTPUT_MIME_TYPE: sc.JSON_MIME_TYPE}
        if project_name:
            attributes[sc.OPIK_PROJECT_NAME] = project_name
        if tags:
            attributes[sc.OPIK_TAGS] = [str(tag) for tag in tags]
        for key, value in (metadata or {}).items():
            attributes[sc.OPIK_METADATA_PREFIX + str(key)] = _attribute_value(value)
        self.attributes = attributes

    def start(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[trace.Span, otel_context.Context]:
        """Start the call's span; returns it and the context to run the function in.

        Never raises: on any failure the call runs untraced (a non-recording span, the current context)."""
        headers = kwargs.pop(_HEADERS_KWARG, None)  # always taken out: the function does not expect it
        try:
            _configure.ensure_configured()
            propagate_context_to_threads()
            parent = extract_distributed_context(headers) if headers else None
            attributes = dict(self.attributes)
            if self.capture_input and capture_content():
                attributes[sc.INPUT_VALUE] = safe_json(self.inputs(args, kwargs))
            span = trace.get_tracer(_SCOPE, __version__).start_span(self.name, context=parent, kind=SpanKind.INTERNAL, attributes=attributes)
            return span, trace.set_span_in_context(span, parent)
        except Exception:
            logger.debug("opik-otel: could not start a @track span; the call runs untraced", exc_info=True)
            return trace.INVALID_SPAN, otel_context.get_current()

    def inputs(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if self.signature is None:
            return {"args": list(args), "kwargs": kwargs}
        try:
            bound = self.signature.bind(*args, **kwargs)
        except TypeError:  # the call itself will raise; record what was passed
            return {"args": list(args), "kwargs": kwargs}
        values = dict(bound.arguments)
        if self.skip_first:
            values.pop(next(iter(values)), None)
        return values

    def succeed(self, span: trace.Span, output: Any) -> None:
        """Record the output and end the span; never raises."""
        try:
            if self.capture_output and capture_content() and sc.OUTPUT_VALUE not in (getattr(span, "attributes", None) or {}):
                span.set_attribute(sc.OUTPUT_VALUE, safe_json(output))
        except Exception:
            logger.debug("opik-otel: could not record a @track output", exc_info=True)
        _end(span)

    def fail(self, span: trace.Span, exc: BaseException) -> None:
        """Record the error and end the span; never raises (the caller re-raises `exc` itself)."""
        record_error(span, exc)
        _end(span)


def _end(span: trace.Span) -> None:
    try:
        span.end()
    except Exception:  # a span processor that raises: the SDK calls them unguarded
        logger.debug("opik-otel: could not end a @track span", exc_info=True)


def _function_wrapper(func: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        span, context = spec.start(args, kwargs)
        token = otel_context.attach(context)
        try:
            result = func(*args, **kwargs)
        except BaseException as exc:
            spec.fail(span, exc)
            raise
        finally:
            otel_context.detach(token)
        spec.succeed(span, result)
        return result

    return call


def _coroutine_wrapper(func: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    async def call(*args: Any, **kwargs: Any) -> Any:
        span, context = spec.start(args, kwargs)
        token = otel_context.attach(context)
        try:
            result = await func(*args, **kwargs)
        except BaseException as exc:
            spec.fail(span, exc)
            raise
        finally:
            otel_context.detach(token)
        spec.succeed(span, result)
        return result

    return call


class _Collected:
    """A generator's yielded items, as its output: joined if all are strings, else a list."""

    __slots__ = ("items",)

    def __init__(self) -> None:
        self.items: list[Any] = []

    def add(self, item: Any) -> None:
        if len(self.items) < _MAX_COLLECTED:
            self.items.append(item)

    def output(self) -> Any:
        items = self.items
        return "".join(items) if items and all(isinstance(item, str) for item in items) else items


def _generator_wrapper(func: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        span, context = spec.start(args, kwargs)
        collected = _Collected()
        try:
            token = otel_context.attach(context)
            try:
                generator = func(*args, **kwargs)
            finally:
                otel_context.detach(token)
            sent: Any = None
            thrown: BaseException | None = None
            while True:
                token = otel_context.attach(context)  # current only while the generator's body runs
                try:
                    item = generator.throw(thrown) if thrown is not None else generator.send(sent)
                except StopIteration:
                    break
                finally:
                    otel_context.detach(token)
                    thrown = None
                collected.add(item)
                try:
                    sent = yield item
                except GeneratorExit:  # closed early (close(), or garbage collection after a break)
                    token = otel_context.attach(context)
                    try:
                        generator.close()
                    finally:
                        otel_context.detach(token)
                    raise
                except BaseException as exc:  # thrown in by the caller: pass it on
                    thrown = exc
        except GeneratorExit:
            spec.succeed(span, collected.output())
            raise
        except BaseException as exc:
            spec.fail(span, exc)
            raise
        spec.succeed(span, collected.output())

    return call


def _async_generator_wrapper(func: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    async def call(*args: Any, **kwargs: Any) -> Any:
        span, context = spec.start(args, kwargs)
        collected = _Collected()
        try:
            generator = func(*args, **kwargs)  # runs nothing until the first __anext__
            sent: Any = None
            thrown: BaseException | None = None
            while True:
                token = otel_context.attach(context)
                try:
                    item = await (generator.athrow(thrown) if thrown is not None else generator.asend(sent))
                except StopAsyncIteration:
                    break
                finally:
                    otel_context.detach(token)
                    thrown = None
                collected.add(item)
                try:
                    sent = yield item
                except GeneratorExit:
                    token = otel_context.attach(context)
                    try:
                        await generator.aclose()
                    finally:
                        otel_context.detach(token)
                    raise
                except BaseException as exc:
                    thrown = exc
        except GeneratorExit:
            spec.succeed(span, collected.output())
            raise
        except BaseException as exc:
            spec.fail(span, exc)
            raise
        spec.succeed(span, collected.output())

    return call


# --- updating the current span and trace -------------------------------------------------


def update_current_span(
    name: str | None = None,
    input: Mapping[str, Any] | Any = None,
    output: Mapping[str, Any] | Any = None,
    metadata: Mapping[str, Any] | None = None,
    tags: Sequence[str] | None = None,
    thread_id: str | None = None,
) -> None:
    """Set the name, input, output, metadata, tags or thread of the current span (a `@track` span or any other).

    An output set here is kept: `@track` does not replace it with the return value.
    """
    span = trace.get_current_span()
    if not span.is_recording():
        return
    _update(span, name, input, output, metadata, tags, thread_id, trace_level=False)


def update_current_trace(
    name: str | None = None,
    input: Mapping[str, Any] | Any = None,
    output: Mapping[str, Any] | Any = None,
    metadata: Mapping[str, Any] | None = None,
    tags: Sequence[str] | None = None,
    thread_id: str | None = None,
) -> None:
    """Set the Opik trace's name, input, output, metadata, tags or thread, from anywhere inside it.

    Stored on the span that began the trace in this process while it runs; a trace that
    began in another process is updated there.
    """
    current = trace.get_current_span()
    context = current.get_span_context()
    if not context.is_valid:
        return
    root = local_root(context.trace_id)
    if root is None or not root.is_recording():
        parent = getattr(current, "parent", None)
        if not current.is_recording() or (parent is not None and not parent.is_remote):
            logger.debug("opik-otel: update_current_trace: the trace's root span is not running in this process")
            return
        root = current
    _update(root, name, input, output, metadata, tags, thread_id, trace_level=True)


def _update(span: Any, name: str | None, input: Any, output: Any, metadata: Mapping[str, Any] | None,
            tags: Sequence[str] | None, thread_id: str | None, trace_level: bool) -> None:
    try:
        if trace_level:
            keys = (sc.OPIK_TRACE_NAME, sc.OPIK_TRACE_INPUT, sc.OPIK_TRACE_OUTPUT, sc.OPIK_TRACE_TAGS, sc.OPIK_TRACE_METADATA_PREFIX)
        else:
            keys = (None, sc.INPUT_VALUE, sc.OUTPUT_VALUE, sc.OPIK_TAGS, sc.OPIK_METADATA_PREFIX)
        name_key, input_key, output_key, tags_key, metadata_prefix = keys
        if name is not None and name_key:
            span.set_attribute(name_key, name)
        elif name is not None:
            span.update_name(name)
        if input is not None:
            span.set_attribute(input_key, safe_json(input))
        if output is not None:
            span.set_attribute(output_key, safe_json(output))
        if tags:
            existing = (getattr(span, "attributes", None) or {}).get(tags_key) or ()
            span.set_attribute(tags_key, list(dict.fromkeys((*existing, *(str(tag) for tag in tags)))))
        for key, value in (metadata or {}).items():
            span.set_attribute(metadata_prefix + str(key), _attribute_value(value))
        if thread_id is not None:
            span.set_attribute(sc.GEN_AI_CONVERSATION_ID, str(thread_id))
    except Exception:  # never raise into user code
        logger.debug("opik-otel: could not update a span", exc_info=True)


def safe_json(value: Any) -> str:
    """JSON of any content value, after the redaction hook (`content_json`, which never raises):
    unserialisable parts as `str()`, a circular structure as its `repr()`, else a placeholder."""
    return sc.content_json(value)


def _attribute_value(value: Any) -> Any:
    return value if isinstance(value, (str, bool, int, float)) else safe_json(value)
