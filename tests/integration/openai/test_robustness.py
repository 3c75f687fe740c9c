"""Never break the app: unreadable responses, failing adapters, unsampled and suppressed calls,
concurrent calls, and no secrets on spans."""

from __future__ import annotations

import asyncio

import openai
import pytest
from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import StatusCode

from opik_otel.instrumentors.openai import OpenAIInstrumentor
from opik_otel.instrumentors.openai.chat import ChatCompletions, ChatStreamState
from opik_otel.instrumentors.openai.embeddings import Embeddings
from opik_otel.instrumentors.openai.responses import Responses, ResponsesStreamState
from tests.fakes.openai_server import CHAT_TEXT
from tests.integration.openai.helpers import API_KEY, one_span, spans, user


def boom(*args, **kwargs):
    raise RuntimeError("adapter bug")


@pytest.mark.parametrize("operation", [ChatCompletions(), Responses(), Embeddings()], ids=lambda o: type(o).__name__)
@pytest.mark.parametrize("response", [object(), None, {}, {"choices": [{"message": 5}], "usage": "x", "output": [1]}])
def test_adapter_reads_an_unreadable_response_without_raising(operation, response):
    assert isinstance(operation.response(response, True), dict)


@pytest.mark.parametrize("state", [ChatStreamState(True), ResponsesStreamState(True)], ids=lambda o: type(o).__name__)
def test_stream_state_of_an_empty_stream(state):
    assert isinstance(state.attributes(), dict)


def test_failing_response_reader_does_not_reach_the_user(client, exporter, monkeypatch):
    monkeypatch.setattr(ChatCompletions, "response", boom)

    completion = client.chat.completions.create(model="gpt-4o-mini", messages=user("hi"))

    assert isinstance(completion, openai.types.chat.ChatCompletion)
    assert completion.choices[0].message.content == CHAT_TEXT
    span = one_span(exporter)
    assert span.status.status_code is StatusCode.UNSET
    assert span.attributes["gen_ai.request.model"] == "gpt-4o-mini"  # what was read before the failure stays


async def test_failing_response_reader_does_not_reach_the_user_async(aclient, exporter, monkeypatch):
    monkeypatch.setattr(ChatCompletions, "response", boom)

    completion = await aclient.chat.completions.create(model="gpt-4o-mini", messages=user("hi"))

    assert completion.choices[0].message.content == CHAT_TEXT
    one_span(exporter)


def test_failing_request_reader_leaves_the_call_untraced(client, exporter, monkeypatch):
    monkeypatch.setattr(ChatCompletions, "request", boom)

    completion = client.chat.completions.create(model="gpt-4o-mini", messages=user("hi"))

    assert completion.choices[0].message.content == CHAT_TEXT
    assert spans(exporter) == []


def test_failing_chunk_reader_does_not_break_the_stream(client, exporter, monkeypatch):
    monkeypatch.setattr(ChatStreamState, "on_chunk", boom)
    monkeypatch.setattr(ChatStreamState, "attributes", boom)

    stream = client.chat.completions.create(model="gpt-4o-mini", messages=user("hi"), stream=True)
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)

    assert text == CHAT_TEXT
    assert one_span(exporter).status.status_code is StatusCode.UNSET


def test_unsampled_calls_work_and_record_nothing(exporter, srv):
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=True)
    try:
        with openai.OpenAI(base_url=srv.base_url, api_key=API_KEY, max_retries=0) as client:
            completion = client.chat.completions.create(model="gpt-4o-mini", messages=user("hi"))
            stream = client.chat.completions.create(model="gpt-4o-mini", messages=user("hi"), stream=True)
            assert isinstance(stream, openai.Stream)
            assert len(list(stream)) > 1
    finally:
        instrumentor.uninstrument()
    assert completion.choices[0].message.content == CHAT_TEXT
    assert spans(exporter) == []


def test_suppressed_instrumentation_makes_no_span(client, exporter):
    with suppress_instrumentation():
        client.chat.completions.create(model="gpt-4o-mini", messages=user("hi"))

    assert spans(exporter) == []


def test_no_api_key_on_any_span(client, exporter):
    client.chat.completions.create(model="gpt-4o-mini", messages=user("hi"))
    list(client.chat.completions.create(model="gpt-4o-mini", messages=user("hi"), stream=True))
    client.embeddings.create(model="text-embedding-3-small", input="hello")
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(model="error-401", messages=user("hi"))

    for span in spans(exporter):
        values = [str(v) for v in span.attributes.values()] + [str(e.attributes) for e in span.events]
        assert not any(API_KEY in v for v in values), span.name


async def test_concurrent_async_calls_nest_under_their_own_parents(aclient, exporter, provider):
    tracer = provider.get_tracer("t")

    async def one_call(name: str) -> None:
        with tracer.start_as_current_span(name):
            stream = await aclient.chat.completions.create(model="gpt-4o-mini", messages=user(name), stream=True)
            async for _ in stream:
                await asyncio.sleep(0)

    await asyncio.gather(*(one_call(f"parent-{i}") for i in range(5)))

    finished = spans(exporter)
    parents = {s.context.span_id: s.name for s in finished if s.name.startswith("parent-")}
    chats = [s for s in finished if s.name == "chat gpt-4o-mini"]
    assert len(parents) == 5 and len(chats) == 5
    assert sorted(parents[c.parent.span_id] for c in chats) == sorted(parents.values())
    for chat in chats:  # each chat span recorded its own parent's prompt
        assert parents[chat.parent.span_id] in chat.attributes["gen_ai.input.messages"]
