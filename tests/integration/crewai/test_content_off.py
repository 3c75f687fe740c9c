"""Content off: no task description, prompt, answer, tool argument or tool result on any span, with
the provider instrumented and without; the spans otherwise complete."""

from __future__ import annotations

import pytest

from tests.integration.crewai.conftest import API_KEY
from tests.integration.crewai.test_crew import tool_tree
from tests.integration.spans import CONTENT_ATTRIBUTES, attrs, named, tree


@pytest.fixture
def capture_content():
    return False


@pytest.mark.parametrize("provider_instrumented", [True, False])
def test_no_text_anywhere(crewai_instrumentor, llm, replies, exporter, provider_instrumented, request):
    from crewai import Agent, Crew, Task
    from crewai.tools import tool

    if provider_instrumented:
        request.getfixturevalue("model_instrumentor")

    @tool("add")
    def add(a: int, b: int) -> str:
        """Add two numbers."""
        return f"SECRET-RESULT {a + b}"

    replies("add", {"a": 1, "b": 2}, final="SECRET-ANSWER")
    agent = Agent(role="Calculator", goal="SECRET-GOAL", backstory="SECRET-BACKSTORY", llm=llm, tools=[add])
    task = Task(description="SECRET-TASK", expected_output="SECRET-EXPECTED", agent=agent, name="addition")
    output = Crew(agents=[agent], tasks=[task], name="Math crew").kickoff(inputs={"q": "SECRET-INPUT"})

    assert output.raw == "SECRET-ANSWER"
    expected = tool_tree()
    if not provider_instrumented:
        expected = [(name.replace("openai/", ""), kind, parent) for name, kind, parent in expected]
    assert tree(exporter) == expected
    values = repr([dict(s.attributes) for s in exporter.get_finished_spans()])
    assert "SECRET" not in values
    assert API_KEY not in values
    for span in exporter.get_finished_spans():
        assert not {*CONTENT_ATTRIBUTES, "output.value"} & set(span.attributes), span.name
        assert span.events == (), span.name
    assert attrs(named(exporter, "invoke_workflow Math crew")) == {"gen_ai.operation.name": "invoke_workflow"}
    assert attrs(named(exporter, "task addition")) == {}
    assert attrs(named(exporter, "invoke_agent Calculator")) == {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "Calculator"}
    assert attrs(named(exporter, "execute_tool add")) == {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "add"}
