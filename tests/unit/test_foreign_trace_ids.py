"""Foreign trace ids (an app's own TracerProvider: random bits) reach Opik as one trace each,
with no memory per trace: the local root carries its Opik trace id in its trace state."""

from __future__ import annotations

import time
import uuid

import pytest
from opentelemetry import trace
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import opik_otel
from opik_otel import _context
from opik_otel._configure import _State
from opik_otel._context import OpikContextSpanProcessor
from opik_otel._distributed import opik_ids
from opik_otel._ids import OpikIdMapper, is_uuid7_int, otel_to_opik_id, uuid7_timestamp_ms
from opik_otel.exporters.opik import OpikSpanExporter
from tests.fakes.opik_backend import FakeOpikBackend

MANY = 100_001  # more traces than the mapper ever remembered


def opik_trace_id_of(root: ReadableSpan) -> str:
    """Opik's conversion with the root's start: the id every span of the trace must get."""
    return otel_to_opik_id(root.context.trace_id.to_bytes(16, "big"), root.start_time // 1_000_000)


class MapsEachSpan(SpanProcessor):
    """What an exporter does with each ended span: map its trace id (no span is kept)."""

    def __init__(self) -> None:
        self.mapper = OpikIdMapper()
        self.children: dict[int, str] = {}
        self.checked = 0

    def on_end(self, span: ReadableSpan) -> None:
        opik_id = self.mapper.trace_id(span.context.trace_id, span.start_time, span.context.trace_state)
        if span.parent is not None:
            self.children[span.context.trace_id] = opik_id
            return
        assert self.children.pop(span.context.trace_id, opik_id) == opik_id == opik_trace_id_of(span)
        self.checked += 1


@pytest.fixture
def exporting_to_opik(monkeypatch):
    """This process exports to Opik (what `configure()` with the opik or local exporter says)."""
    monkeypatch.setattr(_State, "marks_opik_traces", True)
    OpikIdMapper._foreign.clear()


def looks_like_ours(trace_id: int) -> bool:
    """A UUID v7 of now, as our generator makes (1 random trace id in 64 has the v7 bits, with a
    timestamp anywhere in 9,000 years)."""
    return is_uuid7_int(trace_id) and abs(uuid7_timestamp_ms(trace_id) - time.time_ns() // 1_000_000) < 86_400_000


def app_provider(*processors: SpanProcessor, sampler: Sampler | None = None) -> TracerProvider:
    """The app's own provider (random trace ids), with our context processor added."""
    provider = TracerProvider(**({"sampler": sampler} if sampler else {}))
    provider.add_span_processor(OpikContextSpanProcessor())
    for processor in processors:
        provider.add_span_processor(processor)
    return provider


def test_100000_foreign_traces_leave_no_per_trace_memory(exporting_to_opik):
    mapping = MapsEachSpan()
    tracer = app_provider(mapping).get_tracer("app")
    running_before = dict(_context._ROOTS)  # roots other tests left running are theirs

    for index in range(100_000):
        root = tracer.start_span("root")
        if index % 100 == 0:  # the child, mapped before its root, gets the root's id
            tracer.start_span("child", context=trace.set_span_in_context(root)).end()
        root.end()

    assert mapping.checked == 100_000 and mapping.children == {}
    assert len(OpikIdMapper._foreign) == 0 and _context._ROOTS == running_before


def other_traces_mapped(count: int) -> None:
    """Many other foreign traces seen by this process's exporters in the meantime."""
    mapper, now = OpikIdMapper(), time.time_ns()
    for trace_id in range(1, count + 1):
        mapper.trace_id(trace_id << 64, now)


@pytest.fixture
def backend():
    with FakeOpikBackend() as fake:
        yield fake


def stored_one_trace(backend: FakeOpikBackend, root: ReadableSpan) -> dict[str, dict]:
    """The stored spans by name, after checking they all belong to the one stored trace."""
    (trace_id,) = backend.stored_trace_ids()
    assert trace_id == opik_trace_id_of(root)
    spans = {span["name"]: span for span in backend.spans.values()}
    assert {span["trace_id"] for span in spans.values()} == {trace_id}
    return spans


def test_a_trace_exported_in_batches_long_apart_keeps_one_opik_trace_id(exporting_to_opik, backend):
    exporter = OpikSpanExporter(url=backend.url, api_key="k", project_name="p")
    tracer = app_provider().get_tracer("app")
    start_ns = time.time_ns()
    hour_ns = 3600 * 1_000_000_000
    root = tracer.start_span("root", start_time=start_ns)
    under_root = trace.set_span_in_context(root)
    first = tracer.start_span("first", context=under_root, start_time=start_ns + 1_000_000_000)
    first.end(end_time=start_ns + 2_000_000_000)
    assert exporter.export([first]) is SpanExportResult.SUCCESS  # batch 1

    other_traces_mapped(MANY)
    second = tracer.start_span("second", context=under_root, start_time=start_ns + 2 * hour_ns)  # hours later
    second.end(end_time=start_ns + 2 * hour_ns + 1)
    root.end(end_time=start_ns + 2 * hour_ns + 2)
    exporter.export([second, root])  # batch 2

    spans = stored_one_trace(backend, root)
    assert set(spans) == {"root", "first", "second"}
    assert spans["first"]["parent_span_id"] == spans["second"]["parent_span_id"] == spans["root"]["id"]
    assert backend.errors == [] and backend.duplicates == 0


def test_a_child_exported_after_its_root_and_many_other_traces_keeps_its_trace_id(exporting_to_opik, backend):
    exporter = OpikSpanExporter(url=backend.url, api_key="k", project_name="p")
    tracer = app_provider(SimpleSpanProcessor(exporter)).get_tracer("app")
    with tracer.start_as_current_span("root", start_time=time.time_ns() - 5_000_000_000) as root:
        late = tracer.start_span("late child")  # e.g. a background task still running when the request ends
    assert backend.trace_count == 1 and backend.span_count == 1

    other_traces_mapped(MANY)
    late.end()

    spans = stored_one_trace(backend, root)
    assert spans["late child"]["parent_span_id"] == spans["root"]["id"]
    assert backend.errors == [] and backend.duplicates == 0


def test_the_stamp_is_what_callees_receive_and_only_while_exporting_to_opik(monkeypatch):
    propagator = CompositePropagator([TraceContextTextMapPropagator(), opik_otel.OpikPropagator()])
    tracer = app_provider().get_tracer("app")

    monkeypatch.setattr(_State, "marks_opik_traces", True)
    with tracer.start_as_current_span("root") as root:
        assert not looks_like_ours(root.get_span_context().trace_id)
        with tracer.start_as_current_span("child") as child:
            headers: dict[str, str] = {}
            propagator.inject(headers)
    opik_trace_id = opik_trace_id_of(root)
    assert headers["tracestate"] == f"opik={uuid.UUID(opik_trace_id).hex}"
    assert headers["opik_trace_id"] == opik_trace_id == opik_ids(child)[0]
    assert child.get_span_context().trace_state == root.get_span_context().trace_state

    monkeypatch.setattr(_State, "marks_opik_traces", False)  # e.g. OTLP to a collector: callees are not under an Opik span
    with tracer.start_as_current_span("root") as root:
        unmarked: dict[str, str] = {}
        propagator.inject(unmarked)
    assert "opik" not in root.get_span_context().trace_state
    assert "tracestate" not in unmarked and "opik_trace_id" in unmarked


class DropsTraceState(Sampler):
    """A custom sampler that samples everything and passes no trace state on."""

    def should_sample(self, parent_context, trace_id, name, kind=None, attributes=None, links=None, trace_state=None):
        return SamplingResult(Decision.RECORD_AND_SAMPLE)

    def get_description(self) -> str:
        return "DropsTraceState"


def test_children_keep_the_stamp_with_a_sampler_that_drops_the_trace_state(exporting_to_opik):
    mapping = MapsEachSpan()
    tracer = app_provider(mapping, sampler=DropsTraceState()).get_tracer("app")
    with tracer.start_as_current_span("root") as root:
        with tracer.start_as_current_span("child") as child:
            pass
    assert child.get_span_context().trace_state == root.get_span_context().trace_state
    assert mapping.checked == 1 and len(OpikIdMapper._foreign) == 0
