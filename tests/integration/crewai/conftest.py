"""Fixtures: the real crewai against the fake OpenAI server (its agents answered in their own
format: native tool calls when CrewAI sends tools, else the ReAct text), `CrewAIInstrumentor`
(and, per test, the instrumentor of the library CrewAI calls the model through: `model_instrumentor`) on the in-memory TracerProvider of
tests/integration/conftest.py, which also gives the fake server, `requests_made` and the checks.

CrewAI's own telemetry (to telemetry.crewai.com) and its trace upload are switched off here, in
the tests only (no network); `OTEL_SDK_DISABLED` must stay unset: it would switch off our
TracerProvider too."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Callable

import pytest

os.environ["CREWAI_DISABLE_TELEMETRY"] = "true"
os.environ["CREWAI_DISABLE_TRACKING"] = "true"
os.environ["CREWAI_TRACING_ENABLED"] = "false"
os.environ.pop("OTEL_SDK_DISABLED", None)
os.environ["CREWAI_STORAGE_DIR"] = tempfile.mkdtemp(prefix="crewai-tests-")  # its task-output and memory stores

pytest.importorskip("crewai")

from opik_otel.instrumentors.crewai import CrewAIInstrumentor  # noqa: E402
from tests.integration.conftest import instrumented  # noqa: E402

API_KEY = "sk-test-fake"
FINAL = "The answer is 3"


@pytest.fixture
def crewai_instrumentor(provider, capture_content):
    yield from instrumented(CrewAIInstrumentor, provider, capture_content)


@pytest.fixture
def model_instrumentor(provider, capture_content):
    """The instrumentor of the library CrewAI calls the model through: the openai SDK (crewai >= 1.0
    calls it natively for openai models), else LiteLLM (older crewai, and litellm itself over openai)."""
    yield from instrumented(model_instrumentor_class(), provider, capture_content)


def model_instrumentor_class() -> type:
    if crewai_major() >= 1:
        from opik_otel.instrumentors.openai import OpenAIInstrumentor

        return OpenAIInstrumentor
    from opik_otel.instrumentors.litellm import LiteLLMInstrumentor

    return LiteLLMInstrumentor


def crewai_major() -> int:
    import crewai

    return int(crewai.__version__.split(".")[0])


@pytest.fixture
def llm(srv):
    from crewai import LLM

    return LLM(model="openai/gpt-4o-mini", base_url=srv.base_url, api_key=API_KEY, max_retries=0, temperature=0.2)


def agent_replies(name: str | None = None, arguments: dict[str, Any] | None = None, final: str = FINAL) -> Callable[[dict], Any]:
    """What the fake model answers an agent: a call of tool `name` first (when given), then `final`,
    as a native tool call / plain text when CrewAI sent tools, else in the ReAct format."""

    def reply(body: dict) -> Any:
        messages = body.get("messages") or []
        native = bool(body.get("tools"))
        used = any(m.get("role") == "tool" or "Observation:" in str(m.get("content")) for m in messages[1:])
        if name is None or used:
            return final if native else f"Thought: I now know the final answer\nFinal Answer: {final}"
        if native:
            return {"content": None, "tool_calls": [{"id": "call_1", "function": {"name": name, "arguments": json.dumps(arguments)}}]}
        return f"Thought: I should use the tool\nAction: {name}\nAction Input: {json.dumps(arguments)}"

    return reply


@pytest.fixture
def replies(srv):
    """`replies(name, arguments, final)`: how the fake model answers agents during this test."""
    yield lambda *args, **kwargs: srv.reply_with(agent_replies(*args, **kwargs))
    srv.reply_with(None)


@pytest.fixture
def add_tool():
    from crewai.tools import tool

    @tool("add")
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    return add


@pytest.fixture
def make_crew(llm):
    """`make_crew(tools=(), name="Math crew", **task_options)`: one agent ("Calculator"), one task."""
    from crewai import Agent, Crew, Task

    def make(tools=(), name: str = "Math crew", **task_options: Any) -> Any:
        agent = Agent(role="Calculator", goal="Add numbers", backstory="You are good at maths.", llm=llm, tools=list(tools), verbose=False)
        task = Task(description="Add 1 and 2", expected_output="A number", agent=agent, name="addition", **task_options)
        return Crew(agents=[agent], tasks=[task], name=name, verbose=False)

    return make


@pytest.fixture(autouse=True)
def no_context_errors(no_context_errors):
    """The shared check of tests/integration/conftest.py, on for every test here."""


@pytest.fixture(autouse=True)
def spans_end_exactly_once(spans_end_exactly_once):
    """The shared check of tests/integration/conftest.py, on for every test here."""
