"""The fake OpenAI server driven by the real, uninstrumented ``openai`` SDK.

Runs on openai 3.x (httpx2) and 1.x (httpx); tests of APIs that an installed SDK
lacks are skipped.
"""

from __future__ import annotations

import base64
import http.client
import importlib
import json
import re
import struct
import time
from typing import List, Literal, Optional

import openai
import pytest
from pydantic import BaseModel

from tests.fakes.openai_server import (
    CHAT_TEXT,
    RESPONSES_TEXT,
    TOOL_ARGUMENTS,
    TOOL_RESULT_TEXT,
    FakeOpenAIServer,
    embedding_vector,
)
from tests.unit.fake_server_checks import started_then_stopped

API_KEY = "sk-test-fake"
MESSAGES = [{"role": "user", "content": "Say hello"}]
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
RESPONSES_WEATHER_TOOL = {"type": "function", **WEATHER_TOOL["function"]}
RESPONSES_STREAM_EVENTS = [
    "response.created",
    "response.in_progress",
    "response.output_item.added",
    "response.content_part.added",
    *["response.output_text.delta"] * 6,  # one per word of RESPONSES_TEXT
    "response.output_text.done",
    "response.content_part.done",
    "response.output_item.done",
    "response.completed",
]
ERROR_CASES = [
    ("error-400", openai.BadRequestError, 400),
    ("error-401", openai.AuthenticationError, 401),
    ("error-404", openai.NotFoundError, 404),
    ("error-429", openai.RateLimitError, 429),
    ("error-500", openai.InternalServerError, 500),
    ("error-503", openai.InternalServerError, 503),
]


class City(BaseModel):
    name: str
    population: int


class Weather(BaseModel):
    city: City
    temperature: float
    sunny: bool
    unit: Literal["celsius", "fahrenheit"]
    tags: List[str]
    note: Optional[str]


EXPECTED_WEATHER = Weather(
    city=City(name="x", population=1), temperature=1.5, sunny=True, unit="celsius", tags=[], note="x"
)


def _transport_errors() -> tuple[type[BaseException], ...]:
    """What a dropped stream raises: openai 1.x lets the transport's error escape."""
    errors: list[type[BaseException]] = [openai.APIConnectionError]
    for name in ("httpx", "httpx2"):
        try:
            errors.append(importlib.import_module(name).TransportError)
        except ImportError:
            pass
    return tuple(errors)


def _require(obj: object, attribute: str) -> None:
    if not hasattr(obj, attribute):
        pytest.skip(f"openai {openai.__version__} has no {type(obj).__name__}.{attribute}")


def _parse_method(client: openai.OpenAI):
    if hasattr(client.chat.completions, "parse"):
        return client.chat.completions.parse
    beta = getattr(client, "beta", None)
    if beta is not None and hasattr(beta.chat.completions, "parse"):
        return beta.chat.completions.parse
    pytest.skip(f"openai {openai.__version__} has no chat.completions.parse")


def _detail(usage: object, details: str, name: str) -> object:
    """usage.<details>.<name>; openai 1.x before the *_tokens_details fields keeps a dict."""
    value = getattr(usage, details)
    return value[name] if isinstance(value, dict) else getattr(value, name)


def _content_deltas(chunks) -> list[str]:
    return [chunk.choices[0].delta.content for chunk in chunks if chunk.choices and chunk.choices[0].delta.content]


@pytest.fixture
def srv():
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def client(srv):
    client = openai.OpenAI(base_url=srv.base_url, api_key=API_KEY, max_retries=0)
    yield client
    client.close()


@pytest.fixture
async def aclient(srv):
    client = openai.AsyncOpenAI(base_url=srv.base_url, api_key=API_KEY, max_retries=0)
    yield client
    await client.close()


# --- server lifecycle and the recorded requests -------------------------------------------


def test_start_stop_and_urls():
    with started_then_stopped(FakeOpenAIServer) as server:
        assert server.base_url == server.url + "/v1"


def test_the_fake_builds_on_the_demo_server():
    """One implementation: the demo's OpenAI-compatible server (shipped in the package) holds the
    HTTP plumbing and the chat-completions wire format; the fakes add only test behaviours."""
    from opik_otel.cli.demo import local_http
    from opik_otel.cli.demo import server as demo
    from tests.fakes import _server, openai_server

    assert issubclass(FakeOpenAIServer, local_http.LocalHTTPServer)
    assert issubclass(demo.DemoOpenAIServer, local_http.LocalHTTPServer)
    assert issubclass(_server.FakeRequestHandler, local_http.RequestHandler)
    assert (_server.JsonReply, _server.StreamReply, _server.SseEvent) == (
        local_http.JsonReply, local_http.StreamReply, local_http.SseEvent,
    )
    assert (openai_server.ChatReply, openai_server.chat_reply, openai_server.split_words) == (
        demo.ChatReply, demo.chat_reply, demo.split_words,
    )


def test_requests_are_recorded(srv, client):
    client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, temperature=0.5)
    [request] = srv.requests
    assert request["method"] == "POST"
    assert request["path"] == "/v1/chat/completions"
    assert request["headers"]["authorization"] == f"Bearer {API_KEY}"
    assert request["headers"]["content-type"] == "application/json"
    assert all(name == name.lower() for name in request["headers"])
    assert request["body"] == {"model": "gpt-4o-mini", "messages": MESSAGES, "temperature": 0.5}


def test_unknown_route_is_404(srv, client):
    with pytest.raises(openai.NotFoundError) as caught:
        client.models.list()
    assert caught.value.status_code == 404
    assert srv.requests[-1]["method"] == "GET"
    assert srv.requests[-1]["path"] == "/v1/models"


# --- chat completions -----------------------------------------------------------------------


def test_chat_values(client):
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert completion.id == "chatcmpl-fake-1"
    assert completion.object == "chat.completion"
    assert completion.created == 1700000000
    assert completion.model == "gpt-4o-mini"
    assert completion.system_fingerprint == "fp_fake"
    assert completion.service_tier == "default"
    [choice] = completion.choices
    assert choice.index == 0
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == CHAT_TEXT
    assert choice.message.tool_calls is None
    usage = completion.usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (12, 7, 19)
    assert _detail(usage, "prompt_tokens_details", "cached_tokens") == 4
    assert _detail(usage, "prompt_tokens_details", "audio_tokens") == 0
    assert _detail(usage, "completion_tokens_details", "reasoning_tokens") == 2
    assert _detail(usage, "completion_tokens_details", "accepted_prediction_tokens") == 0
    assert _detail(usage, "completion_tokens_details", "rejected_prediction_tokens") == 0
    second = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
    assert second.id == "chatcmpl-fake-2"


def test_scripted_replies_then_a_replier_then_the_usual_answer(srv, client):
    srv.script_replies("first", {"content": None, "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{}"}}]})
    srv.reply_with(lambda body: "from the replier" if body["model"] == "m2" else None)

    def chat(model: str = "gpt-4o-mini"):
        return client.chat.completions.create(model=model, messages=MESSAGES)

    first, second, third, fourth = chat(), chat(), chat("m2"), chat()
    assert first.choices[0].message.content == "first" and first.choices[0].finish_reason == "stop"
    assert second.choices[0].finish_reason == "tool_calls"
    assert second.choices[0].message.tool_calls[0].id == "c1"
    assert second.choices[0].message.tool_calls[0].function.name == "f"
    assert third.choices[0].message.content == "from the replier"
    assert fourth.choices[0].message.content == CHAT_TEXT
    srv.reply_with(None)
    assert chat("m2").choices[0].message.content == CHAT_TEXT


def test_chat_n_choices(client):
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, n=3)
    assert [choice.index for choice in completion.choices] == [0, 1, 2]
    assert {choice.message.content for choice in completion.choices} == {CHAT_TEXT}


@pytest.mark.parametrize("limit", ["max_tokens", "max_completion_tokens"])
def test_chat_one_token_limit_finishes_with_length(client, limit):
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, extra_body={limit: 1})
    assert completion.choices[0].finish_reason == "length"


def test_chat_stream_with_usage(client):
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert {chunk.id for chunk in chunks} == {"chatcmpl-fake-1"}
    assert {chunk.object for chunk in chunks} == {"chat.completion.chunk"}
    assert {(chunk.model, chunk.created, chunk.system_fingerprint) for chunk in chunks} == {
        ("gpt-4o-mini", 1700000000, "fp_fake")
    }
    first = chunks[0].choices[0].delta
    assert (first.role, first.content) == ("assistant", "")
    deltas = _content_deltas(chunks)
    assert deltas == ["Hello ", "from ", "the ", "fake ", "OpenAI ", "server."]
    assert "".join(deltas) == CHAT_TEXT
    finish = chunks[-2].choices[0]
    assert (finish.finish_reason, finish.delta.content) == ("stop", None)
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert (usage_chunk.usage.prompt_tokens, usage_chunk.usage.completion_tokens) == (12, 7)
    assert usage_chunk.usage.total_tokens == 19
    assert _detail(usage_chunk.usage, "prompt_tokens_details", "cached_tokens") == 4
    assert _detail(usage_chunk.usage, "completion_tokens_details", "reasoning_tokens") == 2


def test_chat_stream_without_usage(client):
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, stream=True))
    assert all(chunk.choices for chunk in chunks)
    assert all(getattr(chunk, "usage", None) is None for chunk in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_chat_stream_forced_chunk_count(client):
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=MESSAGES, stream=True, extra_headers={"x-fake-chunks": "20"}
    )
    deltas = _content_deltas(stream)
    assert len(deltas) == 20
    assert "".join(deltas) == "".join(f"tok{i} " for i in range(20))


async def test_async_chat_and_stream(aclient):
    completion = await aclient.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert completion.choices[0].message.content == CHAT_TEXT
    assert completion.model == "gpt-4o"
    stream = await aclient.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = [chunk async for chunk in stream]
    assert "".join(_content_deltas(chunks)) == CHAT_TEXT
    assert chunks[-1].usage.total_tokens == 19
    assert chunks[0].id == "chatcmpl-fake-2"


# --- tool calls and structured output -----------------------------------------------------


def test_chat_tool_call(client):
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, tools=[WEATHER_TOOL])
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    [call] = choice.message.tool_calls
    assert (call.id, call.type, call.function.name) == ("call_fake_1", "function", "get_weather")
    assert call.function.arguments == TOOL_ARGUMENTS
    assert json.loads(call.function.arguments) == {"city": "Paris"}


def test_chat_answer_after_tool_result(client):
    call = {"id": "call_fake_1", "type": "function", "function": {"name": "get_weather", "arguments": TOOL_ARGUMENTS}}
    messages = [
        *MESSAGES,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_fake_1", "content": "sunny"},
    ]
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=messages, tools=[WEATHER_TOOL])
    assert completion.choices[0].message.content == TOOL_RESULT_TEXT
    assert completion.choices[0].finish_reason == "stop"


def test_chat_tool_call_stream(client):
    chunks = list(
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, tools=[WEATHER_TOOL], stream=True)
    )
    calls = [call for chunk in chunks if chunk.choices for call in chunk.choices[0].delta.tool_calls or []]
    opening = calls[0]
    assert (opening.index, opening.id, opening.type) == (0, "call_fake_1", "function")
    assert (opening.function.name, opening.function.arguments) == ("get_weather", "")
    assert len(calls) > 2
    assert all(call.index == 0 and call.id is None for call in calls[1:])
    assert "".join(call.function.arguments for call in calls) == TOOL_ARGUMENTS
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


WEATHER_FUNCTION = WEATHER_TOOL["function"]


def test_chat_legacy_function_call(client):
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, functions=[WEATHER_FUNCTION])
    choice = completion.choices[0]
    assert choice.finish_reason == "function_call"
    assert (choice.message.content, choice.message.tool_calls) == (None, None)
    assert (choice.message.function_call.name, choice.message.function_call.arguments) == ("get_weather", TOOL_ARGUMENTS)


def test_chat_legacy_function_call_stream_and_follow_up(client):
    chunks = list(
        client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, functions=[WEATHER_FUNCTION], stream=True)
    )
    deltas = [chunk.choices[0].delta for chunk in chunks]
    assert (deltas[0].role, deltas[0].content, deltas[0].function_call.name) == ("assistant", None, "get_weather")
    assert [delta.function_call.arguments for delta in deltas[:-1]] == ["", '{"city": ', '"Paris"}']
    assert chunks[-1].choices[0].finish_reason == "function_call"
    messages = [
        *MESSAGES,
        {"role": "assistant", "content": None, "function_call": {"name": "get_weather", "arguments": TOOL_ARGUMENTS}},
        {"role": "function", "name": "get_weather", "content": "sunny"},
    ]
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=messages, functions=[WEATHER_FUNCTION])
    assert (completion.choices[0].message.content, completion.choices[0].finish_reason) == (TOOL_RESULT_TEXT, "stop")


SCRIPTED_CALLS = [
    {"id": "call_a", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
    {"id": "call_b", "function": {"name": "get_time", "arguments": "{}"}},
]


def test_chat_scripted_message_with_text_and_tool_calls(client):
    header = {"x-fake-message": json.dumps({"content": "Checking.", "tool_calls": SCRIPTED_CALLS})}
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, extra_headers=header)
    choice = completion.choices[0]
    assert (choice.message.content, choice.finish_reason) == ("Checking.", "tool_calls")
    assert [(c.id, c.type, c.function.name, c.function.arguments) for c in choice.message.tool_calls] == [
        ("call_a", "function", "get_weather", '{"city": "Paris"}'),
        ("call_b", "function", "get_time", "{}"),
    ]
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, extra_headers=header, stream=True))
    assert _content_deltas(chunks) == ["Checking."]
    calls = [call for chunk in chunks for call in chunk.choices[0].delta.tool_calls or []]
    assert [(call.index, call.id, call.function.name) for call in calls if call.id] == [(0, "call_a", "get_weather"), (1, "call_b", "get_time")]
    assert "".join(call.function.arguments for call in calls if call.index == 0) == '{"city": "Paris"}'
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_chat_scripted_refusal(client):
    header = {"x-fake-message": json.dumps({"content": None, "refusal": "I can't help with that."})}
    completion = client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, extra_headers=header)
    message = completion.choices[0].message
    assert (message.content, message.refusal, completion.choices[0].finish_reason) == (None, "I can't help with that.", "stop")
    chunks = list(client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, extra_headers=header, stream=True))
    deltas = [chunk.choices[0].delta for chunk in chunks]
    assert (deltas[0].role, deltas[0].content, deltas[0].refusal) == ("assistant", None, "")
    assert [delta.refusal for delta in deltas[1:-1]] == ["I ", "can't ", "help ", "with ", "that."]


def test_chat_json_schema_parse(client):
    parse = _parse_method(client)
    completion = parse(model="gpt-4o-2024-08-06", messages=MESSAGES, response_format=Weather)
    message = completion.choices[0].message
    assert message.parsed == EXPECTED_WEATHER
    assert json.loads(message.content) == EXPECTED_WEATHER.model_dump()


def test_chat_json_schema_and_json_object(client):
    schema = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "count": {"type": "integer"},
            "score": {"type": "number"},
            "ok": {"type": "boolean"},
            "items": {"type": "array", "items": {"type": "string"}},
            "extra": {"type": "object"},
            "color": {"type": "string", "enum": ["red", "green"]},
        },
    }
    response_format = {"type": "json_schema", "json_schema": {"name": "thing", "schema": schema, "strict": True}}
    completion = client.chat.completions.create(model="gpt-4o", messages=MESSAGES, response_format=response_format)
    assert json.loads(completion.choices[0].message.content) == {
        "name": "x",
        "count": 1,
        "score": 1.5,
        "ok": True,
        "items": [],
        "extra": {},
        "color": "red",
    }
    completion = client.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, response_format={"type": "json_object"}
    )
    assert completion.choices[0].message.content == "{}"


# --- Responses API --------------------------------------------------------------------------


def test_responses_create(srv, client):
    _require(client, "responses")
    response = client.responses.create(model="gpt-4.1-mini", input="Say hello", instructions="Be brief")
    assert response.id == "resp_fake_1"
    assert response.object == "response"
    assert response.status == "completed"
    assert response.model == "gpt-4.1-mini"
    assert response.created_at == 1700000000
    assert response.instructions == "Be brief"
    assert response.output_text == RESPONSES_TEXT
    [message] = response.output
    assert (message.type, message.id, message.role) == ("message", "msg_fake_1", "assistant")
    usage = response.usage
    assert (usage.input_tokens, usage.output_tokens, usage.total_tokens) == (15, 9, 24)
    assert usage.input_tokens_details.cached_tokens == 5
    assert usage.output_tokens_details.reasoning_tokens == 3
    assert srv.requests[-1]["path"] == "/v1/responses"
    assert srv.requests[-1]["body"]["instructions"] == "Be brief"


def test_responses_function_call_and_follow_up(client):
    _require(client, "responses")
    response = client.responses.create(model="gpt-4.1", input="Weather in Paris?", tools=[RESPONSES_WEATHER_TOOL])
    [call] = response.output
    assert (call.type, call.id, call.call_id) == ("function_call", "fc_fake_1", "call_fake_1")
    assert (call.name, call.arguments, call.status) == ("get_weather", TOOL_ARGUMENTS, "completed")
    follow_up = client.responses.create(
        model="gpt-4.1",
        tools=[RESPONSES_WEATHER_TOOL],
        input=[
            {"role": "user", "content": "Weather in Paris?"},
            {"type": "function_call", "call_id": "call_fake_1", "name": "get_weather", "arguments": TOOL_ARGUMENTS},
            {"type": "function_call_output", "call_id": "call_fake_1", "output": "sunny"},
        ],
    )
    assert follow_up.output_text == TOOL_RESULT_TEXT


def test_responses_parse(client):
    _require(client, "responses")
    _require(client.responses, "parse")
    response = client.responses.parse(model="gpt-4.1", input="Weather?", text_format=Weather)
    assert response.output_parsed == EXPECTED_WEATHER


def test_responses_stream(client):
    _require(client, "responses")
    events = list(client.responses.create(model="gpt-4.1-mini", input="Say hello", stream=True))
    assert [event.type for event in events] == RESPONSES_STREAM_EVENTS
    assert [event.sequence_number for event in events] == list(range(len(events)))
    deltas = [event for event in events if event.type == "response.output_text.delta"]
    assert "".join(event.delta for event in deltas) == RESPONSES_TEXT
    assert {(event.item_id, event.output_index, event.content_index) for event in deltas} == {("msg_fake_1", 0, 0)}
    assert all(event.logprobs == [] for event in deltas)
    assert events[0].response.status == "in_progress"
    completed = events[-1].response
    assert (completed.id, completed.status, completed.output_text) == ("resp_fake_1", "completed", RESPONSES_TEXT)
    assert completed.usage.total_tokens == 24


def test_responses_stream_function_call(client):
    _require(client, "responses")
    events = list(
        client.responses.create(model="gpt-4.1", input="Weather?", tools=[RESPONSES_WEATHER_TOOL], stream=True)
    )
    deltas = [event.delta for event in events if event.type == "response.function_call_arguments.delta"]
    assert "".join(deltas) == TOOL_ARGUMENTS
    done = next(event for event in events if event.type == "response.function_call_arguments.done")
    assert done.arguments == TOOL_ARGUMENTS
    assert events[-1].type == "response.completed"
    assert events[-1].response.output[0].name == "get_weather"


async def test_async_responses_stream(aclient):
    _require(aclient, "responses")
    stream = await aclient.responses.create(
        model="gpt-4.1", input="Say hello", stream=True, extra_headers={"x-fake-chunks": "3"}
    )
    events = [event async for event in stream]
    deltas = [event.delta for event in events if event.type == "response.output_text.delta"]
    assert deltas == ["tok0 ", "tok1 ", "tok2 "]
    assert events[-1].response.output_text == "tok0 tok1 tok2 "


# --- embeddings -----------------------------------------------------------------------------


def test_embeddings_float(srv, client):
    result = client.embeddings.create(
        model="text-embedding-3-small", input=["one", "two"], dimensions=4, encoding_format="float"
    )
    assert result.model == "text-embedding-3-small"
    assert [item.index for item in result.data] == [0, 1]
    assert result.data[0].embedding == [0.0, 0.125, 0.25, 0.375]
    assert result.data[1].embedding == embedding_vector(1, 4) == [1.0, 1.125, 1.25, 1.375]
    assert (result.usage.prompt_tokens, result.usage.total_tokens) == (10, 10)
    assert srv.requests[-1]["body"]["encoding_format"] == "float"


def test_embeddings_default_encoding(client):
    result = client.embeddings.create(model="text-embedding-3-small", input="one")
    [item] = result.data
    assert item.embedding == embedding_vector(0, 8)  # decoded from base64 by new SDKs
    assert result.usage.prompt_tokens == 5


def test_embeddings_explicit_base64(client):
    result = client.embeddings.create(model="text-embedding-3-large", input="one", encoding_format="base64")
    encoded = result.data[0].embedding
    assert isinstance(encoded, str)
    assert list(struct.unpack("<8f", base64.b64decode(encoded))) == embedding_vector(0, 8)


async def test_async_embeddings(aclient):
    result = await aclient.embeddings.create(model="text-embedding-3-small", input=["a", "b", "c"], dimensions=2)
    assert [item.embedding for item in result.data] == [[0.0, 0.125], [1.0, 1.125], [2.0, 2.125]]
    assert result.usage.total_tokens == 15


# --- errors, timeouts and broken streams ------------------------------------------------------


def _call_endpoint(client, endpoint: str, model: str):
    if endpoint == "chat":
        return client.chat.completions.create(model=model, messages=MESSAGES)
    if endpoint == "responses":
        _require(client, "responses")
        return client.responses.create(model=model, input="hi")
    return client.embeddings.create(model=model, input="hi")


@pytest.mark.parametrize("endpoint", ["chat", "responses", "embeddings"])
@pytest.mark.parametrize(("model", "error_class", "status"), ERROR_CASES)
def test_error_models(client, endpoint, model, error_class, status):
    with pytest.raises(error_class) as caught:
        _call_endpoint(client, endpoint, model)
    error = caught.value
    assert error.status_code == status
    assert error.code == f"fake_{status}"
    assert f"fake error {status}" in error.message
    expected_type = "invalid_request_error" if status < 500 else "server_error"
    assert error.body == {
        "message": f"fake error {status}",
        "type": expected_type,
        "param": None,
        "code": f"fake_{status}",
    }
    if status == 429:
        assert error.response.headers["retry-after"] == "0"


def test_error_model_on_stream_fails_before_streaming(client):
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model="error-429", messages=MESSAGES, stream=True)


async def test_async_error_model(aclient):
    with pytest.raises(openai.AuthenticationError):
        await aclient.chat.completions.create(model="error-401", messages=MESSAGES)


def test_slow_model_answers_normally(client):
    started = time.monotonic()
    completion = client.chat.completions.create(model="slow-100", messages=MESSAGES)
    assert time.monotonic() - started >= 0.1
    assert (completion.model, completion.choices[0].message.content) == ("slow-100", CHAT_TEXT)


def test_timeout(client):
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        client.chat.completions.create(model="slow-2000", messages=MESSAGES, timeout=0.2)
    assert time.monotonic() - started < 1.5
    # The connection pool recovers.
    assert client.chat.completions.create(model="gpt-4o", messages=MESSAGES).choices[0].message.content == CHAT_TEXT


async def test_async_timeout(aclient):
    with pytest.raises(openai.APITimeoutError):
        await aclient.chat.completions.create(model="slow-2000", messages=MESSAGES, timeout=0.2)


def test_stream_error_raises_mid_iteration(client):
    received = []
    stream = client.chat.completions.create(model="stream-error", messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIError) as caught:
        for chunk in stream:
            received.append(chunk.choices[0].delta.content)
    assert type(caught.value) is openai.APIError
    assert caught.value.message == "fake mid-stream error"
    assert received == ["", "Hello ", "from "]


async def test_async_stream_error(aclient):
    stream = await aclient.chat.completions.create(model="stream-error", messages=MESSAGES, stream=True)
    with pytest.raises(openai.APIError, match="fake mid-stream error"):
        async for _ in stream:
            pass


def test_responses_stream_error(client):
    _require(client, "responses")
    received = []
    with pytest.raises(openai.APIError, match="fake mid-stream error"):
        for event in client.responses.create(model="stream-error", input="hi", stream=True):
            received.append(event.type)
    assert received.count("response.output_text.delta") == 2


def test_responses_stream_drop(client):
    _require(client, "responses")
    received = []
    with pytest.raises(_transport_errors()):
        for event in client.responses.create(model="stream-drop", input="hi", stream=True):
            received.append(event.type)
    assert received[-2:] == ["response.output_text.delta"] * 2


def test_stream_drop_raises_connection_error(client):
    received = []
    stream = client.chat.completions.create(model="stream-drop", messages=MESSAGES, stream=True)
    with pytest.raises(_transport_errors()):
        for chunk in stream:
            received.append(chunk.choices[0].delta.content)
    assert received == ["", "Hello ", "from "]
    # The client can still talk to the server afterwards.
    assert client.chat.completions.create(model="gpt-4o", messages=MESSAGES).id.startswith("chatcmpl-fake-")


# --- Azure -------------------------------------------------------------------------------------


@pytest.fixture
def azure_client(srv):
    if not hasattr(openai, "AzureOpenAI"):
        pytest.skip(f"openai {openai.__version__} has no AzureOpenAI")
    client = openai.AzureOpenAI(azure_endpoint=srv.url, api_key=API_KEY, api_version="2024-10-21", max_retries=0)
    yield client
    client.close()


def test_azure_chat_and_embeddings(srv, azure_client):
    completion = azure_client.chat.completions.create(model="my-deployment", messages=MESSAGES)
    assert completion.model == "my-deployment"
    assert completion.choices[0].message.content == CHAT_TEXT
    request = srv.requests[-1]
    assert request["path"] == "/openai/deployments/my-deployment/chat/completions?api-version=2024-10-21"
    assert request["headers"]["api-key"] == API_KEY
    stream = azure_client.chat.completions.create(model="my-deployment", messages=MESSAGES, stream=True)
    assert "".join(_content_deltas(stream)) == CHAT_TEXT
    embedding = azure_client.embeddings.create(model="my-embedding", input="hi", encoding_format="float")
    assert embedding.model == "my-embedding"
    assert srv.requests[-1]["path"].startswith("/openai/deployments/my-embedding/embeddings?")


def test_azure_stream_starts_with_the_prompt_filter_chunk(srv, azure_client, client):
    chunks = list(azure_client.chat.completions.create(model="my-deployment", messages=MESSAGES, stream=True))
    first = chunks[0]
    assert (first.id, first.model, first.object, first.created, first.choices) == ("", "", "", 0, [])
    assert first.prompt_filter_results[0]["content_filter_results"]["hate"] == {"filtered": False, "severity": "safe"}
    assert {chunk.id for chunk in chunks[1:]} == {chunks[1].id} and chunks[1].model == "my-deployment"
    assert "".join(_content_deltas(chunks)) == CHAT_TEXT
    # the OpenAI routes do not send it
    assert list(client.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))[0].choices != []


def test_azure_error_deployment(azure_client):
    with pytest.raises(openai.RateLimitError):
        azure_client.chat.completions.create(model="error-429", messages=MESSAGES)


# --- the wire format, read with a plain HTTP/1.1 client ----------------------------------------


def _post(connection: http.client.HTTPConnection, path: str, body: dict) -> http.client.HTTPResponse:
    connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    return connection.getresponse()


def test_wire_format_over_one_keep_alive_connection(srv):
    connection = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        response = _post(connection, "/v1/chat/completions", {"model": "gpt-4o", "messages": MESSAGES})
        payload = response.read()
        assert response.status == 200
        assert response.getheader("Content-Type") == "application/json"
        assert int(response.getheader("Content-Length")) == len(payload)
        assert response.getheader("x-request-id", "").startswith("req_fake_")

        response = _post(connection, "/v1/chat/completions", {"model": "gpt-4o", "messages": MESSAGES, "stream": True})
        text = response.read().decode()
        assert response.getheader("Content-Type") == "text/event-stream"
        assert response.getheader("Transfer-Encoding") == "chunked"
        assert text.startswith("data: {") and text.endswith("data: [DONE]\n\n")

        # Azure without a model in the body: the deployment name is the model.
        azure_path = "/openai/deployments/dep-1/chat/completions?api-version=2024-10-21"
        response = _post(connection, azure_path, {"messages": []})
        assert json.loads(response.read())["model"] == "dep-1"

        response = _post(connection, "/v1/responses", {"model": "gpt-4.1", "input": "hi", "stream": True})
        blocks = response.read().decode().strip().split("\n\n")
        assert blocks[0].startswith("event: response.created\ndata: {")
        assert all(re.fullmatch(r"event: (\S+)\ndata: \{.*\"type\": \"\1\".*\}", block) for block in blocks)

        response = _post(connection, "/v1/nope", {})
        assert response.status == 404
        assert json.loads(response.read())["error"]["type"] == "invalid_request_error"
    finally:
        connection.close()
    assert len(srv.requests) == 5
