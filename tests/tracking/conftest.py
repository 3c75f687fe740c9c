"""Fixtures: a global TracerProvider with `OpikContextSpanProcessor` and an in-memory exporter
(as `configure()` would build it), content capture on, automatic configuration off."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from opik_otel import OpikContextSpanProcessor, UsageCostSpanProcessor
from opik_otel._ids import UuidV7IdGenerator


@pytest.fixture
def exporter():
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter, monkeypatch):
    import opik_otel._configure
    import opik_otel._content
    import opik_otel._context

    provider = TracerProvider(id_generator=UuidV7IdGenerator())
    provider.add_span_processor(OpikContextSpanProcessor())
    provider.add_span_processor(UsageCostSpanProcessor(SimpleSpanProcessor(exporter)))
    monkeypatch.setattr(opik_otel._configure, "ensure_configured", lambda: None)
    monkeypatch.setattr(opik_otel._content, "_configured", True)  # content on, as configure() decides
    monkeypatch.setattr(opik_otel._context, "_decision", None)  # threads carry the context (whatever shutdown() ran before)
    saved = trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE
    trace._TRACER_PROVIDER_SET_ONCE, trace._TRACER_PROVIDER = Once(), None
    trace.set_tracer_provider(provider)
    yield provider
    trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE = saved
    provider.shutdown()


def spans_by_name(exporter):
    """Finished spans by name (names are unique in these tests)."""
    spans = {span.name: span for span in exporter.get_finished_spans()}
    assert len(spans) == len(exporter.get_finished_spans()), [s.name for s in exporter.get_finished_spans()]
    return spans
