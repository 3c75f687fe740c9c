"""`get_distributed_trace_headers()` and the receiving side, in one process: ids agree with the exporter."""

from __future__ import annotations

import uuid

import pytest
from opentelemetry import propagate, trace

import opik_otel
from opik_otel._ids import OpikIdMapper
from opik_otel.exporters.opik.mapping import span_to_opik

pytestmark = pytest.mark.usefixtures("provider")


def opik_view(span):
    """What the exporter sends for this span."""
    return span_to_opik(span, OpikIdMapper(), "default")


def test_headers_carry_w3c_and_opik_ids_that_match_the_exporter(exporter):
    @opik_otel.track
    def caller():
        return opik_otel.get_distributed_trace_headers()

    headers = caller()
    (span,) = exporter.get_finished_spans()
    opik_span, opik_trace = opik_view(span)
    trace_hex, span_hex = f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"
    assert headers["traceparent"] == f"00-{trace_hex}-{span_hex}-0{span.context.trace_flags:x}"
    assert headers["opik_trace_id"] == opik_trace["id"] == opik_span["trace_id"] == str(uuid.UUID(trace_hex))
    assert headers["opik_parent_span_id"] == opik_span["id"]


def test_no_headers_outside_a_span():
    assert opik_otel.get_distributed_trace_headers() == {}


def test_w3c_headers_continue_the_trace_under_the_callers_span(exporter):
    @opik_otel.track
    def caller():
        return opik_otel.get_distributed_trace_headers()

    headers = caller()

    @opik_otel.track
    def handler():
        return 1

    with opik_otel.continue_distributed_trace({"Traceparent": headers["traceparent"]}):
        handler()
    caller_span, handler_span = exporter.get_finished_spans()
    assert handler_span.context.trace_id == caller_span.context.trace_id
    assert handler_span.parent.span_id == caller_span.context.span_id and handler_span.parent.is_remote


def test_opik_sdk_headers_continue_the_trace_under_the_opik_span(exporter):
    opik_trace_id, opik_parent = "01934a8e-0000-7000-8000-00000000abcd", "01934a8e-0000-7000-8000-00000000ef01"

    @opik_otel.track
    def handler():
        return opik_otel.get_distributed_trace_headers()

    onward = handler(opik_distributed_trace_headers={"opik_trace_id": opik_trace_id, "opik_parent_span_id": opik_parent})
    (span,) = exporter.get_finished_spans()
    opik_span, opik_trace = opik_view(span)
    assert opik_trace is None  # the trace is the caller's: not created again here
    assert opik_span["trace_id"] == opik_trace_id
    assert opik_span["parent_span_id"] == opik_parent
    assert onward["opik_trace_id"] == opik_trace_id and onward["opik_parent_span_id"] == opik_span["id"]


def test_the_global_propagator_understands_opik_sdk_headers(exporter):
    from opik_otel._distributed import add_opik_propagator

    saved = propagate.get_global_textmap()
    add_opik_propagator()
    add_opik_propagator()  # idempotent
    try:
        context = propagate.extract({"opik_trace_id": "01934a8e-0000-7000-8000-00000000abcd", "opik_parent_span_id": "01934a8e-0000-7000-8000-00000000ef01"})
        with trace.get_tracer("t").start_as_current_span("server", context=context):
            pass
        fields = propagate.get_global_textmap().fields
    finally:
        propagate.set_global_textmap(saved)
    (span,) = exporter.get_finished_spans()
    assert opik_view(span)[0]["parent_span_id"] == "01934a8e-0000-7000-8000-00000000ef01"
    assert {"traceparent", "opik_trace_id", "opik_parent_span_id"} <= set(fields)


def test_malformed_opik_headers_start_a_new_trace(exporter):
    @opik_otel.track
    def handler():
        return 1

    with opik_otel.continue_distributed_trace({"opik_trace_id": "not-a-uuid", "opik_parent_span_id": "x"}):
        handler()
    assert exporter.get_finished_spans()[0].parent is None


def test_injected_tracestate_says_the_parent_is_in_opik_while_exporting_natively(monkeypatch):
    from opentelemetry.propagators.composite import CompositePropagator
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, TraceState
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    from opik_otel._configure import _State
    from opik_otel._ids import UuidV7IdGenerator

    propagator = CompositePropagator([TraceContextTextMapPropagator(), opik_otel.OpikPropagator()])
    tracer = TracerProvider(id_generator=UuidV7IdGenerator()).get_tracer("t")
    monkeypatch.setattr(_State, "marks_opik_traces", True)
    with tracer.start_as_current_span("root") as root:
        with tracer.start_as_current_span("child"):
            marked: dict[str, str] = {}
            propagator.inject(marked)
    assert marked["tracestate"] == f"opik={root.get_span_context().trace_id:032x}"
    assert "opik" not in root.get_span_context().trace_state  # spans carry nothing: marking is at injection

    # a trace continued from a process not in Opik, with a vendor's entry: ours goes first, theirs stays
    remote = SpanContext(0x0123456789ABCDEF0123456789ABCDEF, 0x1122334455667788, is_remote=True,
                         trace_flags=TraceFlags(TraceFlags.SAMPLED), trace_state=TraceState([("vendor", "v1")]))
    with tracer.start_as_current_span("handle", context=trace.set_span_in_context(NonRecordingSpan(remote))):
        continued: dict[str, str] = {}
        propagator.inject(continued)
    opik_trace_id = continued["opik_trace_id"]
    assert continued["tracestate"] == f"opik={uuid.UUID(opik_trace_id).hex},vendor=v1"

    monkeypatch.setattr(_State, "marks_opik_traces", False)
    with tracer.start_as_current_span("unmarked"):
        unmarked: dict[str, str] = {}
        propagator.inject(unmarked)
    assert "tracestate" not in unmarked and "opik_trace_id" in unmarked


def test_scalar_results_reach_opik_as_json_values(exporter):
    @opik_otel.track
    def answer(flag):
        return 42

    answer(True)
    opik_span, opik_trace = opik_view(exporter.get_finished_spans()[0])
    assert opik_span["output"] == {"output": 42} and opik_trace["output"] == {"output": 42}
    assert opik_span["input"] == {"flag": True}
    assert "input.mime_type" not in opik_span["metadata"]
