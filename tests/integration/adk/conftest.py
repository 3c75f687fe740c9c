"""Fixtures: the real google-adk against the fake Gemini server (google-genai's default base URL
points there, so ADK's own clients use it), `ADKInstrumentor` (and, per test, `GenAIInstrumentor`)
on the in-memory TracerProvider of tests/integration/conftest.py, and a runner helper."""

from __future__ import annotations

import os
from typing import Any

import pytest

pytest.importorskip("google.adk")

from google.adk.runners import InMemoryRunner  # noqa: E402
from google.genai import types  # noqa: E402

from opik_otel.instrumentors.adk import ADKInstrumentor  # noqa: E402
from opik_otel.instrumentors.genai import GenAIInstrumentor  # noqa: E402
from tests.fakes.gemini_server import FakeGeminiServer  # noqa: E402
from tests.integration.conftest import instrumented  # noqa: E402

MODEL = "gemini-2.5-flash"
APP = "weather_app"
USER_ID = "user-7"
SESSION_ID = "session-42"
QUESTION = "weather in Paris?"
ENVIRONMENT = ("GOOGLE_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GOOGLE_GENAI_USE_VERTEXAI")


@pytest.fixture(scope="session")
def srv():
    with FakeGeminiServer() as server:
        saved = {name: os.environ.get(name) for name in ENVIRONMENT}
        os.environ.update(GOOGLE_API_KEY="fake-key", GOOGLE_GEMINI_BASE_URL=server.url, GOOGLE_GENAI_USE_VERTEXAI="false")
        yield server
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture(autouse=True)
def adk_environment(srv):
    """The fake Gemini server's environment (google-genai's base URL, an API key) for every test."""


@pytest.fixture
def requests_made(srv):
    """The fake's generateContent requests made during this test (a callable: call it after the run)."""
    before = len(srv.requests)
    return lambda: [r for r in srv.requests[before:] if r["path"].endswith(":generateContent")]


@pytest.fixture
def adk_instrumentor(provider, capture_content):
    yield from instrumented(ADKInstrumentor, provider, capture_content)


@pytest.fixture
def genai_instrumentor(provider, capture_content):
    yield from instrumented(GenAIInstrumentor, provider, capture_content)


def get_weather(city: str) -> dict:
    """The weather in a city."""
    return {"city": city, "weather": "sunny"}


def message(text: str = QUESTION) -> Any:
    return types.Content(role="user", parts=[types.Part(text=text)])


async def run_async(agent: Any, text: str = QUESTION, session_id: str = SESSION_ID) -> list[Any]:
    """One turn of `agent` in a new in-memory session: its events."""
    runner = InMemoryRunner(agent=agent, app_name=APP)
    await runner.session_service.create_session(app_name=APP, user_id=USER_ID, session_id=session_id)
    return [event async for event in runner.run_async(user_id=USER_ID, session_id=session_id, new_message=message(text))]


def final_text(events: list[Any]) -> str:
    return "".join(p.text or "" for e in events if e.is_final_response() and e.content for p in e.content.parts)


@pytest.fixture(autouse=True)
def spans_end_exactly_once(spans_end_exactly_once):
    """The shared check of tests/integration/conftest.py, on for every test here."""


@pytest.fixture(autouse=True)
def no_context_errors(no_context_errors):
    """The shared check of tests/integration/conftest.py, on for every test here."""
