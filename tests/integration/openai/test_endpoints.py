"""`gen_ai.provider.name`, `server.address` and `server.port` from the client's endpoint."""

from __future__ import annotations

import openai
import pytest

from opik_otel.instrumentors.openai.common import _endpoint
from tests.integration.openai.helpers import API_KEY, json_attr, one_span, output_text, user
from tests.fakes.openai_server import CHAT_TEXT

AZURE_API_VERSION = "2024-10-21"


def test_azure_client(instrumentor, exporter, srv):
    with openai.AzureOpenAI(azure_endpoint=srv.url, api_key=API_KEY, api_version=AZURE_API_VERSION, max_retries=0) as client:
        completion = client.chat.completions.create(model="gpt-4o-mini", messages=user("hi"))

    assert completion.choices[0].message.content == CHAT_TEXT
    assert srv.requests[-1]["path"].startswith("/openai/deployments/gpt-4o-mini/chat/completions")
    span = one_span(exporter)
    assert span.name == "chat gpt-4o-mini"
    assert span.attributes["gen_ai.provider.name"] == "azure.ai.openai"
    assert span.attributes["server.address"] == "127.0.0.1"
    assert span.attributes["server.port"] == srv.port
    assert span.attributes["gen_ai.usage.input_tokens"] == 12


AZURE_STREAM = dict(model="gpt-4o-mini", messages=user("hi"), stream=True, stream_options={"include_usage": True})


def assert_azure_stream_span(span, chunks) -> None:
    """Azure's first chunk (prompt filter results, empty id and model) does not blank the response id and model."""
    assert (chunks[0].id, chunks[0].model, chunks[0].choices) == ("", "", [])
    assert chunks[0].prompt_filter_results[0]["prompt_index"] == 0  # really Azure's first chunk
    assert chunks[1].id.startswith("chatcmpl-fake-")
    attributes = {k: span.attributes[k] for k in ("gen_ai.provider.name", "gen_ai.response.id", "gen_ai.response.model", "gen_ai.response.finish_reasons", "gen_ai.usage.input_tokens")}
    assert attributes == {
        "gen_ai.provider.name": "azure.ai.openai",
        "gen_ai.response.id": chunks[1].id,
        "gen_ai.response.model": "gpt-4o-mini",
        "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 12,
    }
    assert json_attr(span, "gen_ai.output.messages") == [output_text(CHAT_TEXT)]


def test_azure_stream_first_chunk_has_no_id(instrumentor, exporter, srv):
    with openai.AzureOpenAI(azure_endpoint=srv.url, api_key=API_KEY, api_version=AZURE_API_VERSION, max_retries=0) as client:
        chunks = list(client.chat.completions.create(**AZURE_STREAM))

    assert srv.requests[-1]["path"].startswith("/openai/deployments/gpt-4o-mini/chat/completions?api-version=")
    assert_azure_stream_span(one_span(exporter), chunks)


async def test_azure_stream_first_chunk_has_no_id_async(instrumentor, exporter, srv):
    client = openai.AsyncAzureOpenAI(azure_endpoint=srv.url, api_key=API_KEY, api_version=AZURE_API_VERSION, max_retries=0)
    chunks = [chunk async for chunk in await client.chat.completions.create(**AZURE_STREAM)]
    await client.close()

    assert_azure_stream_span(one_span(exporter), chunks)


async def test_azure_async_client_embeddings(instrumentor, exporter, srv):
    client = openai.AsyncAzureOpenAI(azure_endpoint=srv.url, api_key=API_KEY, api_version=AZURE_API_VERSION, max_retries=0)
    await client.embeddings.create(model="text-embedding-3-small", input="hello")
    await client.close()

    span = one_span(exporter)
    assert span.name == "embeddings text-embedding-3-small"
    assert span.attributes["gen_ai.provider.name"] == "azure.ai.openai"


def test_plain_client_on_localhost_is_openai(instrumentor, exporter, srv):
    with openai.OpenAI(base_url=f"http://localhost:{srv.port}/v1", api_key=API_KEY, max_retries=0) as client:
        client.chat.completions.create(model="gpt-4o-mini", messages=user("hi"))

    span = one_span(exporter)
    assert span.attributes["gen_ai.provider.name"] == "openai"
    assert span.attributes["server.address"] == "localhost"
    assert span.attributes["server.port"] == srv.port


@pytest.mark.parametrize(
    "base_url, azure, provider, address, port",
    [
        ("https://api.openai.com/v1", False, "openai", "api.openai.com", 443),
        ("https://api.deepseek.com/v1", False, "deepseek", "api.deepseek.com", 443),
        ("https://api.groq.com/openai/v1", False, "groq", "api.groq.com", 443),
        ("https://api.mistral.ai/v1", False, "mistral_ai", "api.mistral.ai", 443),
        ("https://api.x.ai/v1", False, "x_ai", "api.x.ai", 443),
        ("https://api.perplexity.ai", False, "perplexity", "api.perplexity.ai", 443),
        ("https://generativelanguage.googleapis.com/v1beta/openai/", False, "gcp.gemini", "generativelanguage.googleapis.com", 443),
        ("https://res.openai.azure.com/openai/", False, "azure.ai.openai", "res.openai.azure.com", 443),
        ("https://proxy.example.com/openai/", True, "azure.ai.openai", "proxy.example.com", 443),
        ("http://localhost:8000/v1", False, "openai", "localhost", 8000),
        ("http://gateway.internal/v1", False, "openai", "gateway.internal", 80),
    ],
)
def test_provider_by_host(base_url, azure, provider, address, port):
    assert _endpoint(base_url, azure) == {"gen_ai.provider.name": provider, "server.address": address, "server.port": port}
