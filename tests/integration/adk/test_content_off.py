"""Content off: no message, instruction, tool argument or result, agent input or output on any
span (ADK's own spans, which would carry them, are replaced); the tree, usage and cost stay."""

from __future__ import annotations

import pytest

from tests.fakes.gemini_server import TOOL_RESULT_TEXT
from tests.integration.adk.conftest import MODEL, QUESTION, run_async
from tests.integration.adk.test_agent import AGENT_TREE, weather_agent
from tests.integration.spans import spans, tree

CONTENT = {
    "input.value", "output.value", "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions",
    "gen_ai.tool.definitions", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result",
}


@pytest.fixture
def capture_content():
    return False


@pytest.mark.parametrize("provider_instrumented", [True, False])
async def test_no_content_anywhere(adk_instrumentor, global_provider, exporter, provider_instrumented, request):
    if provider_instrumented:
        request.getfixturevalue("genai_instrumentor")

    await run_async(weather_agent())

    assert tree(exporter) == AGENT_TREE
    values = repr([dict(s.attributes) for s in spans(exporter)])
    for secret in (QUESTION, TOOL_RESULT_TEXT, "Paris", "sunny", "Answer briefly"):
        assert secret not in values
    assert not any(CONTENT & set(s.attributes) for s in spans(exporter))
    assert all(not s.events for s in spans(exporter))
    inference = [s for s in spans(exporter) if s.name == f"generate_content {MODEL}"]
    assert [s.attributes["gen_ai.usage.input_tokens"] for s in inference] == [10, 10]
    assert all(s.attributes["gen_ai.usage.cost"] > 0 for s in inference)
