"""generate_content, not streamed: one CLIENT span per model round trip that says everything
the conventions ask for, for the Gemini API and Vertex AI, sync and async."""

from __future__ import annotations

import base64

import pytest
from genai_prices import Usage, calc_price
from google.genai import types
from opentelemetry.trace import SpanKind, StatusCode

from tests.fakes.gemini_server import TEXT, THOUGHT_TEXT
from tests.integration.genai.conftest import MODEL
from tests.integration.spans import attrs, json_attr, one_span

# The fake's usage: prompt 10 (4 of them cached), candidates 6, thoughts 2. Google bills
# thoughts as output; genai-prices reads the same counts off Gemini's usage.
GEMINI_COST = float(
    calc_price(Usage(input_tokens=10, cache_read_tokens=4, output_tokens=8), MODEL, provider_id="google").total_price
)
WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="Weather for a city",
    parameters={"type": "OBJECT", "properties": {"city": {"type": "STRING"}}},  # Google's schema: every version has it
)
CONFIG = types.GenerateContentConfig(
    system_instruction="Be brief.",
    temperature=0.2,
    top_p=0.9,
    top_k=40,
    max_output_tokens=50,
    stop_sequences=["END"],
    candidate_count=2,
    seed=7,
    presence_penalty=0.1,
    frequency_penalty=0.3,
)


def response_id(response) -> dict:
    """google-genai < 1.5 does not read Gemini's responseId: then there is none to record."""
    found = getattr(response, "response_id", None)
    return {} if found is None else {"gen_ai.response.id": found}


def expected(srv, response, provider="gcp.gemini") -> dict:
    return {
        **response_id(response),
        "gen_ai.operation.name": "generate_content",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": MODEL,
        "server.address": "127.0.0.1",
        "server.port": srv.port,
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.top_k": 40.0,
        "gen_ai.request.max_tokens": 50,
        "gen_ai.request.stop_sequences": ["END"],
        "gen_ai.request.choice.count": 2,
        "gen_ai.request.seed": 7,
        "gen_ai.request.presence_penalty": 0.1,
        "gen_ai.request.frequency_penalty": 0.3,
        "gen_ai.response.model": MODEL,
        "gen_ai.response.finish_reasons": ["STOP", "STOP"],
        "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 8,
        "gen_ai.usage.cache_read.input_tokens": 4,
        "gen_ai.usage.reasoning.output_tokens": 2,
        "gen_ai.usage.cost": pytest.approx(GEMINI_COST, rel=1e-9),
        "gen_ai.system_instructions": [{"type": "text", "content": "Be brief."}],
        "gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": "Say hello"}]}],
        "gen_ai.output.messages": [
            {"role": "assistant", "parts": [{"type": "text", "content": TEXT}], "finish_reason": "stop"},
            {"role": "assistant", "parts": [{"type": "text", "content": TEXT}], "finish_reason": "stop"},
        ],
    }


def assert_span(span, srv, response, provider="gcp.gemini") -> None:
    assert span.name == f"generate_content {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert span.parent is None
    actual = attrs(span)
    for key in ("gen_ai.system_instructions", "gen_ai.input.messages", "gen_ai.output.messages"):
        actual[key] = json_attr(span, key)
    assert actual == expected(srv, response, provider)


def test_generate_content_sync(client, exporter, srv):
    response = client.models.generate_content(model=MODEL, contents="Say hello", config=CONFIG)

    assert response.text == TEXT
    assert_span(one_span(exporter), srv, response)


async def test_generate_content_async(client, exporter, srv):
    response = await client.aio.models.generate_content(model=MODEL, contents="Say hello", config=CONFIG)

    assert response.text == TEXT
    assert_span(one_span(exporter), srv, response)


def test_vertex_client_is_vertex_ai(vertex, exporter, srv):
    response = vertex.models.generate_content(model=MODEL, contents="Say hello", config=CONFIG)

    assert_span(one_span(exporter), srv, response, provider="gcp.vertex_ai")


def test_config_as_a_dict_in_either_spelling(client, exporter):
    client.models.generate_content(model=MODEL, contents="Say hello", config={"temperature": 0.5, "max_output_tokens": 9, "response_mime_type": "application/json"})

    span = one_span(exporter)
    assert (span.attributes["gen_ai.request.temperature"], span.attributes["gen_ai.request.max_tokens"]) == (0.5, 9)
    assert span.attributes["gen_ai.output.type"] == "json"


def test_contents_in_the_parts_schema(client, exporter):
    image = types.Part.from_bytes(data=b"\x89PNG fake", mime_type="image/png")
    document = types.Part.from_uri(file_uri="gs://bucket/doc.pdf", mime_type="application/pdf")
    contents = [
        {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
        types.Content(role="model", parts=[types.Part.from_function_call(name="get_weather", args={"city": "Paris"})]),
        {"role": "user", "parts": [{"function_response": {"name": "get_weather", "response": {"result": "sunny"}}}]},
        image,
        document,
        "Describe these.",
    ]
    config = types.GenerateContentConfig(tools=[types.Tool(function_declarations=[WEATHER])])
    client.models.generate_content(model=MODEL, contents=contents, config=config)

    span = one_span(exporter)
    assert json_attr(span, "gen_ai.input.messages") == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "name": "get_weather", "arguments": {"city": "Paris"}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "response": {"result": "sunny"}}]},
        {
            "role": "user",
            "parts": [
                {"type": "blob", "modality": "image", "content": base64.b64encode(b"\x89PNG fake").decode(), "mime_type": "image/png"},
                {"type": "uri", "modality": "document", "uri": "gs://bucket/doc.pdf", "mime_type": "application/pdf"},
                {"type": "text", "content": "Describe these."},
            ],
        },
    ]
    assert json_attr(span, "gen_ai.tool.definitions") == [
        {
            "type": "function",
            "name": "get_weather",
            "description": "Weather for a city",
            "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}},
        }
    ]
    assert json_attr(span, "gen_ai.output.messages") == [  # the last message is no function response: the fake calls the tool
        {"role": "assistant", "parts": [{"type": "tool_call", "name": "get_weather", "arguments": {"city": "Paris"}}], "finish_reason": "tool_call"}
    ]


def test_function_call_and_thoughts_in_the_output(client, exporter):
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[WEATHER])],
        thinking_config=types.ThinkingConfig(include_thoughts=True),
    )
    client.models.generate_content(model=MODEL, contents="Weather in Paris?", config=config)

    span = one_span(exporter)
    assert json_attr(span, "gen_ai.output.messages") == [
        {
            "role": "assistant",
            "parts": [
                {"type": "reasoning", "content": THOUGHT_TEXT},
                {"type": "tool_call", "name": "get_weather", "arguments": {"city": "Paris"}},
            ],
            "finish_reason": "tool_call",
        }
    ]
    assert span.attributes["gen_ai.response.finish_reasons"] == ("STOP",)


def test_max_tokens_reached_is_length(client, exporter):
    client.models.generate_content(model=MODEL, contents="hi", config={"max_output_tokens": 1})

    span = one_span(exporter)
    assert span.attributes["gen_ai.response.finish_reasons"] == ("MAX_TOKENS",)
    assert json_attr(span, "gen_ai.output.messages")[0]["finish_reason"] == "length"


def test_count_tokens_is_not_traced(client, exporter):
    assert client.models.count_tokens(model=MODEL, contents="hi").total_tokens == 10
    assert exporter.get_finished_spans() == ()


@pytest.mark.parametrize(
    "contents",
    [
        "a",
        ["a", "b"],
        [types.Part.from_text(text="a"), "b"],
        [{"role": "user", "parts": [{"text": "a"}]}, {"role": "model", "parts": [{"text": "b"}]}, "c", "d"],
    ],
    ids=["str", "list of str", "parts", "contents then parts"],
)
def test_messages_group_contents_as_the_sdk_sends_them(client, exporter, srv, contents):
    client.models.generate_content(model=MODEL, contents=contents)

    sent = srv.requests[-1]["body"]["contents"]
    roles = {"user": "user", "model": "assistant"}
    expected = [{"role": roles[c["role"]], "parts": [{"type": "text", "content": p["text"]} for p in c["parts"]]} for c in sent]
    assert json_attr(one_span(exporter), "gen_ai.input.messages") == expected
