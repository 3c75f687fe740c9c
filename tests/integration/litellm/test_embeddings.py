"""`litellm.embedding` / `aembedding` on the fake OpenAI server: one priced embeddings span."""

from __future__ import annotations

import json

import litellm

from tests.integration.spans import attrs, one_span


def expected(srv, response) -> dict:
    return {
        "gen_ai.provider.name": "openai",
        "gen_ai.operation.name": "embeddings",
        "gen_ai.request.model": "openai/text-embedding-3-small",
        "server.address": "127.0.0.1",
        "server.port": srv.port,
        "input.value": json.dumps({"input": ["a", "b"]}, separators=(",", ":")),
        "gen_ai.response.model": "text-embedding-3-small",
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.embeddings.dimension.count": 8,
        "opik.metadata.litellm.response_cost": response._hidden_params["response_cost"],
        "gen_ai.usage.cost": 2e-07,
    }


def test_embedding(instrumentor, exporter, srv, requests_made):
    response = litellm.embedding(model="openai/text-embedding-3-small", input=["a", "b"], api_base=srv.base_url, api_key="sk-test-fake")

    assert type(response) is litellm.EmbeddingResponse
    assert len(requests_made("/embeddings")) == 1
    span = one_span(exporter)
    assert span.name == "embeddings openai/text-embedding-3-small"
    got = attrs(span)
    got["input.value"] = json.dumps(json.loads(got["input.value"]), separators=(",", ":"))
    assert got == expected(srv, response)


async def test_aembedding(instrumentor, openai_instrumentor, exporter, srv, requests_made):
    response = await litellm.aembedding(model="openai/text-embedding-3-small", input=["a", "b"], api_base=srv.base_url, api_key="sk-test-fake")

    assert len(requests_made("/embeddings")) == 1
    span = one_span(exporter)  # the openai SDK call under it adds none
    assert span.instrumentation_scope.name == "opik_otel.instrumentors.litellm"
    got = attrs(span)
    got["input.value"] = json.dumps(json.loads(got["input.value"]), separators=(",", ":"))
    assert got == expected(srv, response)
