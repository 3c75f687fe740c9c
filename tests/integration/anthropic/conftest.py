"""Fixtures: the fake Anthropic server, the TracerProvider of tests/integration/conftest.py (behind
the usage/cost processor; here also set globally: the anthropic SDK's own tracing reads the global
one), the instrumentor, clients."""

from __future__ import annotations

import pytest

anthropic = pytest.importorskip("anthropic")

from opik_otel.instrumentors.anthropic import AnthropicInstrumentor  # noqa: E402
from tests.fakes.anthropic_server import FakeAnthropicServer  # noqa: E402
from tests.integration.conftest import global_tracer_provider  # noqa: E402

API_KEY = "sk-ant-test-fake"


@pytest.fixture(scope="session")
def srv():
    with FakeAnthropicServer() as server:
        yield server


@pytest.fixture
def provider(monkeypatch, provider):
    """The shared provider, also set as the global one for the test."""
    with global_tracer_provider(provider, monkeypatch):
        yield provider


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
