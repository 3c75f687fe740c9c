"""Haystack's `Agent`: `invoke_agent {name}`, one inference span per model call, its tool calls as
`execute_tool {tool}` (Haystack 3 traces each tool call; 2.x runs a `ToolInvoker`, whose results
give the tool spans)."""

from __future__ import annotations

import json
from importlib.metadata import version

import pytest
from haystack import Pipeline
from haystack.components.agents import Agent
from haystack.dataclasses import ChatMessage
from haystack.tools import Tool
from packaging.version import Version

from tests.fakes.openai_server import TOOL_ARGUMENTS, TOOL_CALL_ID, TOOL_RESULT_TEXT
from tests.integration.spans import attrs, named, tree

#: Haystack 2.x runs the agent's tools through a `ToolInvoker` component (a span of its own).
INVOKER = Version(version("haystack-ai")) < Version("3")


def get_weather(city: str) -> str:
    return f"sunny in {city}"


def failing_tool(city: str) -> str:
    raise RuntimeError("no weather today")


def weather_tool(function=get_weather) -> Tool:
    return Tool(
        name="get_weather",
        description="The weather in a city.",
        parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        function=function,
    )


def agent_tree(parent: str) -> list[tuple[str, str, str | None]]:
    tool_parent = "tool_invoker" if INVOKER else f"invoke_agent {parent}"
    rows = [("chat gpt-4o-mini", "CLIENT", f"invoke_agent {parent}")]
    if INVOKER:
        rows.append(("tool_invoker", "INTERNAL", f"invoke_agent {parent}"))
    rows.append(("execute_tool get_weather", "INTERNAL", tool_parent))
    rows.append(("chat gpt-4o-mini", "CLIENT", f"invoke_agent {parent}"))
    return rows


@pytest.mark.parametrize("provider_instrumented", [True, False])
def test_an_agent_in_a_pipeline(haystack_instrumentor, chat_generator, exporter, requests_made, provider_instrumented, request):
    if provider_instrumented:
        request.getfixturevalue("openai_instrumentor")
    pipeline = Pipeline()
    pipeline.add_component("assistant", Agent(chat_generator=chat_generator, tools=[weather_tool()]))

    result = pipeline.run({"assistant": {"messages": [ChatMessage.from_user("weather in Paris?")]}})

    assert result["assistant"]["messages"][-1].text == TOOL_RESULT_TEXT
    assert tree(exporter) == [("invoke_workflow pipeline", "INTERNAL", None), ("invoke_agent assistant", "INTERNAL", "invoke_workflow pipeline"), *agent_tree("assistant")]
    assert len(requests_made()) == 2
    assert [s.name for s in exporter.get_finished_spans() if "gen_ai.usage.cost" in s.attributes] == ["chat gpt-4o-mini"] * 2
    agent = attrs(named(exporter, "invoke_agent assistant"))
    assert agent["gen_ai.operation.name"] == "invoke_agent"
    assert agent["gen_ai.agent.name"] == "assistant"
    assert json.loads(agent["output.value"])["messages"][-1]["content"] == [{"text": TOOL_RESULT_TEXT}]
    tool = attrs(named(exporter, "execute_tool get_weather"))
    assert tool["gen_ai.operation.name"] == "execute_tool"
    assert tool["gen_ai.tool.name"] == "get_weather"
    assert json.loads(tool["input.value"]) == json.loads(TOOL_ARGUMENTS)
    assert json.loads(tool["output.value"]) == "sunny in Paris"
    if INVOKER:
        assert tool["gen_ai.tool.call.id"] == TOOL_CALL_ID
    first, second = sorted((s for s in exporter.get_finished_spans() if s.name == "chat gpt-4o-mini"), key=lambda s: s.start_time)
    assert first.attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert '"type":"tool_call"' in first.attributes["gen_ai.output.messages"]


def test_an_agent_on_its_own(haystack_instrumentor, chat_generator, exporter, requests_made):
    agent = Agent(chat_generator=chat_generator, tools=[weather_tool()])
    if hasattr(agent, "warm_up"):
        agent.warm_up()

    result = agent.run(messages=[ChatMessage.from_user("weather in Paris?")])

    assert result["messages"][-1].text == TOOL_RESULT_TEXT
    assert tree(exporter) == [("invoke_agent Agent", "INTERNAL", None), *agent_tree("Agent")]
    assert len(requests_made()) == 2


def test_a_failing_tool_is_a_failed_tool_span(haystack_instrumentor, chat_generator, exporter):
    agent = Agent(chat_generator=chat_generator, tools=[weather_tool(failing_tool)])
    if hasattr(agent, "warm_up"):
        agent.warm_up()

    try:
        agent.run(messages=[ChatMessage.from_user("weather in Paris?")])
    except Exception:
        pass  # Haystack 2.x's ToolInvoker raises by default; 3.x hands the error to the model

    tool = named(exporter, "execute_tool get_weather")
    assert tool.status.status_code.name == "ERROR"


def test_spans_made_inside_a_tool_nest_under_its_tool_span(haystack_instrumentor, chat_generator, provider, exporter):
    app = provider.get_tracer("app")

    def traced_weather(city: str) -> str:
        with app.start_as_current_span("lookup"):
            return get_weather(city)

    agent = Agent(chat_generator=chat_generator, tools=[weather_tool(traced_weather)])
    if hasattr(agent, "warm_up"):
        agent.warm_up()

    agent.run(messages=[ChatMessage.from_user("weather in Paris?")])

    # Haystack 3 runs each tool in a span of its own (in a worker thread); 2.x inside its ToolInvoker
    parent = "tool_invoker" if INVOKER else "execute_tool get_weather"
    assert ("lookup", "INTERNAL", parent) in tree(exporter)
