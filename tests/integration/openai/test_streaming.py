"""Streamed Chat Completions: the user gets the library's own stream, and the span ends exactly
once, when the stream ends — however it ends — without ever being the current span."""

from __future__ import annotations

import gc

import openai
import pytest
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from tests.fakes.openai_server import CHAT_TEXT
from tests.integration.openai.helpers import GPT_4O_MINI_COST, assert_span_ends_at_with_exit, attrs, exception_events, json_attr, one_span, output_text, spans, text_message, user

STREAM = dict(model="gpt-4o-mini", messages=user("Say hello."), stream=True, stream_options={"include_usage": True})
TWENTY = "".join(f"tok{i} " for i in range(20))


def text_of(chunks) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def assert_complete_stream_span(span, srv, chunks) -> None:
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    actual = attrs(span)
    first_chunk = actual.pop("gen_ai.response.time_to_first_chunk")
    assert isinstance(first_chunk, float) and first_chunk > 0
    assert actual.pop("gen_ai.usage.cost") == pytest.approx(GPT_4O_MINI_COST, rel=1e-9)
    actual["gen_ai.input.messages"] = json_attr(span, "gen_ai.input.messages")
    actual["gen_ai.output.messages"] = json_attr(span, "gen_ai.output.messages")
    assert actual == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "server.address": "127.0.0.1",
        "server.port": srv.port,
        "openai.api.type": "chat_completions",
        "gen_ai.request.stream": True,
        "gen_ai.response.id": chunks[0].id,
        "gen_ai.response.model": "gpt-4o-mini",
        "openai.response.service_tier": "default",
        "openai.response.system_fingerprint": "fp_fake",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 7,
        "gen_ai.usage.cache_read.input_tokens": 4,
        "gen_ai.usage.reasoning.output_tokens": 2,
        "gen_ai.input.messages": [text_message("user", "Say hello.")],
        "gen_ai.output.messages": [output_text(CHAT_TEXT)],
    }


def assert_failed(span, exc: BaseException) -> None:
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == type(exc).__qualname__
    assert len(exception_events(span)) == 1


# --- sync -----------------------------------------------------------------------------------


def test_stream_sync_exhausted(client, exporter, provider, srv):
    with provider.get_tracer("t").start_as_current_span("parent") as parent:
        stream = client.chat.completions.create(**STREAM)
        assert isinstance(stream, openai.Stream)
        assert spans(exporter) == []
        chunks = []
        for chunk in stream:
            assert trace.get_current_span() is parent  # the chat span is never current while the user iterates
            assert spans(exporter) == []  # ends only once the stream is exhausted
            chunks.append(chunk)
        chat = one_span(exporter)
    assert text_of(chunks) == CHAT_TEXT
    assert chunks[-1].usage.prompt_tokens == 12
    assert chat.parent.span_id == parent.get_span_context().span_id
    assert chat.context.trace_id == parent.get_span_context().trace_id
    assert_complete_stream_span(chat, srv, chunks)


def test_stream_sync_with_block(client, exporter):
    with client.chat.completions.create(**STREAM) as stream:
        next(stream)
        assert spans(exporter) == []
    assert one_span(exporter).status.status_code is StatusCode.UNSET


def test_stream_sync_break_then_garbage_collected(client, exporter):
    stream = client.chat.completions.create(**STREAM)
    for _ in stream:
        break
    assert spans(exporter) == []
    del stream
    gc.collect()
    assert one_span(exporter).name == "chat gpt-4o-mini"


def test_stream_sync_close(client, exporter):
    stream = client.chat.completions.create(**STREAM)
    next(stream)
    stream.close()
    one_span(exporter)


def test_stream_sync_mid_stream_error(client, exporter):
    stream = client.chat.completions.create(**{**STREAM, "model": "stream-error"})
    with pytest.raises(openai.APIError) as raised:
        for _ in stream:
            pass
    assert_failed(one_span(exporter), raised.value)
    assert raised.value.message == "fake mid-stream error"


def test_stream_sync_dropped_connection(client, exporter):
    stream = client.chat.completions.create(**{**STREAM, "model": "stream-drop"})
    with pytest.raises(Exception) as raised:
        for _ in stream:
            pass
    assert_failed(one_span(exporter), raised.value)


def test_stream_sync_twenty_chunks_intact(client, exporter):
    stream = client.chat.completions.create(**STREAM, extra_headers={"x-fake-chunks": "20"})
    chunks = list(stream)
    deltas = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert deltas == [f"tok{i} " for i in range(20)]
    assert json_attr(one_span(exporter), "gen_ai.output.messages") == [output_text(TWENTY)]


def test_stream_sync_without_usage_chunk(client, exporter):
    list(client.chat.completions.create(model="gpt-4o-mini", messages=user("hi"), stream=True))
    span = one_span(exporter)
    assert span.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert "gen_ai.usage.input_tokens" not in span.attributes
    assert "gen_ai.usage.cost" not in span.attributes


# --- async ----------------------------------------------------------------------------------


async def test_stream_async_exhausted(aclient, exporter, provider, srv):
    with provider.get_tracer("t").start_as_current_span("parent") as parent:
        stream = await aclient.chat.completions.create(**STREAM)
        assert isinstance(stream, openai.AsyncStream)
        assert spans(exporter) == []
        chunks = []
        async for chunk in stream:
            assert trace.get_current_span() is parent
            assert spans(exporter) == []
            chunks.append(chunk)
        chat = one_span(exporter)
    assert text_of(chunks) == CHAT_TEXT
    assert chat.parent.span_id == parent.get_span_context().span_id
    assert_complete_stream_span(chat, srv, chunks)


async def test_stream_async_with_block(aclient, exporter):
    async with await aclient.chat.completions.create(**STREAM) as stream:
        await stream.__anext__()
        assert spans(exporter) == []
    assert one_span(exporter).status.status_code is StatusCode.UNSET


async def test_stream_async_break_then_garbage_collected(aclient, exporter):
    stream = await aclient.chat.completions.create(**STREAM)
    async for _ in stream:
        break
    assert spans(exporter) == []
    del stream
    gc.collect()
    assert one_span(exporter).name == "chat gpt-4o-mini"


async def test_stream_async_close(aclient, exporter):
    stream = await aclient.chat.completions.create(**STREAM)
    await stream.__anext__()
    await stream.close()
    one_span(exporter)


async def test_stream_async_mid_stream_error(aclient, exporter):
    stream = await aclient.chat.completions.create(**{**STREAM, "model": "stream-error"})
    with pytest.raises(openai.APIError) as raised:
        async for _ in stream:
            pass
    assert_failed(one_span(exporter), raised.value)


async def test_stream_async_dropped_connection(aclient, exporter):
    stream = await aclient.chat.completions.create(**{**STREAM, "model": "stream-drop"})
    with pytest.raises(Exception) as raised:
        async for _ in stream:
            pass
    assert_failed(one_span(exporter), raised.value)


async def test_stream_async_twenty_chunks_intact(aclient, exporter):
    stream = await aclient.chat.completions.create(**STREAM, extra_headers={"x-fake-chunks": "20"})
    deltas = [c.choices[0].delta.content async for c in stream if c.choices and c.choices[0].delta.content]
    assert deltas == [f"tok{i} " for i in range(20)]
    assert json_attr(one_span(exporter), "gen_ai.output.messages") == [output_text(TWENTY)]


# --- the library's own stream helper --------------------------------------------------------


def test_chat_stream_helper_sync(client, exporter):
    helper = getattr(client.chat.completions, "stream", None) or client.beta.chat.completions.stream
    with helper(model="gpt-4o-mini", messages=user("Say hello."), stream_options={"include_usage": True}) as stream:
        for _ in stream:
            pass
        final = stream.get_final_completion()
    assert final.choices[0].message.content == CHAT_TEXT
    span = one_span(exporter)
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.usage.output_tokens"] == 7
    assert json_attr(span, "gen_ai.output.messages") == [output_text(CHAT_TEXT)]


def test_chat_stream_helper_ends_the_span_at_with_exit(client, exporter):
    """The helper's `__exit__` closes `raw_stream.response` directly, not the stream object."""
    helper = getattr(client.chat.completions, "stream", None) or client.beta.chat.completions.stream
    assert_span_ends_at_with_exit(lambda: helper(model="gpt-4o-mini", messages=user("Say hello.")), exporter)
