"""`OpikInstrumentor().instrument()` honours `OTEL_PYTHON_DISABLED_INSTRUMENTATIONS` as
`opentelemetry-instrument` does (entry-point names, `*` for all), and `opik-otel doctor` says the same."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opik_otel import OpikInstrumentor
from opik_otel.cli.doctor import library_lines

openai = pytest.importorskip("openai")
pytest.importorskip("anthropic")
pytest.importorskip("botocore")

from tests.fakes.openai_server import FakeOpenAIServer  # noqa: E402

from opik_otel._registry import installed_integrations  # noqa: E402

# the three libraries this test installs, then whichever other supported library this group has
# (google-genai in `latest`; a developer's environment may hold more)
OTHERS = list(dict.fromkeys(i.instrumentor for i in installed_integrations()
                            if i.library not in ("openai", "anthropic", "botocore")))
ALL = ["OpenAIInstrumentor", "AnthropicInstrumentor", "BedrockInstrumentor", *OTHERS]


@pytest.fixture
def exporter():
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter):
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


def instrumented(provider) -> list[str]:
    instrumentor = OpikInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        return instrumentor.instrumented_libraries
    finally:
        instrumentor.uninstrument()


@pytest.mark.parametrize(
    "disabled, expected",
    [
        ("", ALL),
        ("opik_openai", ALL[1:]),
        (" opik_anthropic , opik_bedrock", [ALL[0], *OTHERS]),
        ("openai", ALL),  # another package's entry point: ours stays
        ("*", []),
    ],
)
def test_disabled_instrumentations_are_skipped(provider, monkeypatch, disabled, expected):
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", disabled)
    assert instrumented(provider) == expected
    statuses = {line.split()[0]: line for line in library_lines()}
    for library, name in (("openai", "OpenAIInstrumentor"), ("anthropic", "AnthropicInstrumentor"), ("botocore", "BedrockInstrumentor")):
        assert ("not instrumented: disabled by OTEL_PYTHON_DISABLED_INSTRUMENTATIONS" in statuses[library]) is (name not in expected)


def test_a_disabled_library_is_not_traced(provider, exporter, monkeypatch):
    monkeypatch.setenv("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "opik_openai")
    instrumentor = OpikInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        with FakeOpenAIServer() as server:
            client = openai.OpenAI(base_url=server.base_url, api_key="sk-test-fake", max_retries=0)
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    finally:
        instrumentor.uninstrument()
    assert exporter.get_finished_spans() == ()
