"""Switching tracing on and off: `uninstrument()` restores google-genai; `track_genai(client)`
traces one client (its `aio` side and chats too), alone or beside the instrumentor, one span
per round trip either way; patches wait for the app to import google-genai."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
import wrapt

from opik_otel.instrumentors.genai import GenAIInstrumentor, track_genai
from tests.fakes.gemini_server import FakeGeminiServer
from tests.integration.genai.conftest import MODEL, make_client
from tests.integration.genai.test_automatic_function_calling import get_weather

PATCHED = [
    ("google.genai.models", "Models", "_generate_content"),
    ("google.genai.models", "Models", "_generate_content_stream"),
    ("google.genai.models", "Models", "embed_content"),
    ("google.genai.models", "Models", "generate_content"),
    ("google.genai.models", "Models", "generate_content_stream"),
    ("google.genai.models", "AsyncModels", "_generate_content"),
    ("google.genai.models", "AsyncModels", "_generate_content_stream"),
    ("google.genai.models", "AsyncModels", "embed_content"),
    ("google.genai.models", "AsyncModels", "generate_content"),
    ("google.genai.models", "AsyncModels", "generate_content_stream"),
    ("google.genai.chats", "Chat", "send_message"),
    ("google.genai.chats", "Chat", "send_message_stream"),
    ("google.genai.chats", "AsyncChat", "send_message"),
    ("google.genai.chats", "AsyncChat", "send_message_stream"),
    ("google.genai._extra_utils", None, "invoke_function_from_dict_args"),
    ("google.genai._extra_utils", None, "invoke_function_from_dict_args_async"),
]


def patched_attributes() -> dict[str, object]:
    found = {}
    for module, cls, name in PATCHED:
        owner = importlib.import_module(module)
        owner = vars(getattr(owner, cls)) if cls else vars(owner)
        if name in owner:  # google-genai < 1.x has no async function runs
            found[f"{cls}.{name}"] = owner[name]
    return found


def generate(client) -> None:
    client.models.generate_content(model=MODEL, contents="hi")


def test_uninstrument_restores_the_library(provider, exporter, srv):
    before = patched_attributes()
    instrumentor = GenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=True)
    try:
        wrapped = patched_attributes()
        assert all(isinstance(f, wrapt.FunctionWrapper) and f.__wrapped__ is before[name] for name, f in wrapped.items())
    finally:
        instrumentor.uninstrument()

    assert patched_attributes() == before
    client = make_client(srv)
    generate(client)
    client.models.generate_content(model=MODEL, contents="hi", config={"tools": [get_weather]})
    assert exporter.get_finished_spans() == ()


def test_instrument_again_after_uninstrument(provider, exporter, srv):
    instrumentor = GenAIInstrumentor()
    for _ in range(2):
        instrumentor.instrument(tracer_provider=provider, capture_content=True)
        generate(make_client(srv))
        instrumentor.uninstrument()
    assert [s.name for s in exporter.get_finished_spans()] == [f"generate_content {MODEL}"] * 2


# --- track_genai ----------------------------------------------------------------------------


@pytest.fixture
def tracked(srv, global_provider):
    client = make_client(srv)
    assert track_genai(client, project_name="proj-a") is client
    return client


def assert_tracked(span, srv, name: str = f"generate_content {MODEL}") -> None:
    assert span.name == name
    assert span.attributes["opik.project_name"] == "proj-a"
    assert span.attributes["gen_ai.provider.name"] == "gcp.gemini"
    assert span.attributes["server.port"] == srv.port


def test_track_genai_traces_only_that_client(tracked, exporter, srv):
    generate(make_client(srv))
    assert exporter.get_finished_spans() == ()

    generate(tracked)
    [span] = exporter.get_finished_spans()
    assert_tracked(span, srv)


async def test_track_genai_covers_aio_streams_embeddings_and_chats(tracked, exporter, srv):
    await tracked.aio.models.generate_content(model=MODEL, contents="hi")
    async for _ in await tracked.aio.models.generate_content_stream(model=MODEL, contents="hi"):
        pass
    for _ in tracked.models.generate_content_stream(model=MODEL, contents="hi"):
        pass
    tracked.models.embed_content(model="gemini-embedding-001", contents="hi")
    tracked.chats.create(model=MODEL).send_message("hi")

    spans = exporter.get_finished_spans()
    assert [s.name for s in spans] == [f"generate_content {MODEL}"] * 3 + ["embeddings gemini-embedding-001", f"generate_content {MODEL}"]
    for span in spans:
        assert_tracked(span, srv, span.name)


@pytest.mark.parametrize("through_chat", [False, True])
def test_track_genai_automatic_function_calling(tracked, exporter, srv, through_chat):
    if through_chat:
        tracked.chats.create(model=MODEL, config={"tools": [get_weather]}).send_message("Weather in Paris?")
    else:
        tracked.models.generate_content(model=MODEL, contents="Weather in Paris?", config={"tools": [get_weather]})

    spans = sorted(exporter.get_finished_spans(), key=lambda s: s.start_time)
    assert [s.name for s in spans] == [f"invoke_agent {MODEL}", f"generate_content {MODEL}", "execute_tool get_weather", f"generate_content {MODEL}"]
    assert {s.parent.span_id for s in spans[1:]} == {spans[0].context.span_id}
    for span in spans:
        assert span.attributes["opik.project_name"] == "proj-a"


def test_track_genai_twice_and_beside_the_instrumentor_is_one_span_per_call(instrumentor, tracked, exporter, srv):
    track_genai(tracked, project_name="proj-a")
    generate(tracked)
    tracked.models.generate_content(model=MODEL, contents="Weather in Paris?", config={"tools": [get_weather]})

    names = sorted(s.name for s in exporter.get_finished_spans())
    assert names == ["execute_tool get_weather", f"generate_content {MODEL}", f"generate_content {MODEL}", f"generate_content {MODEL}", f"invoke_agent {MODEL}"]


def test_track_genai_without_a_client_leaves_google_genai_alone(global_provider, exporter, srv):
    """No client: it traces the google-generativeai module (tests/integration/generativeai), not google-genai."""
    assert track_genai(project_name="proj-a") is None
    generate(make_client(srv))
    assert exporter.get_finished_spans() == ()


# --- lazy patching --------------------------------------------------------------------------

SNIPPET = """
import sys
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opik_otel.instrumentors.genai import GenAIInstrumentor

exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(SimpleSpanProcessor(exporter))
instrumentor = GenAIInstrumentor()
instrumentor.instrument(tracer_provider=provider)
assert "google.genai" not in sys.modules, "instrument() imported google.genai"
{after}
from google import genai
from google.genai import types
client = genai.Client(api_key="fake-key", http_options=types.HttpOptions(base_url=sys.argv[1]))
client.models.generate_content(model="gemini-2.5-flash", contents="hi")
print([span.name for span in exporter.get_finished_spans()])
"""


def run(after: str = "") -> str:
    with FakeGeminiServer() as srv:
        result = subprocess.run([sys.executable, "-c", SNIPPET.format(after=after), srv.url], capture_output=True, text=True, check=True)
    return result.stdout.strip()


def test_google_genai_imported_after_instrument_is_traced():
    assert run() == "['generate_content gemini-2.5-flash']"


def test_uninstrument_before_import_cancels_the_pending_patch():
    assert run(after="instrumentor.uninstrument()") == "[]"
