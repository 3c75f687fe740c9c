"""Fixtures: aisuite's `Client` pointed at the fake OpenAI server (the shared `srv`) and the fake
Anthropic server, the AISuite instrumentor, and the provider SDKs' instrumentors underneath."""

from __future__ import annotations

import importlib

import pytest

aisuite = pytest.importorskip("aisuite")

from opik_otel.instrumentors.aisuite import AISuiteInstrumentor  # noqa: E402
from opik_otel.instrumentors.anthropic import AnthropicInstrumentor  # noqa: E402
from tests.fakes.anthropic_server import FakeAnthropicServer  # noqa: E402
from tests.integration.conftest import instrumented  # noqa: E402

OPENAI_KEY = "sk-test-fake"
ANTHROPIC_KEY = "sk-ant-test-fake"


@pytest.fixture(autouse=True)
def _checks(no_context_errors, spans_end_exactly_once):
    """Every test: no context left attached or detached out of turn, no span ended twice."""


@pytest.fixture(scope="session")
def anthropic_srv():
    with FakeAnthropicServer() as server:
        yield server


@pytest.fixture
def anthropic_requests(anthropic_srv):
    """The fake Anthropic server's /v1/messages requests made during this test (call it after the run)."""
    before = len(anthropic_srv.requests)
    return lambda: [r for r in anthropic_srv.requests[before:] if r["path"].split("?")[0].endswith("/v1/messages")]


@pytest.fixture
def aisuite_instrumentor(provider, capture_content):
    yield from instrumented(AISuiteInstrumentor, provider, capture_content)


@pytest.fixture
def anthropic_instrumentor(provider, capture_content):
    yield from instrumented(AnthropicInstrumentor, provider, capture_content)


def make_client(srv, anthropic_srv) -> "aisuite.Client":
    """An aisuite client whose openai and anthropic providers talk to the fakes."""
    return aisuite.Client(
        provider_configs={
            "openai": {"base_url": srv.base_url, "api_key": OPENAI_KEY, "max_retries": 0},
            "anthropic": {"base_url": anthropic_srv.url, "api_key": ANTHROPIC_KEY, "max_retries": 0},
        }
    )


@pytest.fixture
def client(srv, anthropic_srv):
    return make_client(srv, anthropic_srv)


_COMPLETIONS = aisuite.client.Completions
#: What the installed aisuite can do: the tool loop (`max_turns`, 0.1.10), `acreate` (0.2),
#: and callables as tools without `max_turns` (0.2).
needs_tool_loop = pytest.mark.skipif(not hasattr(_COMPLETIONS, "_tool_runner"), reason="this aisuite has no tool loop")
needs_acreate = pytest.mark.skipif(not hasattr(_COMPLETIONS, "acreate"), reason="this aisuite has no acreate")
needs_manual_tools = pytest.mark.skipif(not hasattr(_COMPLETIONS, "_provider_ready_tools"), reason="this aisuite drops tools without max_turns")
needs_anthropic_usage = pytest.mark.skipif(
    not hasattr(getattr(importlib.import_module("aisuite.providers.anthropic_provider"), "AnthropicMessageConverter", None), "_get_completion_usage"),
    reason="this aisuite's Anthropic provider returns no usage nor finish reason",
)
#: aisuite >= 0.2 runs each tool call with its id (`Tools._invoke_tool_sync`); older versions call the function alone.
TOOL_CALL_IDS = hasattr(importlib.import_module("aisuite.utils.tools").Tools, "_invoke_tool_sync") if hasattr(_COMPLETIONS, "_tool_runner") else False
needs_stream = pytest.mark.skipif(not hasattr(_COMPLETIONS, "_prepare_stream_kwargs"), reason="this aisuite does not stream")
