"""Fixtures: per test the instrumentor applied to the TracerProvider of tests/integration/conftest.py
(the usage/cost processor in front of an in-memory exporter; `global_provider` also sets it
globally), and clients of that conftest's fake OpenAI server (`srv`)."""

from __future__ import annotations

import openai
import pytest

from opik_otel.instrumentors.openai import OpenAIInstrumentor
from tests.integration.conftest import instrumented
from tests.integration.openai.helpers import API_KEY


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


@pytest.fixture(autouse=True)
def spans_end_exactly_once(spans_end_exactly_once):
    """The shared check of tests/integration/conftest.py, on for every test here."""
