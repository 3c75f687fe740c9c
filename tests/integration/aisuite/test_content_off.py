"""Content off: no messages, tool definitions, tool arguments or results on any span; the rest stays."""

from __future__ import annotations

import pytest

from tests.integration.aisuite.conftest import needs_tool_loop
from tests.integration.spans import CONTENT_ATTRIBUTES, tree


@pytest.fixture
def capture_content():
    return False


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


CONTENT = (*CONTENT_ATTRIBUTES, "gen_ai.tool.call.arguments", "gen_ai.tool.call.result")


@needs_tool_loop
def test_no_content_on_a_tool_loop(aisuite_instrumentor, client, exporter):
    client.chat.completions.create(model="openai:gpt-4o-mini", messages=[{"role": "user", "content": "Weather?"}], tools=[get_weather], max_turns=3)

    assert [row[0] for row in tree(exporter)] == ["invoke_agent gpt-4o-mini", "chat gpt-4o-mini", "execute_tool get_weather", "chat gpt-4o-mini"]
    for span in exporter.get_finished_spans():
        assert [name for name in CONTENT if name in span.attributes] == [], span.name
    chats = [s for s in exporter.get_finished_spans() if s.name == "chat gpt-4o-mini"]
    assert [s.attributes["gen_ai.usage.output_tokens"] for s in chats] == [7, 7]
    assert [s.attributes["gen_ai.response.finish_reasons"] for s in chats] == [("tool_calls",), ("stop",)]


def test_no_content_with_the_anthropic_instrumentor_on(aisuite_instrumentor, anthropic_instrumentor, client, exporter):
    client.chat.completions.create(model="anthropic:claude-3-5-haiku-20241022", messages=[{"role": "user", "content": "Hi"}])

    (span,) = exporter.get_finished_spans()
    assert [name for name in CONTENT if name in span.attributes] == []
    assert span.attributes["gen_ai.usage.output_tokens"] == 6
