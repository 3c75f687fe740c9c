"""The Responses API: plain, streamed (`stream=True` and the `responses.stream` helper), with tools."""

from __future__ import annotations

import openai
import pydantic
import pytest
from genai_prices import Usage, calc_price
from opentelemetry.trace import SpanKind, StatusCode

from tests.fakes.openai_server import RESPONSES_TEXT
from tests.integration.openai.helpers import assert_span_ends_at_with_exit, attrs, exception_events, json_attr, one_span, output_text, requires, spans, text_message

pytestmark = requires("responses")

REQUEST = dict(model="gpt-4o", input="Say hello.", instructions="Be brief.", temperature=0.5, max_output_tokens=100)
GPT_4O_COST = float(calc_price(Usage(input_tokens=15, cache_read_tokens=5, output_tokens=9), "gpt-4o", provider_id="openai").total_price)
TOOLS = [
    {
        "type": "function",
        "name": "get_weather",
        "description": "Weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "strict": True,
    }
]
TOOL_CALL_OUTPUT = [
    {
        "role": "assistant",
        "parts": [{"type": "tool_call", "id": "call_fake_1", "name": "get_weather", "arguments": {"city": "Paris"}}],
        "finish_reason": "tool_call",
    }
]


def assert_responses_span(span, srv, response_id: str, streamed: bool = False) -> None:
    assert span.name == "chat gpt-4o"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    actual = attrs(span)
    if streamed:
        first_chunk = actual.pop("gen_ai.response.time_to_first_chunk")
        assert isinstance(first_chunk, float) and first_chunk > 0
    for name in ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"):
        actual[name] = json_attr(span, name)
    expected = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "server.address": "127.0.0.1",
        "server.port": srv.port,
        "openai.api.type": "responses",
        "gen_ai.request.temperature": 0.5,
        "gen_ai.request.max_tokens": 100,
        "gen_ai.system_instructions": [{"type": "text", "content": "Be brief."}],
        "gen_ai.input.messages": [text_message("user", "Say hello.")],
        "gen_ai.response.id": response_id,
        "gen_ai.response.model": "gpt-4o",
        "openai.response.service_tier": "default",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.usage.input_tokens": 15,
        "gen_ai.usage.output_tokens": 9,
        "gen_ai.usage.cache_read.input_tokens": 5,
        "gen_ai.usage.reasoning.output_tokens": 3,
        "gen_ai.usage.cost": pytest.approx(GPT_4O_COST),
        "gen_ai.output.messages": [output_text(RESPONSES_TEXT)],
    }
    if streamed:
        expected["gen_ai.request.stream"] = True
    assert actual == expected


def test_responses_sync(client, exporter, srv):
    response = client.responses.create(**REQUEST)

    assert response.output_text == RESPONSES_TEXT
    assert_responses_span(one_span(exporter), srv, response.id)


async def test_responses_async(aclient, exporter, srv):
    response = await aclient.responses.create(**REQUEST)

    assert response.output_text == RESPONSES_TEXT
    assert_responses_span(one_span(exporter), srv, response.id)


def test_responses_stream_sync(client, exporter, srv):
    stream = client.responses.create(**REQUEST, stream=True)
    assert isinstance(stream, openai.Stream)
    events = []
    for event in stream:
        assert spans(exporter) == []
        events.append(event)

    assert events[-1].type == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == RESPONSES_TEXT
    assert_responses_span(one_span(exporter), srv, events[-1].response.id, streamed=True)


async def test_responses_stream_async(aclient, exporter, srv):
    stream = await aclient.responses.create(**REQUEST, stream=True)
    assert isinstance(stream, openai.AsyncStream)
    events = [event async for event in stream]

    assert events[-1].type == "response.completed"
    assert_responses_span(one_span(exporter), srv, events[-1].response.id, streamed=True)


@requires("responses.stream")
def test_responses_stream_helper_sync(client, exporter, srv):
    with client.responses.stream(**REQUEST) as stream:
        for _ in stream:
            pass
        final = stream.get_final_response()

    assert final.output_text == RESPONSES_TEXT
    assert_responses_span(one_span(exporter), srv, final.id, streamed=True)


@requires("responses.stream")
async def test_responses_stream_helper_async(aclient, exporter, srv):
    async with aclient.responses.stream(**REQUEST) as stream:
        async for _ in stream:
            pass
        final = await stream.get_final_response()

    assert final.output_text == RESPONSES_TEXT
    assert_responses_span(one_span(exporter), srv, final.id, streamed=True)


def test_responses_function_tool_call(client, exporter):
    response = client.responses.create(model="gpt-4o", input="Weather in Paris?", tools=TOOLS)

    assert response.output[0].type == "function_call"
    span = one_span(exporter)
    assert json_attr(span, "gen_ai.tool.definitions") == [
        {"type": "function", "name": "get_weather", "description": "Weather in a city.", "parameters": TOOLS[0]["parameters"]}
    ]
    assert span.attributes["gen_ai.response.finish_reasons"] == ("tool_call",)
    assert json_attr(span, "gen_ai.output.messages") == TOOL_CALL_OUTPUT


def test_responses_function_tool_call_streamed(client, exporter):
    list(client.responses.create(model="gpt-4o", input="Weather in Paris?", tools=TOOLS, stream=True))

    span = one_span(exporter)
    assert span.attributes["gen_ai.response.finish_reasons"] == ("tool_call",)
    assert json_attr(span, "gen_ai.output.messages") == TOOL_CALL_OUTPUT


def test_responses_function_call_output_follow_up(client, exporter):
    items = [
        {"role": "user", "content": "Weather in Paris?"},
        {"type": "function_call", "call_id": "call_fake_1", "name": "get_weather", "arguments": '{"city": "Paris"}'},
        {"type": "function_call_output", "call_id": "call_fake_1", "output": "sunny"},
    ]
    client.responses.create(model="gpt-4o", input=items, tools=TOOLS)

    assert json_attr(one_span(exporter), "gen_ai.input.messages") == [
        text_message("user", "Weather in Paris?"),
        {"role": "assistant", "parts": [{"type": "tool_call", "id": "call_fake_1", "name": "get_weather", "arguments": {"city": "Paris"}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "id": "call_fake_1", "response": "sunny"}]},
    ]


def test_responses_mid_stream_error(client, exporter):
    stream = client.responses.create(model="stream-error", input="hi", stream=True)
    with pytest.raises(openai.APIError) as raised:
        for _ in stream:
            pass
    span = one_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == type(raised.value).__qualname__
    assert len(exception_events(span)) == 1


class City(pydantic.BaseModel):
    name: str
    population: int


@requires("responses.parse")
def test_responses_parse(client, exporter):
    response = client.responses.parse(model="gpt-4o", input="A city?", text_format=City)

    assert response.output_parsed == City(name="x", population=1)
    span = one_span(exporter)
    assert span.attributes["gen_ai.output.type"] == "json"
    assert span.attributes["openai.api.type"] == "responses"
    assert json_attr(span, "gen_ai.output.messages") == [output_text('{"name": "x", "population": 1}')]


@requires("responses.parse")
async def test_responses_parse_async(aclient, exporter):
    response = await aclient.responses.parse(model="gpt-4o", input="A city?", text_format=City)

    assert response.output_parsed == City(name="x", population=1)
    assert one_span(exporter).attributes["gen_ai.output.type"] == "json"


@requires("responses.stream")
def test_responses_stream_helper_ends_the_span_at_with_exit(client, exporter):
    assert_span_ends_at_with_exit(lambda: client.responses.stream(**REQUEST), exporter)
