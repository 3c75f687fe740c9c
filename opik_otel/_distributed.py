"""Distributed traces: W3C headers plus the Opik SDK's `opik_trace_id` / `opik_parent_span_id`.

`get_distributed_trace_headers()` gives both forms for the current span, so the callee
may run opik-otel, any OpenTelemetry setup, or the plain Opik SDK. The receiving side
continues from either form with `extract_distributed_context()` /
`continue_distributed_trace()`, or with the standard propagators (`OpikPropagator` is the
entry point `opik` of `opentelemetry_propagator`, which `configure()` adds to the global ones).

The Opik ids are the exporter's (`OpikIdMapper`). A process exporting to Opik adds the
trace-state entry `opik=<Opik trace id>` to the W3C `tracestate` it sends (`OpikPropagator`
runs after `tracecontext` and rewrites that header), so the callee knows its root span
hangs under a span that is in Opik. Marking at injection, not when a trace starts, costs
nothing per span and is right for a trace continued from a process not in Opik too.
"""

from __future__ import annotations

import contextlib
import functools
import time
import uuid
from typing import Any, Iterator, Mapping

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.propagators.textmap import CarrierT, Getter, Setter, TextMapPropagator, default_getter, default_setter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState

from opik_otel._ids import (
    OPIK_PARENT_TRACE_STATE_KEY,
    OPIK_TRACE_STATE_KEY,
    OpikIdMapper,
    is_uuid7_int,
    opik_id_from_hex,
    synthetic_span_id,
    uuid7_timestamp_ms,
)

OPIK_TRACE_ID_HEADER = "opik_trace_id"
OPIK_PARENT_SPAN_ID_HEADER = "opik_parent_span_id"
_TRACESTATE_HEADER = "tracestate"
_MAX_TRACE_STATE_ENTRIES = 32  # W3C: a full trace state takes no more

_ids = OpikIdMapper()


def opik_ids(span: trace.Span) -> tuple[str, str] | None:
    """The (Opik trace id, Opik span id) the exporter gives this span, or None for an invalid one."""
    context = span.get_span_context()
    if not context.is_valid:
        return None
    state = context.trace_state or TraceState()
    sent_parent = opik_id_from_hex(state.get(OPIK_PARENT_TRACE_STATE_KEY))
    start = getattr(span, "start_time", None)
    if start is None:  # a remote parent: its trace's timestamp, or now
        start = uuid7_timestamp_ms(context.trace_id) * 1_000_000 if is_uuid7_int(context.trace_id) else time.time_ns()
    trace_id = _ids.trace_id(context.trace_id, start, state)
    if context.is_remote and sent_parent is not None and context.span_id == synthetic_span_id(sent_parent):
        return trace_id, sent_parent
    return trace_id, _ids.span_id(context.span_id, trace_id)


class OpikPropagator(TextMapPropagator):
    """Injects and extracts the Opik SDK's distributed-trace headers (`opik_trace_id`, `opik_parent_span_id`).

    Use it after `tracecontext`: on extract, a W3C `traceparent` already in the context wins;
    on inject, while this process exports to Opik, it adds `opik=<Opik trace id>` to `tracestate`.
    """

    def inject(self, carrier: CarrierT, context: otel_context.Context | None = None, setter: Setter[CarrierT] = default_setter) -> None:
        span = trace.get_current_span(context)
        ids = opik_ids(span)
        if ids is None:
            return
        setter.set(carrier, OPIK_TRACE_ID_HEADER, ids[0])
        setter.set(carrier, OPIK_PARENT_SPAN_ID_HEADER, ids[1])
        if _marks_traces():  # the callee's parent is in Opik: say so in the W3C trace state
            state = span.get_span_context().trace_state or TraceState()
            if OPIK_TRACE_STATE_KEY not in state and len(state) < _MAX_TRACE_STATE_ENTRIES:
                setter.set(carrier, _TRACESTATE_HEADER, state.add(OPIK_TRACE_STATE_KEY, uuid.UUID(ids[0]).hex).to_header())

    def extract(self, carrier: CarrierT, context: otel_context.Context | None = None, getter: Getter[CarrierT] = default_getter) -> otel_context.Context:
        if context is None:
            context = otel_context.get_current()
        if trace.get_current_span(context).get_span_context().is_valid:
            return context  # a traceparent was extracted first
        trace_id = opik_id_from_hex(_first(getter.get(carrier, OPIK_TRACE_ID_HEADER)))
        parent_id = opik_id_from_hex(_first(getter.get(carrier, OPIK_PARENT_SPAN_ID_HEADER)))
        if trace_id is None or parent_id is None:
            return context
        state = TraceState([(OPIK_TRACE_STATE_KEY, uuid.UUID(trace_id).hex), (OPIK_PARENT_TRACE_STATE_KEY, uuid.UUID(parent_id).hex)])
        parent = SpanContext(uuid.UUID(trace_id).int, synthetic_span_id(parent_id), is_remote=True,
                             trace_flags=TraceFlags(TraceFlags.SAMPLED), trace_state=state)
        return trace.set_span_in_context(NonRecordingSpan(parent), context)

    @property
    def fields(self) -> set[str]:
        return {OPIK_TRACE_ID_HEADER, OPIK_PARENT_SPAN_ID_HEADER, _TRACESTATE_HEADER}


def _first(values: Any) -> str | None:
    if isinstance(values, (list, tuple)):
        values = values[0] if values else None
    return values if isinstance(values, str) else None


@functools.lru_cache(maxsize=1)
def _w3c() -> TextMapPropagator:
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return CompositePropagator([TraceContextTextMapPropagator(), W3CBaggagePropagator()])


def get_distributed_trace_headers() -> dict[str, str]:
    """Headers that continue the current trace in another process: `traceparent` (and
    `tracestate`/`baggage` when present) plus `opik_trace_id` / `opik_parent_span_id`.

    Empty when no span is current.
    """
    span = trace.get_current_span()
    if not span.get_span_context().is_valid:
        return {}
    headers: dict[str, str] = {}
    _w3c().inject(headers)
    OpikPropagator().inject(headers)
    return headers


def _marks_traces() -> bool:
    from opik_otel._configure import marks_opik_traces

    return marks_opik_traces()


def extract_distributed_context(headers: Mapping[str, Any], context: otel_context.Context | None = None) -> otel_context.Context:
    """The context that continues the trace the headers carry (W3C first, else the Opik SDK's).

    `headers` is a dict or any headers object with `.items()` (http.server's and email's
    `Message`, Werkzeug's `Headers`, ...: not all of them are `Mapping`s).
    """
    plain = _plain_headers(headers)
    extracted = _w3c().extract(plain, context)
    return OpikPropagator().extract(plain, extracted)


def _plain_headers(headers: Any) -> dict[str, Any]:
    """Header names lower-cased, to their values (the last one of a repeated header)."""
    items = getattr(headers, "items", None)
    if not callable(items):
        return {}
    try:
        return {str(key).lower(): value for key, value in items()}
    except Exception:  # a strange headers object: continue no trace rather than fail the request
        return {}


@contextlib.contextmanager
def continue_distributed_trace(headers: Mapping[str, Any]) -> Iterator[otel_context.Context]:
    """Spans started inside continue the trace the incoming headers carry.

    For servers without OpenTelemetry instrumentation: `with continue_distributed_trace(request.headers): ...`.
    """
    token = otel_context.attach(extract_distributed_context(headers))
    try:
        yield otel_context.get_current()
    finally:
        otel_context.detach(token)


def add_opik_propagator() -> None:
    """Add `OpikPropagator` to the global propagators unless it is there already."""
    from opentelemetry.propagators.composite import CompositePropagator

    current = propagate.get_global_textmap()
    inner = getattr(current, "_propagators", [current])
    if any(isinstance(p, OpikPropagator) for p in inner):
        return
    propagate.set_global_textmap(CompositePropagator([*inner, OpikPropagator()]))
