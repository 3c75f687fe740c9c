"""google-generativeai failures (the app gets the very exception; the span says ERROR and
`error.type`), content off, and a stream the server breaks off."""

from __future__ import annotations

import pytest
from google.api_core import exceptions
from opentelemetry.trace import StatusCode

from tests.integration.generativeai.conftest import MODEL
from tests.integration.spans import exception_events, json_attr, one_span


@pytest.mark.parametrize(
    "model, exc_class",
    [("missing-model", exceptions.NotFound), ("error-400", exceptions.BadRequest), ("error-500", exceptions.InternalServerError)],
)
def test_http_errors(genai, exporter, model, exc_class):
    with pytest.raises(exc_class) as raised:
        genai.GenerativeModel(model).generate_content("hi", request_options={"retry": None})

    span = one_span(exporter)
    assert span.name == f"generate_content {model}"
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == exc_class.__qualname__
    [event] = exception_events(span)
    assert event.attributes["exception.message"] == str(raised.value)
    assert "gen_ai.usage.cost" not in span.attributes


def test_a_stream_error_chunk_ends_the_span_once(genai, exporter):
    # google-generativeai's REST transport reads the error element as an empty chunk
    stream = genai.GenerativeModel("stream-error").generate_content("hi", stream=True)
    list(stream)

    span = one_span(exporter)
    assert span.name == "generate_content stream-error"
    assert span.attributes["gen_ai.request.stream"] is True


class TestContentOff:
    @pytest.fixture
    def capture_content(self):
        return False

    def test_no_content_but_everything_else(self, genai, exporter):
        genai.GenerativeModel(MODEL, system_instruction="Be brief.").generate_content("Say hello")
        list(genai.GenerativeModel(MODEL).generate_content("Say hello", stream=True))

        plain, streamed = exporter.get_finished_spans()
        for span in (plain, streamed):
            assert not {"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"} & set(span.attributes)
            assert (span.attributes["gen_ai.usage.input_tokens"], span.attributes["gen_ai.usage.output_tokens"]) == (10, 6)
            assert span.attributes["gen_ai.response.finish_reasons"] == ("STOP",)


@pytest.fixture
def grpc_genai(genai, srv):
    """The SDK's default transports (gRPC, and gRPC asyncio for `*_async`), aimed at a closed port:
    each request fails in the transport, under the patched client method."""
    genai.configure(api_key="fake-key", transport="grpc", client_options={"api_endpoint": "127.0.0.1:9"})
    yield genai
    genai.configure(api_key="fake-key", transport="rest", client_options={"api_endpoint": srv.url})


def test_the_grpc_transport_goes_through_the_same_patched_method(grpc_genai, exporter):
    with pytest.raises(exceptions.ServiceUnavailable):
        grpc_genai.GenerativeModel(MODEL).generate_content("hi", request_options={"retry": None, "timeout": 5})

    span = one_span(exporter)
    assert (span.name, span.attributes["gen_ai.provider.name"], span.attributes["error.type"]) == (f"generate_content {MODEL}", "gcp.gemini", "ServiceUnavailable")
    assert (span.attributes["server.address"], span.attributes["server.port"]) == ("127.0.0.1", 9)


async def test_async_calls_go_through_the_async_client(grpc_genai, exporter):
    with pytest.raises(exceptions.ServiceUnavailable):
        await grpc_genai.GenerativeModel(MODEL).generate_content_async("hi", request_options={"retry": None, "timeout": 5})

    span = one_span(exporter)
    assert (span.name, span.attributes["error.type"]) == (f"generate_content {MODEL}", "ServiceUnavailable")
    assert json_attr(span, "gen_ai.input.messages") == [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}]


def test_uninstrument_restores_the_sdk(genai, instrumentor, exporter):
    instrumentor.uninstrument()
    genai.GenerativeModel(MODEL).generate_content("hi")
    list(genai.GenerativeModel(MODEL).generate_content("hi", stream=True))
    assert exporter.get_finished_spans() == ()
