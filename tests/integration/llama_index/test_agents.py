"""Workflows and agents: `Workflow.run` as `invoke_workflow {Class}` with each step a child, a
`FunctionAgent` as `invoke_agent {name}` with its tool call as `execute_tool {name}` and one
inference span per billed call (the agent streams its model calls), a failing step."""

import asyncio

import pytest
from llama_index.core.workflow import Event, StartEvent, StopEvent, Workflow, step

from tests.fakes.openai_server import TOOL_RESULT_TEXT
from tests.integration.llama_index.conftest import open_runs
from tests.integration.spans import attrs, named, tree


class Middle(Event):
    text: str


class Shout(Workflow):
    @step
    async def first(self, ev: StartEvent) -> Middle:
        return Middle(text=ev.topic)

    @step
    async def second(self, ev: Middle) -> StopEvent:
        if ev.text == "boom":
            raise ValueError("boom")
        return StopEvent(result=ev.text.upper())


def run(coroutine_function, *args, **kwargs):
    async def main():
        return await coroutine_function(*args, **kwargs)

    return asyncio.run(main())


def test_a_workflow_and_its_steps(llama_index_instrumentor, exporter):
    assert run(Shout(timeout=10).run, topic="hello") == "HELLO"

    assert tree(exporter) == [
        ("invoke_workflow Shout", "INTERNAL", None),
        ("first", "INTERNAL", "invoke_workflow Shout"),
        ("second", "INTERNAL", "invoke_workflow Shout"),
    ]
    workflow = attrs(named(exporter, "invoke_workflow Shout"))
    assert workflow["gen_ai.operation.name"] == "invoke_workflow"
    assert attrs(named(exporter, "second"))["output.value"] == '{"result":"HELLO"}'
    assert open_runs() == 0


def test_a_failing_step_fails_its_span_and_the_workflow_and_the_error_reaches_the_app(llama_index_instrumentor, exporter):
    with pytest.raises(Exception) as raised:
        run(Shout(timeout=10).run, topic="boom")

    assert "boom" in str(raised.value)
    second = named(exporter, "second")
    assert second.status.status_code.name == "ERROR"
    assert second.attributes["error.type"] == "ValueError"
    assert named(exporter, "invoke_workflow Shout").status.status_code.name == "ERROR"
    assert named(exporter, "first").status.status_code.name == "UNSET"
    assert open_runs() == 0


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def test_a_function_agent_with_a_tool(llm, llama_index_instrumentor, openai_instrumentor, exporter, requests_made):
    agent_module = pytest.importorskip("llama_index.core.agent.workflow")
    agent = agent_module.FunctionAgent(name="weather", tools=[get_weather], llm=llm, system_prompt="be nice")

    assert str(run(agent.run, "weather in Paris?")) == TOOL_RESULT_TEXT

    rows = tree(exporter)
    assert rows[0] == ("invoke_agent weather", "INTERNAL", None)
    assert [r for r in rows if r[0] in ("chat gpt-4o-mini", "execute_tool get_weather", "run_agent_step", "call_tool")] == [
        ("run_agent_step", "INTERNAL", "invoke_agent weather"),
        ("chat gpt-4o-mini", "CLIENT", "run_agent_step"),
        ("execute_tool get_weather", "INTERNAL", "invoke_agent weather"),
        ("run_agent_step", "INTERNAL", "invoke_agent weather"),
        ("chat gpt-4o-mini", "CLIENT", "run_agent_step"),
    ]
    assert {r[2] for r in rows[1:] if r[1] == "INTERNAL"} == {"invoke_agent weather"}  # every step under the agent
    agent_span = attrs(named(exporter, "invoke_agent weather"))
    assert agent_span["gen_ai.operation.name"] == "invoke_agent"
    assert agent_span["gen_ai.agent.name"] == "weather"
    tool = attrs(named(exporter, "execute_tool get_weather"))
    assert {k: tool[k] for k in ("gen_ai.operation.name", "gen_ai.tool.name", "gen_ai.tool.call.id", "input.value")} == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.call.id": "call_fake_1",
        "input.value": '{"city":"Paris"}',
    }
    assert "sunny in Paris" in tool["output.value"]
    chats = [attrs(s) for s in exporter.get_finished_spans() if s.name == "chat gpt-4o-mini"]
    assert len(chats) == 2 == len(requests_made())  # the streamed model calls: the openai spans, claimed
    assert all(c["openai.api.type"] == "chat_completions" and c["opik.metadata.llama_index.class"] == "OpenAI" for c in chats)
    assert [c["gen_ai.response.finish_reasons"] for c in chats] == [["tool_calls"], ["stop"]]
    assert open_runs() == 0


def test_a_function_agent_without_the_provider_instrumented(llm, llama_index_instrumentor, exporter, requests_made):
    agent_module = pytest.importorskip("llama_index.core.agent.workflow")
    agent = agent_module.FunctionAgent(name="weather", tools=[get_weather], llm=llm)

    assert str(run(agent.run, "weather in Paris?")) == TOOL_RESULT_TEXT

    chats = [s for s in exporter.get_finished_spans() if s.name == "chat gpt-4o-mini"]
    assert len(chats) == 2 == len(requests_made())
    first = attrs(chats[0]) if chats[0].start_time < chats[1].start_time else attrs(chats[1])
    assert first["gen_ai.request.stream"] is True
    assert first["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert first["gen_ai.output.messages"] == (
        '[{"role":"assistant","parts":[{"type":"tool_call","name":"get_weather","id":"call_fake_1","arguments":{"city":"Paris"}}],"finish_reason":"tool_calls"}]'
    )
    assert len([s for s in exporter.get_finished_spans() if s.name == "execute_tool get_weather"]) == 1
    assert open_runs() == 0


def test_a_legacy_agent_runner_with_a_tool(llm, llama_index_instrumentor, openai_instrumentor, exporter, requests_made):
    """Before workflow agents (llama-index-core 0.12's `AgentRunner` agents)."""
    agent_module = pytest.importorskip("llama_index.core.agent")
    if not hasattr(agent_module, "FunctionCallingAgent"):
        pytest.skip("this llama-index-core has workflow agents only")
    from llama_index.core.tools import FunctionTool

    agent = agent_module.FunctionCallingAgent.from_tools([FunctionTool.from_defaults(get_weather)], llm=llm)

    assert str(agent.chat("weather in Paris?")) == TOOL_RESULT_TEXT
    assert tree(exporter) == [
        ("invoke_agent FunctionCallingAgent", "INTERNAL", None),
        ("chat gpt-4o-mini", "CLIENT", "invoke_agent FunctionCallingAgent"),
        ("execute_tool get_weather", "INTERNAL", "invoke_agent FunctionCallingAgent"),
        ("chat gpt-4o-mini", "CLIENT", "invoke_agent FunctionCallingAgent"),
    ]
    assert attrs(named(exporter, "invoke_agent FunctionCallingAgent")) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "FunctionCallingAgent",
        "input.value": '"weather in Paris?"',
        "output.value": f'"{TOOL_RESULT_TEXT}"',
    }
    assert len(requests_made()) == 2
    assert open_runs() == 0


def test_an_agent_workflow(llm, llama_index_instrumentor, openai_instrumentor, exporter, requests_made):
    agent_module = pytest.importorskip("llama_index.core.agent.workflow")
    agent = agent_module.FunctionAgent(name="weather", description="Tells the weather.", tools=[get_weather], llm=llm)
    workflow = agent_module.AgentWorkflow(agents=[agent], root_agent="weather")

    assert str(run(workflow.run, user_msg="weather in Paris?")) == TOOL_RESULT_TEXT

    rows = tree(exporter)
    assert rows[0] == ("invoke_agent AgentWorkflow", "INTERNAL", None)
    assert [r for r in rows if r[1] == "CLIENT" or r[0].startswith("execute_tool")] == [
        ("chat gpt-4o-mini", "CLIENT", "run_agent_step"),
        ("execute_tool get_weather", "INTERNAL", "invoke_agent AgentWorkflow"),
        ("chat gpt-4o-mini", "CLIENT", "run_agent_step"),
    ]
    assert attrs(named(exporter, "invoke_agent AgentWorkflow"))["gen_ai.agent.name"] == "AgentWorkflow"
    assert len(requests_made()) == 2
    assert open_runs() == 0
