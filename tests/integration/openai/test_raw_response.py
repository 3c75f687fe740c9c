"""`with_raw_response` / `with_streaming_response`: the SDK's documented way to read headers
(LiteLLM always calls `chat.completions.with_raw_response.create`, LangChain does with
`include_response_headers`). The call is still one priced inference span, ended when the
body has been read."""

from __future__ import annotations

import openai
import pytest

from tests.fakes.openai_server import CHAT_TEXT
from tests.integration.openai.helpers import GPT_4O_MINI_COST, json_attr, one_span, output_text, spans, user

STREAM = dict(model="gpt-4o-mini", messages=user("hi"), stream=True, stream_options={"include_usage": True})


def assert_priced(span, response_id: str) -> None:
    assert span.attributes["gen_ai.response.id"] == response_id
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert span.attributes["gen_ai.usage.input_tokens"] == 12
    assert span.attributes["gen_ai.usage.output_tokens"] == 7
    assert span.attributes["gen_ai.usage.cost"] == pytest.approx(GPT_4O_MINI_COST, rel=1e-9)
    assert json_attr(span, "gen_ai.output.messages") == [output_text(CHAT_TEXT)]


def test_with_raw_response(client, exporter):
    raw = client.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=user("hi"))
    completion = raw.parse()

    assert raw.headers["x-request-id"].startswith("req_fake_")
    assert completion.choices[0].message.content == CHAT_TEXT
    assert_priced(one_span(exporter), completion.id)


async def test_with_raw_response_async(aclient, exporter):
    raw = await aclient.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=user("hi"))
    completion = raw.parse()

    assert_priced(one_span(exporter), completion.id)


def test_with_raw_response_stream_ends_when_exhausted(client, exporter):
    raw = client.chat.completions.with_raw_response.create(**STREAM)
    stream = raw.parse()
    assert isinstance(stream, openai.Stream)
    chunks = list(stream)

    assert spans(exporter) != [], "the span must end when the stream is exhausted, not when it is garbage collected"
    assert_priced(one_span(exporter), chunks[0].id)


def test_with_streaming_response(client, exporter):
    with client.chat.completions.with_streaming_response.create(model="gpt-4o-mini", messages=user("hi")) as response:
        completion = response.parse()

    assert_priced(one_span(exporter), completion.id)


def test_with_raw_response_stream_parsed_in_one_expression(client, exporter):
    """`create(...).parse()`: the raw response is dropped at once; the stream carries the span on."""
    chunks = list(client.chat.completions.with_raw_response.create(**STREAM).parse())

    assert_priced(one_span(exporter), chunks[0].id)


async def test_with_raw_response_stream_async(aclient, exporter):
    raw = await aclient.chat.completions.with_raw_response.create(**STREAM)
    stream = raw.parse()
    assert isinstance(stream, openai.AsyncStream)
    chunks = [chunk async for chunk in stream]

    assert_priced(one_span(exporter), chunks[0].id)


async def test_with_raw_response_stream_async_parsed_in_one_expression(aclient, exporter):
    stream = (await aclient.chat.completions.with_raw_response.create(**STREAM)).parse()
    chunks = [chunk async for chunk in stream]

    assert_priced(one_span(exporter), chunks[0].id)


async def test_with_streaming_response_stream_async(aclient, exporter):
    async with aclient.chat.completions.with_streaming_response.create(**STREAM) as response:
        chunks = [chunk async for chunk in await response.parse()]

    assert_priced(one_span(exporter), chunks[0].id)
