"""Sub-agents, `AgentTool`, the workflow agents, sync `Runner.run`, the app's own callbacks, and
errors: each agent, model call and tool call once, parented where it ran."""

from __future__ import annotations

import pytest
from google.adk.agents import LlmAgent, LoopAgent, ParallelAgent, SequentialAgent
from google.adk.runners import InMemoryRunner
from google.adk.models.google_llm import Gemini
from google.adk.tools.agent_tool import AgentTool
from google.genai import errors
from pydantic import BaseModel

from tests.fakes.gemini_server import TEXT, TOOL_RESULT_TEXT
from tests.integration.adk.conftest import APP, MODEL, SESSION_ID, USER_ID, final_text, get_weather, message, run_async
from tests.integration.spans import attrs, exception_events, named, spans, tree

GENERATE = f"generate_content {MODEL}"


def writer(name: str) -> LlmAgent:
    return LlmAgent(name=name, model=MODEL, instruction="Write one line.")


@pytest.fixture(autouse=True)
def both(adk_instrumentor, genai_instrumentor):
    """ADK and google-genai instrumented."""


async def test_workflow_agents_nest_their_sub_agents(exporter, requests_made):
    loop = LoopAgent(name="loop", sub_agents=[writer("looper")], max_iterations=2)
    parallel = ParallelAgent(name="fan_out", sub_agents=[writer("left"), writer("right")])
    pipeline = SequentialAgent(name="pipeline", sub_agents=[writer("first"), parallel, loop])

    await run_async(pipeline)

    rows = tree(exporter)
    assert rows[0] == ("invoke_workflow pipeline", "INTERNAL", None)
    assert sorted(rows[1:]) == sorted([
        ("invoke_agent first", "INTERNAL", "invoke_workflow pipeline"),
        (GENERATE, "CLIENT", "invoke_agent first"),
        ("invoke_workflow fan_out", "INTERNAL", "invoke_workflow pipeline"),
        ("invoke_agent left", "INTERNAL", "invoke_workflow fan_out"),
        (GENERATE, "CLIENT", "invoke_agent left"),
        ("invoke_agent right", "INTERNAL", "invoke_workflow fan_out"),
        (GENERATE, "CLIENT", "invoke_agent right"),
        ("invoke_workflow loop", "INTERNAL", "invoke_workflow pipeline"),
        ("invoke_agent looper", "INTERNAL", "invoke_workflow loop"),
        (GENERATE, "CLIENT", "invoke_agent looper"),
        ("invoke_agent looper", "INTERNAL", "invoke_workflow loop"),
        (GENERATE, "CLIENT", "invoke_agent looper"),
    ])
    assert len(requests_made()) == 5 == len([s for s in spans(exporter) if "gen_ai.usage.cost" in s.attributes])
    root = attrs(named(exporter, "invoke_workflow pipeline"))
    assert root["gen_ai.operation.name"] == "invoke_workflow"
    assert root["opik.metadata.adk.agent_type"] == "SequentialAgent"
    assert root["gen_ai.conversation.id"] == SESSION_ID
    assert all("gen_ai.conversation.id" not in s.attributes for s in spans(exporter) if s.name != "invoke_workflow pipeline")


class City(BaseModel):
    city: str


async def test_an_agent_tool(exporter, requests_made):
    helper = LlmAgent(name="helper", model=MODEL, instruction="Tell the weather.", tools=[get_weather], input_schema=City)
    boss = LlmAgent(name="boss", model=MODEL, instruction="Delegate.", tools=[AgentTool(agent=helper)])

    events = await run_async(boss)

    assert final_text(events) == TOOL_RESULT_TEXT
    assert tree(exporter) == [
        ("invoke_agent boss", "INTERNAL", None),
        (GENERATE, "CLIENT", "invoke_agent boss"),
        ("execute_tool helper", "INTERNAL", "invoke_agent boss"),
        ("invoke_agent helper", "INTERNAL", "execute_tool helper"),
        (GENERATE, "CLIENT", "invoke_agent helper"),
        ("execute_tool get_weather", "INTERNAL", "invoke_agent helper"),
        (GENERATE, "CLIENT", "invoke_agent helper"),
        (GENERATE, "CLIENT", "invoke_agent boss"),
    ]
    assert len(requests_made()) == 4 == len([s for s in spans(exporter) if "gen_ai.usage.cost" in s.attributes])
    inner = attrs(named(exporter, "invoke_agent helper"))
    assert "gen_ai.conversation.id" not in inner and "opik.metadata.user_id" not in inner  # AgentTool's own session


def test_sync_run_and_the_apps_callbacks_still_called(exporter, requests_made):
    called = []
    agent = LlmAgent(
        name="weather_agent", model=MODEL, instruction="Answer.", tools=[get_weather],
        before_agent_callback=lambda callback_context: called.append("before_agent"),
        before_model_callback=lambda callback_context, llm_request: called.append("before_model"),
        after_tool_callback=lambda tool, args, tool_context, tool_response: called.append("after_tool"),
    )
    runner = InMemoryRunner(agent=agent, app_name=APP)
    runner.session_service.create_session_sync(app_name=APP, user_id=USER_ID, session_id=SESSION_ID)

    events = list(runner.run(user_id=USER_ID, session_id=SESSION_ID, new_message=message()))

    assert final_text(events) == TOOL_RESULT_TEXT
    assert called == ["before_agent", "before_model", "after_tool", "before_model"]
    assert [row[0] for row in tree(exporter)] == ["invoke_agent weather_agent", GENERATE, "execute_tool get_weather", GENERATE]
    assert len(requests_made()) == 2


async def test_a_model_call_answered_by_the_apps_callback_is_no_inference_span(exporter, requests_made):
    from google.adk.models.llm_response import LlmResponse
    from google.genai import types

    answer = LlmResponse(content=types.Content(role="model", parts=[types.Part(text="cached answer")]))
    agent = LlmAgent(name="cached", model=MODEL, instruction="Answer.", before_model_callback=lambda callback_context, llm_request: answer)

    events = await run_async(agent)

    assert final_text(events) == "cached answer"
    assert tree(exporter) == [("invoke_agent cached", "INTERNAL", None)]
    assert requests_made() == []


def failing_tool(city: str) -> dict:
    """Always fails."""
    raise RuntimeError("no weather today")


async def test_a_failing_tool_fails_its_span_and_its_agents_and_reaches_the_app_unchanged(exporter):
    agent = LlmAgent(name="weather_agent", model=MODEL, instruction="Answer.", tools=[failing_tool])

    with pytest.raises(RuntimeError) as raised:
        await run_async(agent)

    assert str(raised.value) == "no weather today"
    assert tree(exporter) == [
        ("invoke_agent weather_agent", "INTERNAL", None),
        (GENERATE, "CLIENT", "invoke_agent weather_agent"),
        ("execute_tool failing_tool", "INTERNAL", "invoke_agent weather_agent"),
    ]
    for name in ("execute_tool failing_tool", "invoke_agent weather_agent"):
        span = named(exporter, name)
        assert span.status.status_code.name == "ERROR", name
        assert span.attributes["error.type"] == "RuntimeError"
        assert len(exception_events(span)) == 1
    assert named(exporter, GENERATE).status.status_code.name == "UNSET"


async def test_a_failing_model_call_is_one_failed_inference_span(exporter, requests_made):
    agent = LlmAgent(name="weather_agent", model=Gemini(model="error-500"), instruction="Answer.")

    with pytest.raises(Exception) as raised:
        await run_async(agent)

    error = raised.value  # ADK 2.x raises its node failure from the model's error
    while not isinstance(error, errors.ServerError) and error.__cause__ is not None:
        error = error.__cause__
    assert isinstance(error, errors.ServerError) and error.code == 500
    assert tree(exporter) == [
        ("invoke_agent weather_agent", "INTERNAL", None),
        ("generate_content error-500", "CLIENT", "invoke_agent weather_agent"),
    ]
    assert len(requests_made()) == 1
    inference, agent = named(exporter, "generate_content error-500"), named(exporter, "invoke_agent weather_agent")
    assert inference.status.status_code.name == agent.status.status_code.name == "ERROR"
    assert inference.attributes["error.type"] == "ServerError"
    assert agent.attributes["error.type"] == type(raised.value).__qualname__
    assert len(exception_events(inference)) == len(exception_events(agent)) == 1


async def test_breaking_out_of_a_run_ends_its_spans_and_leaves_no_context(exporter):
    runner = InMemoryRunner(agent=LlmAgent(name="weather_agent", model=MODEL, instruction="Answer.", tools=[get_weather]), app_name=APP)
    await runner.session_service.create_session(app_name=APP, user_id=USER_ID, session_id=SESSION_ID)

    events = runner.run_async(user_id=USER_ID, session_id=SESSION_ID, new_message=message())
    async for _ in events:
        break
    await events.aclose()

    assert [row[0] for row in tree(exporter)] == ["invoke_agent weather_agent", GENERATE]


def test_a_sync_run_inside_the_apps_span_nests_under_it(provider, exporter):
    runner = InMemoryRunner(agent=LlmAgent(name="weather_agent", model=MODEL, instruction="Answer.", tools=[get_weather]), app_name=APP)
    runner.session_service.create_session_sync(app_name=APP, user_id=USER_ID, session_id=SESSION_ID)

    with provider.get_tracer("app").start_as_current_span("request"):
        events = list(runner.run(user_id=USER_ID, session_id=SESSION_ID, new_message=message()))

    assert final_text(events) == TOOL_RESULT_TEXT
    assert tree(exporter) == [
        ("request", "INTERNAL", None),
        ("invoke_agent weather_agent", "INTERNAL", "request"),
        (GENERATE, "CLIENT", "invoke_agent weather_agent"),
        ("execute_tool get_weather", "INTERNAL", "invoke_agent weather_agent"),
        (GENERATE, "CLIENT", "invoke_agent weather_agent"),
    ]


async def test_a_transfer_to_a_sub_agent(exporter, requests_made):
    import json

    from google.genai import types

    transfer = [{"functionCall": {"name": "transfer_to_agent", "args": {"agent_name": "helper"}}}]
    config = types.GenerateContentConfig(http_options=types.HttpOptions(headers={"x-fake-parts": json.dumps(transfer)}))
    helper = LlmAgent(name="helper", model=MODEL, description="Answers.", instruction="Answer.", disallow_transfer_to_parent=True, disallow_transfer_to_peers=True)
    boss = LlmAgent(name="boss", model=MODEL, instruction="Delegate.", sub_agents=[helper], generate_content_config=config)

    events = await run_async(boss)

    assert final_text(events) == TEXT
    assert tree(exporter) == [
        ("invoke_agent boss", "INTERNAL", None),
        (GENERATE, "CLIENT", "invoke_agent boss"),
        ("execute_tool transfer_to_agent", "INTERNAL", "invoke_agent boss"),
        ("invoke_agent helper", "INTERNAL", "invoke_agent boss"),
        (GENERATE, "CLIENT", "invoke_agent helper"),
    ]
    assert len(requests_made()) == 2 == len([s for s in spans(exporter) if "gen_ai.usage.cost" in s.attributes])
