"""The legacy `functions` / `function_call` of Chat Completions (still sent by many apps): the
request's functions are tool definitions, the assistant's `function_call` a tool call, and a
`role: function` message a tool call response, as with `tools`."""

from __future__ import annotations

from tests.fakes.openai_server import TOOL_RESULT_TEXT
from tests.integration.openai.helpers import json_attr, one_span, output_text, text_message, user

WEATHER_PARAMETERS = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
FUNCTIONS = [{"name": "get_weather", "description": "Weather in a city.", "parameters": WEATHER_PARAMETERS}]
DEFINITIONS = [{"type": "function", "name": "get_weather", "description": "Weather in a city.", "parameters": WEATHER_PARAMETERS}]
FUNCTION_CALL_OUTPUT = [
    {"role": "assistant", "parts": [{"type": "tool_call", "name": "get_weather", "arguments": {"city": "Paris"}}], "finish_reason": "tool_call"}
]
FOLLOW_UP = [
    {"role": "user", "content": "Weather in Paris?"},
    {"role": "assistant", "content": None, "function_call": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
    {"role": "function", "name": "get_weather", "content": '{"sky": "sunny"}'},
]


def assert_function_call_span(span) -> None:
    assert json_attr(span, "gen_ai.tool.definitions") == DEFINITIONS
    assert span.attributes["gen_ai.response.finish_reasons"] == ("function_call",)
    assert json_attr(span, "gen_ai.output.messages") == FUNCTION_CALL_OUTPUT


def test_function_call_is_a_tool_call(client, exporter):
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=user("Weather in Paris?"), functions=FUNCTIONS)

    assert completion.choices[0].message.function_call.arguments == '{"city": "Paris"}'
    assert_function_call_span(one_span(exporter))


def test_streamed_function_call_is_a_tool_call(client, exporter):
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=user("Weather in Paris?"), functions=FUNCTIONS, stream=True))

    assert [c.choices[0].delta.function_call.arguments for c in chunks[1:-1]] == ['{"city": ', '"Paris"}']
    assert_function_call_span(one_span(exporter))


async def test_streamed_function_call_is_a_tool_call_async(aclient, exporter):
    stream = await aclient.chat.completions.create(model="gpt-4o-mini", messages=user("Weather in Paris?"), functions=FUNCTIONS, stream=True)
    async for _ in stream:
        pass

    assert_function_call_span(one_span(exporter))


def test_function_call_and_function_result_in_the_input(client, exporter):
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=FOLLOW_UP, functions=FUNCTIONS)

    assert completion.choices[0].message.content == TOOL_RESULT_TEXT
    span = one_span(exporter)
    assert json_attr(span, "gen_ai.input.messages") == [
        text_message("user", "Weather in Paris?"),
        {"role": "assistant", "parts": [{"type": "tool_call", "name": "get_weather", "arguments": {"city": "Paris"}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "response": {"sky": "sunny"}}], "name": "get_weather"},
    ]
    assert json_attr(span, "gen_ai.output.messages") == [output_text(TOOL_RESULT_TEXT)]
