"""Fixtures: the fake Anthropic server, a TracerProvider (also set globally: the anthropic SDK's
own tracing reads the global one) behind the usage/cost processor, the instrumentor, clients."""

from __future__ import annotations

import pytest

anthropic = pytest.importorskip("anthropic")

from opentelemetry import trace  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402
from opentelemetry.util._once import Once  # noqa: E402

from opik_otel import UsageCostSpanProcessor  # noqa: E402
from opik_otel.instrumentors.anthropic import AnthropicInstrumentor  # noqa: E402
from tests.fakes.anthropic_server import FakeAnthropicServer  # noqa: E402

API_KEY = "sk-ant-test-fake"


@pytest.fixture(scope="session")
def srv():
    with FakeAnthropicServer() as server:
        yield server


@pytest.fixture
def exporter():
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter, monkeypatch):
    import opik_otel._configure

    provider = TracerProvider()
    provider.add_span_processor(UsageCostSpanProcessor(SimpleSpanProcessor(exporter)))
    monkeypatch.setattr(opik_otel._configure, "ensure_configured", lambda: None)
    saved = trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE
    trace._TRACER_PROVIDER_SET_ONCE = Once()
    trace._TRACER_PROVIDER = None
    trace.set_tracer_provider(provider)
    yield provider
    trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE = saved
    provider.shutdown()


@pytest.fixture
def instrumentor(provider):
    instrumentor = AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=True)
    yield instrumentor
    instrumentor.uninstrument()


@pytest.fixture
def client(srv, instrumentor):
    with anthropic.Anthropic(base_url=srv.url, api_key=API_KEY, max_retries=0) as client:
        yield client


@pytest.fixture
async def aclient(srv, instrumentor):
    client = anthropic.AsyncAnthropic(base_url=srv.url, api_key=API_KEY, max_retries=0)
    yield client
    await client.close()
