"""Streamed and non-streamed answers with the same content blocks give the same output messages,
to the byte: the stream's events are rebuilt into the message the non-streamed path reads, by
the same builder (raw `create(stream=True)` events and the `.stream()` helper alike)."""

from __future__ import annotations

import json

import pytest

from tests.integration.anthropic.test_messages import REQUEST, one_span

anthropic = pytest.importorskip("anthropic")

SEARCH_RESULT = {"type": "web_search_result", "title": "Paris weather", "url": "https://example.com/paris", "encrypted_content": "enc_fake", "page_age": "1 day ago"}
TEXT_AND_TOOLS = [
    {"type": "text", "text": "Let me look that up for you."},
    {"type": "tool_use", "id": "toolu_a", "name": "get_weather", "input": {"city": "Paris", "days": 2}},
]
EVERY_KIND = [
    {"type": "thinking", "thinking": "The user wants the weather.", "signature": "sig_fake"},
    {"type": "redacted_thinking", "data": "redacted_fake_data"},
    {"type": "text", "text": "Searching now."},
    {"type": "server_tool_use", "id": "srvtoolu_a", "name": "web_search", "input": {"query": "paris weather"}},
    {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_a", "content": [SEARCH_RESULT]},
    {"type": "text", "text": "It is sunny in Paris."},
    {"type": "tool_use", "id": "toolu_b", "name": "get_time", "input": {"zone": "CET"}},
]
TEXT_AND_TOOLS_PARTS = [
    {"type": "text", "content": "Let me look that up for you."},
    {"type": "tool_call", "name": "get_weather", "id": "toolu_a", "arguments": {"city": "Paris", "days": 2}},
]
EVERY_KIND_PARTS = [
    {"type": "reasoning", "content": "The user wants the weather."},
    {"type": "reasoning", "content": ""},
    {"type": "text", "content": "Searching now."},
    {"type": "server_tool_call", "id": "srvtoolu_a", "name": "web_search", "server_tool_call": {"type": "web_search", "input": {"query": "paris weather"}}},
    {"type": "server_tool_call_response", "id": "srvtoolu_a", "server_tool_call_response": {"type": "web_search_tool_result", "content": [SEARCH_RESULT]}},
    {"type": "text", "content": "It is sunny in Paris."},
    {"type": "tool_call", "name": "get_time", "id": "toolu_b", "arguments": {"zone": "CET"}},
]


def _has_block_types() -> bool:
    types = anthropic.types
    return all(hasattr(types, name) for name in ("RedactedThinkingBlock", "ServerToolUseBlock", "WebSearchToolResultBlock"))


CASES = [
    pytest.param(TEXT_AND_TOOLS, TEXT_AND_TOOLS_PARTS, id="text and tool use"),
    pytest.param(
        EVERY_KIND,
        EVERY_KIND_PARTS,
        id="thinking, redacted thinking, server tool use and result",
        marks=pytest.mark.skipif(not _has_block_types(), reason=f"anthropic {anthropic.__version__} has no redacted_thinking / server_tool_use blocks"),
    ),
]


def _output(exporter) -> str:
    span = one_span(exporter)
    exporter.clear()
    assert span.attributes["gen_ai.response.finish_reasons"] == ("tool_use",)
    return span.attributes["gen_ai.output.messages"]


def _request(blocks) -> dict:
    return dict(REQUEST, extra_headers={"x-fake-content": json.dumps(blocks)})


@pytest.mark.parametrize(("blocks", "parts"), CASES)
def test_streamed_and_plain_outputs_are_identical(client, exporter, blocks, parts):
    message = client.messages.create(**_request(blocks))
    plain = _output(exporter)
    events = list(client.messages.create(**_request(blocks), stream=True))
    raw_stream = _output(exporter)
    with client.messages.stream(**_request(blocks)) as stream:
        stream.until_done()
    helper = _output(exporter)

    assert [block.type for block in message.content] == [block["type"] for block in blocks]
    assert sum(event.type == "content_block_delta" for event in events) > len(blocks)  # really streamed in pieces
    assert raw_stream == plain
    assert helper == plain
    assert json.loads(plain) == [{"role": "assistant", "parts": parts, "finish_reason": "tool_call"}]


@pytest.mark.parametrize(("blocks", "parts"), CASES)
async def test_streamed_and_plain_outputs_are_identical_async(aclient, exporter, blocks, parts):
    await aclient.messages.create(**_request(blocks))
    plain = _output(exporter)
    async for _ in await aclient.messages.create(**_request(blocks), stream=True):
        pass

    assert _output(exporter) == plain
    assert json.loads(plain) == [{"role": "assistant", "parts": parts, "finish_reason": "tool_call"}]
