"""Errors as for OpenAI: the round trip's span has status ERROR, `error.type` and one exception
event; the app gets AISuite's exception unchanged; odd input loses the span, never the call."""

from __future__ import annotations

import pytest

from tests.integration.spans import exception_events, one_span

USER = [{"role": "user", "content": "Say hello"}]


def raised_untraced(client, model: str) -> type:
    """The exception class AISuite raises for `model` with nothing traced (newer aisuite versions wrap
    the openai SDK's errors in its `LLMError`)."""
    with pytest.raises(Exception) as raised:
        client.chat.completions.create(model=model, messages=USER)
    return type(raised.value)


def test_a_provider_error_fails_the_span_with_the_sdks_error_and_reaches_the_app_unchanged(provider, client, exporter):
    from opik_otel.instrumentors.aisuite import AISuiteInstrumentor

    expected = raised_untraced(client, "openai:error-500")
    instrumentor = AISuiteInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=True)
    try:
        with pytest.raises(expected, match="fake error 500"):
            client.chat.completions.create(model="openai:error-500", messages=USER)
    finally:
        instrumentor.uninstrument()

    span = one_span(exporter)
    assert (span.name, span.status.status_code.name) == ("chat error-500", "ERROR")
    assert span.attributes["error.type"] == "InternalServerError"  # the openai SDK's (inside AISuite's LLMError, if any)
    assert len(exception_events(span)) == 1
    assert "gen_ai.usage.cost" not in span.attributes


def test_with_the_openai_instrumentor_on_an_error_is_one_failed_span(aisuite_instrumentor, openai_instrumentor, client, exporter, requests_made):
    with pytest.raises(Exception, match="fake error 429"):
        client.chat.completions.create(model="openai:error-429", messages=USER)

    assert len(requests_made()) == 1
    span = one_span(exporter)
    assert (span.instrumentation_scope.name, span.status.status_code.name, span.attributes["error.type"]) == (
        "opik_otel.instrumentors.openai", "ERROR", "RateLimitError"
    )


def test_an_anthropic_error_keeps_its_own_exception(aisuite_instrumentor, client, exporter):
    import anthropic

    with pytest.raises(anthropic.NotFoundError):
        client.chat.completions.create(model="anthropic:error-404", messages=USER)

    span = one_span(exporter)
    assert (span.attributes["gen_ai.provider.name"], span.attributes["error.type"]) == ("anthropic", "NotFoundError")


@pytest.mark.parametrize("model", ["gpt-4o-mini", "nonesuch:gpt-4o-mini", ""])
def test_a_model_string_aisuite_rejects_raises_its_error_and_makes_no_span(aisuite_instrumentor, client, exporter, model):
    with pytest.raises(ValueError):
        client.chat.completions.create(model=model, messages=USER)

    assert exporter.get_finished_spans() == ()


def test_a_reader_that_fails_loses_its_attributes_not_the_call_nor_the_span(aisuite_instrumentor, client, exporter, monkeypatch, caplog):
    """Messages our reader cannot read (simulated: the reader raises) reach the provider; the span
    keeps everything else, and one debug line says what was dropped."""
    from opik_otel.instrumentors.aisuite import calls

    def unreadable(messages):
        raise TypeError("unreadable messages")

    monkeypatch.setattr(calls, "input_messages", unreadable)
    with caplog.at_level("DEBUG", logger=calls.__name__):
        response = client.chat.completions.create(model="openai:gpt-4o-mini", messages=USER)

    assert response.choices[0].message.content == "Hello from the fake OpenAI server."
    span = one_span(exporter)
    assert (span.name, span.attributes["gen_ai.usage.output_tokens"], "gen_ai.input.messages" in span.attributes) == ("chat gpt-4o-mini", 7, False)
    assert [r.getMessage() for r in caplog.records if r.name == calls.__name__] == [
        "opik-otel: could not read _RoundTrip._request_content; attributes dropped"
    ]
