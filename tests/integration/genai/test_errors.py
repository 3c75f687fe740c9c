"""Failed calls: the app gets the very exception; the span says ERROR, `error.type` (the
exception class) and carries one exception event, and no cost."""

from __future__ import annotations

import socket

import pytest
from google import genai
from google.genai import errors, types
from opentelemetry.trace import StatusCode

from tests.integration.genai.conftest import API_KEY
from tests.integration.spans import exception_events, one_span

HTTP_ERRORS = [
    ("missing-model", errors.ClientError, 404),
    ("error-400", errors.ClientError, 400),
    ("error-429", errors.ClientError, 429),
    ("error-500", errors.ServerError, 500),
    ("overloaded-model", errors.ServerError, 503),
]


def assert_error_span(exporter, exc: BaseException, name: str) -> None:
    span = one_span(exporter)
    assert span.name == name
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == type(exc).__qualname__
    [event] = exception_events(span)
    assert event.attributes["exception.type"].endswith(type(exc).__qualname__)
    assert event.attributes["exception.message"] == str(exc)
    assert "gen_ai.usage.cost" not in span.attributes
    assert "gen_ai.response.id" not in span.attributes


@pytest.mark.parametrize("model, exc_class, code", HTTP_ERRORS)
def test_http_error_sync(client, exporter, model, exc_class, code):
    with pytest.raises(exc_class) as raised:
        client.models.generate_content(model=model, contents="hi")

    assert (type(raised.value), raised.value.code) == (exc_class, code)
    assert_error_span(exporter, raised.value, f"generate_content {model}")


@pytest.mark.parametrize("model, exc_class, code", HTTP_ERRORS)
async def test_http_error_async(client, exporter, model, exc_class, code):
    with pytest.raises(exc_class) as raised:
        await client.aio.models.generate_content(model=model, contents="hi")

    assert type(raised.value) is exc_class
    assert_error_span(exporter, raised.value, f"generate_content {model}")


def test_embeddings_http_error(client, exporter):
    with pytest.raises(errors.ServerError) as raised:
        client.models.embed_content(model="error-500", contents="hi")

    assert_error_span(exporter, raised.value, "embeddings error-500")


def test_timeout(client, exporter):
    config = types.GenerateContentConfig(http_options=types.HttpOptions(timeout=100))
    with pytest.raises(Exception) as raised:
        client.models.generate_content(model="slow-2000", contents="hi", config=config)

    assert "Timeout" in type(raised.value).__name__
    assert_error_span(exporter, raised.value, "generate_content slow-2000")


def test_connection_error(instrumentor, exporter):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = genai.Client(api_key=API_KEY, http_options=types.HttpOptions(base_url=f"http://127.0.0.1:{port}"))  # nothing listens
    with pytest.raises(Exception) as raised:
        client.models.generate_content(model="gemini-2.5-flash", contents="hi")

    assert_error_span(exporter, raised.value, "generate_content gemini-2.5-flash")
