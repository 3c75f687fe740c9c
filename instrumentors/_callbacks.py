"""The engine for callback frameworks: run events (start / end / error, keyed by run id) become spans.

A framework adapter (LangChain …) only says how to read its events; this engine does the rest,
identically for every framework:

- the parent of a run's span is its parent run's span when that run is known, else the current
  OpenTelemetry context (so a chain inside `@track` or an HTTP server span nests where it ran);
- a hidden run (framework plumbing) gets no span; its children attach to its nearest visible
  ancestor;
- each run's span is current while the run works (attached at start, detached at end, only
  when the current context is still the one attached), so spans made inside a step nest under it;
- a model run opens no span (`defer`): it leaves a `PendingModelCall` in the context for the
  provider call under it to claim; unclaimed, its inference span is made when the run ends (its
  request attributes may be a function, read only then: a claimed call's provider span reads the
  request itself);
- every span ends exactly once; open runs live in a bounded map (ended runs leave at once, past
  `max_runs` the oldest is ended and evicted with one debug line).

Nothing here raises into the framework: a failing read loses the attribute, an unknown run id
is ignored.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from typing import Any, Callable, Hashable, Union

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from opik_otel import semconv as sc
from opik_otel._errors import record_error
from opik_otel._model_call import PendingModelCall, forget_stream, pend_on_stream, with_pending_model_call

logger = logging.getLogger(__name__)

Attributes = dict[str, Any]
#: End attributes, or a function computing them, called only when a span will receive them.
LateAttributes = Union[Attributes, Callable[[], Attributes], None]

MAX_OPEN_RUNS = 10_000


class _Run:
    """One open run: its span (None when hidden or deferred), the context it attached, and its token."""

    __slots__ = ("span", "context", "token", "previous", "pending", "name", "attributes", "start_time", "first_chunk_time")

    def __init__(self, span: trace.Span | None, context: otel_context.Context) -> None:
        self.span = span
        self.context = context
        self.token: Any = None
        self.previous: otel_context.Context | None = None
        self.pending: PendingModelCall | None = None
        self.name = ""
        self.attributes: LateAttributes = None
        self.start_time = 0
        self.first_chunk_time = 0


def _resolve(attributes: LateAttributes) -> Attributes:
    if attributes is None:
        return {}
    if callable(attributes):
        try:
            return attributes() or {}
        except Exception:
            logger.debug("opik-otel: could not read a run's end attributes; attributes dropped", exc_info=True)
            return {}
    return attributes


class RunSpans:
    """Open runs of a callback framework and their spans. Thread-safe for distinct run ids."""

    def __init__(self, tracer: trace.Tracer, max_runs: int = MAX_OPEN_RUNS) -> None:
        self.tracer = tracer
        self.max_runs = max_runs
        self._runs: OrderedDict[Hashable, _Run] = OrderedDict()

    def __len__(self) -> int:
        return len(self._runs)

    def __contains__(self, run_id: Hashable) -> bool:
        return run_id in self._runs

    def _parent_context(self, parent_run_id: Hashable | None, current: otel_context.Context) -> otel_context.Context:
        parent = self._runs.get(parent_run_id) if parent_run_id is not None else None
        return parent.context if parent is not None else current

    def _add(self, run_id: Hashable, run: _Run) -> None:
        runs = self._runs
        runs[run_id] = run
        while len(runs) > self.max_runs:
            old_id, old = runs.popitem(last=False)
            logger.debug("opik-otel: %d runs open; the oldest (%s) never ended and is dropped", self.max_runs, old_id)
            if old.span is not None:
                old.span.end()

    @staticmethod
    def _attach(run: _Run, current: otel_context.Context) -> None:
        """Make the run's context current (`current`: the context until now)."""
        try:
            run.previous = current
            run.token = otel_context.attach(run.context)
        except Exception:  # pragma: no cover - defensive
            run.token = None

    @staticmethod
    def _detach(run: _Run) -> None:
        """Undo the run's attach, only when its context is still the current one (else leave it)."""
        token = run.token
        if token is None or otel_context.get_current() is not run.context:
            return
        try:
            token.var.reset(token)  # a contextvars.Token: reset without the SDK's error log on a mismatch
        except Exception:  # made in another contextvars.Context (a copy): put the previous context back
            try:
                if run.previous is not None:
                    otel_context.attach(run.previous)
            except Exception:  # pragma: no cover - defensive
                pass

    def start(
        self,
        run_id: Hashable,
        parent_run_id: Hashable | None,
        name: str,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes | None = None,
    ) -> trace.Span | None:
        """Open a span for a run and make it current; the span (None if it could not start).
        A run id already open only gains `attributes`."""
        try:
            known = self._runs.get(run_id)
            if known is not None:
                if known.span is not None and attributes:
                    known.span.set_attributes(attributes)
                return known.span
            current = otel_context.get_current()
            parent = self._parent_context(parent_run_id, current)
            span = self.tracer.start_span(name, context=parent, kind=kind, attributes=attributes)
            run = _Run(span, trace.set_span_in_context(span, parent))
            self._add(run_id, run)
            self._attach(run, current)
            return span
        except Exception:
            logger.debug("opik-otel: could not start a span for run %s", run_id, exc_info=True)
            return None

    def rename(self, run_id: Hashable, name: str, attributes: Attributes | None = None) -> None:
        """Give an open run's span a new name (and attributes), once its kind is learnt from a child;
        a deferred model run's inference span (if it makes one) once its end tells the model."""
        run = self._runs.get(run_id)
        if run is not None and run.pending is not None:
            run.name = name
            if attributes:
                earlier = run.attributes
                run.attributes = lambda: {**_resolve(earlier), **attributes}
            return
        if run is None or run.span is None or getattr(run.span, "name", name) == name:
            return
        try:
            run.span.update_name(name)
            if attributes:
                run.span.set_attributes(attributes)
        except Exception:  # pragma: no cover - defensive
            logger.debug("opik-otel: could not rename the span of run %s", run_id, exc_info=True)

    def span_name(self, run_id: Hashable) -> str | None:
        """The span name of an open, visible run (None for an unknown, hidden or model run)."""
        run = self._runs.get(run_id)
        return getattr(run.span, "name", None) if run is not None and run.span is not None else None

    def hide(self, run_id: Hashable, parent_run_id: Hashable | None) -> None:
        """A run left out of the tree: its children attach to its nearest visible ancestor."""
        try:
            if run_id not in self._runs:
                self._add(run_id, _Run(None, self._parent_context(parent_run_id, otel_context.get_current())))
        except Exception:  # pragma: no cover - defensive
            logger.debug("opik-otel: could not record hidden run %s", run_id, exc_info=True)

    def defer(
        self,
        run_id: Hashable,
        parent_run_id: Hashable | None,
        name: str,
        attributes: LateAttributes,
        claimable: Attributes,
    ) -> None:
        """A model run: no span now; the provider call under it claims `claimable`, else the
        run's inference span (`name`, `attributes`) is made when it ends, from its start time.
        `attributes` may be a function: it is then called only for that unclaimed span."""
        try:
            if run_id in self._runs:
                return
            pending = PendingModelCall(claimable)
            current = otel_context.get_current()
            run = _Run(None, with_pending_model_call(pending, self._parent_context(parent_run_id, current)))
            run.pending = pending
            run.name = name
            run.attributes = attributes
            run.start_time = time.time_ns()
            self._add(run_id, run)
            self._attach(run, current)
        except Exception:
            logger.debug("opik-otel: could not defer model run %s", run_id, exc_info=True)

    def first_chunk(self, run_id: Hashable) -> None:
        """A deferred model run streamed its first chunk now (kept for the span it may make)."""
        run = self._runs.get(run_id)
        if run is not None and run.pending is not None and not run.first_chunk_time:
            run.first_chunk_time = time.time_ns()

    def release(self, run_id: Hashable, stream: Any = None) -> None:
        """The run's call returned but the run goes on (a stream ended later by an event): detach its
        context now, keep the run open for `end` / `fail`. A model run's billed call made later,
        while `stream` (a generator) runs, still claims it."""
        run = self._runs.get(run_id)
        if run is not None:
            self._detach(run)
            run.token = None
            if stream is not None and run.pending is not None:
                pend_on_stream(stream, run.pending)

    def _pop(self, run_id: Hashable) -> _Run | None:
        run = self._runs.pop(run_id, None)
        if run is not None:
            self._detach(run)
            if run.pending is not None:
                forget_stream(run.pending)
        return run

    def _deferred_span(self, run: _Run, attributes: Attributes) -> trace.Span | None:
        """The inference span of a model run no provider call claimed; None when one did."""
        pending = run.pending
        if pending is None or pending.claimed:
            return None
        streamed: Attributes = {}
        if run.first_chunk_time:
            streamed[sc.GEN_AI_REQUEST_STREAM] = True
            streamed[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (run.first_chunk_time - run.start_time) / 1e9
        return self.tracer.start_span(
            run.name,
            context=run.context,
            kind=SpanKind.CLIENT,
            attributes={**_resolve(run.attributes), **streamed, **attributes},
            start_time=run.start_time,
        )

    def end(self, run_id: Hashable, attributes: LateAttributes = None) -> None:
        """End a run's span with `attributes` (read only if a span receives them). Unknown ids: ignored."""
        try:
            run = self._pop(run_id)
            if run is None:
                return
            if run.pending is not None:
                if run.pending.claimed:
                    return
                span = self._deferred_span(run, _resolve(attributes))
                if span is not None:
                    span.end()
                return
            span = run.span
            if span is None:
                return
            resolved = _resolve(attributes)
            if resolved:
                span.set_attributes(resolved)
            span.end()
        except Exception:
            logger.debug("opik-otel: could not end the span of run %s", run_id, exc_info=True)

    def fail(self, run_id: Hashable, exception: BaseException, attributes: LateAttributes = None) -> None:
        """End a run's span as failed: status ERROR, `error.type`, an exception event."""
        try:
            run = self._pop(run_id)
            if run is None:
                return
            if run.pending is not None:
                if run.pending.claimed:
                    return  # the provider span recorded the error
                span = self._deferred_span(run, _resolve(attributes))
            else:
                span = run.span
            if span is None:
                return
            record_error(span, exception)
            span.end()
        except Exception:
            logger.debug("opik-otel: could not end the span of run %s", run_id, exc_info=True)
