"""Fixtures shared by the integration tests: an in-memory span exporter, a TracerProvider that
feeds it through the usage/cost processor, and that provider set as the global one.

Only OpenTelemetry and opik_otel are imported here: each provider's directory imports (or
importorskips) its SDK in its own conftest, which adds the fake server, the instrumentor and
the clients."""

from __future__ import annotations

import contextlib
from typing import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util._once import Once

from opik_otel import UsageCostSpanProcessor


@contextlib.contextmanager
def global_tracer_provider(provider: TracerProvider, monkeypatch: pytest.MonkeyPatch) -> Iterator[TracerProvider]:
    """`provider` as the global TracerProvider inside the block, the previous one restored after it
    (and `ensure_configured` a no-op, so that the track_* helpers configure nothing)."""
    import opik_otel._configure

    monkeypatch.setattr(opik_otel._configure, "ensure_configured", lambda: None)
    saved = trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    trace.set_tracer_provider(provider)
    try:
        yield provider
    finally:
        trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE = saved


def instrumented(instrumentor_class: type, provider: TracerProvider, capture_content: bool) -> Iterator[object]:
    """For a fixture (`yield from`): the instrumentor, instrumented on the test's provider with the
    test's content switch, uninstrumented after the test."""
    instrumentor = instrumentor_class()
    instrumentor.instrument(tracer_provider=provider, capture_content=capture_content)
    yield instrumentor
    instrumentor.uninstrument()


@pytest.fixture
def exporter():
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter):
    provider = TracerProvider()
    provider.add_span_processor(UsageCostSpanProcessor(SimpleSpanProcessor(exporter)))
    yield provider
    provider.shutdown()


@pytest.fixture
def global_provider(provider, monkeypatch):
    """`provider` as the global TracerProvider for this test only (the track_* helpers read the global one)."""
    with global_tracer_provider(provider, monkeypatch):
        yield provider
