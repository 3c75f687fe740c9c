"""Embeddings: `embeddings {model}`, input usage, the vector's dimension count."""

from __future__ import annotations

import pytest
from genai_prices import Usage, calc_price
from opentelemetry.trace import SpanKind, StatusCode

from tests.integration.openai.helpers import attrs, json_attr, one_span

EMBEDDING_COST = float(calc_price(Usage(input_tokens=5), "text-embedding-3-small", provider_id="openai").total_price)


def expected(srv, dimensions: int = 8) -> dict:
    return {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "text-embedding-3-small",
        "server.address": "127.0.0.1",
        "server.port": srv.port,
        "gen_ai.response.model": "text-embedding-3-small",
        "gen_ai.usage.input_tokens": 5,
        "gen_ai.embeddings.dimension.count": dimensions,
        "gen_ai.usage.cost": pytest.approx(EMBEDDING_COST),
        "input.value": '{"input":"hello"}',
    }


def assert_embeddings_span(span, srv, dimensions: int = 8, **extra) -> None:
    assert span.name == "embeddings text-embedding-3-small"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert attrs(span) == {**expected(srv, dimensions), **extra}


def test_embeddings_sync(client, exporter, srv):
    result = client.embeddings.create(model="text-embedding-3-small", input="hello")

    assert len(result.data[0].embedding) == 8
    assert_embeddings_span(one_span(exporter), srv)


async def test_embeddings_async(aclient, exporter, srv):
    result = await aclient.embeddings.create(model="text-embedding-3-small", input="hello")

    assert len(result.data[0].embedding) == 8
    assert_embeddings_span(one_span(exporter), srv)


def test_embeddings_requested_dimensions(client, exporter, srv):
    result = client.embeddings.create(model="text-embedding-3-small", input="hello", dimensions=16)

    assert len(result.data[0].embedding) == 16
    assert_embeddings_span(one_span(exporter), srv, dimensions=16)


def test_embeddings_encoding_format(client, exporter, srv):
    client.embeddings.create(model="text-embedding-3-small", input="hello", encoding_format="float")

    assert_embeddings_span(one_span(exporter), srv, **{"gen_ai.request.encoding_formats": ["float"]})


def test_embeddings_batch_input_is_one_span(client, exporter):
    client.embeddings.create(model="text-embedding-3-small", input=["a", "b", "c"])

    span = one_span(exporter)
    assert span.attributes["gen_ai.usage.input_tokens"] == 15
    assert json_attr(span, "input.value") == {"input": ["a", "b", "c"]}
