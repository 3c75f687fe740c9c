"""`capture_content=False`: metadata and usage only; no prompt, response or tool text on any span."""

from __future__ import annotations

import pytest

from tests.fakes.openai_server import CHAT_TEXT, RESPONSES_TEXT, TOOL_RESULT_TEXT
from tests.integration.openai.helpers import CONTENT_ATTRIBUTES, one_span, requires

SECRET = "PROMPT-SECRET-7f3a"
MESSAGES = [
    {"role": "system", "content": f"system {SECRET}"},
    {"role": "user", "content": f"user {SECRET}"},
    {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": f'{{"q": "{SECRET}"}}'}}]},
    {"role": "tool", "tool_call_id": "call_1", "content": f"tool {SECRET}"},
]
TOOLS = [{"type": "function", "function": {"name": "lookup", "description": f"tool {SECRET}", "parameters": {"type": "object"}}}]
FORBIDDEN = (SECRET, CHAT_TEXT, RESPONSES_TEXT, TOOL_RESULT_TEXT, "Paris", "Hello")


@pytest.fixture
def capture_content():
    return False


def assert_no_content(span) -> None:
    attributes = dict(span.attributes)
    assert [name for name in CONTENT_ATTRIBUTES if name in attributes] == []
    for name, value in attributes.items():
        assert not any(text in str(value) for text in FORBIDDEN), f"{name} leaks content: {value!r}"
    assert span.events == ()
    assert attributes["gen_ai.usage.input_tokens"] > 0  # the span is still complete otherwise


def test_chat(client, exporter):
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, tools=TOOLS)

    span = one_span(exporter)
    assert_no_content(span)
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)


def test_chat_tool_call_answer(client, exporter):
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES[:2], tools=TOOLS)

    assert_no_content(one_span(exporter))


def test_chat_stream(client, exporter):
    stream = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES[:2], stream=True, stream_options={"include_usage": True})
    assert "".join(c.choices[0].delta.content or "" for c in stream if c.choices) == CHAT_TEXT

    assert_no_content(one_span(exporter))


async def test_chat_stream_tool_call_async(aclient, exporter):
    stream = await aclient.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES[:2], tools=TOOLS, stream=True, stream_options={"include_usage": True})
    async for _ in stream:
        pass

    span = one_span(exporter)
    assert_no_content(span)
    assert span.attributes["gen_ai.response.finish_reasons"] == ("tool_calls",)


@requires("responses")
def test_responses(client, exporter):
    client.responses.create(model="gpt-4o", input=f"user {SECRET}", instructions=f"system {SECRET}")

    assert_no_content(one_span(exporter))


@requires("responses")
def test_responses_stream_tool_call(client, exporter):
    tools = [{"type": "function", "name": "lookup", "description": f"tool {SECRET}", "parameters": {"type": "object", "properties": {}}}]
    list(client.responses.create(model="gpt-4o", input=f"user {SECRET}", tools=tools, stream=True))

    assert_no_content(one_span(exporter))


def test_embeddings(client, exporter):
    client.embeddings.create(model="text-embedding-3-small", input=f"user {SECRET}")

    assert_no_content(one_span(exporter))
