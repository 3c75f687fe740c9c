"""Never break the app: unreadable requests and responses, failing readers, unsampled and
suppressed calls, and no API key on any span."""

import pytest
from google.genai import types
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import StatusCode

from opik_otel.instrumentors.genai import GenAIInstrumentor
from opik_otel.instrumentors.genai.models import EmbedContent, GenerateContent, GenerateContentStreamState, generate_request
from tests.fakes.gemini_server import TEXT, TOOL_RESULT_TEXT
from tests.integration.genai.conftest import API_KEY, MODEL, make_client
from tests.integration.genai.test_automatic_function_calling import get_weather
from tests.integration.spans import one_span


def boom(*args, **kwargs):
    raise RuntimeError("reader bug")


@pytest.mark.parametrize("operation", [GenerateContent(), EmbedContent()], ids=lambda o: type(o).__name__)
@pytest.mark.parametrize("response", [object(), None, {}, {"candidates": [{"content": 5, "finish_reason": 3}], "usage_metadata": "x", "embeddings": [1]}])
def test_readers_read_an_unreadable_response_without_raising(operation, response):
    assert isinstance(operation.response(response, True), dict)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"model": 5, "contents": object(), "config": "odd"},
        {"model": MODEL, "contents": [None, 3, {"parts": None}], "config": {"tools": [object(), {"function_declarations": None}]}},
    ],
)
def test_odd_requests_are_read_without_raising(kwargs):
    name, attributes = generate_request(None, kwargs, True)
    assert name.startswith("generate_content")
    assert attributes["gen_ai.provider.name"] == "gcp.gemini"


def test_an_empty_stream_says_only_that_there_was_no_output():
    assert GenerateContentStreamState(True).attributes() == {"gen_ai.output.messages": "[]"}
    assert GenerateContentStreamState(False).attributes() == {}


def test_failing_response_reader_does_not_reach_the_app(client, exporter, monkeypatch):
    monkeypatch.setattr(GenerateContent, "response", boom)

    response = client.models.generate_content(model=MODEL, contents="hi")

    assert isinstance(response, types.GenerateContentResponse) and response.text == TEXT
    span = one_span(exporter)
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["gen_ai.request.model"] == MODEL


def test_failing_request_reader_leaves_the_call_untraced(client, exporter, monkeypatch):
    monkeypatch.setattr(GenerateContent, "request", boom)

    assert client.models.generate_content(model=MODEL, contents="hi").text == TEXT
    assert exporter.get_finished_spans() == ()


def test_failing_afc_reader_leaves_the_round_trips_traced(client, exporter, monkeypatch):
    from opik_otel.instrumentors.genai import afc

    monkeypatch.setattr(afc, "request_start", boom)

    assert client.models.generate_content(model=MODEL, contents="hi", config={"tools": [get_weather]}).text == TOOL_RESULT_TEXT
    assert [s.name for s in exporter.get_finished_spans()] == [f"generate_content {MODEL}"] * 2


def test_unsampled_calls_record_nothing(srv, exporter):
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = GenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=True)
    try:
        client = make_client(srv)
        assert client.models.generate_content(model=MODEL, contents="hi").text == TEXT
        assert "".join(c.text for c in client.models.generate_content_stream(model=MODEL, contents="hi")) == TEXT
        assert client.models.generate_content(model=MODEL, contents="hi", config={"tools": [get_weather]}).text == TOOL_RESULT_TEXT
    finally:
        instrumentor.uninstrument()
    assert exporter.get_finished_spans() == ()


def test_suppressed_calls_record_nothing(client, exporter):
    with suppress_instrumentation():
        client.models.generate_content(model=MODEL, contents="hi")
        client.models.generate_content(model=MODEL, contents="hi", config={"tools": [get_weather]})
    assert exporter.get_finished_spans() == ()


def test_no_api_key_on_any_span(client, vertex, exporter):
    client.models.generate_content(model=MODEL, contents="hi", config={"tools": [get_weather]})
    vertex.models.generate_content(model=MODEL, contents="hi")

    for span in exporter.get_finished_spans():
        assert not any(API_KEY in str(value) or "fake-token" in str(value) for value in span.attributes.values()), span.name
