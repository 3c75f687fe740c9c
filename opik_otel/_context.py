"""What applies to every span started in a scope: `tracing_context(...)`, carried into threads.

`tracing_context(project_name=…, thread_id=…, tags=…, metadata=…)` puts a `Scope` in the
OpenTelemetry context; `OpikContextSpanProcessor` stamps it on each span as it starts, from
any instrumentation. asyncio tasks inherit the context by themselves; threads started (and
pool tasks submitted) inside it get it from `propagate_context_to_threads()`.

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
from opik_otel._ids import OPIK_TRACE_STATE_KEY, stamped_trace_state

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


def current_scope() -> Scope | None:
    return otel_context.get_value(_SCOPE_KEY)  # type: ignore[return-value]


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
        scope: Scope | None = otel_context.get_value(_SCOPE_KEY, parent_context)
        if not parent_ids.is_valid or parent_ids.is_remote:  # a local root
            context = span.context
            _ROOTS[context.trace_id] = span
            if len(_ROOTS) > _MAX_ROOTS:
                _forget_oldest_root()
            state = stamped_trace_state(context.trace_id, span.start_time or 0, context.trace_state)
            if state is not None and _marks_traces():  # a foreign trace id: its Opik id takes this start
                _set_trace_state(span, context, state)
            if scope is None:
                return  # the common case: nothing to stamp
            attributes = span.attributes or {}
            project = attributes.get(sc.OPIK_PROJECT_NAME) or scope.project_name
        else:
            parent_state = parent_ids.trace_state
            if parent_state and OPIK_TRACE_STATE_KEY in parent_state:  # a sampler may not pass it on
                context = span.context
                if OPIK_TRACE_STATE_KEY not in context.trace_state:
                    _set_trace_state(span, context, _with_opik_entry(context.trace_state, parent_state[OPIK_TRACE_STATE_KEY]))
            attributes = span.attributes or {}
            parent_attributes = getattr(parent, "attributes", None)
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
    from opik_otel._configure import marks_opik_traces

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

_threads_patched = threading.Lock()
_patched = False


def propagate_context_to_threads() -> None:
    """Make threads started, and pool tasks submitted, inside a span or scope run in its context.

    Idempotent. Patches `threading.Thread.start` and `ThreadPoolExecutor.submit` to
    carry the OpenTelemetry context (only it) across, as asyncio does for tasks.
    """
    global _patched
    if _patched:  # every @track call lands here: no lock once patched
        return
    with _threads_patched:
        if _patched:
            return
        _patched = True
    original_start, original_submit = threading.Thread.start, ThreadPoolExecutor.submit

    @functools.wraps(original_start)
    def start(self: threading.Thread) -> None:
        carried = otel_context.get_current()
        if carried:  # nothing to carry from an empty context
            self.run = _in_context(carried, self.run)  # type: ignore[method-assign]
        original_start(self)

    @functools.wraps(original_submit)
    def submit(self: ThreadPoolExecutor, fn: Any, /, *args: Any, **kwargs: Any) -> Any:
        task = _in_context(otel_context.get_current(), fn)
        token = otel_context.attach(otel_context.Context())  # a worker started here keeps no span alive
        try:
            return original_submit(self, task, *args, **kwargs)
        finally:
            otel_context.detach(token)

    threading.Thread.start = start  # type: ignore[method-assign]
    ThreadPoolExecutor.submit = submit  # type: ignore[method-assign]


def _after_fork_in_child() -> None:
    """A forked child gets a new lock: one held by another thread of the parent is never released there."""
    global _threads_patched
    _threads_patched = threading.Lock()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _in_context(carried: otel_context.Context, fn: Any) -> Any:
    @functools.wraps(fn)
    def call(*args: Any, **kwargs: Any) -> Any:
        token = otel_context.attach(carried)
        try:
            return fn(*args, **kwargs)
        finally:
            otel_context.detach(token)

    return call
