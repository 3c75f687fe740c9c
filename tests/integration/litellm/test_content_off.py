"""Content capture off: no messages, tool definitions or inputs on LiteLLM's spans; the rest stays."""

from __future__ import annotations

import litellm
import pytest

from tests.integration.spans import CONTENT_ATTRIBUTES, attrs, spans


@pytest.fixture
def capture_content():
    return False


async def test_no_content(instrumentor, exporter, srv, openai_call, anthropic_call):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]
    litellm.completion(**openai_call, tools=tools)
    list(litellm.completion(**anthropic_call, stream=True, stream_options={"include_usage": True}))
    await litellm.aembedding(model="openai/text-embedding-3-small", input=["a"], api_base=srv.base_url, api_key="sk-test-fake")

    finished = spans(exporter)
    assert len(finished) == 3
    for span in finished:
        got = attrs(span)
        assert [name for name in CONTENT_ATTRIBUTES if name in got] == [], span.name
        assert got["gen_ai.usage.input_tokens"] > 0
        assert got["gen_ai.usage.cost"] > 0
