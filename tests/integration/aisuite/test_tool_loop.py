"""AISuite's tool loop (`tools=[python functions]`, `max_turns`): one `invoke_agent {model}` span for
the whole call, an inference span per model round trip and an `execute_tool {name}` span per
function run under it (as google-genai's automatic function calling)."""

from __future__ import annotations

import pytest

from tests.integration.aisuite.conftest import TOOL_CALL_IDS, needs_acreate, needs_tool_loop
from tests.integration.spans import attrs, exception_events, json_attr, named, tree

pytestmark = needs_tool_loop

QUESTION = [{"role": "user", "content": "Weather in Paris?"}]


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def broken_tool(city: str) -> str:
    """Fails."""
    raise RuntimeError(f"no weather for {city}")


def test_a_tool_loop_is_one_trace_agent_round_trips_and_tool(aisuite_instrumentor, client, exporter, requests_made):
    response = client.chat.completions.create(model="openai:gpt-4o-mini", messages=QUESTION, tools=[get_weather], max_turns=3)

    assert response.choices[0].message.content == "The weather is sunny."
    assert len(requests_made()) == 2
    assert tree(exporter) == [
        ("invoke_agent gpt-4o-mini", "INTERNAL", None),
        ("chat gpt-4o-mini", "CLIENT", "invoke_agent gpt-4o-mini"),
        ("execute_tool get_weather", "INTERNAL", "invoke_agent gpt-4o-mini"),
        ("chat gpt-4o-mini", "CLIENT", "invoke_agent gpt-4o-mini"),
    ]
    assert len({s.context.trace_id for s in exporter.get_finished_spans()}) == 1
    agent = named(exporter, "invoke_agent gpt-4o-mini")
    assert attrs(agent) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}]',
        "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"The weather is sunny."}],"finish_reason":"stop"}]',
    }
    assert attrs(named(exporter, "execute_tool get_weather")) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        **({"gen_ai.tool.call.id": "call_fake_1"} if TOOL_CALL_IDS else {}),  # aisuite < 0.2 runs the function without its call
        "gen_ai.tool.call.arguments": '{"city":"Paris"}',
        "gen_ai.tool.call.result": '"sunny in Paris"',
    }
    first, second = [s for s in exporter.get_finished_spans() if s.name == "chat gpt-4o-mini"]
    assert [first.attributes["gen_ai.response.finish_reasons"], second.attributes["gen_ai.response.finish_reasons"]] == [("tool_calls",), ("stop",)]
    assert [m["role"] for m in json_attr(second, "gen_ai.input.messages")] == ["user", "assistant", "tool"]
    assert "gen_ai.usage.cost" in first.attributes and "gen_ai.usage.cost" in second.attributes
    assert "gen_ai.usage.cost" not in agent.attributes


def test_with_the_openai_instrumentor_on_each_round_trip_is_one_span(aisuite_instrumentor, openai_instrumentor, client, exporter, requests_made):
    client.chat.completions.create(model="openai:gpt-4o-mini", messages=QUESTION, tools=[get_weather], max_turns=3)

    assert len(requests_made()) == 2
    assert tree(exporter) == [
        ("invoke_agent gpt-4o-mini", "INTERNAL", None),
        ("chat gpt-4o-mini", "CLIENT", "invoke_agent gpt-4o-mini"),
        ("execute_tool get_weather", "INTERNAL", "invoke_agent gpt-4o-mini"),
        ("chat gpt-4o-mini", "CLIENT", "invoke_agent gpt-4o-mini"),
    ]
    chats = [s for s in exporter.get_finished_spans() if s.name == "chat gpt-4o-mini"]
    assert [s.instrumentation_scope.name for s in chats] == ["opik_otel.instrumentors.openai"] * 2


def test_an_anthropic_tool_loop_with_its_instrumentor_on(aisuite_instrumentor, anthropic_instrumentor, client, exporter, anthropic_requests):
    model = "claude-3-5-haiku-20241022"
    response = client.chat.completions.create(model=f"anthropic:{model}", messages=QUESTION, tools=[get_weather], max_turns=3)

    assert response.choices[0].message.content == "The weather is sunny."
    assert len(anthropic_requests()) == 2
    assert tree(exporter) == [
        (f"invoke_agent {model}", "INTERNAL", None),
        (f"chat {model}", "CLIENT", f"invoke_agent {model}"),
        ("execute_tool get_weather", "INTERNAL", f"invoke_agent {model}"),
        (f"chat {model}", "CLIENT", f"invoke_agent {model}"),
    ]
    assert named(exporter, "execute_tool get_weather").attributes.get("gen_ai.tool.call.id") == ("toolu_fake_1" if TOOL_CALL_IDS else None)


@needs_acreate
async def test_the_async_tool_loop(aisuite_instrumentor, client, exporter, requests_made):
    response = await client.chat.completions.acreate(model="openai:gpt-4o-mini", messages=QUESTION, tools=[get_weather], max_turns=3)

    assert response.choices[0].message.content == "The weather is sunny."
    assert len(requests_made()) == 2
    assert tree(exporter) == [
        ("invoke_agent gpt-4o-mini", "INTERNAL", None),
        ("chat gpt-4o-mini", "CLIENT", "invoke_agent gpt-4o-mini"),
        ("execute_tool get_weather", "INTERNAL", "invoke_agent gpt-4o-mini"),
        ("chat gpt-4o-mini", "CLIENT", "invoke_agent gpt-4o-mini"),
    ]


def test_a_failing_tool_fails_its_span_and_the_agent_and_the_error_reaches_the_app(aisuite_instrumentor, client, exporter):
    with pytest.raises(RuntimeError, match="no weather for Paris"):
        client.chat.completions.create(model="openai:gpt-4o-mini", messages=QUESTION, tools=[broken_tool], max_turns=3)

    assert tree(exporter) == [
        ("invoke_agent gpt-4o-mini", "INTERNAL", None),
        ("chat gpt-4o-mini", "CLIENT", "invoke_agent gpt-4o-mini"),
        ("execute_tool broken_tool", "INTERNAL", "invoke_agent gpt-4o-mini"),
    ]
    for name in ("execute_tool broken_tool", "invoke_agent gpt-4o-mini"):
        span = named(exporter, name)
        assert (span.status.status_code.name, span.attributes["error.type"]) == ("ERROR", "RuntimeError")
        assert len(exception_events(span)) == 1
    assert "gen_ai.tool.call.result" not in named(exporter, "execute_tool broken_tool").attributes


def test_max_turns_reached_ends_the_loop_span_with_the_last_reply(aisuite_instrumentor, client, exporter, requests_made):
    client.chat.completions.create(model="openai:gpt-4o-mini", messages=QUESTION, tools=[get_weather], max_turns=1)

    assert len(requests_made()) == 1
    assert tree(exporter) == [
        ("invoke_agent gpt-4o-mini", "INTERNAL", None),
        ("chat gpt-4o-mini", "CLIENT", "invoke_agent gpt-4o-mini"),
        ("execute_tool get_weather", "INTERNAL", "invoke_agent gpt-4o-mini"),
    ]
    parts = json_attr(named(exporter, "invoke_agent gpt-4o-mini"), "gen_ai.output.messages")[0]["parts"]
    assert parts == [{"type": "tool_call", "name": "get_weather", "id": "call_fake_1", "arguments": {"city": "Paris"}}]
