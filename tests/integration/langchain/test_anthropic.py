"""The one-inference-span rule with another provider: langchain-anthropic's `ChatAnthropic` against
the fake Anthropic server, with the anthropic instrumentor on (its span is the inference span) and off
(LangChain's data makes it); priced once either way."""

from __future__ import annotations

import pytest

pytest.importorskip("langchain_anthropic")

from opik_otel.instrumentors.anthropic import AnthropicInstrumentor  # noqa: E402
from tests.fakes.anthropic_server import TEXT, FakeAnthropicServer  # noqa: E402
from tests.integration.spans import attrs, named, tree  # noqa: E402


@pytest.fixture(scope="module")
def anthropic_srv():
    with FakeAnthropicServer() as server:
        yield server


@pytest.mark.parametrize("provider_instrumented", [True, False])
def test_one_priced_inference_span(langchain_instrumentor, provider, anthropic_srv, exporter, provider_instrumented):
    from langchain_anthropic import ChatAnthropic

    instrumentor = AnthropicInstrumentor()
    if provider_instrumented:
        instrumentor.instrument(tracer_provider=provider, capture_content=True)
    try:
        model = ChatAnthropic(model="claude-haiku-4-5", max_tokens=64, base_url=anthropic_srv.url, api_key="sk-ant-test-fake", max_retries=0)
        before = len(anthropic_srv.requests)
        assert model.invoke("hi").content == TEXT
    finally:
        if provider_instrumented:
            instrumentor.uninstrument()

    assert len(anthropic_srv.requests) - before == 1
    assert tree(exporter) == [("chat claude-haiku-4-5", "CLIENT", None)]
    llm = attrs(named(exporter, "chat claude-haiku-4-5"))
    assert llm["gen_ai.provider.name"] == "anthropic"
    assert llm["opik.metadata.langchain.run_name"] == "ChatAnthropic"
    # the fake's usage (10 uncached + 4 cache reads + 2 cache writes in, 6 out): the same from either side
    assert {k: v for k, v in llm.items() if k.startswith("gen_ai.usage.")} == {
        "gen_ai.usage.input_tokens": 16,
        "gen_ai.usage.output_tokens": 6,
        "gen_ai.usage.cache_read.input_tokens": 4,
        "gen_ai.usage.cache_creation.input_tokens": 2,
        "gen_ai.usage.cost": pytest.approx(4.29e-05),
    }
