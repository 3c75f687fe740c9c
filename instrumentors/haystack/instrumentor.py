"""`HaystackInstrumentor`: every Haystack pipeline, component, agent and tool run traced, zero code.

Haystack asks one global tracer (`haystack.tracing.tracer`, a proxy) for every span. When the app
imports Haystack, we enable ours (`haystack.tracing.enable_tracing`) unless the app set a tracer
of its own on purpose (Langfuse's, Datadog's, a custom one): ours replaces only no tracer, and the
OpenTelemetry tracer Haystack 2.x enables by itself when an OpenTelemetry provider is set
(`HAYSTACK_AUTO_TRACE_ENABLED`), whose spans would duplicate ours. `uninstrument()` puts back
what was there. haystack is imported only when the app imports it; instrumented before that,
we set `HAYSTACK_AUTO_TRACE_ENABLED=false` (unless the app set it), so that Haystack 2.x does
not probe the provider with a span of its own (`haystack.tracing.auto_enable`, a stray trace).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from opik_otel._content import ContentPolicy
from opik_otel.instrumentors._callbacks import RunSpans
from opik_otel.instrumentors._framework import FrameworkInstrumentor, ImportActivation
from opik_otel.instrumentors.haystack.package import _instruments

logger = logging.getLogger(__name__)

_SCOPE = "opik_otel.instrumentors.haystack"
_TRACING_MODULE = "haystack.tracing"
_AUTO_TRACE = "HAYSTACK_AUTO_TRACE_ENABLED"
#: Tracers ours replaces: none, Haystack's auto-enabled OpenTelemetry one, and ours.
_REPLACEABLE = frozenset({"NullTracer", "OpenTelemetryTracer", "OpikHaystackTracer"})


class _Active:
    """The instrumentor's tracer while it is enabled in Haystack, and the tracer it replaced."""

    def __init__(self) -> None:
        self.tracer: Any = None
        self.previous: Any = None


_ACTIVE = _Active()
_ON_IMPORT = ImportActivation(_TRACING_MODULE)


def replaceable(tracer: Any) -> bool:
    """Whether Haystack's current tracer may be replaced by ours (not one the app set on purpose)."""
    return type(tracer).__name__ in _REPLACEABLE


def enable(runs: RunSpans, content: ContentPolicy, traces_all: bool) -> Any:
    """Make an `OpikHaystackTracer` Haystack's tracer; returns it and the tracer it replaced."""
    from haystack import tracing

    from opik_otel.instrumentors.haystack.tracer import OpikHaystackTracer

    previous = tracing.tracer.actual_tracer
    tracer = OpikHaystackTracer(runs, content, traces_all)
    tracing.enable_tracing(tracer)
    return tracer, previous


class HaystackInstrumentor(FrameworkInstrumentor):
    """Traces every Haystack pipeline run: components, generators, embedders, retrievers, agents, tools.

    `HaystackInstrumentor().instrument(tracer_provider=None, capture_content=None)`.
    """

    _set_auto_trace = False

    instruments = _instruments
    scope_name = _SCOPE
    activation = _ON_IMPORT

    def _instrument(self, **kwargs: Any) -> None:
        if _TRACING_MODULE not in sys.modules and _AUTO_TRACE not in os.environ:
            os.environ[_AUTO_TRACE] = "false"
            self._set_auto_trace = True
        super()._instrument(**kwargs)

    def activate(self, runs: RunSpans, content: ContentPolicy) -> None:
        try:
            from haystack import tracing

            current = tracing.tracer.actual_tracer
            if not replaceable(current):
                logger.debug("opik-otel: Haystack already has a tracer (%s); left in place", type(current).__name__)
                return
            _ACTIVE.tracer, previous = enable(runs, content, True)
            if type(previous).__name__ != "OpikHaystackTracer" or _ACTIVE.previous is None:
                _ACTIVE.previous = previous
        except Exception:
            logger.debug("opik-otel: could not enable tracing in Haystack", exc_info=True)

    def deactivate(self) -> None:
        if self._set_auto_trace:
            self._set_auto_trace = False
            if os.environ.get(_AUTO_TRACE) == "false":
                del os.environ[_AUTO_TRACE]
        ours, previous = _ACTIVE.tracer, _ACTIVE.previous
        _ACTIVE.tracer = _ACTIVE.previous = None
        if ours is None or _TRACING_MODULE not in sys.modules:
            return
        try:
            from haystack import tracing

            if tracing.tracer.actual_tracer is ours:  # put back what was there (unless the app changed it since)
                if previous is not None:
                    tracing.enable_tracing(previous)
                else:
                    tracing.disable_tracing()
        except Exception:  # pragma: no cover - defensive
            logger.debug("opik-otel: could not restore Haystack's tracer", exc_info=True)
