"""Fixtures: the real langchain-core, langchain-openai and langgraph against the fake OpenAI server,
`LangChainInstrumentor` (and, per test, `OpenAIInstrumentor`) on the in-memory TracerProvider of
tests/integration/conftest.py, which also gives the fake server, `requests_made` and the checks."""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_core")
pytest.importorskip("langchain_openai")

from opik_otel.instrumentors.langchain import LangChainInstrumentor  # noqa: E402
from tests.integration.conftest import instrumented  # noqa: E402


@pytest.fixture
def langchain_instrumentor(provider, capture_content):
    yield from instrumented(LangChainInstrumentor, provider, capture_content)


@pytest.fixture
def model(srv):
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model="gpt-4o-mini", temperature=0.2, base_url=srv.base_url, api_key="sk-test-fake", max_retries=0)


@pytest.fixture(autouse=True)
def no_context_errors(no_context_errors):
    """The shared check of tests/integration/conftest.py, on for every test here."""


@pytest.fixture(scope="session")
def run_async():
    """Runs a coroutine on one event loop for the whole session: langchain-openai caches its async
    HTTP client process-wide, and a client outliving its loop fails on the next one."""
    import asyncio

    loop = asyncio.new_event_loop()
    yield loop.run_until_complete
    loop.close()
