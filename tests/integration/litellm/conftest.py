"""Fixtures: LiteLLM (no network: the local model cost map, no telemetry) over the fake OpenAI
server (`srv`, `openai/…` models) and the fake Anthropic server (`anthropic_srv`, `anthropic/…`),
the LiteLLM instrumentor on the shared TracerProvider, and the openai / anthropic instrumentors
for the one-inference-span tests."""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # before litellm is imported: no cost-map fetch
os.environ.setdefault("LITELLM_TELEMETRY", "False")

import pytest  # noqa: E402

litellm = pytest.importorskip("litellm")

from opik_otel.instrumentors.anthropic import AnthropicInstrumentor  # noqa: E402
from opik_otel.instrumentors.litellm import LiteLLMInstrumentor  # noqa: E402
from tests.fakes.anthropic_server import FakeAnthropicServer  # noqa: E402
from tests.integration.conftest import instrumented  # noqa: E402

litellm.telemetry = False

OPENAI_KEY = "sk-test-fake"
ANTHROPIC_KEY = "sk-ant-test-fake"
MESSAGES = [{"role": "user", "content": "Hi"}]


@pytest.fixture(scope="session")
def anthropic_srv():
    with FakeAnthropicServer() as server:
        yield server


@pytest.fixture
def anthropic_requests(anthropic_srv):
    """The fake Anthropic server's /v1/messages requests made during this test (call it after the run)."""
    before = len(anthropic_srv.requests)
    return lambda: [r for r in anthropic_srv.requests[before:] if r["path"].startswith("/v1/messages")]


@pytest.fixture
def instrumentor(provider, capture_content):
    yield from instrumented(LiteLLMInstrumentor, provider, capture_content)


@pytest.fixture
def anthropic_instrumentor(provider, capture_content):
    yield from instrumented(AnthropicInstrumentor, provider, capture_content)


@pytest.fixture
def openai_call(srv):
    """The keyword arguments of a `litellm.completion` of `openai/gpt-4o-mini` on the fake OpenAI server."""
    return {"model": "openai/gpt-4o-mini", "messages": MESSAGES, "api_base": srv.base_url, "api_key": OPENAI_KEY}


@pytest.fixture
def anthropic_call(anthropic_srv):
    """The keyword arguments of a `litellm.completion` of `anthropic/claude-haiku-4-5` on the fake Anthropic server."""
    return {"model": "anthropic/claude-haiku-4-5", "messages": MESSAGES, "api_base": anthropic_srv.url, "api_key": ANTHROPIC_KEY, "max_tokens": 64}


@pytest.fixture(autouse=True)
def fresh_litellm_clients():
    """LiteLLM caches its openai clients, and a client's `with_raw_response` keeps the `create` it
    bound first (an earlier test's instrumentor): each test starts with no cached client."""
    litellm.in_memory_llm_clients_cache.flush_cache()
    yield
    litellm.in_memory_llm_clients_cache.flush_cache()


@pytest.fixture(autouse=True)
def spans_end_exactly_once(spans_end_exactly_once):
    """The shared check of tests/integration/conftest.py, on for every test here."""


@pytest.fixture(autouse=True)
def no_context_errors(no_context_errors):
    """The shared check of tests/integration/conftest.py, on for every test here."""
