"""Failed LiteLLM calls: LiteLLM's exception re-raised unchanged; the span says ERROR, `error.type`
(the exception class) and carries one exception event, and no cost."""

from __future__ import annotations

import litellm
import pytest
from opentelemetry.trace import StatusCode

from tests.integration.spans import one_span


def assert_error_span(exporter, exc: BaseException, name: str) -> None:
    span = one_span(exporter)
    assert span.name == name
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == type(exc).__qualname__
    [event] = [e for e in span.events if e.name == "exception"]
    assert event.attributes["exception.type"].endswith(type(exc).__qualname__)
    assert "gen_ai.usage.cost" not in span.attributes


def test_http_error(instrumentor, exporter, openai_call):
    with pytest.raises(litellm.BadRequestError) as raised:
        litellm.completion(**{**openai_call, "model": "openai/error-400"})

    assert type(raised.value) is litellm.BadRequestError
    assert raised.value.status_code == 400
    assert_error_span(exporter, raised.value, "chat openai/error-400")


async def test_http_error_async(instrumentor, openai_instrumentor, exporter, openai_call):
    with pytest.raises(litellm.BadRequestError) as raised:  # LiteLLM maps the fake's "invalid_request_error" body so
        await litellm.acompletion(**{**openai_call, "model": "openai/error-400"})

    assert type(raised.value) is litellm.BadRequestError
    assert raised.value.status_code == 400
    assert_error_span(exporter, raised.value, "chat openai/error-400")


def test_mid_stream_error(instrumentor, exporter, openai_call):
    stream = litellm.completion(**{**openai_call, "model": "openai/stream-error"}, stream=True)
    with pytest.raises(Exception) as raised:
        list(stream)

    assert_error_span(exporter, raised.value, "chat openai/stream-error")


def test_unknown_provider_raises_litellms_error(instrumentor, exporter):
    with pytest.raises(litellm.BadRequestError) as raised:
        litellm.completion(model="no-such-provider-model", messages=[{"role": "user", "content": "Hi"}])

    span = one_span(exporter)  # no provider resolved: the span has none, the call's error is LiteLLM's
    assert "gen_ai.provider.name" not in span.attributes
    assert span.attributes["error.type"] == type(raised.value).__qualname__
