"""Fixtures: one fake OpenAI server per session; per test the instrumentor applied to the
TracerProvider of tests/integration/conftest.py (the usage/cost processor in front of an
in-memory exporter; `global_provider` also sets it globally), and clients."""

from __future__ import annotations

import logging

import openai
import pytest

from opik_otel.instrumentors.openai import OpenAIInstrumentor
from tests.fakes.openai_server import FakeOpenAIServer
from tests.integration.conftest import instrumented
from tests.integration.openai.helpers import API_KEY


@pytest.fixture(scope="session")
def srv():
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def capture_content():
    """Whether the instrumentor records content; a test module overrides this fixture to turn it off."""
    return True


@pytest.fixture
def instrumentor(provider, capture_content):
    yield from instrumented(OpenAIInstrumentor, provider, capture_content)


@pytest.fixture
def client(srv, instrumentor):
    with openai.OpenAI(base_url=srv.base_url, api_key=API_KEY, max_retries=0) as client:
        yield client


@pytest.fixture
async def aclient(srv, instrumentor):
    client = openai.AsyncOpenAI(base_url=srv.base_url, api_key=API_KEY, max_retries=0)
    yield client
    await client.close()


class _EndedTwice(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "ended span" in record.getMessage():
            self.messages.append(record.getMessage())


@pytest.fixture(autouse=True)
def spans_end_exactly_once():
    """The SDK logs "Calling end() on an ended span." on a second end() (and "Setting attribute on
    ended span." for late writes): no test may trigger either."""
    handler = _EndedTwice()
    sdk_logger = logging.getLogger("opentelemetry.sdk.trace")
    sdk_logger.addHandler(handler)
    yield
    sdk_logger.removeHandler(handler)
    assert handler.messages == [], "a span was ended twice or written to after it ended"
