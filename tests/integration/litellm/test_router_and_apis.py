"""`litellm.Router` calls (through `completion` / `acompletion`), `text_completion` and `responses`
on the fake OpenAI server: one priced span each."""

from __future__ import annotations

import json

import litellm
import pytest

from tests.integration.spans import attrs, one_span


@pytest.fixture
def router(srv):
    deployment = {"model": "openai/gpt-4o-mini", "api_base": srv.base_url, "api_key": "sk-test-fake"}
    return litellm.Router(model_list=[{"model_name": "fast", "litellm_params": deployment}])


@pytest.mark.parametrize("is_async", [False, True])
async def test_router(router, instrumentor, openai_instrumentor, exporter, requests_made, is_async):
    messages = [{"role": "user", "content": "Hi"}]
    if is_async:
        await router.acompletion(model="fast", messages=messages)
    else:
        router.completion(model="fast", messages=messages)

    assert len(requests_made()) == 1
    span = one_span(exporter)
    got = attrs(span)
    # the deployment the router picked is the model requested from the provider
    assert (span.name, got["gen_ai.provider.name"], got["gen_ai.request.model"]) == ("chat openai/gpt-4o-mini", "openai", "openai/gpt-4o-mini")
    assert (got["gen_ai.usage.input_tokens"], got["gen_ai.usage.output_tokens"], got["gen_ai.usage.cost"]) == (12, 7, 5.7e-06)


@pytest.mark.parametrize("is_async", [False, True])
async def test_text_completion(instrumentor, exporter, srv, requests_made, is_async):
    call = {"model": "openai/gpt-4o-mini", "prompt": "Hi", "api_base": srv.base_url, "api_key": "sk-test-fake"}
    response = await litellm.atext_completion(**call) if is_async else litellm.text_completion(**call)

    assert type(response) is litellm.TextCompletionResponse
    assert len(requests_made()) == 1
    span = one_span(exporter)  # the completion LiteLLM makes of it adds none
    assert span.name == "text_completion openai/gpt-4o-mini"
    assert attrs(span) == {
        "gen_ai.provider.name": "openai",
        "gen_ai.operation.name": "text_completion",
        "gen_ai.request.model": "openai/gpt-4o-mini",
        "server.address": "127.0.0.1",
        "server.port": srv.port,
        "gen_ai.input.messages": json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}], separators=(",", ":")),
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 7,
        "gen_ai.usage.cache_read.input_tokens": 4,
        "gen_ai.usage.reasoning.output_tokens": 2,
        "gen_ai.response.id": response.id,
        "gen_ai.response.model": "gpt-4o-mini",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.output.messages": json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": "Hello from the fake OpenAI server."}], "finish_reason": "stop"}],
            separators=(",", ":"),
        ),
        "gen_ai.usage.cost": 5.7e-06,
    }


@pytest.mark.skipif(not hasattr(litellm, "responses"), reason="litellm.responses is newer than this litellm")
@pytest.mark.parametrize("is_async", [False, True])
async def test_responses(instrumentor, openai_instrumentor, exporter, srv, requests_made, is_async):
    call = {"model": "openai/gpt-4o-mini", "input": "Hi", "api_base": srv.base_url, "api_key": "sk-test-fake"}
    response = await litellm.aresponses(**call) if is_async else litellm.responses(**call)

    assert len(requests_made("/responses")) == 1
    span = one_span(exporter)
    assert (span.name, span.instrumentation_scope.name) == ("chat openai/gpt-4o-mini", "opik_otel.instrumentors.litellm")
    got = attrs(span)
    assert (got["gen_ai.provider.name"], got["gen_ai.request.model"], got["gen_ai.response.id"]) == ("openai", "openai/gpt-4o-mini", response.id)
    assert response.id.startswith("resp_")
    assert json.loads(got["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "Hello from the fake Responses API."}], "finish_reason": "stop"}
    ]
    usage = ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.reasoning.output_tokens")
    assert [got[name] for name in usage] == [15, 9, 5, 3]  # the fake's RESPONSES_USAGE
    assert (got["opik.metadata.litellm.response_cost"], got["gen_ai.usage.cost"]) == (pytest.approx(7.275e-06), 7.275e-06)
