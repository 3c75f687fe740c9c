"""`litellm.completion` / `acompletion`, plain and streamed, for `openai/…` (the openai SDK under
LiteLLM) and `anthropic/…` (plain httpx) models against the fakes: one priced inference span per
billed call, with the provider LiteLLM resolved, the model as written, usage and content."""

from __future__ import annotations

import json

import litellm
import pytest

from tests.integration.spans import attrs, one_span, tree

OPENAI_TEXT = "Hello from the fake OpenAI server."
ANTHROPIC_TEXT = "Hello from the fake Anthropic server."
INPUT = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}], separators=(",", ":"))


def output(text: str, reason: str = "stop") -> str:
    return json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": reason}], separators=(",", ":"))


def openai_attributes(srv, response_id: str, **extra) -> dict:
    """The attributes of a `chat openai/gpt-4o-mini` span on the fake OpenAI server (CHAT_USAGE)."""
    return {
        "gen_ai.provider.name": "openai",
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "openai/gpt-4o-mini",
        "gen_ai.input.messages": INPUT,
        "server.address": "127.0.0.1",
        "server.port": srv.port,
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 7,
        "gen_ai.usage.cache_read.input_tokens": 4,
        "gen_ai.usage.reasoning.output_tokens": 2,
        "gen_ai.response.id": response_id,
        "gen_ai.response.model": "gpt-4o-mini",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.output.messages": output(OPENAI_TEXT),
        "openai.response.service_tier": "default",
        "openai.response.system_fingerprint": "fp_fake",
        "gen_ai.usage.cost": 5.7e-06,
        **extra,
    }


def without(attributes: dict, *names: str) -> dict:
    return {k: v for k, v in attributes.items() if k not in names}


def test_completion_openai(instrumentor, exporter, srv, openai_call, requests_made):
    response = litellm.completion(**openai_call)

    assert type(response) is litellm.ModelResponse
    assert len(requests_made()) == 1
    span = one_span(exporter)
    assert span.name == "chat openai/gpt-4o-mini"
    assert span.kind.name == "CLIENT"
    assert attrs(span) == openai_attributes(srv, response.id, **{"opik.metadata.litellm.response_cost": response._hidden_params["response_cost"]})
    assert response.id.startswith("chatcmpl-fake-")


def test_completion_anthropic(instrumentor, exporter, anthropic_srv, anthropic_call, anthropic_requests):
    response = litellm.completion(**anthropic_call)

    assert len(anthropic_requests()) == 1
    span = one_span(exporter)
    assert span.name == "chat anthropic/claude-haiku-4-5"
    expected = {
        "gen_ai.provider.name": "anthropic",
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "anthropic/claude-haiku-4-5",
        "gen_ai.request.max_tokens": 64,
        "gen_ai.input.messages": INPUT,
        "server.address": "127.0.0.1",
        "server.port": anthropic_srv.port,
        # LiteLLM counts every input token in prompt_tokens: 10 + 4 cache reads + 2 cache writes
        "gen_ai.usage.input_tokens": 16,
        "gen_ai.usage.output_tokens": 6,
        "gen_ai.usage.cache_read.input_tokens": 4,
        "gen_ai.usage.cache_creation.input_tokens": 2,
        "gen_ai.response.id": response.id,
        "gen_ai.response.model": "claude-haiku-4-5",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.output.messages": output(ANTHROPIC_TEXT),
        "gen_ai.usage.cost": 4.29e-05,
    }
    # what only newer LiteLLM reports: a reasoning count, and a cost for this model (it agrees with ours)
    if response.usage.completion_tokens_details is not None:
        expected["gen_ai.usage.reasoning.output_tokens"] = response.usage.completion_tokens_details.reasoning_tokens
    if response._hidden_params.get("response_cost") is not None:
        expected["opik.metadata.litellm.response_cost"] = 4.29e-05
    assert attrs(span) == expected


async def test_acompletion_openai(instrumentor, exporter, srv, openai_call, requests_made):
    response = await litellm.acompletion(**openai_call)

    assert len(requests_made()) == 1
    span = one_span(exporter)
    assert attrs(span) == openai_attributes(srv, response.id, **{"opik.metadata.litellm.response_cost": response._hidden_params["response_cost"]})


async def test_acompletion_anthropic(instrumentor, exporter, anthropic_call, anthropic_requests):
    await litellm.acompletion(**anthropic_call)

    assert len(anthropic_requests()) == 1
    got = attrs(one_span(exporter))
    assert (got["gen_ai.provider.name"], got["gen_ai.usage.input_tokens"], got["gen_ai.usage.cost"]) == ("anthropic", 16, 4.29e-05)


def test_stream_openai(instrumentor, exporter, srv, openai_call, requests_made):
    stream = litellm.completion(**openai_call, stream=True, stream_options={"include_usage": True})

    assert isinstance(stream, litellm.CustomStreamWrapper)
    assert exporter.get_finished_spans() == ()  # the span ends with the stream
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)

    assert text == OPENAI_TEXT
    assert len(requests_made()) == 1
    got = attrs(one_span(exporter))
    assert got.pop("gen_ai.response.time_to_first_chunk") > 0
    # older LiteLLM drops the chunks' service_tier
    expected = openai_attributes(srv, got["gen_ai.response.id"], **{"gen_ai.request.stream": True})
    assert without(got, "openai.response.service_tier") == without(expected, "openai.response.service_tier")
    assert got["gen_ai.response.id"].startswith("chatcmpl-fake-")


async def test_stream_openai_async(instrumentor, exporter, srv, openai_call, requests_made):
    stream = await litellm.acompletion(**openai_call, stream=True, stream_options={"include_usage": True})

    assert isinstance(stream, litellm.CustomStreamWrapper)
    pieces = [chunk.choices[0].delta.content or "" async for chunk in stream if chunk.choices]

    assert "".join(pieces) == OPENAI_TEXT
    assert len(requests_made()) == 1
    got = attrs(one_span(exporter))
    assert got.pop("gen_ai.response.time_to_first_chunk") > 0
    expected = openai_attributes(srv, got["gen_ai.response.id"], **{"gen_ai.request.stream": True})
    assert without(got, "openai.response.service_tier") == without(expected, "openai.response.service_tier")


@pytest.mark.parametrize("is_async", [False, True])
async def test_stream_anthropic(instrumentor, exporter, anthropic_call, anthropic_requests, is_async):
    if is_async:
        stream = await litellm.acompletion(**anthropic_call, stream=True, stream_options={"include_usage": True})
        chunks = [chunk async for chunk in stream]
    else:
        stream = litellm.completion(**anthropic_call, stream=True, stream_options={"include_usage": True})
        chunks = list(stream)

    assert "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices) == ANTHROPIC_TEXT
    assert len(anthropic_requests()) == 1
    got = attrs(one_span(exporter))
    assert got["gen_ai.provider.name"] == "anthropic"
    assert got["gen_ai.output.messages"] == output(ANTHROPIC_TEXT)
    assert got["gen_ai.response.finish_reasons"] == ["stop"]
    # the last usage LiteLLM streamed, as it reports it (newest: 16 input incl. 4 cache reads and
    # 2 writes; 1.53: 10 without the cache reads, which it leaves out)
    [usage] = [chunk.usage for chunk in chunks if getattr(chunk, "usage", None) is not None][-1:]
    assert (got["gen_ai.usage.input_tokens"], got["gen_ai.usage.output_tokens"]) == (usage.prompt_tokens, 6)
    assert got["gen_ai.usage.cache_creation.input_tokens"] == 2
    cached = getattr(usage.prompt_tokens_details, "cached_tokens", None)
    assert got.get("gen_ai.usage.cache_read.input_tokens") == cached
    assert got["gen_ai.usage.cost"] == (4.29e-05 if usage.prompt_tokens == 16 else 4.05e-05)


def test_tool_call(instrumentor, exporter, openai_call):
    tools = [{"type": "function", "function": {"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}}}]
    response = litellm.completion(**openai_call, tools=tools)

    assert response.choices[0].finish_reason == "tool_calls"
    got = attrs(one_span(exporter))
    assert got["gen_ai.response.finish_reasons"] == ["tool_calls"]
    assert json.loads(got["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "tool_call", "id": "call_fake_1", "name": "get_weather", "arguments": {"city": "Paris"}}],
            "finish_reason": "tool_call",
        }
    ]
    assert json.loads(got["gen_ai.tool.definitions"]) == [
        {"type": "function", "name": "get_weather", "description": "Weather", "parameters": {"type": "object"}}
    ]


@pytest.mark.parametrize("stream", [False, True])
def test_one_inference_span_with_provider_instrumentors(
    instrumentor, openai_instrumentor, anthropic_instrumentor, exporter, openai_call, anthropic_call, requests_made, anthropic_requests, stream
):
    """The openai SDK runs under LiteLLM's span: the openai instrumentor adds no second span."""
    for call in (openai_call, anthropic_call):
        result = litellm.completion(**call, stream=stream)
        if stream:
            list(result)

    assert (len(requests_made()), len(anthropic_requests())) == (1, 1)
    assert tree(exporter) == [("chat openai/gpt-4o-mini", "CLIENT", None), ("chat anthropic/claude-haiku-4-5", "CLIENT", None)]
    assert {s.instrumentation_scope.name for s in exporter.get_finished_spans()} == {"opik_otel.instrumentors.litellm"}


def test_openai_instrumentor_alone_still_traces_litellm_calls(openai_instrumentor, exporter, openai_call, requests_made):
    """Without the LiteLLM instrumentor, the openai SDK call under LiteLLM is the one span."""
    litellm.completion(**openai_call)

    assert len(requests_made()) == 1
    span = one_span(exporter)
    assert (span.name, span.instrumentation_scope.name) == ("chat gpt-4o-mini", "opik_otel.instrumentors.openai")


def test_uninstrument(instrumentor, exporter, openai_call):
    instrumentor.uninstrument()
    litellm.completion(**openai_call)
    assert exporter.get_finished_spans() == ()


@pytest.mark.parametrize("call", ["completion", "acompletion"])
def test_a_positional_model_and_messages_are_read_as_if_named(instrumentor, exporter, srv, openai_call, call):
    """`completion("openai/gpt-4o-mini", messages)`: LiteLLM's first two parameters, given positionally."""
    import asyncio

    named = dict(openai_call)
    model, messages = named.pop("model"), named.pop("messages")
    if call == "completion":
        response = litellm.completion(model, messages, **named)
    else:
        response = asyncio.run(litellm.acompletion(model, messages, **named))

    span = one_span(exporter)
    assert span.name == "chat openai/gpt-4o-mini"
    assert attrs(span) == openai_attributes(srv, response.id, **{"opik.metadata.litellm.response_cost": response._hidden_params["response_cost"]})


def test_positional_arguments_of_text_completion_and_responses(instrumentor, exporter, srv):
    litellm.text_completion("Say hi", "openai/gpt-4o-mini", api_base=srv.base_url, api_key="sk-fake")
    if hasattr(litellm, "responses"):
        litellm.responses("Say hi", "openai/gpt-4o-mini", api_base=srv.base_url, api_key="sk-fake")

    for span in exporter.get_finished_spans():
        assert span.attributes["gen_ai.request.model"] == "openai/gpt-4o-mini", span.name
        assert span.attributes["gen_ai.provider.name"] == "openai", span.name


def test_a_traced_stream_has_exactly_the_methods_of_the_library_stream(instrumentor, exporter, openai_call):
    """LiteLLM's `CustomStreamWrapper` has no `close()`: code that probes for one (`hasattr`,
    `contextlib.closing` guards) must find none on the traced stream either."""
    stream = litellm.completion(**openai_call, stream=True)
    library_stream = stream.__wrapped__

    for name in ("close", "aclose", "__enter__", "__exit__"):
        assert hasattr(stream, name) is hasattr(library_stream, name), name
    assert "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices) == OPENAI_TEXT
    assert len(exporter.get_finished_spans()) == 1
