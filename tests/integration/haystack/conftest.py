"""Fixtures: the real haystack-ai against the fake OpenAI server, `HaystackInstrumentor` (and, per
test, `OpenAIInstrumentor`) on the in-memory TracerProvider of tests/integration/conftest.py."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("haystack")

from opik_otel.instrumentors.haystack import HaystackInstrumentor  # noqa: E402
from opik_otel.instrumentors.openai import OpenAIInstrumentor  # noqa: E402
from tests.fakes.openai_server import FakeOpenAIServer  # noqa: E402
from tests.integration.conftest import instrumented  # noqa: E402

API_KEY = "sk-test-fake"


@pytest.fixture(scope="session")
def srv():
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def capture_content():
    """Whether the instrumentors record content; a test module overrides this fixture to turn it off."""
    return True


@pytest.fixture(autouse=True)
def haystack_content(monkeypatch, capture_content):
    """Haystack's own content switch (`HAYSTACK_CONTENT_TRACING_ENABLED`), on with ours."""
    from haystack import tracing

    monkeypatch.setattr(tracing.tracer, "is_content_tracing_enabled", capture_content)


@pytest.fixture(autouse=True)
def haystack_tracer():
    """Each test starts with no Haystack tracer and leaves the one it found."""
    from haystack import tracing

    before = tracing.tracer.actual_tracer
    tracing.disable_tracing()
    yield
    tracing.enable_tracing(before)


@pytest.fixture
def haystack_instrumentor(provider, capture_content):
    yield from instrumented(HaystackInstrumentor, provider, capture_content)


@pytest.fixture
def openai_instrumentor(provider, capture_content):
    yield from instrumented(OpenAIInstrumentor, provider, capture_content)


@pytest.fixture
def secret():
    from haystack.utils import Secret

    return Secret.from_token(API_KEY)


@pytest.fixture
def chat_generator(srv, secret):
    from haystack.components.generators.chat import OpenAIChatGenerator

    return OpenAIChatGenerator(model="gpt-4o-mini", api_base_url=srv.base_url, api_key=secret, max_retries=0)


@pytest.fixture
def requests_made(srv):
    """The fake's requests to `path_end` made during this test (a callable: call it after the run)."""
    before = len(srv.requests)
    return lambda path_end="/chat/completions": [r for r in srv.requests[before:] if r["path"].endswith(path_end)]


@pytest.fixture(autouse=True)
def no_context_errors(caplog):
    """No run may make OpenTelemetry log "Failed to detach context", nor leave a context attached."""
    from opentelemetry import context as otel_context

    before = otel_context.get_current()
    with caplog.at_level(logging.DEBUG, logger="opentelemetry.context"):
        yield
    assert "Failed to detach context" not in caplog.text
    assert otel_context.get_current() is before
