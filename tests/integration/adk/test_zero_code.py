"""Zero code: `opentelemetry-instrument python app.py` on an unmodified ADK app delivers its
agent turn to the (fake) Opik back end as one trace in the session's thread: the agent, one priced
llm span per model round trip, the tool; none of ADK's own spans."""

from __future__ import annotations

import types

import pytest

pytest.importorskip("opik", reason="the fake Opik back end validates bodies with the opik package")

from tests.integration.adk.conftest import MODEL  # noqa: E402
from tests.integration.zero_code import PROJECT, rows_in_order, run_app, span_rows  # noqa: E402

APP = '''
import asyncio

from google.adk.agents import LlmAgent
from google.adk.runners import InMemoryRunner
from google.genai import types


def get_weather(city: str) -> dict:
    """The weather in a city."""
    return {"city": city, "weather": "sunny"}


async def main():
    agent = LlmAgent(name="weather_agent", model="gemini-2.5-flash", instruction="Answer briefly.", tools=[get_weather])
    runner = InMemoryRunner(agent=agent, app_name="weather_app")
    await runner.session_service.create_session(app_name="weather_app", user_id="user-7", session_id="conv-1")
    message = types.Content(role="user", parts=[types.Part(text="weather in Paris?")])
    async for event in runner.run_async(user_id="user-7", session_id="conv-1", new_message=message):
        if event.is_final_response():
            print("answer:", event.content.parts[0].text)


asyncio.run(main())
'''


def test_an_adk_agent_under_opentelemetry_instrument(tmp_path, backend, srv, requests_made):
    no_openai = types.SimpleNamespace(base_url="http://127.0.0.1:9/v1")
    process = run_app(
        APP, tmp_path, backend, no_openai,
        GOOGLE_GEMINI_BASE_URL=srv.url, GOOGLE_API_KEY="fake-key", GEMINI_API_KEY=None, GOOGLE_GENAI_USE_VERTEXAI=None,
    )

    assert "answer: The weather is sunny." in process.stdout
    assert backend.errors == []
    assert len(backend.traces) == 1
    (trace,) = backend.traces.values()
    assert trace["name"] == "invoke_agent weather_agent"
    assert trace["project_name"] == PROJECT
    assert trace["thread_id"] == "conv-1"
    assert span_rows(backend) == rows_in_order([
        ("invoke_agent weather_agent", "general", None),
        (f"generate_content {MODEL}", "llm", "invoke_agent weather_agent"),
        ("execute_tool get_weather", "tool", "invoke_agent weather_agent"),
        (f"generate_content {MODEL}", "llm", "invoke_agent weather_agent"),
    ])
    llm = [s for s in backend.spans.values() if s["type"] == "llm"]
    assert len(llm) == 2 == len(requests_made())
    assert all(s["total_estimated_cost"] > 0 and s["usage"]["prompt_tokens"] == 10 for s in llm)
    assert [s["name"] for s in backend.spans.values() if "total_estimated_cost" in s] == [f"generate_content {MODEL}"] * 2
    root = next(s for s in backend.spans.values() if s["name"] == "invoke_agent weather_agent")
    assert root["metadata"]["user_id"] == "user-7"
