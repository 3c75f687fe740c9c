"""generate_content_stream: one span per stream, ended exactly once (exhausted, broken off,
failed, cut), with the joined parts and the last usage; streamed and plain outputs identical."""

from __future__ import annotations

import gc

import pytest
from google.genai import errors, types
from opentelemetry.trace import SpanKind, StatusCode

from tests.fakes.gemini_server import TEXT, THOUGHT_TEXT
from tests.integration.genai.conftest import MODEL
from tests.integration.genai.test_generate_content import GEMINI_COST, response_id
from tests.integration.spans import attrs, exception_events, json_attr, one_span

WORDS = ["Hello ", "from ", "the ", "fake ", "Gemini ", "server."]
THINKING = types.GenerateContentConfig(thinking_config=types.ThinkingConfig(include_thoughts=True), temperature=0.2)
OUTPUT = [
    {
        "role": "assistant",
        "parts": [{"type": "reasoning", "content": THOUGHT_TEXT}, {"type": "text", "content": TEXT}],
        "finish_reason": "stop",
    }
]


def expected(srv, chunk) -> dict:
    return {
        **response_id(chunk),
        "gen_ai.operation.name": "generate_content",
        "gen_ai.provider.name": "gcp.gemini",
        "gen_ai.request.model": MODEL,
        "gen_ai.request.stream": True,
        "gen_ai.request.temperature": 0.2,
        "server.address": "127.0.0.1",
        "server.port": srv.port,
        "gen_ai.response.model": MODEL,
        "gen_ai.response.finish_reasons": ["STOP"],
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 8,
        "gen_ai.usage.cache_read.input_tokens": 4,
        "gen_ai.usage.reasoning.output_tokens": 2,
        "gen_ai.usage.cost": pytest.approx(GEMINI_COST, rel=1e-9),
        "gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": "Say hello"}]}],
        "gen_ai.output.messages": OUTPUT,
    }


def assert_stream_span(span, srv, chunks) -> None:
    assert span.name == f"generate_content {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    actual = attrs(span)
    for key in ("gen_ai.input.messages", "gen_ai.output.messages"):
        actual[key] = json_attr(span, key)
    first_chunk = actual.pop("gen_ai.response.time_to_first_chunk")
    assert first_chunk > 0
    assert actual == expected(srv, chunks[0])


def test_stream_sync(client, exporter, srv):
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="Say hello", config=THINKING))

    assert [c.text for c in chunks if c.text] == WORDS  # the chunks reach the app intact
    assert_stream_span(one_span(exporter), srv, chunks)


async def test_stream_async(client, exporter, srv):
    stream = await client.aio.models.generate_content_stream(model=MODEL, contents="Say hello", config=THINKING)
    chunks = [chunk async for chunk in stream]

    assert [c.text for c in chunks if c.text] == WORDS
    assert_stream_span(one_span(exporter), srv, chunks)


def test_streamed_and_plain_outputs_are_identical(client, exporter):
    client.models.generate_content(model=MODEL, contents="Say hello", config=THINKING)
    list(client.models.generate_content_stream(model=MODEL, contents="Say hello", config=THINKING))

    plain, streamed = exporter.get_finished_spans()
    for key in ("gen_ai.output.messages", "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.response.finish_reasons", "gen_ai.usage.cost"):
        assert plain.attributes[key] == streamed.attributes[key], key


def test_a_broken_off_stream_ends_once_when_dropped(client, exporter):
    stream = client.models.generate_content_stream(model=MODEL, contents="Say hello")
    for chunk in stream:
        break
    assert exporter.get_finished_spans() == ()
    del stream, chunk
    gc.collect()

    span = one_span(exporter)
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["gen_ai.response.model"] == MODEL  # read from the first chunk


def test_a_mid_stream_error_fails_the_span_and_reaches_the_app(client, exporter):
    """Newer google-genai raises Google's error event as a ServerError (the span fails with it);
    older versions hand it over as an empty chunk (the span ends with what came before)."""
    stream = client.models.generate_content_stream(model="stream-error", contents="Say hello")
    try:
        chunks = list(stream)
    except errors.ServerError as raised:
        span = one_span(exporter)
        assert (span.status.status_code, span.attributes["error.type"]) == (StatusCode.ERROR, "ServerError")
        [event] = exception_events(span)
        assert event.attributes["exception.message"] == str(raised)
    else:
        assert [chunk.text for chunk in chunks[:2]] == ["Hello ", "from "]
        span = one_span(exporter)
        assert span.status.status_code is StatusCode.UNSET
        assert json_attr(span, "gen_ai.output.messages")[0]["parts"] == [{"type": "text", "content": "Hello from "}]


def test_a_cut_stream_fails_the_span_and_reaches_the_app(client, exporter):
    with pytest.raises(Exception) as raised:
        for _ in client.models.generate_content_stream(model="stream-drop", contents="Say hello"):
            pass

    span = one_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == type(raised.value).__qualname__
    assert len(exception_events(span)) == 1


async def test_an_async_stream_error_before_the_first_chunk(client, exporter):
    with pytest.raises(errors.ClientError):
        stream = await client.aio.models.generate_content_stream(model="error-429", contents="Say hello")
        [chunk async for chunk in stream]

    span = one_span(exporter)
    assert (span.status.status_code, span.attributes["error.type"]) == (StatusCode.ERROR, "ClientError")
    assert len(exception_events(span)) == 1


def test_chunk_count_header_joins_the_text(client, exporter):
    config = types.GenerateContentConfig(http_options=types.HttpOptions(headers={"x-fake-chunks": "3"}))
    list(client.models.generate_content_stream(model=MODEL, contents="Say hello", config=config))

    assert json_attr(one_span(exporter), "gen_ai.output.messages")[0]["parts"] == [{"type": "text", "content": "tok0 tok1 tok2 "}]
