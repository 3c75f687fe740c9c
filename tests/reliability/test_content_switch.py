"""One content switch: `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT` decides for every
instrumentor, every `track_*` helper and `@track` alike when no explicit argument does, read on
each call; `instrument(capture_content=...)` wins over everything. Here the app has its own
TracerProvider and `configure()` never ran (the configure() cases run in fresh interpreters, in
tests/e2e/test_configure.py)."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import opik_otel
import opik_otel._content
from opik_otel._content import CAPTURE_CONTENT_ENV, capture_content, parse_capture_content
from tests.integration.conftest import global_tracer_provider

openai = pytest.importorskip("openai")
anthropic = pytest.importorskip("anthropic")
boto3 = pytest.importorskip("boto3")

from botocore.config import Config  # noqa: E402

from opik_otel.instrumentors.anthropic import AnthropicInstrumentor, track_anthropic  # noqa: E402
from opik_otel.instrumentors.bedrock import BedrockInstrumentor, track_bedrock  # noqa: E402
from opik_otel.instrumentors.openai import OpenAIInstrumentor, track_openai  # noqa: E402
from tests.fakes.anthropic_server import FakeAnthropicServer  # noqa: E402
from tests.fakes.bedrock_server import FakeBedrockServer  # noqa: E402
from tests.fakes.openai_server import FakeOpenAIServer  # noqa: E402

PROMPT = "PROMPT-7f3a"
ON, OFF = ("SPAN_ONLY", "SPAN_AND_EVENT", "true", "1", "yes", "on"), ("NO_CONTENT", "EVENT_ONLY", "false", "0", "no", "off")
SWITCH = [("SPAN_ONLY", True), ("NO_CONTENT", False), (None, False)]  # unset: off for an app that never called configure()


@pytest.fixture
def exporter():
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter, monkeypatch):
    """The app's own global TracerProvider; configure() never ran in this process."""
    monkeypatch.setattr(opik_otel._content, "_configured", None)
    monkeypatch.delenv(CAPTURE_CONTENT_ENV, raising=False)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with global_tracer_provider(provider, monkeypatch):
        yield provider
    provider.shutdown()


def switch(monkeypatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv(CAPTURE_CONTENT_ENV, raising=False)
    else:
        monkeypatch.setenv(CAPTURE_CONTENT_ENV, value)


def our_span(exporter, name: str):
    spans = [s for s in exporter.get_finished_spans() if s.instrumentation_scope.name.startswith("opik_otel") and s.name == name]
    assert len(spans) == 1, [s.name for s in exporter.get_finished_spans()]
    return spans[0]


def recorded(span, attribute: str) -> bool:
    """Whether the prompt is in `attribute`, which must then be the only place it is."""
    attributes = dict(span.attributes)
    if attribute in attributes:
        assert PROMPT in attributes[attribute]
        return True
    assert PROMPT not in repr(attributes)
    return False


@pytest.fixture(scope="module")
def servers():
    with FakeOpenAIServer() as o, FakeAnthropicServer() as a, FakeBedrockServer() as b:
        yield o, a, b


def call_openai(client):
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": PROMPT}])


def call_anthropic(client):
    client.messages.create(model="claude-haiku-4-5", max_tokens=32, messages=[{"role": "user", "content": PROMPT}])


def call_bedrock(client):
    client.converse(modelId="anthropic.claude-3-5-haiku-20241022-v1:0", messages=[{"role": "user", "content": [{"text": PROMPT}]}])


def openai_client(servers):
    return openai.OpenAI(base_url=servers[0].base_url, api_key="sk-test-fake", max_retries=0)


def anthropic_client(servers):
    return anthropic.Anthropic(base_url=servers[1].url, api_key="sk-ant-test-fake", max_retries=0)


def bedrock_client(servers):
    return boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=servers[2].url, aws_access_key_id="AKIDFAKE",
                        aws_secret_access_key="fake-secret", config=Config(retries={"total_max_attempts": 1}))


PROVIDERS = {
    "openai": (OpenAIInstrumentor, track_openai, openai_client, call_openai, "chat gpt-4o-mini"),
    "anthropic": (AnthropicInstrumentor, track_anthropic, anthropic_client, call_anthropic, "chat claude-haiku-4-5"),
    "bedrock": (BedrockInstrumentor, track_bedrock, bedrock_client, call_bedrock, "chat anthropic.claude-3-5-haiku-20241022-v1:0"),
}


# --- the value table -------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [*ON, *(v.lower() for v in ON[:2]), " Span_Only "])
def test_values_that_turn_content_on(raw):
    assert parse_capture_content(raw) is True


@pytest.mark.parametrize("raw", [*OFF, *(v.lower() for v in OFF[:2])])
def test_values_that_turn_content_off(raw):
    assert parse_capture_content(raw) is False


@pytest.mark.parametrize("raw", [None, "", "maybe", "span"])
def test_unset_or_unknown_values_decide_nothing(raw):
    assert parse_capture_content(raw) is None


def test_the_settings_use_the_same_table(monkeypatch):
    from opik_otel._settings import resolve_settings

    for raw in (*ON, *OFF):
        monkeypatch.setenv(CAPTURE_CONTENT_ENV, raw)
        assert resolve_settings().capture_content is parse_capture_content(raw), raw


# --- every instrumented path follows the variable --------------------------------------------


@pytest.mark.parametrize("value, expected", SWITCH)
def test_track_decorator_follows_the_variable(provider, exporter, monkeypatch, value, expected):
    switch(monkeypatch, value)

    @opik_otel.track
    def answer(question):
        return f"re: {question}"

    assert answer(PROMPT) == f"re: {PROMPT}"
    span = our_span(exporter, "answer")
    assert recorded(span, "input.value") is expected
    assert ("output.value" in span.attributes) is expected


@pytest.mark.parametrize("value, expected", SWITCH)
@pytest.mark.parametrize("library", list(PROVIDERS))
def test_track_client_follows_the_variable(provider, exporter, servers, monkeypatch, library, value, expected):
    _, track, new_client, call, span_name = PROVIDERS[library]
    switch(monkeypatch, value)
    call(track(new_client(servers)))
    assert recorded(our_span(exporter, span_name), "gen_ai.input.messages") is expected


@pytest.mark.parametrize("value, expected", SWITCH)
@pytest.mark.parametrize("library", list(PROVIDERS))
def test_instrumentor_follows_the_variable(provider, exporter, servers, monkeypatch, library, value, expected):
    instrumentor_class, _, new_client, call, span_name = PROVIDERS[library]
    switch(monkeypatch, value)
    instrumentor = instrumentor_class()
    instrumentor.instrument(tracer_provider=provider)
    try:
        call(new_client(servers))
    finally:
        instrumentor.uninstrument()
    assert recorded(our_span(exporter, span_name), "gen_ai.input.messages") is expected


@pytest.mark.parametrize("library", list(PROVIDERS))
def test_the_variable_is_read_on_each_call(provider, exporter, servers, monkeypatch, library):
    """Instrumented first, switched after: the call decides, not `instrument()`."""
    instrumentor_class, _, new_client, call, span_name = PROVIDERS[library]
    instrumentor = instrumentor_class()
    instrumentor.instrument(tracer_provider=provider)
    try:
        switch(monkeypatch, "SPAN_ONLY")
        call(new_client(servers))
        assert recorded(our_span(exporter, span_name), "gen_ai.input.messages") is True
        exporter.clear()
        switch(monkeypatch, "NO_CONTENT")
        call(new_client(servers))
        assert recorded(our_span(exporter, span_name), "gen_ai.input.messages") is False
    finally:
        instrumentor.uninstrument()


# --- instrument(capture_content=...) wins ----------------------------------------------------


@pytest.mark.parametrize("explicit, variable, decided", [(False, "SPAN_ONLY", True), (True, "NO_CONTENT", False)])
@pytest.mark.parametrize("library", list(PROVIDERS))
def test_explicit_instrument_argument_wins(provider, exporter, servers, monkeypatch, library, explicit, variable, decided):
    """Over the variable and over what configure() decided."""
    instrumentor_class, _, new_client, call, span_name = PROVIDERS[library]
    switch(monkeypatch, variable)
    monkeypatch.setattr(opik_otel._content, "_configured", decided)
    instrumentor = instrumentor_class()
    instrumentor.instrument(tracer_provider=provider, capture_content=explicit)
    try:
        call(new_client(servers))
    finally:
        instrumentor.uninstrument()
    assert recorded(our_span(exporter, span_name), "gen_ai.input.messages") is explicit


def test_configure_decision_beats_the_variable(monkeypatch):
    """What `configure()` decided (its explicit argument, else the variable it read, else on) wins."""
    switch(monkeypatch, "SPAN_ONLY")
    monkeypatch.setattr(opik_otel._content, "_configured", None)
    assert capture_content() is True
    opik_otel._content.set_capture_content(False)
    assert capture_content() is False
    opik_otel._content.set_capture_content(None)
    assert capture_content() is True
