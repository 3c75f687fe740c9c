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
from typing import Any, AsyncGenerator, Callable, Generator, Mapping, Sequence, TypeVar, overload

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from opik_otel import semconv as sc
from opik_otel import _configure
from opik_otel._content import capture_content
from opik_otel._context import local_root, propagate_context_to_threads
from opik_otel._distributed import extract_distributed_context
from opik_otel._errors import record_error
from opik_otel._version import __version__

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


class _Call:
    """One traced call: its span, started when the call begins; `with call:` runs a piece of the
    function's code with the span current, and an exception escaping it fails the span (it
    still propagates, untouched). Every step of ours is guarded: none raises into the call."""

    __slots__ = ("spec", "span", "context", "token")

    def __init__(self, spec: _Spec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.spec = spec
        self.span, self.context = spec.start(args, kwargs)

    def __enter__(self) -> None:
        self.token = otel_context.attach(self.context)

    def __exit__(self, exc_type: Any, exc: BaseException | None, traceback: Any) -> bool:
        otel_context.detach(self.token)
        if exc is not None:
            record_error(self.span, exc)
            _end(self.span)
        return False  # the exception propagates as it is

    def returned(self, output: Any) -> Any:
        """Record the output and end the span; returns `output` itself."""
        try:
            if self.spec.capture_output and capture_content() and sc.OUTPUT_VALUE not in (getattr(self.span, "attributes", None) or {}):
                self.span.set_attribute(sc.OUTPUT_VALUE, safe_json(output))
        except Exception:
            logger.debug("opik-otel: could not record a @track output", exc_info=True)
        _end(self.span)
        return output


def _end(span: trace.Span) -> None:
    try:
        span.end()
    except Exception:  # a span processor that raises: the SDK calls them unguarded
        logger.debug("opik-otel: could not end a @track span", exc_info=True)


def _function_wrapper(func: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        traced = _Call(spec, args, kwargs)
        with traced:
            result = func(*args, **kwargs)
        return traced.returned(result)

    return call


def _coroutine_wrapper(func: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    async def call(*args: Any, **kwargs: Any) -> Any:
        traced = _Call(spec, args, kwargs)
        with traced:
            result = await func(*args, **kwargs)
        return traced.returned(result)

    return call


class _GeneratorCall:
    """The generator protocol, passed through a traced generator: what the caller sends or throws
    in goes on to the generator, whose code runs (with the span current) only inside `advance`.

    `with run:` wraps the wrapper's own `yield`: an exception the caller throws in there is kept
    for the generator's next step; a close (`GeneratorExit`) stops the loop, and the wrapper then
    closes the generator and returns. The span ends when the generator is exhausted, closed or fails,
    with the yielded items as its output: joined if all are strings, else a list.
    """

    __slots__ = ("call", "item", "items", "sent", "thrown", "closing", "result")

    def __init__(self, spec: _Spec, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        self.call = _Call(spec, args, kwargs)
        self.item: Any = None
        self.items: list[Any] = []
        self.sent: Any = None
        self.thrown: BaseException | None = None
        self.closing = False
        self.result: Any = None  # a generator's return value, for `yield from`

    def resume(self, send: Callable[[Any], Any], throw: Callable[[BaseException], Any]) -> Any:
        """The generator's next step: the exception the caller threw in, else the value it sent."""
        thrown, self.thrown = self.thrown, None
        return send(self.sent) if thrown is None else throw(thrown)

    def advance(self, generator: Generator[Any, Any, Any]) -> bool:
        """Run the generator to its next item (`self.item`); False once it is exhausted or closing."""
        if self.closing:
            return False
        with self.call:
            try:
                self.item = self.resume(generator.send, generator.throw)
            except StopIteration as stop:
                self.result = stop.value
                return False
        self.collect()
        return True

    async def advance_async(self, generator: AsyncGenerator[Any, Any]) -> bool:
        """`advance` for an async generator."""
        if self.closing:
            return False
        with self.call:
            try:
                self.item = await self.resume(generator.asend, generator.athrow)
            except StopAsyncIteration:
                return False
        self.collect()
        return True

    def collect(self) -> None:
        if len(self.items) < _MAX_COLLECTED:
            self.items.append(self.item)

    def __enter__(self) -> None:
        pass

    def __exit__(self, exc_type: Any, exc: BaseException | None, traceback: Any) -> bool:
        if isinstance(exc, GeneratorExit):
            self.closing = True
        elif exc is not None:
            self.thrown = exc
        return True  # the caller's exception goes on to the generator, not out of the wrapper

    def finish(self) -> None:
        """End the span, the items yielded as its output."""
        items = self.items
        self.call.returned("".join(items) if items and all(isinstance(item, str) for item in items) else items)


def _generator_wrapper(func: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        run = _GeneratorCall(spec, args, kwargs)
        with run.call:
            generator = func(*args, **kwargs)
        while run.advance(generator):
            with run:  # the caller's turn: a value sent, an exception thrown in, or a close
                run.sent = yield run.item
        if run.closing:
            with run.call:
                generator.close()
        run.finish()
        return run.result

    return call


def _async_generator_wrapper(func: Callable[..., Any], spec: _Spec) -> Callable[..., Any]:
    async def call(*args: Any, **kwargs: Any) -> Any:
        run = _GeneratorCall(spec, args, kwargs)
        with run.call:
            generator = func(*args, **kwargs)  # runs nothing until the first step
        while await run.advance_async(generator):
            with run:  # the caller's turn
                run.sent = yield run.item
        if run.closing:
            with run.call:
                await generator.aclose()
        run.finish()

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
