"""`messages.with_raw_response.create(stream=True)` then `.parse()`, sync and async: the stream
`parse()` returns carries the span on to its end, even when the raw response itself is dropped
at once (`create(...).parse()` in one expression)."""

from __future__ import annotations

import inspect

import pytest

from tests.integration.anthropic.test_messages import REQUEST, TEXT, assert_chat_span, one_span

anthropic = pytest.importorskip("anthropic")

STREAM = dict(REQUEST, stream=True)


def text_of(events) -> str:
    return "".join(e.delta.text for e in events if e.type == "content_block_delta")


async def parsed(raw):
    """`raw.parse()`, awaited where the SDK's async raw response parses asynchronously."""
    result = raw.parse()
    return await result if inspect.isawaitable(result) else result


def test_raw_stream(client, exporter, srv):
    raw = client.messages.with_raw_response.create(**STREAM)
    events = list(raw.parse())

    assert text_of(events) == TEXT
    assert_chat_span(one_span(exporter), srv, stream=True)


def test_raw_stream_parsed_in_one_expression(client, exporter, srv):
    events = list(client.messages.with_raw_response.create(**STREAM).parse())

    assert text_of(events) == TEXT
    assert_chat_span(one_span(exporter), srv, stream=True)


async def test_raw_stream_async(aclient, exporter, srv):
    raw = await aclient.messages.with_raw_response.create(**STREAM)
    events = [event async for event in await parsed(raw)]

    assert text_of(events) == TEXT
    assert_chat_span(one_span(exporter), srv, stream=True)


async def test_raw_stream_async_parsed_in_one_expression(aclient, exporter, srv):
    stream = await parsed(await aclient.messages.with_raw_response.create(**STREAM))
    events = [event async for event in stream]

    assert text_of(events) == TEXT
    assert_chat_span(one_span(exporter), srv, stream=True)


async def test_raw_response_async_not_streamed(aclient, exporter, srv):
    message = await parsed(await aclient.messages.with_raw_response.create(**REQUEST))

    assert message.content[0].text == TEXT
    assert_chat_span(one_span(exporter), srv)
