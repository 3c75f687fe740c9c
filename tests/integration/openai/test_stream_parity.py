"""Streamed and non-streamed answers with the same content give the same output messages, to the
byte: the stream is rebuilt into the message the non-streamed path reads, by the same builder."""

from __future__ import annotations

import json

import pytest

from tests.integration.openai.helpers import one_span, requires, user

TOOL_CALLS = [
    {"id": "call_a", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
    {"id": "call_b", "function": {"name": "get_time", "arguments": '{"zone": "CET", "format": "24h"}'}},
]
TOOLS = [{"type": "function", "function": {"name": call["function"]["name"], "parameters": {"type": "object"}}} for call in TOOL_CALLS]
FUNCTIONS = [{"name": "get_weather", "parameters": {"type": "object"}}]

# (the assistant message the fake answers with, request extras, the output messages expected)
CASES = {
    "text": (
        {"content": "Hello there, friend."},
        {},
        [{"role": "assistant", "parts": [{"type": "text", "content": "Hello there, friend."}], "finish_reason": "stop"}],
    ),
    "text and two tool calls": (
        {"content": "Let me check both.", "tool_calls": TOOL_CALLS},
        {"tools": TOOLS},
        [
            {
                "role": "assistant",
                "parts": [
                    {"type": "text", "content": "Let me check both."},
                    {"type": "tool_call", "name": "get_weather", "id": "call_a", "arguments": {"city": "Paris"}},
                    {"type": "tool_call", "name": "get_time", "id": "call_b", "arguments": {"zone": "CET", "format": "24h"}},
                ],
                "finish_reason": "tool_call",
            }
        ],
    ),
    "refusal": (
        {"content": None, "refusal": "I can't help with that request."},
        {},
        [{"role": "assistant", "parts": [{"type": "text", "content": "I can't help with that request."}], "finish_reason": "stop"}],
    ),
    "legacy function call": (
        {"content": None, "function_call": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
        {"functions": FUNCTIONS},
        [{"role": "assistant", "parts": [{"type": "tool_call", "name": "get_weather", "arguments": {"city": "Paris"}}], "finish_reason": "tool_call"}],
    ),
    "two choices": (
        {"content": "Same twice."},
        {"n": 2},
        [{"role": "assistant", "parts": [{"type": "text", "content": "Same twice."}], "finish_reason": "stop"}] * 2,
    ),
}


def _outputs(exporter) -> tuple[str, tuple]:
    span = one_span(exporter)
    exporter.clear()
    return span.attributes["gen_ai.output.messages"], span.attributes["gen_ai.response.finish_reasons"]


@pytest.mark.parametrize("case", list(CASES))
def test_streamed_and_plain_outputs_are_identical(client, exporter, case):
    message, extra, expected = CASES[case]
    request = dict(model="gpt-4o-mini", messages=user("hi"), extra_headers={"x-fake-message": json.dumps(message)}, **extra)

    completion = client.chat.completions.create(**request)
    plain = _outputs(exporter)
    chunks = list(client.chat.completions.create(**request, stream=True))
    streamed = _outputs(exporter)

    assert completion.choices[0].message.content == message["content"]
    assert len(chunks) > 3  # the content really arrived in pieces
    assert streamed == plain
    assert json.loads(plain[0]) == expected


async def test_streamed_refusal_async(aclient, exporter):
    message, extra, expected = CASES["refusal"]
    request = dict(model="gpt-4o-mini", messages=user("hi"), extra_headers={"x-fake-message": json.dumps(message)}, **extra)

    await aclient.chat.completions.create(**request)
    plain = _outputs(exporter)
    async for _ in await aclient.chat.completions.create(**request, stream=True):
        pass

    assert _outputs(exporter) == plain
    assert json.loads(plain[0]) == expected


RESPONSES_TOOLS = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]


@requires("responses")
@pytest.mark.parametrize("tools", [None, RESPONSES_TOOLS], ids=["text", "function call"])
def test_responses_streamed_and_plain_outputs_are_identical(client, exporter, tools):
    """The Responses API stream's final event carries the whole response, read by the same builder."""
    request = dict(model="gpt-4o", input="Weather in Paris?", **({"tools": tools} if tools else {}))

    client.responses.create(**request)
    plain = _outputs(exporter)
    for _ in client.responses.create(**request, stream=True):
        pass

    assert _outputs(exporter) == plain
    parts = json.loads(plain[0])[0]["parts"]
    assert parts == (
        [{"type": "tool_call", "name": "get_weather", "id": "call_fake_1", "arguments": {"city": "Paris"}}]
        if tools
        else [{"type": "text", "content": "Hello from the fake Responses API."}]
    )
