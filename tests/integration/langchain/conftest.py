"""Fixtures: the real langchain-core, langchain-openai and langgraph against the fake OpenAI server,
`LangChainInstrumentor` (and, per test, `OpenAIInstrumentor`) on the in-memory TracerProvider of
tests/integration/conftest.py."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("langchain_core")
pytest.importorskip("langchain_openai")

from opik_otel.instrumentors.langchain import LangChainInstrumentor  # noqa: E402
from opik_otel.instrumentors.openai import OpenAIInstrumentor  # noqa: E402
from tests.fakes.openai_server import FakeOpenAIServer  # noqa: E402
from tests.integration.conftest import instrumented  # noqa: E402


@pytest.fixture(scope="session")
def srv():
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def capture_content():
    """Whether the instrumentors record content; a test module overrides this fixture to turn it off."""
    return True


@pytest.fixture
def langchain_instrumentor(provider, capture_content):
    yield from instrumented(LangChainInstrumentor, provider, capture_content)


@pytest.fixture
def openai_instrumentor(provider, capture_content):
    yield from instrumented(OpenAIInstrumentor, provider, capture_content)


@pytest.fixture
def model(srv):
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model="gpt-4o-mini", temperature=0.2, base_url=srv.base_url, api_key="sk-test-fake", max_retries=0)


@pytest.fixture
def requests_made(srv):
    """The fake's chat requests made during this test (a callable: call it after the run)."""
    before = len(srv.requests)
    return lambda: [r for r in srv.requests[before:] if r["path"].endswith("/chat/completions")]


@pytest.fixture(autouse=True)
def no_context_errors(caplog):
    """No run may make OpenTelemetry log "Failed to detach context", nor leave a context attached."""
    from opentelemetry import context as otel_context

    before = otel_context.get_current()
    with caplog.at_level(logging.DEBUG, logger="opentelemetry.context"):
        yield
    assert "Failed to detach context" not in caplog.text
    assert otel_context.get_current() is before


@pytest.fixture(scope="session")
def run_async():
    """Runs a coroutine on one event loop for the whole session: langchain-openai caches its async
    HTTP client process-wide, and a client outliving its loop fails on the next one."""
    import asyncio

    loop = asyncio.new_event_loop()
    yield loop.run_until_complete
    loop.close()
