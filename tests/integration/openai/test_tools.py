"""Tool calling in Chat Completions: definitions, the assistant's tool call, the tool's answer."""

from __future__ import annotations

from tests.fakes.openai_server import TOOL_RESULT_TEXT
from tests.integration.openai.helpers import json_attr, one_span, output_text, spans, text_message, user

WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
}
TOOLS = [
    {
        "type": "function",
        "function": {"name": "get_weather", "description": "Weather in a city.", "parameters": WEATHER_PARAMETERS},
    }
]
TOOL_CALL_PART = {"type": "tool_call", "id": "call_fake_1", "name": "get_weather", "arguments": {"city": "Paris"}}
TOOL_CALL_OUTPUT = [{"role": "assistant", "parts": [TOOL_CALL_PART], "finish_reason": "tool_call"}]
FOLLOW_UP = [
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_fake_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
        ],
    },
    {"role": "tool", "tool_call_id": "call_fake_1", "content": "sunny, 21C"},
]


def assert_tool_call_span(span) -> None:
    assert json_attr(span, "gen_ai.tool.definitions") == [
        {"type": "function", "name": "get_weather", "description": "Weather in a city.", "parameters": WEATHER_PARAMETERS}
    ]
    assert span.attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert json_attr(span, "gen_ai.output.messages") == TOOL_CALL_OUTPUT


def test_tool_call(client, exporter):
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=user("Weather in Paris?"), tools=TOOLS)

    assert completion.choices[0].message.tool_calls[0].function.arguments == '{"city": "Paris"}'
    assert_tool_call_span(one_span(exporter))


async def test_tool_call_async(aclient, exporter):
    await aclient.chat.completions.create(model="gpt-4o-mini", messages=user("Weather in Paris?"), tools=TOOLS)

    assert_tool_call_span(one_span(exporter))


def test_tool_result_follow_up(client, exporter):
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=FOLLOW_UP, tools=TOOLS)

    assert completion.choices[0].message.content == TOOL_RESULT_TEXT
    span = one_span(exporter)
    assert json_attr(span, "gen_ai.input.messages") == [
        text_message("user", "Weather in Paris?"),
        {"role": "assistant", "parts": [TOOL_CALL_PART]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_fake_1", "response": "sunny, 21C"}]},
    ]
    assert json_attr(span, "gen_ai.output.messages") == [output_text(TOOL_RESULT_TEXT)]


def test_streamed_tool_call_assembles_the_same(client, exporter):
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=user("Weather in Paris?"), tools=TOOLS, stream=True)
    chunks = list(stream)

    assert len(chunks) > 3  # the arguments really arrived in fragments
    assert_tool_call_span(one_span(exporter))


async def test_streamed_tool_call_assembles_the_same_async(aclient, exporter):
    stream = await aclient.chat.completions.create(model="gpt-4o-mini", messages=user("Weather in Paris?"), tools=TOOLS, stream=True)
    async for _ in stream:
        assert spans(exporter) == []

    assert_tool_call_span(one_span(exporter))
