"""Content off (ours, or Haystack's `HAYSTACK_CONTENT_TRACING_ENABLED`): no prompt, reply, document,
tool argument or result on any span; model, usage and finish reasons still there."""

from __future__ import annotations

import pytest
from haystack import Document, Pipeline
from haystack.components.agents import Agent
from haystack.components.builders import ChatPromptBuilder
from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
from haystack.dataclasses import ChatMessage
from haystack.document_stores.in_memory import InMemoryDocumentStore

from tests.fakes.openai_server import CHAT_TEXT, TOOL_RESULT_TEXT
from tests.integration.haystack.test_agent import weather_tool
from tests.integration.spans import attrs, named

CONTENT = {"input.value", "output.value", "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"}


@pytest.fixture
def switch(request):
    """Which content switch is off: ours (`capture_content=False`) or Haystack's."""
    return request.param


@pytest.fixture
def capture_content(switch):
    return switch != "ours"


@pytest.fixture(autouse=True)
def haystack_content(monkeypatch, switch):
    from haystack import tracing

    monkeypatch.setattr(tracing.tracer, "is_content_tracing_enabled", switch != "haystack's")


def all_values(exporter) -> str:
    return repr([dict(s.attributes) for s in exporter.get_finished_spans()])


# Haystack's switch governs Haystack's spans only (the openai instrumentor's follow ours)
@pytest.mark.parametrize(("switch", "provider_instrumented"), [("ours", True), ("ours", False), ("haystack's", False)], indirect=["switch"])
def test_no_text_anywhere(haystack_instrumentor, chat_generator, exporter, provider_instrumented, switch, request):
    if provider_instrumented:
        request.getfixturevalue("openai_instrumentor")
    store = InMemoryDocumentStore()
    store.write_documents([Document(id="d1", content="SECRET-DOCUMENT about Paris")])
    pipeline = Pipeline()
    pipeline.add_component("retriever", InMemoryBM25Retriever(document_store=store))
    pipeline.add_component("prompt", ChatPromptBuilder(template=[ChatMessage.from_system("SECRET-SYSTEM"), ChatMessage.from_user("{{q}}")]))
    pipeline.add_component("llm", chat_generator)
    pipeline.add_component("agent", Agent(chat_generator=type(chat_generator)(
        model="gpt-4o-mini", api_base_url=chat_generator.api_base_url, api_key=chat_generator.api_key, max_retries=0
    ), tools=[weather_tool()]))
    pipeline.connect("prompt.prompt", "llm.messages")

    result = pipeline.run({
        "retriever": {"query": "SECRET-QUERY Paris"},
        "prompt": {"q": "SECRET-QUESTION"},
        "agent": {"messages": [ChatMessage.from_user("SECRET-AGENT-QUESTION")]},
    })

    assert result["llm"]["replies"][0].text == CHAT_TEXT
    assert result["agent"]["messages"][-1].text == TOOL_RESULT_TEXT
    values = all_values(exporter)
    assert "SECRET" not in values
    assert CHAT_TEXT not in values and TOOL_RESULT_TEXT not in values
    assert "Paris" not in values and "sunny" not in values
    for span in exporter.get_finished_spans():
        assert not CONTENT & set(span.attributes), span.name
    llm = [attrs(s) for s in exporter.get_finished_spans() if s.name == "chat gpt-4o-mini"]
    assert len(llm) == 3
    assert all(a["gen_ai.usage.input_tokens"] == 12 and a["gen_ai.response.model"] == "gpt-4o-mini" for a in llm)
    assert sorted(a["gen_ai.response.finish_reasons"][0] for a in llm) == ["stop", "stop", "tool_calls"]
    assert named(exporter, "execute_tool get_weather").attributes["gen_ai.tool.name"] == "get_weather"
