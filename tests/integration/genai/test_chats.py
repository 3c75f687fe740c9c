"""Chats: each turn is one inference span (the chat sends its request through the models'
round trip), with the history as input messages; streamed turns too."""

from __future__ import annotations

from tests.fakes.gemini_server import TEXT
from tests.integration.genai.conftest import MODEL
from tests.integration.spans import json_attr


def test_each_chat_turn_is_one_span_with_the_history(client, exporter, srv):
    chat = client.chats.create(model=MODEL)
    chat.send_message("Hi")
    chat.send_message("Again")

    assert len(srv.requests) >= 2
    first, second = exporter.get_finished_spans()
    assert [first.name, second.name] == [f"generate_content {MODEL}"] * 2
    assert (first.parent, second.parent) == (None, None)
    assert json_attr(second, "gen_ai.input.messages") == [
        {"role": "user", "parts": [{"type": "text", "content": "Hi"}]},
        {"role": "assistant", "parts": [{"type": "text", "content": TEXT}]},
        {"role": "user", "parts": [{"type": "text", "content": "Again"}]},
    ]


def test_a_streamed_chat_turn_is_one_span(client, exporter):
    chat = client.chats.create(model=MODEL)
    assert "".join(chunk.text for chunk in chat.send_message_stream("Hi")) == TEXT

    [span] = exporter.get_finished_spans()
    assert span.attributes["gen_ai.request.stream"] is True
    assert json_attr(span, "gen_ai.output.messages") == [
        {"role": "assistant", "parts": [{"type": "text", "content": TEXT}], "finish_reason": "stop"}
    ]


async def test_async_chat_turns(client, exporter):
    chat = client.aio.chats.create(model=MODEL)
    await chat.send_message("Hi")
    stream = await chat.send_message_stream("Again")
    assert "".join([chunk.text async for chunk in stream]) == TEXT

    plain, streamed = exporter.get_finished_spans()
    assert (plain.attributes.get("gen_ai.request.stream"), streamed.attributes["gen_ai.request.stream"]) == (None, True)
    assert len(json_attr(streamed, "gen_ai.input.messages")) == 3
