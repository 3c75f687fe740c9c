"""Content off: no prompt, response, tool argument, tool result or document text on any span."""

from __future__ import annotations

import pytest
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool

from tests.fakes.openai_server import CHAT_TEXT
from tests.integration.spans import tree


@pytest.fixture
def capture_content():
    return False


@tool
def lookup(city: str) -> str:
    """Looks a city up."""
    return f"SECRET-RESULT for {city}"


def all_values(exporter) -> str:
    return repr([dict(s.attributes) for s in exporter.get_finished_spans()])


@pytest.mark.parametrize("provider_instrumented", [True, False])
def test_no_text_anywhere(langchain_instrumentor, model, exporter, provider_instrumented, request):
    if provider_instrumented:
        request.getfixturevalue("openai_instrumentor")
    chain = ChatPromptTemplate.from_messages([("system", "SECRET-SYSTEM"), ("user", "{q}")]) | model | StrOutputParser()

    assert chain.invoke({"q": "SECRET-QUESTION"}) == CHAT_TEXT
    lookup.invoke({"type": "tool_call", "id": "call_9", "name": "lookup", "args": {"city": "SECRET-CITY"}})

    assert [row[0] for row in tree(exporter)] == [
        "RunnableSequence", "ChatPromptTemplate", "chat gpt-4o-mini", "StrOutputParser", "execute_tool lookup"
    ]
    values = all_values(exporter)
    assert "SECRET" not in values
    assert CHAT_TEXT not in values
    assert "Paris" not in values
    for span in exporter.get_finished_spans():
        assert not {"input.value", "output.value", "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"} & set(span.attributes), span.name


@pytest.mark.parametrize("provider_instrumented", [True, False])
def test_no_tool_definitions_or_schemas_from_invocation_parameters(langchain_instrumentor, model, exporter, provider_instrumented, request):
    """A bound tool's description and a response format's schema are content: with content off,
    LangChain's invocation parameters must not carry them into `opik.metadata.*`."""
    if provider_instrumented:
        request.getfixturevalue("openai_instrumentor")

    model.bind_tools([lookup]).invoke("hi")
    model.bind(response_format={"type": "json_schema", "json_schema": {"name": "SECRET-SCHEMA", "schema": {"type": "object"}}}).invoke("hi")

    values = all_values(exporter)
    assert "Looks a city up" not in values
    assert "SECRET-SCHEMA" not in values
    llm = exporter.get_finished_spans()[0].attributes
    assert llm["opik.metadata.langchain.run_name"] == "ChatOpenAI"
    assert not {"opik.metadata.tools", "opik.metadata.response_format", "opik.metadata.functions"} & set(llm)
