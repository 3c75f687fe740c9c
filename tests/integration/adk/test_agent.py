"""One ADK agent turn with a function tool (two model round trips): our spans replace ADK's own,
one priced inference span per billed call (google-genai's, or ours from ADK's data without it),
the session as the Opik thread, the user id as metadata, no orphans."""

from __future__ import annotations

import json

import pytest
from google.adk.agents import LlmAgent
from google.adk.models.llm_response import LlmResponse

from tests.fakes.gemini_server import TOOL_RESULT_TEXT
from tests.integration.adk.conftest import MODEL, QUESTION, SESSION_ID, USER_ID, final_text, get_weather, run_async
from tests.integration.spans import attrs, named, spans, tree

#: ADK 1.9's `LlmResponse` has no model version nor finish reason (an unclaimed call's span then has neither).
RESPONSE_MODEL = {"model_version", "finish_reason"} <= set(LlmResponse.model_fields)
AGENT_TREE = [
    ("invoke_agent weather_agent", "INTERNAL", None),
    (f"generate_content {MODEL}", "CLIENT", "invoke_agent weather_agent"),
    ("execute_tool get_weather", "INTERNAL", "invoke_agent weather_agent"),
    (f"generate_content {MODEL}", "CLIENT", "invoke_agent weather_agent"),
]


def weather_agent(**kwargs) -> LlmAgent:
    return LlmAgent(name="weather_agent", model=MODEL, description="Tells the weather.", instruction="Answer briefly.", tools=[get_weather], **kwargs)


@pytest.mark.parametrize("provider_instrumented", [True, False])
async def test_an_agent_turn_with_a_function_tool(adk_instrumentor, exporter, requests_made, provider_instrumented, request):
    if provider_instrumented:
        request.getfixturevalue("genai_instrumentor")

    events = await run_async(weather_agent())

    assert final_text(events) == TOOL_RESULT_TEXT
    assert tree(exporter) == AGENT_TREE
    assert {s.instrumentation_scope.name for s in spans(exporter)} == (
        {"opik_otel.instrumentors.adk", "opik_otel.instrumentors.genai"} if provider_instrumented else {"opik_otel.instrumentors.adk"}
    )
    assert len({s.context.trace_id for s in spans(exporter)}) == 1
    inference = [s for s in spans(exporter) if s.name == f"generate_content {MODEL}"]
    assert len(inference) == len(requests_made()) == 2
    assert all(s.attributes["gen_ai.usage.cost"] > 0 for s in inference)
    assert [s.name for s in spans(exporter) if "gen_ai.usage.cost" in s.attributes] == [f"generate_content {MODEL}"] * 2
    first, second = sorted(inference, key=lambda s: s.start_time)
    for span in (first, second):
        got = attrs(span)
        assert got["gen_ai.operation.name"] == "generate_content"
        assert got["gen_ai.provider.name"] == "gcp.gemini"
        assert got["gen_ai.request.model"] == MODEL
        assert got.get("gen_ai.response.model") == (MODEL if provider_instrumented or RESPONSE_MODEL else None)
        assert got["gen_ai.agent.name"] == "weather_agent"
        assert got["gen_ai.usage.input_tokens"] == 10
        assert got["gen_ai.usage.output_tokens"] == 8
    reasons = ["STOP"] if provider_instrumented or RESPONSE_MODEL else None
    assert attrs(first).get("gen_ai.response.finish_reasons") == attrs(second).get("gen_ai.response.finish_reasons") == reasons
    assert json.loads(first.attributes["gen_ai.output.messages"])[0]["parts"][0]["name"] == "get_weather"
    assert json.loads(second.attributes["gen_ai.output.messages"])[0]["parts"] == [{"type": "text", "content": TOOL_RESULT_TEXT}]
    assert json.loads(first.attributes["gen_ai.input.messages"]) == [{"role": "user", "parts": [{"type": "text", "content": QUESTION}]}]

    agent = attrs(named(exporter, "invoke_agent weather_agent"))
    assert agent == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "weather_agent",
        "gen_ai.agent.description": "Tells the weather.",
        "opik.metadata.adk.agent_type": "LlmAgent",
        "gen_ai.conversation.id": SESSION_ID,
        "opik.metadata.user_id": USER_ID,
        "input.value": json.dumps(QUESTION),
        "output.value": json.dumps(TOOL_RESULT_TEXT),
    }
    tool = named(exporter, "execute_tool get_weather")
    call_id = json.loads(first.attributes["gen_ai.output.messages"])[0]["parts"][0].get("id")
    expected_tool = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "gen_ai.tool.description": "The weather in a city.",
        "gen_ai.tool.call.arguments": '{"city":"Paris"}',
        "gen_ai.tool.call.result": '{"city":"Paris","weather":"sunny"}',
    }
    got_tool = attrs(tool)
    assert got_tool.pop("gen_ai.tool.call.id").startswith("adk-")
    assert got_tool == expected_tool
    assert call_id is None or call_id.startswith("adk-")


@pytest.mark.parametrize("provider_instrumented", [True, False])
async def test_a_streamed_turn_is_one_inference_span_per_round_trip(adk_instrumentor, exporter, srv, provider_instrumented, request):
    from google.adk.agents.run_config import RunConfig, StreamingMode
    from google.adk.runners import InMemoryRunner

    from tests.integration.adk.conftest import APP, message

    if provider_instrumented:
        request.getfixturevalue("genai_instrumentor")
    before = len(srv.requests)
    runner = InMemoryRunner(agent=weather_agent(), app_name=APP)
    await runner.session_service.create_session(app_name=APP, user_id=USER_ID, session_id=SESSION_ID)

    events = [e async for e in runner.run_async(user_id=USER_ID, session_id=SESSION_ID, new_message=message(), run_config=RunConfig(streaming_mode=StreamingMode.SSE))]

    assert final_text(events) == TOOL_RESULT_TEXT
    assert tree(exporter) == AGENT_TREE
    streamed = [r for r in srv.requests[before:] if ":streamGenerateContent" in r["path"]]
    inference = [s for s in spans(exporter) if s.name == f"generate_content {MODEL}"]
    assert len(streamed) == len(inference) == 2
    assert all(s.attributes["gen_ai.usage.cost"] > 0 and s.attributes["gen_ai.usage.input_tokens"] == 10 for s in inference)
