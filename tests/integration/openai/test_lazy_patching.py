"""Instrumenting before the app imports openai patches it on import, and start-up does not import it."""

from __future__ import annotations

import subprocess
import sys

from tests.fakes.openai_server import FakeOpenAIServer

SNIPPET = """
import sys
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opik_otel.instrumentors.openai import OpenAIInstrumentor

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
instrumentor = OpenAIInstrumentor()
instrumentor.instrument(tracer_provider=provider)
assert "openai" not in sys.modules, "instrument() imported openai"
{after}
import openai
client = openai.OpenAI(base_url=sys.argv[1], api_key="sk-test-fake", max_retries=0)
client.chat.completions.create(model="gpt-4o-mini", messages=[{{"role": "user", "content": "hi"}}])
print([span.name for span in exporter.get_finished_spans()])
"""


def run(after: str = "") -> str:
    with FakeOpenAIServer() as srv:
        result = subprocess.run(
            [sys.executable, "-c", SNIPPET.format(after=after), srv.base_url], capture_output=True, text=True, check=True
        )
    return result.stdout.strip()


def test_openai_imported_after_instrument_is_traced():
    assert run() == "['chat gpt-4o-mini']"


def test_uninstrument_before_import_cancels_the_pending_patch():
    assert run(after="instrumentor.uninstrument()") == "[]"
