"""`create(..., stream=True)` (aisuite >= 0.2): AISuite returns a generator whose provider request
is made when it is first read. Still one inference span per call: the provider SDK's when it is
instrumented (its call, made while the generator runs, claims the round trip and starts in the
context `create` was called in), else one made from the chunks when the stream ends, once."""

from __future__ import annotations

import pytest
from opentelemetry import trace

from tests.integration.aisuite.conftest import needs_stream
from tests.integration.spans import attrs, one_span

pytestmark = needs_stream

USER = [{"role": "user", "content": "Say hello"}]
CLAUDE = "claude-3-5-haiku-20241022"


def test_an_unclaimed_stream_is_one_span_read_from_its_chunks(aisuite_instrumentor, client, exporter, requests_made):
    stream = client.chat.completions.create(model="openai:gpt-4o-mini", messages=USER, stream=True, stream_options={"include_usage": True})
    assert exporter.get_finished_spans() == ()  # nothing sent yet
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)

    assert text == "Hello from the fake OpenAI server."
    assert len(requests_made()) == 1
    span = one_span(exporter)
    got = attrs(span)
    assert got.pop("gen_ai.response.time_to_first_chunk") > 0
    assert got.pop("gen_ai.usage.cost") > 0
    assert got == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.stream": True,
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Say hello"}]}]',
        "gen_ai.response.id": got["gen_ai.response.id"],
        "gen_ai.response.model": "gpt-4o-mini",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"Hello from the fake OpenAI server."}],"finish_reason":"stop"}]',
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 7,
        "gen_ai.usage.cache_read.input_tokens": 4,
        "gen_ai.usage.reasoning.output_tokens": 2,
        "openai.response.service_tier": "default",
        "openai.response.system_fingerprint": "fp_fake",
    }
    assert got["gen_ai.response.id"].startswith("chatcmpl-fake-")


def test_with_the_openai_instrumentor_on_a_stream_is_one_span_in_the_callers_context(
    aisuite_instrumentor, openai_instrumentor, provider, client, exporter, requests_made
):
    with provider.get_tracer("app").start_as_current_span("app") as app:
        stream = client.chat.completions.create(model="openai:gpt-4o-mini", messages=USER, stream=True)
    chunks = list(stream)  # read outside the app's span

    assert len(chunks) > 1
    assert len(requests_made()) == 1
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert sorted(spans) == ["app", "chat gpt-4o-mini"]
    chat = spans["chat gpt-4o-mini"]
    assert chat.instrumentation_scope.name == "opik_otel.instrumentors.openai"
    assert chat.parent.span_id == app.get_span_context().span_id
    assert chat.attributes["gen_ai.request.stream"] is True


def test_an_anthropic_stream_with_its_instrumentor_on_is_one_span(aisuite_instrumentor, anthropic_instrumentor, client, exporter, anthropic_requests):
    text = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(model=f"anthropic:{CLAUDE}", messages=USER, stream=True) if c.choices)

    assert text == "Hello from the fake Anthropic server."
    assert len(anthropic_requests()) == 1
    assert one_span(exporter).instrumentation_scope.name == "opik_otel.instrumentors.anthropic"


def test_an_unclaimed_anthropic_stream_is_one_span(aisuite_instrumentor, client, exporter):
    list(client.chat.completions.create(model=f"anthropic:{CLAUDE}", messages=USER, stream=True))

    got = attrs(one_span(exporter))
    assert (got["gen_ai.provider.name"], got["gen_ai.request.model"], got["gen_ai.response.finish_reasons"]) == ("anthropic", CLAUDE, ["stop"])
    assert got["gen_ai.output.messages"] == '[{"role":"assistant","parts":[{"type":"text","content":"Hello from the fake Anthropic server."}],"finish_reason":"stop"}]'


def test_a_stream_left_early_ends_its_span_once(aisuite_instrumentor, client, exporter):
    stream = client.chat.completions.create(model="openai:gpt-4o-mini", messages=USER, stream=True)
    next(stream)
    stream.close()

    span = one_span(exporter)
    assert (span.name, span.status.status_code.name) == ("chat gpt-4o-mini", "UNSET")


def test_a_stream_that_fails_fails_its_span(aisuite_instrumentor, client, exporter):
    stream = client.chat.completions.create(model="openai:stream-error", messages=USER, stream=True)
    with pytest.raises(Exception, match="fake mid-stream error"):
        list(stream)

    span = one_span(exporter)
    assert (span.name, span.status.status_code.name) == ("chat stream-error", "ERROR")
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0


async def test_an_async_stream_is_one_span(aisuite_instrumentor, client, exporter, requests_made):
    stream = await client.chat.completions.acreate(model="openai:gpt-4o-mini", messages=USER, stream=True)
    text = "".join([chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices])

    assert text == "Hello from the fake OpenAI server."
    assert len(requests_made()) == 1
    assert one_span(exporter).attributes["gen_ai.request.stream"] is True


async def test_an_async_stream_with_the_openai_instrumentor_on_is_one_span(aisuite_instrumentor, openai_instrumentor, client, exporter, requests_made):
    stream = await client.chat.completions.acreate(model="openai:gpt-4o-mini", messages=USER, stream=True)
    [chunk async for chunk in stream]

    assert len(requests_made()) == 1
    assert one_span(exporter).instrumentation_scope.name == "opik_otel.instrumentors.openai"


def test_the_stream_is_not_current_while_the_app_reads_it(aisuite_instrumentor, client, exporter):
    stream = client.chat.completions.create(model="openai:gpt-4o-mini", messages=USER, stream=True)
    for _ in stream:
        assert not trace.get_current_span().get_span_context().is_valid
