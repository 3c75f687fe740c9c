"""Switching tracing on and off: `uninstrument()` restores the library; `track_openai(client)`
traces one client, alone or beside class-level instrumentation, one span per call either way."""

from __future__ import annotations

import importlib

import openai
import pydantic
import pytest
import wrapt

from opik_otel.instrumentors.openai import OpenAIInstrumentor, track_openai
from tests.integration.openai.helpers import API_KEY, one_span, requires, resolve, spans, user

PATCHED = [
    ("openai.resources.chat.completions", "Completions", "create"),
    ("openai.resources.chat.completions", "AsyncCompletions", "create"),
    ("openai.resources.embeddings", "Embeddings", "create"),
    ("openai.resources.embeddings", "AsyncEmbeddings", "create"),
    ("openai.resources.responses", "Responses", "create"),
    ("openai.resources.responses", "AsyncResponses", "create"),
]


def class_attributes() -> dict[str, object]:
    """The raw class-dict entries of every patched method this openai version has."""
    found = {}
    for module, cls, method in PATCHED:
        try:
            owner = getattr(importlib.import_module(module), cls)
        except (ImportError, AttributeError):
            continue
        found[f"{cls}.{method}"] = vars(owner)[method]
    return found


def chat(client) -> None:
    client.chat.completions.create(model="gpt-4o-mini", messages=user("hi"))


# --- uninstrument ---------------------------------------------------------------------------


def test_uninstrument_restores_the_library(provider, exporter, srv):
    before = class_attributes()
    assert not any(isinstance(f, wrapt.FunctionWrapper) for f in before.values())
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=True)
    try:
        assert all(isinstance(f, wrapt.FunctionWrapper) for f in class_attributes().values())
    finally:
        instrumentor.uninstrument()

    assert class_attributes() == before
    assert openai.resources.chat.completions.Completions.create is before["Completions.create"]
    with openai.OpenAI(base_url=srv.base_url, api_key=API_KEY, max_retries=0) as client:
        chat(client)
        client.embeddings.create(model="text-embedding-3-small", input="hello")
    assert spans(exporter) == []


def test_instrument_again_after_uninstrument(provider, exporter, srv):
    instrumentor = OpenAIInstrumentor()
    for _ in range(2):
        instrumentor.instrument(tracer_provider=provider, capture_content=True)
        with openai.OpenAI(base_url=srv.base_url, api_key=API_KEY, max_retries=0) as client:
            chat(client)
        instrumentor.uninstrument()
    assert [s.name for s in spans(exporter)] == ["chat gpt-4o-mini"] * 2


# --- track_openai ---------------------------------------------------------------------------


def assert_tracked_span(span, srv, name: str = "chat gpt-4o-mini") -> None:
    assert span.name == name
    assert span.attributes["opik.project_name"] == "proj-a"
    assert span.attributes["gen_ai.provider.name"] == "openai"
    assert span.attributes["server.address"] == "127.0.0.1"
    assert span.attributes["server.port"] == srv.port


@pytest.fixture
def tracked(srv, global_provider):
    client = openai.OpenAI(base_url=srv.base_url, api_key=API_KEY, max_retries=0)
    assert track_openai(client, project_name="proj-a") is client
    yield client
    client.close()


@pytest.fixture
def untracked(srv):
    with openai.OpenAI(base_url=srv.base_url, api_key=API_KEY, max_retries=0) as client:
        yield client


def test_track_openai_traces_only_that_client(tracked, untracked, exporter, srv):
    chat(untracked)
    assert spans(exporter) == []

    chat(tracked)
    assert_tracked_span(one_span(exporter), srv)


def test_track_openai_covers_copies_of_the_client(tracked, exporter, srv):
    """`with_options()` / `copy()` build new client objects; they stay tracked, same project."""
    chat(tracked.with_options(timeout=30))
    chat(tracked.copy(max_retries=1))
    first, second = spans(exporter)
    assert_tracked_span(first, srv)
    assert_tracked_span(second, srv)


def test_track_openai_embeddings_and_stream(tracked, exporter, srv):
    tracked.embeddings.create(model="text-embedding-3-small", input="hello")
    stream = tracked.chat.completions.create(model="gpt-4o-mini", messages=user("hi"), stream=True)
    assert isinstance(stream, openai.Stream)
    for _ in stream:
        pass

    embedding, streamed = spans(exporter)
    assert_tracked_span(embedding, srv, "embeddings text-embedding-3-small")
    assert_tracked_span(streamed, srv)
    assert streamed.attributes["gen_ai.request.stream"] is True


@requires("responses")
def test_track_openai_responses(tracked, exporter, srv):
    tracked.responses.create(model="gpt-4o", input="hi")

    assert_tracked_span(one_span(exporter), srv, "chat gpt-4o")


class Answer(pydantic.BaseModel):
    text: str


@pytest.mark.parametrize(
    "method",
    [
        pytest.param("chat.completions.parse", marks=requires("chat.completions.parse")),
        pytest.param("beta.chat.completions.parse", marks=requires("beta.chat.completions.parse")),
    ],
)
def test_track_openai_parse_is_one_span(tracked, exporter, srv, method):
    completion = resolve(tracked, method)(model="gpt-4o-mini", messages=user("hi"), response_format=Answer)

    assert completion.choices[0].message.parsed == Answer(text="x")
    assert_tracked_span(one_span(exporter), srv)


async def test_track_openai_async_client(srv, global_provider, exporter):
    client = track_openai(openai.AsyncOpenAI(base_url=srv.base_url, api_key=API_KEY, max_retries=0), project_name="proj-a")
    await client.chat.completions.create(model="gpt-4o-mini", messages=user("hi"))
    await client.close()

    assert_tracked_span(one_span(exporter), srv)


def test_track_openai_twice_is_still_one_span(tracked, exporter, srv):
    track_openai(tracked, project_name="proj-a")
    chat(tracked)

    assert_tracked_span(one_span(exporter), srv)


def test_track_openai_beside_class_level_instrumentation(instrumentor, tracked, untracked, exporter, srv):
    chat(tracked)
    assert_tracked_span(one_span(exporter), srv)

    exporter.clear()
    chat(untracked)
    span = one_span(exporter)
    assert "opik.project_name" not in span.attributes


async def test_track_openai_async_beside_class_level_instrumentation(instrumentor, srv, global_provider, exporter):
    client = track_openai(openai.AsyncOpenAI(base_url=srv.base_url, api_key=API_KEY, max_retries=0), project_name="proj-a")
    stream = await client.chat.completions.create(model="gpt-4o-mini", messages=user("hi"), stream=True)
    async for _ in stream:
        pass
    await client.close()

    assert_tracked_span(one_span(exporter), srv)
