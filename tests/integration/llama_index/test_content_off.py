"""Content off: no query, answer, node text, message, tool argument or tool result on any span."""

from __future__ import annotations

import asyncio

import pytest

from tests.fakes.openai_server import CHAT_TEXT, TOOL_RESULT_TEXT
from tests.integration.llama_index.conftest import open_runs
from tests.integration.spans import tree

CONTENT_KEYS = {"input.value", "output.value", "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result"}


@pytest.fixture
def capture_content():
    return False


def all_values(exporter) -> str:
    return repr([dict(s.attributes) for s in exporter.get_finished_spans()] + [[dict(e.attributes or {}) for e in s.events] for s in exporter.get_finished_spans()])


def assert_no_content(exporter) -> None:
    values = all_values(exporter)
    for secret in ("SECRET", "Paris is the capital", "Berlin", CHAT_TEXT, TOOL_RESULT_TEXT, "sunny"):
        assert secret not in values, secret
    for span in exporter.get_finished_spans():
        assert not CONTENT_KEYS & set(span.attributes), span.name


@pytest.mark.parametrize("provider_instrumented", [True, False])
def test_no_text_anywhere_in_a_rag_query(index, llama_index_instrumentor, exporter, provider_instrumented, request):
    if provider_instrumented:
        request.getfixturevalue("openai_instrumentor")

    assert str(index.as_query_engine(similarity_top_k=1).query("SECRET-QUESTION")) == CHAT_TEXT
    streamed = index.as_query_engine(streaming=True, similarity_top_k=1).query("SECRET-STREAMED")
    assert "".join(streamed.response_gen) == CHAT_TEXT

    assert [row[0] for row in tree(exporter)] == [
        "RetrieverQueryEngine.query", "retrieval", "embeddings text-embedding-3-small", "CompactAndRefine.synthesize", "chat gpt-4o-mini",
        "RetrieverQueryEngine.query", "retrieval", "embeddings text-embedding-3-small", "CompactAndRefine.synthesize", "chat gpt-4o-mini",
    ]
    assert_no_content(exporter)
    assert open_runs() == 0


def secret_tool(city: str) -> str:
    """Looks a city up."""
    return f"SECRET-RESULT sunny in {city}"


def test_no_text_anywhere_in_an_agent_run(llm, llama_index_instrumentor, openai_instrumentor, exporter):
    agent_module = pytest.importorskip("llama_index.core.agent.workflow")
    agent = agent_module.FunctionAgent(name="weather", tools=[secret_tool], llm=llm, system_prompt="SECRET-SYSTEM")

    async def main():
        return await agent.run("SECRET-QUESTION Paris")

    assert str(asyncio.run(main())) == TOOL_RESULT_TEXT
    names = [row[0] for row in tree(exporter)]
    assert names.count("chat gpt-4o-mini") == 2 and names.count("execute_tool secret_tool") == 1
    assert_no_content(exporter)
