"""`track_genai()` with no client traces the google-generativeai module (the seed's example), in
a fresh process: called before the SDK is imported, every later call is traced (plain, streamed,
chats), with the project name; and `OpikInstrumentor` picks the GenAI instrumentor when only
google-generativeai is installed."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.fakes.gemini_server import FakeGeminiServer

SNIPPET = """
import json, sys, warnings
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
trace.set_tracer_provider(provider)
{setup}
warnings.simplefilter("ignore")
import google.generativeai as genai

genai.configure(api_key="fake-key", transport="rest", client_options={{"api_endpoint": sys.argv[1]}})
model = genai.GenerativeModel("gemini-2.5-flash")
model.generate_content("Say hello")
list(model.generate_content("Say hello", stream=True))
chat = model.start_chat()
chat.send_message("Hi")
chat.send_message("Again")
print(json.dumps([[s.name, s.attributes.get("opik.project_name"), s.attributes["gen_ai.usage.input_tokens"]] for s in exporter.get_finished_spans()]))
"""


def run(setup: str) -> list:
    with FakeGeminiServer() as srv:
        result = subprocess.run([sys.executable, "-c", SNIPPET.format(setup=setup), srv.url], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_track_genai_without_a_client_traces_the_generativeai_module():
    setup = 'from opik_otel.instrumentors.genai import track_genai\nassert track_genai(project_name="proj-b") is None'
    assert run(setup) == [["generate_content gemini-2.5-flash", "proj-b", 10]] * 4


def test_nothing_is_traced_without_it():
    assert run("") == []


def test_opik_instrumentor_picks_the_genai_instrumentor_for_generativeai_alone():
    setup = "from opik_otel import OpikInstrumentor\ninstrumentor = OpikInstrumentor()\ninstrumentor.instrument(tracer_provider=provider)\nassert 'GenAIInstrumentor' in instrumentor.instrumented_libraries, instrumentor.instrumented_libraries"
    assert run(setup) == [["generate_content gemini-2.5-flash", None, 10]] * 4


def test_track_genai_twice_and_beside_the_instrumentor_is_one_span_per_request():
    setup = (
        "from opik_otel.instrumentors.genai import GenAIInstrumentor, track_genai\n"
        "GenAIInstrumentor().instrument(tracer_provider=provider)\n"
        'track_genai(project_name="proj-b")\ntrack_genai(project_name="proj-b")'
    )
    assert [name for name, _, _ in run(setup)] == ["generate_content gemini-2.5-flash"] * 4


def test_the_doctor_reports_google_generativeai_instrumented():
    from importlib.metadata import version

    from opik_otel.cli.doctor import library_lines

    assert [line for line in library_lines() if line.startswith(("google.genai", "google.generativeai"))] == [
        "google.genai not installed",
        f"google.generativeai {version('google-generativeai'):<10} instrumented (opik_genai)",
    ]
