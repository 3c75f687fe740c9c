"""embed_content: one `embeddings {model}` span per request; usage where the API reports it
(Vertex), priced; the inputs as content."""

from __future__ import annotations

import pytest
from genai_prices import Usage, calc_price
from opentelemetry.trace import SpanKind, StatusCode
from tests.integration.spans import attrs, one_span


EMBEDDING_MODEL = "gemini-embedding-001"


def test_gemini_api_embeddings(client, exporter, srv):
    response = client.models.embed_content(model=EMBEDDING_MODEL, contents=["one", "two"], config={"output_dimensionality": 4})

    assert [len(e.values) for e in response.embeddings] == [4, 4]
    span = one_span(exporter)
    assert (span.name, span.kind, span.status.status_code) == (f"embeddings {EMBEDDING_MODEL}", SpanKind.CLIENT, StatusCode.UNSET)
    assert attrs(span) == {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.provider.name": "gcp.gemini",
        "gen_ai.request.model": EMBEDDING_MODEL,
        "server.address": "127.0.0.1",
        "server.port": srv.port,
        "gen_ai.embeddings.dimension.count": 4,  # asked for, then as returned
        "input.value": '{"input":["one","two"]}',
    }


async def test_vertex_embeddings_are_priced(vertex, exporter, srv):
    await vertex.aio.models.embed_content(model=EMBEDDING_MODEL, contents="one")

    span = one_span(exporter)
    cost = float(calc_price(Usage(input_tokens=5), EMBEDDING_MODEL, provider_id="google").total_price)
    assert attrs(span) == {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.provider.name": "gcp.vertex_ai",
        "gen_ai.request.model": EMBEDDING_MODEL,
        "server.address": "127.0.0.1",
        "server.port": srv.port,
        "gen_ai.embeddings.dimension.count": 8,
        "gen_ai.usage.input_tokens": 5,
        "gen_ai.usage.cost": pytest.approx(cost, rel=1e-9),
        "input.value": '{"input":"one"}',
    }


def test_vertex_predict_embeddings_count_each_inputs_tokens(vertex, exporter):
    vertex.models.embed_content(model="text-embedding-005", contents=["one", "two"])

    span = one_span(exporter)
    assert span.attributes["gen_ai.usage.input_tokens"] == 10
    assert "gen_ai.usage.cost" not in span.attributes  # genai-prices has no price for it
