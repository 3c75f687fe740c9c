"""The fake Anthropic server driven by the real, uninstrumented ``anthropic`` SDK.

Runs on anthropic 2.x (httpx2) and 0.x (httpx, checked with 0.40.0); tests of APIs
that an installed SDK lacks are skipped, and the whole module is skipped without
``anthropic``. The Bedrock tests need ``boto3`` (``anthropic[bedrock]``) for the
SigV4 signing and the event-stream decoding that the SDK borrows from botocore.
"""

from __future__ import annotations

import base64
import http.client
import importlib
import inspect
import json
import re
import struct
import time
import zlib
from typing import List, Literal, Optional

import pytest

anthropic = pytest.importorskip("anthropic")

from pydantic import BaseModel  # noqa: E402

from tests.fakes.anthropic_server import (  # noqa: E402
    BEDROCK_METRICS,
    COUNT_TOKENS,
    MID_STREAM_ERROR_MESSAGE,
    SIGNATURE,
    STREAM_START_USAGE,
    TEXT,
    THINKING_TEXT,
    TOOL_INPUT,
    TOOL_RESULT_TEXT,
    TOOL_USE_ID,
    USAGE,
    FakeAnthropicServer,
    encode_event_stream_frame,
)
from tests.unit.fake_server_checks import started_then_stopped  # noqa: E402

API_KEY = "sk-ant-test-fake"
MODEL = "claude-haiku-4-5"
BEDROCK_MODEL = "anthropic.claude-3-5-sonnet-20241022-v2:0"
VERTEX_MODEL = "claude-3-5-sonnet-v2@20241022"
MESSAGES = [{"role": "user", "content": "Say hello"}]
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}
TIME_TOOL = {"name": "get_time", "input_schema": {"type": "object", "properties": {}}}
THINKING = {"type": "enabled", "budget_tokens": 1024}
TOOL_FOLLOW_UP = [
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": TOOL_USE_ID, "name": "get_weather", "input": TOOL_INPUT}],
    },
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": TOOL_USE_ID, "content": "sunny"}]},
]
WIRE_TEXT_EVENTS = [
    "message_start",
    "content_block_start",
    "ping",
    *["content_block_delta"] * 6,  # one per word of TEXT
    "content_block_stop",
    "message_delta",
    "message_stop",
]
TEXT_EVENTS = [event for event in WIRE_TEXT_EVENTS if event != "ping"]  # the SDK drops `ping` events
ERROR_CASES = [
    ("error-400", anthropic.BadRequestError, 400, "invalid_request_error"),
    ("error-401", anthropic.AuthenticationError, 401, "authentication_error"),
    ("error-403", anthropic.PermissionDeniedError, 403, "permission_error"),
    ("error-404", anthropic.NotFoundError, 404, "not_found_error"),
    ("error-429", anthropic.RateLimitError, 429, "rate_limit_error"),
    ("error-500", anthropic.InternalServerError, 500, "api_error"),
    # anthropic 0.x has no OverloadedError: a 529 is an InternalServerError there.
    ("error-529", getattr(anthropic, "OverloadedError", anthropic.InternalServerError), 529, "overloaded_error"),
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
WEATHER_SCHEMA = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "temperature": {"type": "number"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city", "temperature", "unit"],
    "additionalProperties": False,
}


def _transport_errors() -> tuple[type[BaseException], ...]:
    """What a dropped stream raises: the SDK lets the transport's error escape mid-iteration."""
    errors: list[type[BaseException]] = [anthropic.APIConnectionError]
    for name in ("httpx", "httpx2"):
        try:
            errors.append(importlib.import_module(name).TransportError)
        except ImportError:
            pass
    return tuple(errors)


def _require_param(method, name: str) -> None:
    if name not in inspect.signature(method).parameters:
        pytest.skip(f"anthropic {anthropic.__version__}: {method.__qualname__} has no {name!r}")


def _require(obj: object, attribute: str) -> None:
    if not hasattr(obj, attribute):
        pytest.skip(f"anthropic {anthropic.__version__} has no {type(obj).__name__}.{attribute}")


def _event_types(events) -> list[str]:
    return [event.type for event in events]


def _text_deltas(events) -> list[str]:
    return [
        event.delta.text
        for event in events
        if event.type == "content_block_delta" and getattr(event.delta, "type", None) == "text_delta"
    ]


def _usage(usage) -> dict[str, object]:
    return {name: getattr(usage, name) for name in USAGE}


@pytest.fixture
def srv():
    with FakeAnthropicServer() as server:
        yield server


@pytest.fixture
def client(srv):
    client = anthropic.Anthropic(base_url=srv.url, api_key=API_KEY, max_retries=0)
    yield client
    client.close()


@pytest.fixture
async def aclient(srv):
    client = anthropic.AsyncAnthropic(base_url=srv.url, api_key=API_KEY, max_retries=0)
    yield client
    await client.close()


# --- server lifecycle and the recorded requests -------------------------------------------


def test_start_stop_and_urls():
    with started_then_stopped(FakeAnthropicServer) as server:
        assert server.base_url == server.url
        assert server.bedrock_url == server.url + "/bedrock"
        assert server.vertex_url == server.url + "/vertex"


def test_requests_are_recorded(srv, client):
    client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES, system="Be brief.")
    [request] = srv.requests
    assert request["method"] == "POST"
    assert request["path"] == "/v1/messages"
    # anthropic 0.x sends the key as x-api-key, 2.x as a Bearer token.
    headers = request["headers"]
    assert headers.get("x-api-key") == API_KEY or headers.get("authorization") == f"Bearer {API_KEY}"
    assert request["headers"]["anthropic-version"]
    assert request["headers"]["content-type"] == "application/json"
    assert all(name == name.lower() for name in request["headers"])
    assert request["body"] == {"model": MODEL, "max_tokens": 64, "messages": MESSAGES, "system": "Be brief."}


def test_unknown_route_is_404(srv, client):
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.get("/v1/models", cast_to=object)
    assert caught.value.status_code == 404
    assert caught.value.body == {"type": "error", "error": {"type": "not_found_error", "message": "Not found"}}
    assert srv.requests[-1]["method"] == "GET"
    assert srv.requests[-1]["path"] == "/v1/models"


# --- messages.create -------------------------------------------------------------------------


def test_message_values(client):
    message = client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    assert message.id == "msg_fake_1"
    assert (message.type, message.role, message.model) == ("message", "assistant", MODEL)
    assert [(block.type, block.text) for block in message.content] == [("text", TEXT)]
    assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)
    assert _usage(message.usage) == USAGE
    assert client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES).id == "msg_fake_2"


def test_request_id_header(client):
    raw = client.messages.with_raw_response.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    assert re.fullmatch(r"req_fake_\d+", raw.headers["request-id"])
    assert raw.parse().content[0].text == TEXT


def test_one_token_limit_stops_with_max_tokens(client):
    message = client.messages.create(model=MODEL, max_tokens=1, messages=MESSAGES)
    assert message.stop_reason == "max_tokens"
    assert message.content[0].text == TEXT


async def test_async_create(aclient):
    message = await aclient.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    assert (message.id, message.content[0].text) == ("msg_fake_1", TEXT)


# --- streaming ------------------------------------------------------------------------------


def test_raw_stream_event_sequence(client):
    events = list(client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES, stream=True))
    assert _event_types(events) == TEXT_EVENTS
    start = events[0].message
    assert (start.id, start.model, start.content, start.stop_reason) == ("msg_fake_1", MODEL, [], None)
    assert _usage(start.usage) == STREAM_START_USAGE
    assert events[1].index == 0 and events[1].content_block.type == "text" and events[1].content_block.text == ""
    assert "".join(_text_deltas(events)) == TEXT
    assert _text_deltas(events)[:2] == ["Hello ", "from "]
    delta = events[-2]
    assert (delta.delta.stop_reason, delta.delta.stop_sequence) == ("end_turn", None)
    assert delta.usage.output_tokens == USAGE["output_tokens"]


def test_stream_helper(client):
    with client.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as stream:
        pieces = list(stream.text_stream)
        message = stream.get_final_message()
    assert pieces == ["Hello ", "from ", "the ", "fake ", "Anthropic ", "server."]
    assert message.id == "msg_fake_1"
    assert message.content[0].text == TEXT
    assert message.stop_reason == "end_turn"
    assert _usage(message.usage) == USAGE  # message_start's input/cache counts + message_delta's output


def test_stream_forced_chunk_count(srv, client):
    stream = client.messages.create(
        model=MODEL, max_tokens=64, messages=MESSAGES, stream=True, extra_headers={"x-fake-chunks": "3"}
    )
    assert _text_deltas(list(stream)) == ["tok0 ", "tok1 ", "tok2 "]
    assert srv.requests[-1]["headers"]["x-fake-chunks"] == "3"
    with client.messages.stream(
        model=MODEL, max_tokens=64, messages=MESSAGES, extra_headers={"x-fake-chunks": "0"}
    ) as stream:
        assert stream.get_final_message().content[0].text == ""


async def test_async_stream_helper_and_raw_stream(aclient):
    async with aclient.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as stream:
        pieces = [piece async for piece in stream.text_stream]
        message = await stream.get_final_message()
    assert "".join(pieces) == TEXT == message.content[0].text
    raw = await aclient.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES, stream=True)
    assert _event_types([event async for event in raw]) == TEXT_EVENTS


# --- tools ---------------------------------------------------------------------------------


def test_tool_use(client):
    message = client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES, tools=[WEATHER_TOOL, TIME_TOOL])
    [block] = message.content
    assert (block.type, block.id, block.name, block.input) == ("tool_use", TOOL_USE_ID, "get_weather", TOOL_INPUT)
    assert message.stop_reason == "tool_use"


def test_answer_after_tool_result(client):
    message = client.messages.create(model=MODEL, max_tokens=64, messages=TOOL_FOLLOW_UP, tools=[WEATHER_TOOL])
    assert [(block.type, block.text) for block in message.content] == [("text", TOOL_RESULT_TEXT)]
    assert message.stop_reason == "end_turn"


def test_tool_choice(client):
    named = client.messages.create(
        model=MODEL,
        max_tokens=64,
        messages=MESSAGES,
        tools=[WEATHER_TOOL, TIME_TOOL],
        tool_choice={"type": "tool", "name": "get_time"},
    )
    assert named.content[0].name == "get_time"
    none = client.messages.create(
        model=MODEL,
        max_tokens=64,
        messages=MESSAGES,
        tools=[WEATHER_TOOL],
        extra_body={"tool_choice": {"type": "none"}},
    )
    assert (none.content[0].type, none.stop_reason) == ("text", "end_turn")


def test_tool_use_stream(client):
    events = list(
        client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES, tools=[WEATHER_TOOL], stream=True)
    )
    start = events[1].content_block
    assert (start.type, start.id, start.name, start.input) == ("tool_use", TOOL_USE_ID, "get_weather", {})
    fragments = [event.delta.partial_json for event in events if event.type == "content_block_delta"]
    assert fragments == ["", '{"city": ', '"Paris"}']
    assert {event.delta.type for event in events if event.type == "content_block_delta"} == {"input_json_delta"}
    assert events[-2].delta.stop_reason == "tool_use"
    with client.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES, tools=[WEATHER_TOOL]) as stream:
        message = stream.get_final_message()
    assert message.content[0].input == TOOL_INPUT
    assert message.stop_reason == "tool_use"


# --- thinking ------------------------------------------------------------------------------


def test_thinking(client):
    _require_param(client.messages.create, "thinking")
    message = client.messages.create(model=MODEL, max_tokens=2048, messages=MESSAGES, thinking=THINKING)
    thinking, text = message.content
    assert (thinking.type, thinking.thinking, thinking.signature) == ("thinking", THINKING_TEXT, SIGNATURE)
    assert (text.type, text.text) == ("text", TEXT)
    with_tool = client.messages.create(
        model=MODEL, max_tokens=2048, messages=MESSAGES, thinking=THINKING, tools=[WEATHER_TOOL]
    )
    assert [block.type for block in with_tool.content] == ["thinking", "tool_use"]


def test_thinking_stream(client):
    _require_param(client.messages.stream, "thinking")
    events = list(
        client.messages.create(model=MODEL, max_tokens=2048, messages=MESSAGES, thinking=THINKING, stream=True)
    )
    start = events[1].content_block
    assert (start.type, start.thinking) == ("thinking", "")
    deltas = [event.delta for event in events if event.type == "content_block_delta" and event.index == 0]
    assert [delta.type for delta in deltas] == ["thinking_delta"] * 3 + ["signature_delta"]
    assert "".join(delta.thinking for delta in deltas[:-1]) == THINKING_TEXT
    assert deltas[-1].signature == SIGNATURE
    assert [event.index for event in events if event.type == "content_block_start"] == [0, 1]
    with client.messages.stream(model=MODEL, max_tokens=2048, messages=MESSAGES, thinking=THINKING) as stream:
        assert "".join(stream.text_stream) == TEXT
        message = stream.get_final_message()
    assert message.content[0].thinking == THINKING_TEXT
    assert message.content[0].signature == SIGNATURE


# --- scripted content (x-fake-content) ------------------------------------------------------------


SCRIPTED_BLOCKS = [
    {"type": "thinking", "thinking": "Hmm, let me see.", "signature": "sig_s"},
    {"type": "redacted_thinking", "data": "redacted_data"},
    {"type": "server_tool_use", "id": "srvtoolu_s", "name": "web_search", "input": {"query": "paris"}},
    {"type": "web_search_tool_result", "tool_use_id": "srvtoolu_s", "content": []},
    {"type": "text", "text": "Sunny today."},
    {"type": "tool_use", "id": "toolu_s", "name": "get_weather", "input": {"city": "Paris"}},
]


def test_scripted_content_plain(client):
    message = client.messages.create(
        model=MODEL, max_tokens=64, messages=MESSAGES, extra_headers={"x-fake-content": json.dumps(SCRIPTED_BLOCKS[4:])}
    )
    assert [(block.type, getattr(block, "text", None)) for block in message.content] == [("text", "Sunny today."), ("tool_use", None)]
    assert message.content[1].input == {"city": "Paris"}
    assert message.stop_reason == "tool_use"


def test_scripted_content_streams_as_anthropic_does(srv):
    """Text, thinking and tool inputs arrive as deltas; redacted thinking and tool results whole at their start."""
    request = {"model": MODEL, "max_tokens": 64, "messages": MESSAGES, "stream": True}
    connection = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        headers = {"Content-Type": "application/json", "x-fake-content": json.dumps(SCRIPTED_BLOCKS)}
        connection.request("POST", "/v1/messages", json.dumps(request), headers)
        events = [json.loads(block.split("\ndata: ", 1)[1]) for block in connection.getresponse().read().decode().strip().split("\n\n")]
    finally:
        connection.close()
    starts = {event["index"]: event["content_block"] for event in events if event["type"] == "content_block_start"}
    assert starts == {
        0: {"type": "thinking", "thinking": "", "signature": ""},
        1: SCRIPTED_BLOCKS[1],
        2: {**SCRIPTED_BLOCKS[2], "input": {}},
        3: SCRIPTED_BLOCKS[3],
        4: {"type": "text", "text": ""},
        5: {**SCRIPTED_BLOCKS[5], "input": {}},
    }
    deltas = [(event["index"], event["delta"]) for event in events if event["type"] == "content_block_delta"]
    assert deltas == [
        (0, {"type": "thinking_delta", "thinking": "Hmm, "}),
        (0, {"type": "thinking_delta", "thinking": "let "}),
        (0, {"type": "thinking_delta", "thinking": "me "}),
        (0, {"type": "thinking_delta", "thinking": "see."}),
        (0, {"type": "signature_delta", "signature": "sig_s"}),
        (2, {"type": "input_json_delta", "partial_json": ""}),
        (2, {"type": "input_json_delta", "partial_json": '{"query": '}),
        (2, {"type": "input_json_delta", "partial_json": '"paris"}'}),
        (4, {"type": "text_delta", "text": "Sunny "}),
        (4, {"type": "text_delta", "text": "today."}),
        (5, {"type": "input_json_delta", "partial_json": ""}),
        (5, {"type": "input_json_delta", "partial_json": '{"city": '}),
        (5, {"type": "input_json_delta", "partial_json": '"Paris"}'}),
    ]
    assert [event["delta"]["stop_reason"] for event in events if event["type"] == "message_delta"] == ["tool_use"]


# --- structured outputs and count_tokens --------------------------------------------------------


def test_parse_structured_output(srv, client):
    _require(client.messages, "parse")
    message = client.messages.parse(model=MODEL, max_tokens=256, messages=MESSAGES, output_format=Weather)
    assert message.parsed_output == EXPECTED_WEATHER
    output_format = srv.requests[-1]["body"]["output_config"]["format"]
    assert output_format["type"] == "json_schema"
    assert "properties" in output_format["schema"]


@pytest.mark.parametrize("field", ["output_config", "output_format"])
def test_json_schema_in_the_body(client, field):
    json_format = {"type": "json_schema", "schema": WEATHER_SCHEMA}
    body = {"output_config": {"format": json_format}} if field == "output_config" else {"output_format": json_format}
    message = client.messages.create(model=MODEL, max_tokens=256, messages=MESSAGES, extra_body=body)
    assert json.loads(message.content[0].text) == {"city": "x", "temperature": 1.5, "unit": "celsius"}


def test_count_tokens(srv, client):
    if hasattr(client.messages, "count_tokens"):
        result = client.messages.count_tokens(model=MODEL, messages=MESSAGES)
        assert srv.requests[-1]["path"] == "/v1/messages/count_tokens"
    else:
        result = client.beta.messages.count_tokens(model=MODEL, messages=MESSAGES)
        assert srv.requests[-1]["path"] == "/v1/messages/count_tokens?beta=true"
    assert result.input_tokens == COUNT_TOKENS["input_tokens"]


# --- beta ------------------------------------------------------------------------------------


def test_beta_messages(srv, client):
    message = client.beta.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES)
    # anthropic 0.x marks beta calls with ?beta=true; 2.x sends only the anthropic-beta header (when betas given).
    assert srv.requests[-1]["path"] in ("/v1/messages?beta=true", "/v1/messages")
    assert (message.id, message.content[0].text) == ("msg_fake_1", TEXT)
    assert _usage(message.usage) == USAGE
    events = list(client.beta.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES, stream=True))
    assert _event_types(events) == TEXT_EVENTS
    _require(client.beta.messages, "stream")
    with client.beta.messages.stream(model=MODEL, max_tokens=64, messages=MESSAGES) as stream:
        assert "".join(stream.text_stream) == TEXT


# --- errors, slowness, broken streams ------------------------------------------------------------


@pytest.mark.parametrize(("model", "error_class", "status", "error_type"), ERROR_CASES)
def test_error_models(client, model, error_class, status, error_type):
    with pytest.raises(error_class) as caught:
        client.messages.create(model=model, max_tokens=64, messages=MESSAGES)
    error = caught.value
    assert error.status_code == status
    assert error.body == {"type": "error", "error": {"type": error_type, "message": f"fake error {status}"}}
    assert f"fake error {status}" in error.message
    assert error.response.headers["request-id"].startswith("req_fake_")
    if status == 429:
        assert error.response.headers["retry-after"] == "0"


def test_error_model_on_stream_fails_before_streaming(client):
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(model="error-429", max_tokens=64, messages=MESSAGES, stream=True)
    with pytest.raises(anthropic.RateLimitError):
        with client.messages.stream(model="error-429", max_tokens=64, messages=MESSAGES) as stream:
            stream.get_final_message()


def test_error_model_on_count_tokens(client):
    count_tokens = getattr(client.messages, "count_tokens", None) or client.beta.messages.count_tokens
    with pytest.raises(anthropic.BadRequestError):
        count_tokens(model="error-400", messages=MESSAGES)


async def test_async_error_model(aclient):
    with pytest.raises(anthropic.AuthenticationError):
        await aclient.messages.create(model="error-401", max_tokens=64, messages=MESSAGES)


def test_slow_model_answers_normally(client):
    started = time.monotonic()
    message = client.messages.create(model="slow-100", max_tokens=64, messages=MESSAGES)
    assert time.monotonic() - started >= 0.1
    assert (message.model, message.content[0].text) == ("slow-100", TEXT)


def test_timeout(client):
    started = time.monotonic()
    with pytest.raises(anthropic.APITimeoutError):
        client.messages.create(model="slow-2000", max_tokens=64, messages=MESSAGES, timeout=0.2)
    assert time.monotonic() - started < 1.5
    # The connection pool recovers.
    assert client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES).content[0].text == TEXT


async def test_async_timeout(aclient):
    with pytest.raises(anthropic.APITimeoutError):
        await aclient.messages.create(model="slow-2000", max_tokens=64, messages=MESSAGES, timeout=0.2)


def test_stream_error_raises_mid_iteration(client):
    received = []
    stream = client.messages.create(model="stream-error", max_tokens=64, messages=MESSAGES, stream=True)
    with pytest.raises(anthropic.APIStatusError) as caught:
        for event in stream:
            received.append(event.type)
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": MID_STREAM_ERROR_MESSAGE},
    }
    assert MID_STREAM_ERROR_MESSAGE in caught.value.message
    assert received == ["message_start", "content_block_start", "content_block_delta", "content_block_delta"]


def test_stream_error_through_the_helper(client):
    pieces = []
    with pytest.raises(anthropic.APIStatusError, match=MID_STREAM_ERROR_MESSAGE):
        with client.messages.stream(model="stream-error", max_tokens=64, messages=MESSAGES) as stream:
            for piece in stream.text_stream:
                pieces.append(piece)
    assert pieces == ["Hello ", "from "]


async def test_async_stream_error(aclient):
    stream = await aclient.messages.create(model="stream-error", max_tokens=64, messages=MESSAGES, stream=True)
    with pytest.raises(anthropic.APIStatusError, match=MID_STREAM_ERROR_MESSAGE):
        async for _ in stream:
            pass


def test_stream_drop_raises_connection_error(client):
    received = []
    stream = client.messages.create(model="stream-drop", max_tokens=64, messages=MESSAGES, stream=True)
    with pytest.raises(_transport_errors()):
        for event in stream:
            received.append(event.type)
    assert received[-2:] == ["content_block_delta"] * 2
    # The client can still talk to the server afterwards.
    assert client.messages.create(model=MODEL, max_tokens=64, messages=MESSAGES).content[0].text == TEXT


# --- Bedrock ---------------------------------------------------------------------------------


@pytest.fixture
def bedrock(srv):
    pytest.importorskip("boto3")
    client = anthropic.AnthropicBedrock(
        base_url=srv.bedrock_url,
        aws_region="us-east-1",
        aws_access_key="AKIDFAKE",
        aws_secret_key="fake",
        max_retries=0,
    )
    yield client
    client.close()


def test_bedrock_create(srv, bedrock):
    message = bedrock.messages.create(model=BEDROCK_MODEL, max_tokens=64, messages=MESSAGES)
    assert (message.id, message.model, message.content[0].text) == ("msg_fake_1", BEDROCK_MODEL, TEXT)
    assert _usage(message.usage) == USAGE
    request = srv.requests[-1]
    assert request["path"] == f"/bedrock/model/{BEDROCK_MODEL}/invoke"
    assert "model" not in request["body"] and "stream" not in request["body"]
    assert request["body"]["anthropic_version"]
    assert request["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDFAKE/")


def test_bedrock_stream(srv, bedrock):
    with bedrock.messages.stream(model=BEDROCK_MODEL, max_tokens=64, messages=MESSAGES) as stream:
        pieces = list(stream.text_stream)
        message = stream.get_final_message()
    assert srv.requests[-1]["path"] == f"/bedrock/model/{BEDROCK_MODEL}/invoke-with-response-stream"
    assert "".join(pieces) == TEXT == message.content[0].text
    assert _usage(message.usage) == USAGE
    events = list(bedrock.messages.create(model=BEDROCK_MODEL, max_tokens=64, messages=MESSAGES, stream=True))
    assert _event_types(events) == TEXT_EVENTS


def test_bedrock_tool_use_stream(bedrock):
    with bedrock.messages.stream(model=BEDROCK_MODEL, max_tokens=64, messages=MESSAGES, tools=[WEATHER_TOOL]) as stream:
        message = stream.get_final_message()
    assert (message.content[0].input, message.stop_reason) == (TOOL_INPUT, "tool_use")


def test_bedrock_errors(bedrock):
    with pytest.raises(anthropic.RateLimitError) as caught:
        bedrock.messages.create(model="error-429", max_tokens=64, messages=MESSAGES)
    assert caught.value.body == {"message": "fake error 429"}
    assert caught.value.response.headers["x-amzn-errortype"].startswith("ThrottlingException:")
    # anthropic 2.x turns the exception frame into an `error` event; 0.x raises a ValueError.
    stream = bedrock.messages.create(model="stream-error", max_tokens=64, messages=MESSAGES, stream=True)
    received = []
    with pytest.raises((anthropic.APIStatusError, ValueError), match="modelStreamErrorException"):
        for event in stream:
            received.append(event.type)
    assert received[-2:] == ["content_block_delta"] * 2


async def test_async_bedrock(srv):
    pytest.importorskip("boto3")
    client = anthropic.AsyncAnthropicBedrock(
        base_url=srv.bedrock_url,
        aws_region="us-east-1",
        aws_access_key="AKIDFAKE",
        aws_secret_key="fake",
        max_retries=0,
    )
    try:
        message = await client.messages.create(model=BEDROCK_MODEL, max_tokens=64, messages=MESSAGES)
        assert message.content[0].text == TEXT
        async with client.messages.stream(model=BEDROCK_MODEL, max_tokens=64, messages=MESSAGES) as stream:
            assert "".join([piece async for piece in stream.text_stream]) == TEXT
    finally:
        await client.close()


# --- Vertex ----------------------------------------------------------------------------------


@pytest.fixture
def vertex(srv):
    client = anthropic.AnthropicVertex(
        base_url=srv.vertex_url, region="us-east5", project_id="p", access_token="fake", max_retries=0
    )
    yield client
    client.close()


VERTEX_PATH = f"/vertex/projects/p/locations/us-east5/publishers/anthropic/models/{VERTEX_MODEL}"


def test_vertex_create_and_stream(srv, vertex):
    message = vertex.messages.create(model=VERTEX_MODEL, max_tokens=64, messages=MESSAGES)
    assert (message.model, message.content[0].text) == (VERTEX_MODEL, TEXT)
    request = srv.requests[-1]
    assert request["path"] == f"{VERTEX_PATH}:rawPredict"
    assert request["headers"]["authorization"] == "Bearer fake"
    assert "model" not in request["body"]
    with vertex.messages.stream(model=VERTEX_MODEL, max_tokens=64, messages=MESSAGES) as stream:
        assert "".join(stream.text_stream) == TEXT
    assert srv.requests[-1]["path"] == f"{VERTEX_PATH}:streamRawPredict"
    with pytest.raises(anthropic.RateLimitError) as caught:
        vertex.messages.create(model="error-429", max_tokens=64, messages=MESSAGES)
    assert caught.value.body["error"]["type"] == "rate_limit_error"


def test_vertex_count_tokens(srv, vertex):
    _require(vertex.messages, "count_tokens")
    assert vertex.messages.count_tokens(model=VERTEX_MODEL, messages=MESSAGES).input_tokens == 10
    assert (
        srv.requests[-1]["path"]
        == "/vertex/projects/p/locations/us-east5/publishers/anthropic/models/count-tokens:rawPredict"
    )


async def test_async_vertex(srv):
    client = anthropic.AsyncAnthropicVertex(
        base_url=srv.vertex_url, region="us-east5", project_id="p", access_token="fake", max_retries=0
    )
    try:
        message = await client.messages.create(model=VERTEX_MODEL, max_tokens=64, messages=MESSAGES)
        assert message.content[0].text == TEXT
    finally:
        await client.close()


# --- the wire format, read with a plain HTTP/1.1 client ----------------------------------------


def _post(connection: http.client.HTTPConnection, path: str, body: dict) -> http.client.HTTPResponse:
    connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    return connection.getresponse()


def _read_frames(data: bytes) -> list[tuple[dict[str, str], bytes]]:
    """Decodes AWS event-stream frames, checking both CRC32s (without botocore)."""
    frames = []
    while data:
        total, headers_length, prelude_crc = struct.unpack(">III", data[:12])
        assert prelude_crc == zlib.crc32(data[:8])
        assert struct.unpack(">I", data[total - 4 : total])[0] == zlib.crc32(data[: total - 4])
        raw_headers, headers, offset = data[12 : 12 + headers_length], {}, 0
        while offset < len(raw_headers):
            name_length = raw_headers[offset]
            name = raw_headers[offset + 1 : offset + 1 + name_length].decode()
            offset += 1 + name_length
            value_type, value_length = struct.unpack(">BH", raw_headers[offset : offset + 3])
            assert value_type == 7
            headers[name] = raw_headers[offset + 3 : offset + 3 + value_length].decode()
            offset += 3 + value_length
        frames.append((headers, data[12 + headers_length : total - 4]))
        data = data[total:]
    return frames


def test_event_stream_frame_layout():
    frame = encode_event_stream_frame({":event-type": "chunk"}, b"{}")
    assert len(frame) == 12 + (1 + 11 + 3 + 5) + 2 + 4
    assert _read_frames(frame) == [({":event-type": "chunk"}, b"{}")]


def test_wire_format_over_one_keep_alive_connection(srv):
    request = {"model": MODEL, "max_tokens": 64, "messages": MESSAGES}
    connection = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        response = _post(connection, "/v1/messages", request)
        payload = response.read()
        assert response.status == 200
        assert response.getheader("Content-Type") == "application/json"
        assert int(response.getheader("Content-Length")) == len(payload)
        assert response.getheader("request-id", "").startswith("req_fake_")
        assert list(json.loads(payload)) == [
            "id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"
        ]  # fmt: skip

        response = _post(connection, "/v1/messages?beta=true", request)
        assert json.loads(response.read())["content"] == [{"type": "text", "text": TEXT}]

        response = _post(connection, "/v1/messages", {**request, "stream": True})
        blocks = response.read().decode().strip().split("\n\n")
        assert response.getheader("Content-Type").startswith("text/event-stream")
        assert response.getheader("Transfer-Encoding") == "chunked"
        assert all(re.fullmatch(r"event: (\S+)\ndata: \{\"type\": \"\1\".*\}", block) for block in blocks)
        assert [block.split("\n")[0][len("event: ") :] for block in blocks] == WIRE_TEXT_EVENTS

        response = _post(connection, f"/bedrock/model/{BEDROCK_MODEL}/invoke-with-response-stream", request)
        frames = _read_frames(response.read())
        assert response.getheader("Content-Type") == "application/vnd.amazon.eventstream"
        assert response.getheader("x-amzn-requestid", "").startswith("req_fake_")
        assert {json.dumps(headers) for headers, _ in frames} == {
            json.dumps({":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"})
        }
        events = [json.loads(base64.b64decode(json.loads(payload)["bytes"])) for _, payload in frames]
        assert [event["type"] for event in events] == TEXT_EVENTS  # Bedrock sends no ping
        assert events[-1]["amazon-bedrock-invocationMetrics"] == BEDROCK_METRICS

        response = _post(connection, "/bedrock/model/stream-error/invoke-with-response-stream", request)
        headers, payload = _read_frames(response.read())[-1]
        assert headers[":message-type"] == "exception"
        assert headers[":exception-type"] == "modelStreamErrorException"
        assert json.loads(payload) == {"message": MID_STREAM_ERROR_MESSAGE}

        response = _post(connection, "/v1/nope", {})
        assert response.status == 404
        assert json.loads(response.read()) == {
            "type": "error",
            "error": {"type": "not_found_error", "message": "Not found"},
        }
    finally:
        connection.close()
    assert len(srv.requests) == 6
