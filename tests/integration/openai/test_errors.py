"""Failed calls: the user's exception is re-raised unchanged; the span says ERROR, `error.type`
(the exception class) and carries one exception event."""

from __future__ import annotations

import socket

import openai
import pytest
from opentelemetry.trace import StatusCode

from tests.integration.openai.helpers import API_KEY, exception_events, one_span, user

HTTP_ERRORS = [
    ("error-400", openai.BadRequestError),
    ("error-401", openai.AuthenticationError),
    ("error-404", openai.NotFoundError),
    ("error-429", openai.RateLimitError),
    ("error-500", openai.InternalServerError),
]


def assert_error_span(exporter, exc_class: type, model: str = "gpt-4o-mini") -> None:
    span = one_span(exporter)
    assert span.name == f"chat {model}"
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == exc_class.__qualname__
    [event] = exception_events(span)
    assert event.attributes["exception.type"].endswith(exc_class.__qualname__)
    assert "gen_ai.usage.cost" not in span.attributes


@pytest.mark.parametrize("model, exc_class", HTTP_ERRORS)
def test_http_error_sync(client, exporter, model, exc_class):
    with pytest.raises(exc_class) as raised:
        client.chat.completions.create(model=model, messages=user("hi"))

    assert type(raised.value) is exc_class
    assert raised.value.status_code == int(model[-3:])
    assert_error_span(exporter, exc_class, model)


@pytest.mark.parametrize("model, exc_class", HTTP_ERRORS)
async def test_http_error_async(aclient, exporter, model, exc_class):
    with pytest.raises(exc_class) as raised:
        await aclient.chat.completions.create(model=model, messages=user("hi"))

    assert type(raised.value) is exc_class
    assert_error_span(exporter, exc_class, model)


def test_http_error_streaming_request(client, exporter):
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="error-429", messages=user("hi"), stream=True)

    assert_error_span(exporter, openai.RateLimitError, "error-429")


def test_embeddings_http_error(client, exporter):
    with pytest.raises(openai.InternalServerError):
        client.embeddings.create(model="error-500", input="hello")

    span = one_span(exporter)
    assert span.name == "embeddings error-500"
    assert span.attributes["error.type"] == "InternalServerError"


def test_timeout_sync(client, exporter):
    with pytest.raises(openai.APITimeoutError) as raised:
        client.chat.completions.create(model="slow-2000", messages=user("hi"), timeout=0.2)

    assert type(raised.value) is openai.APITimeoutError
    assert_error_span(exporter, openai.APITimeoutError, "slow-2000")


async def test_timeout_async(aclient, exporter):
    with pytest.raises(openai.APITimeoutError):
        await aclient.chat.completions.create(model="slow-2000", messages=user("hi"), timeout=0.2)

    assert_error_span(exporter, openai.APITimeoutError, "slow-2000")


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_error_sync(instrumentor, exporter, closed_port):
    with openai.OpenAI(base_url=f"http://127.0.0.1:{closed_port}/v1", api_key=API_KEY, max_retries=0) as client:
        with pytest.raises(openai.APIConnectionError) as raised:
            client.chat.completions.create(model="gpt-4o-mini", messages=user("hi"))

    assert type(raised.value) is openai.APIConnectionError
    assert_error_span(exporter, openai.APIConnectionError)
    assert one_span(exporter).attributes["server.port"] == closed_port


async def test_connection_error_async(instrumentor, exporter, closed_port):
    client = openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{closed_port}/v1", api_key=API_KEY, max_retries=0)
    with pytest.raises(openai.APIConnectionError):
        await client.chat.completions.create(model="gpt-4o-mini", messages=user("hi"))
    await client.close()

    assert_error_span(exporter, openai.APIConnectionError)
