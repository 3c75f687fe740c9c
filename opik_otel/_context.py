"""What applies to every span started in a scope: `tracing_context(...)`, carried into threads.

`tracing_context(project_name=…, thread_id=…, tags=…, metadata=…)` puts a `Scope` in the
OpenTelemetry context; `OpikContextSpanProcessor` stamps it on each span as it starts, from
any instrumentation. asyncio tasks inherit the context by themselves; threads started (and
pool tasks submitted) inside it get it from `propagate_context_to_threads()`, which patches
`threading.Thread.start` and `ThreadPoolExecutor.submit` for the whole process. The switch
`propagate_context_to_threads` (`OPIK_OTEL_PROPAGATE_CONTEXT_TO_THREADS`) turns that off;
`shutdown()` undoes it. A thread's span parents what the thread does only while it runs: once
it has ended, the thread's next spans begin new traces, without the carried scope (a worker
started during a request does not file its later work under that request). A pool task keeps
the context it was submitted in: it is one piece of the submitting span's work.

A trace lives in one Opik project: a span with a local parent takes the parent's project
(an empty one, meaning the exporter's default, when the parent has none).

A local root with a foreign trace id (not a UUID v7: an app's own provider) gets its Opik
trace id in its trace state as it starts (`opik=…`, see `opik_otel._ids`), which every span
started under it inherits, so no map of running traces is needed to give them one id.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Sequence

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import SpanContext

from opik_otel import semconv as sc
from opik_otel._content import parse_boolean
from opik_otel._ids import OPIK_TRACE_STATE_KEY, stamped_trace_state
from opik_otel._runtime import after_fork_in_child
from opik_otel._settings import ENV_VARS
from opik_otel._span_attributes import span_attributes

logger = logging.getLogger(__name__)

_SCOPE_KEY = otel_context.create_key("opik_otel.scope")


@dataclass(frozen=True)
class Scope:
    """Project, thread, tags and metadata for every span started while it is current."""

    project_name: str | None = None
    thread_id: str | None = None
    tags: tuple[str, ...] = ()
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def within(self, inner: Scope) -> Scope:
        """This scope with an inner one on top: inner values win, tags and metadata add up."""
        return Scope(
            inner.project_name or self.project_name,
            inner.thread_id or self.thread_id,
            tuple(dict.fromkeys((*self.tags, *inner.tags))),
            {**self.metadata, **inner.metadata},
        )


def current_scope(context: otel_context.Context | None = None) -> Scope | None:
    """The `tracing_context` in effect in `context` (default: the current one).

    Once the span a thread was started in has ended, the scope the thread carried from there
    applies only to spans of that span's trace (see `_CarriedSpan`)."""
    scope: Scope | None = otel_context.get_value(_SCOPE_KEY, context)  # type: ignore[assignment]
    if scope is not None:
        carried: _CarriedSpan | None = otel_context.get_value(_CARRIED_KEY, context)  # type: ignore[assignment]
        if carried is not None and scope is carried.scope and carried.ended():
            if trace.get_current_span(context).get_span_context().trace_id != carried.trace_id:
                return None
    return scope


@contextlib.contextmanager
def tracing_context(
    project_name: str | None = None,
    thread_id: str | None = None,
    tags: Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Iterator[Scope]:
    """Apply a project, an Opik thread id, tags and metadata to every span started inside.

    Nests (inner values win; tags and metadata add up) and reaches asyncio tasks and threads
    started inside. Spans of a trace that began elsewhere keep that trace's project.
    """
    propagate_context_to_threads()
    outer = current_scope() or Scope()
    scope = outer.within(Scope(project_name, None if thread_id is None else str(thread_id), tuple(tags or ()), dict(metadata or {})))
    token = otel_context.attach(otel_context.set_value(_SCOPE_KEY, scope))
    try:
        yield scope
    finally:
        otel_context.detach(token)


class OpikContextSpanProcessor(SpanProcessor):
    """Stamps the current `tracing_context` on each starting span and keeps a trace in one project.

    `configure()` installs it; add it yourself to a TracerProvider you build by hand.
    It also remembers each trace's local root span, for `update_current_trace()`, and,
    while this process exports to Opik, stamps a foreign trace's Opik id on its local root.
    """

    def on_start(self, span: Span, parent_context: Any = None) -> None:
        try:
            self._stamp(span, parent_context)
        except Exception:  # pragma: no cover - never break span creation
            logger.debug("opik-otel: could not apply the tracing context to a span", exc_info=True)

    def _stamp(self, span: Span, parent_context: Any) -> None:
        parent = trace.get_current_span(parent_context)
        parent_ids = parent.get_span_context()
        scope = current_scope(parent_context)
        if not parent_ids.is_valid or parent_ids.is_remote:  # a local root
            context = span.context
            _ROOTS[context.trace_id] = span
            if len(_ROOTS) > _MAX_ROOTS:
                _forget_oldest_root()
            if _marks_traces():  # a foreign trace id gets its Opik id from this start (None: none needed)
                state = stamped_trace_state(context.trace_id, span.start_time or 0, context.trace_state)
                if state is not None:
                    _set_trace_state(span, context, state)
            if scope is None:
                return  # the common case: nothing to stamp
            attributes = span_attributes(span)
            project = attributes.get(sc.OPIK_PROJECT_NAME) or scope.project_name
        else:
            parent_state = parent_ids.trace_state
            if parent_state and OPIK_TRACE_STATE_KEY in parent_state:  # a sampler may not pass it on
                context = span.context
                if OPIK_TRACE_STATE_KEY not in context.trace_state:
                    _set_trace_state(span, context, _with_opik_entry(context.trace_state, parent_state[OPIK_TRACE_STATE_KEY]))
            # the plain dicts: a missing key's `get` through the SDK's mappings raises and catches KeyError
            attributes = span_attributes(span)
            parent_attributes = span_attributes(parent) if hasattr(parent, "attributes") else None
            # the trace's project ("" for the exporter's default); a non-SDK parent tells none
            project = None if parent_attributes is None else parent_attributes.get(sc.OPIK_PROJECT_NAME) or ""
            if project is None and scope is not None:
                project = attributes.get(sc.OPIK_PROJECT_NAME) or scope.project_name
        if project is not None and project != attributes.get(sc.OPIK_PROJECT_NAME, ""):
            span.set_attribute(sc.OPIK_PROJECT_NAME, project)
        if scope is None:
            return
        if scope.thread_id and sc.GEN_AI_CONVERSATION_ID not in attributes:
            span.set_attribute(sc.GEN_AI_CONVERSATION_ID, scope.thread_id)
        if scope.tags:
            span.set_attribute(sc.OPIK_TAGS, list(dict.fromkeys((*(attributes.get(sc.OPIK_TAGS) or ()), *scope.tags))))
        for key, value in scope.metadata.items():
            name = sc.OPIK_METADATA_PREFIX + str(key)
            if name not in attributes:
                span.set_attribute(name, value if isinstance(value, (str, bool, int, float)) else sc.to_json(value))

    def on_end(self, span: ReadableSpan) -> None:
        # `span` is the SDK's read-only copy of the span that started: compare span ids
        context = span.context
        if context is None:
            return
        root = _ROOTS.get(context.trace_id)
        if root is not None and root.context.span_id == context.span_id:
            _ROOTS.pop(context.trace_id, None)


def _marks_traces() -> bool:
    """`_configure.marks_opik_traces()`, imported on first use (`_configure` imports this module)."""
    global _marks_traces
    from opik_otel._configure import marks_opik_traces

    _marks_traces = marks_opik_traces
    return marks_opik_traces()


def _set_trace_state(span: Span, context: SpanContext, state: Any) -> None:
    """Give a starting SDK span a trace state: spans started under it inherit it."""
    span._context = SpanContext(context.trace_id, context.span_id, context.is_remote, context.trace_flags, state)


def _with_opik_entry(state: Any, value: str) -> Any:
    return state.add(OPIK_TRACE_STATE_KEY, value) if len(state) < 32 else state


# Each running trace's local root span (the newest, if a trace enters this process twice).
# A plain dict: its single reads and writes are atomic, so starting a span takes no lock.
_ROOTS: dict[int, Span] = {}
_MAX_ROOTS = 10_000


def _forget_oldest_root() -> None:
    try:
        del _ROOTS[next(iter(_ROOTS))]
    except (KeyError, StopIteration, RuntimeError):  # another thread changed it meanwhile
        pass


def local_root(trace_id: int) -> Span | None:
    """The running span that began this trace in this process (seen by `OpikContextSpanProcessor`)."""
    return _ROOTS.get(trace_id)


# --- threads ---------------------------------------------------------------------------
#
# Process-wide: `threading.Thread.start` and `ThreadPoolExecutor.submit` are replaced by
# wrappers that carry the OpenTelemetry context across (switch: `propagate_context_to_threads`,
# `OPIK_OTEL_PROPAGATE_CONTEXT_TO_THREADS`). Turning it off (or `shutdown()`) puts the originals
# back; if another library has wrapped them over ours meanwhile, ours stay in its chain and
# pass through.

_threads_patched = threading.Lock()
_carrying = False  # read by our wrappers on every start and submit
_decision: bool | None = None  # configure()'s (or shutdown()'s); None: the environment variable, else on
_installed: tuple[Any, Any, Any, Any] | None = None  # (our start, our submit, original start, original submit)


def propagate_context_to_threads() -> None:
    """Make threads started, and pool tasks submitted, inside a span or scope run in its context.

    Called by `@track` and `tracing_context`: patches unless turned off, by
    `configure(propagate_context_to_threads=False)` or, before `configure()` runs, by
    `OPIK_OTEL_PROPAGATE_CONTEXT_TO_THREADS=false`; after `shutdown()`, only `configure()` patches again.
    """
    if _carrying or _decision is False:  # every @track call lands here: no lock once decided
        return
    with _threads_patched:
        decision = _decision
        if decision is None:
            decision = parse_boolean(os.environ.get(ENV_VARS["propagate_context_to_threads"])) is not False
        if decision:
            _carry(True)


def set_context_propagation(enabled: bool) -> None:
    """`configure()`'s decision (and `shutdown()`'s, False): patch, or put the originals back, now."""
    global _decision
    with _threads_patched:
        _decision = enabled
        _carry(enabled)


def _carry(enabled: bool) -> None:
    """Patch, or unpatch; the caller holds `_threads_patched`."""
    global _carrying, _installed
    _carrying = enabled
    if enabled and _installed is None:
        _installed = _install()
    elif not enabled and _installed is not None:
        start, submit, original_start, original_submit = _installed
        if threading.Thread.start is start and ThreadPoolExecutor.submit is submit:
            threading.Thread.start, ThreadPoolExecutor.submit = original_start, original_submit  # type: ignore[method-assign]
            _installed = None
        # else wrapped over by another library: ours stay installed, passing through


def _install() -> tuple[Any, Any, Any, Any]:
    original_start, original_submit = threading.Thread.start, ThreadPoolExecutor.submit

    @functools.wraps(original_start)
    def start(self: threading.Thread) -> None:
        carried = otel_context.get_current() if _carrying else None
        if carried:  # nothing to carry from an empty context
            self.run = _in_context(_for_thread(carried), self.run)  # type: ignore[method-assign]
        original_start(self)

    @functools.wraps(original_submit)
    def submit(self: ThreadPoolExecutor, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        if not _carrying:
            return original_submit(self, fn, *args, **kwargs)
        task = _in_context(otel_context.get_current(), fn)
        token = otel_context.attach(otel_context.Context())  # a worker started here keeps no span alive
        try:
            return original_submit(self, task, *args, **kwargs)
        finally:
            otel_context.detach(token)

    threading.Thread.start = start  # type: ignore[method-assign]
    ThreadPoolExecutor.submit = submit  # type: ignore[method-assign]
    return start, submit, original_start, original_submit


def _after_fork_in_child() -> None:
    """A forked child gets a new lock: one held by another thread of the parent is never released there."""
    global _threads_patched
    _threads_patched = threading.Lock()


after_fork_in_child(_after_fork_in_child)


def _in_context(carried: otel_context.Context, fn: Any) -> Any:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        token = otel_context.attach(carried)
        try:
            return fn(*args, **kwargs)
        finally:
            otel_context.detach(token)

    return call


# --- a thread outliving the span it started in (the rule: see the module docstring) -----

_CARRIED_KEY = otel_context.create_key("opik_otel.carried_into_thread")


class _CarriedSpan(trace.Span):
    """The span a thread was started in, as the thread sees it: itself while it runs, then no
    span at all (an invalid context), so the SDK starts a new trace for the thread's next span."""

    def __init__(self, span: trace.Span, scope: Scope | None) -> None:
        self.span = span
        self.scope = scope  # the `tracing_context` carried with it
        self.trace_id = span.get_span_context().trace_id

    def ended(self) -> bool:
        return not self.span.is_recording()

    def get_span_context(self) -> SpanContext:
        return trace.INVALID_SPAN_CONTEXT if self.ended() else self.span.get_span_context()

    def is_recording(self) -> bool:
        return self.span.is_recording()

    def end(self, end_time: int | None = None) -> None:
        self.span.end(end_time)

    def set_attributes(self, attributes: Any) -> None:
        self.span.set_attributes(attributes)

    def set_attribute(self, key: str, value: Any) -> None:
        self.span.set_attribute(key, value)

    def add_event(self, name: str, attributes: Any = None, timestamp: int | None = None) -> None:
        self.span.add_event(name, attributes, timestamp)

    def add_link(self, context: SpanContext, attributes: Any = None) -> None:
        self.span.add_link(context, attributes)

    def update_name(self, name: str) -> None:
        self.span.update_name(name)

    def set_status(self, status: Any, description: str | None = None) -> None:
        self.span.set_status(status, description)

    def record_exception(self, exception: BaseException, attributes: Any = None, timestamp: int | None = None, escaped: bool = False) -> None:
        self.span.record_exception(exception, attributes, timestamp, escaped)

    def __getattr__(self, name: str) -> Any:  # `attributes`, `parent`, `name` … of an SDK span
        if name == "span":  # not set yet (a copy being made)
            raise AttributeError(name)
        return getattr(self.span, name)


def _for_thread(carried: otel_context.Context) -> otel_context.Context:
    """The context a new thread runs in: `carried`, its span seen through `_CarriedSpan`."""
    span = trace.get_current_span(carried)
    if not span.is_recording():  # no span, a remote parent or one not sampled: nothing to outlive
        return carried
    seen = _CarriedSpan(span, otel_context.get_value(_SCOPE_KEY, carried))  # type: ignore[arg-type]
    return otel_context.set_value(_CARRIED_KEY, seen, trace.set_span_in_context(seen, carried))
