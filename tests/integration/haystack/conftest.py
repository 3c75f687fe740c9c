"""Fixtures: the real haystack-ai against the fake OpenAI server, `HaystackInstrumentor` (and, per
test, `OpenAIInstrumentor`) on the in-memory TracerProvider of tests/integration/conftest.py, which
also gives the fake server, `requests_made` and the checks."""

from __future__ import annotations

import pytest

pytest.importorskip("haystack")

from opik_otel.instrumentors.haystack import HaystackInstrumentor  # noqa: E402
from tests.integration.conftest import instrumented  # noqa: E402

API_KEY = "sk-test-fake"


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
def secret():
    from haystack.utils import Secret

    return Secret.from_token(API_KEY)


@pytest.fixture
def chat_generator(srv, secret):
    from haystack.components.generators.chat import OpenAIChatGenerator

    return OpenAIChatGenerator(model="gpt-4o-mini", api_base_url=srv.base_url, api_key=secret, max_retries=0)


@pytest.fixture(autouse=True)
def no_context_errors(no_context_errors):
    """The shared check of tests/integration/conftest.py, on for every test here."""
