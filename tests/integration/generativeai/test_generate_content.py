"""google-generativeai: `GenerativeModel.generate_content` (plain and `stream=True`) and chat
turns, each request one CLIENT span that says what the google-genai spans say. The SDK's
protos (google-ai-generativelanguage) have no `response_id`: there is no response id to record."""

from __future__ import annotations

import base64

import pytest
from genai_prices import Usage, calc_price
from google.generativeai import protos
from opentelemetry.trace import SpanKind, StatusCode

from tests.fakes.gemini_server import TEXT
from tests.integration.generativeai.conftest import MODEL
from tests.integration.spans import attrs, json_attr, one_span, spans

WORDS = [word + " " for word in TEXT.split(" ")[:-1]] + [TEXT.split(" ")[-1]]  # the fake streams a word per chunk
# The fake's usage: prompt 10 (4 of them cached), candidates 6, thoughts 2; the SDK's protos
# drop the thoughts count (the fake's stands for a thinking model's), so the span has none.
GEMINI_COST = float(calc_price(Usage(input_tokens=10, cache_read_tokens=4, output_tokens=6), MODEL, provider_id="google").total_price)
# What the SDK's protos can say depends on their version (google-ai-generativelanguage 0.6.9,
# with google-generativeai 0.8.0, has no penalties and no model version)
PENALTIES = "presence_penalty" in protos.GenerationConfig.meta.fields
RESPONSE_MODEL = {"gen_ai.response.model": MODEL} if "model_version" in protos.GenerateContentResponse.meta.fields else {}
CONFIG = {
    "temperature": 0.2,
    "top_p": 0.9,
    "top_k": 40,
    "max_output_tokens": 50,
    "stop_sequences": ["END"],
    "candidate_count": 2,
    **({"presence_penalty": 0.1, "frequency_penalty": 0.3} if PENALTIES else {}),
}
USAGE = {
    "gen_ai.usage.input_tokens": 10,
    "gen_ai.usage.output_tokens": 6,
    "gen_ai.usage.cache_read.input_tokens": 4,
    "gen_ai.usage.cost": pytest.approx(GEMINI_COST, rel=1e-9),
}


def endpoint(srv) -> dict:
    return {
        "gen_ai.operation.name": "generate_content",
        "gen_ai.provider.name": "gcp.gemini",
        "gen_ai.request.model": MODEL,
        "server.address": "127.0.0.1",
        "server.port": srv.port,
    }


def with_content(span) -> dict:
    actual = attrs(span)
    for key in ("gen_ai.system_instructions", "gen_ai.input.messages", "gen_ai.output.messages"):
        if key in actual:
            actual[key] = json_attr(span, key)
    return actual


def test_generate_content(genai, exporter, srv):
    model = genai.GenerativeModel(f"models/{MODEL}", system_instruction="Be brief.", generation_config=CONFIG)
    response = model.generate_content("Say hello")

    assert [candidate.content.parts[0].text for candidate in response.candidates] == [TEXT, TEXT]
    span = one_span(exporter)
    assert (span.name, span.kind, span.status.status_code, span.parent) == (f"generate_content {MODEL}", SpanKind.CLIENT, StatusCode.UNSET, None)
    assert with_content(span) == {
        **endpoint(srv),
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.top_k": 40.0,
        "gen_ai.request.max_tokens": 50,
        "gen_ai.request.stop_sequences": ["END"],
        "gen_ai.request.choice.count": 2,
        **({"gen_ai.request.presence_penalty": 0.1, "gen_ai.request.frequency_penalty": 0.3} if PENALTIES else {}),
        **RESPONSE_MODEL,
        "gen_ai.response.finish_reasons": ["STOP", "STOP"],
        **USAGE,
        "gen_ai.system_instructions": [{"type": "text", "content": "Be brief."}],
        "gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": "Say hello"}]}],
        "gen_ai.output.messages": [
            {"role": "assistant", "parts": [{"type": "text", "content": TEXT}], "finish_reason": "stop"},
            {"role": "assistant", "parts": [{"type": "text", "content": TEXT}], "finish_reason": "stop"},
        ],
    }


def test_a_stream_ends_once_with_the_joined_text_and_the_last_usage(genai, exporter, srv):
    stream = genai.GenerativeModel(MODEL).generate_content("Say hello", stream=True)
    assert exporter.get_finished_spans() == ()  # open while the user reads
    assert [chunk.text for chunk in stream] == WORDS

    span = one_span(exporter)
    assert span.name == f"generate_content {MODEL}"
    actual = with_content(span)
    assert actual.pop("gen_ai.response.time_to_first_chunk") > 0
    assert actual == {
        **endpoint(srv),
        "gen_ai.request.stream": True,
        **RESPONSE_MODEL,
        "gen_ai.response.finish_reasons": ["STOP"],
        **USAGE,
        "gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": "Say hello"}]}],
        "gen_ai.output.messages": [{"role": "assistant", "parts": [{"type": "text", "content": TEXT}], "finish_reason": "stop"}],
    }


def test_each_chat_turn_is_one_span_with_the_history(genai, exporter):
    chat = genai.GenerativeModel(MODEL).start_chat()
    chat.send_message("Hi")
    assert "".join(chunk.text for chunk in chat.send_message("Again", stream=True)) == TEXT

    first, second = spans(exporter)
    assert [first.name, second.name] == [f"generate_content {MODEL}"] * 2
    assert (first.parent, second.parent) == (None, None)
    assert (first.attributes.get("gen_ai.request.stream"), second.attributes["gen_ai.request.stream"]) == (None, True)
    assert json_attr(second, "gen_ai.input.messages") == [
        {"role": "user", "parts": [{"type": "text", "content": "Hi"}]},
        {"role": "assistant", "parts": [{"type": "text", "content": TEXT}]},
        {"role": "user", "parts": [{"type": "text", "content": "Again"}]},
    ]


def test_contents_in_the_parts_schema_and_tools(genai, exporter):
    weather = {"name": "get_weather", "description": "Weather for a city", "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}}}
    contents = [
        {"role": "user", "parts": [{"text": "Weather in Paris?"}]},
        {"role": "model", "parts": [{"function_call": {"name": "get_weather", "args": {"city": "Paris"}}}]},
        {"role": "user", "parts": [{"function_response": {"name": "get_weather", "response": {"result": "sunny"}}}]},
        {"role": "user", "parts": [{"inline_data": {"mime_type": "image/png", "data": b"\x89PNG fake"}}, {"text": "Describe it."}]},
    ]
    genai.GenerativeModel(MODEL, tools=[{"function_declarations": [weather]}]).generate_content(contents)

    span = one_span(exporter)
    assert json_attr(span, "gen_ai.input.messages") == [
        {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]},
        {"role": "assistant", "parts": [{"type": "tool_call", "name": "get_weather", "arguments": {"city": "Paris"}}]},
        {"role": "tool", "parts": [{"type": "tool_call_response", "response": {"result": "sunny"}}]},
        {
            "role": "user",
            "parts": [
                {"type": "blob", "modality": "image", "mime_type": "image/png", "content": base64.b64encode(b"\x89PNG fake").decode()},
                {"type": "text", "content": "Describe it."},
            ],
        },
    ]
    assert json_attr(span, "gen_ai.tool.definitions") == [
        {"type": "function", "name": "get_weather", "description": "Weather for a city", "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}}}
    ]


def test_a_function_call_reply(genai, exporter):
    weather = {"name": "get_weather", "description": "Weather for a city", "parameters": {"type": "OBJECT", "properties": {"city": {"type": "STRING"}}}}
    genai.GenerativeModel(MODEL, tools=[{"function_declarations": [weather]}]).generate_content("Weather in Paris?")

    assert json_attr(one_span(exporter), "gen_ai.output.messages") == [
        {"role": "assistant", "parts": [{"type": "tool_call", "name": "get_weather", "arguments": {"city": "Paris"}}], "finish_reason": "tool_call"}
    ]


def test_embed_content(genai, exporter, srv):
    result = genai.embed_content(model="models/text-embedding-004", content="hi", output_dimensionality=4)

    assert result["embedding"] == [0.0, 0.125, 0.25, 0.375]
    span = one_span(exporter)
    assert span.name == "embeddings text-embedding-004"
    assert with_content(span) == {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.provider.name": "gcp.gemini",
        "gen_ai.request.model": "text-embedding-004",
        "server.address": "127.0.0.1",
        "server.port": srv.port,
        "gen_ai.embeddings.dimension.count": 4,
        "gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": "hi"}]}],
    }


def get_weather(city: str) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


def test_automatic_function_calling_is_one_span_per_round_trip(genai, exporter):
    chat = genai.GenerativeModel(MODEL, tools=[get_weather]).start_chat(enable_automatic_function_calling=True)
    assert chat.send_message("Weather in Paris?").text == "The weather is sunny."

    first, second = spans(exporter)
    assert [first.name, second.name] == [f"generate_content {MODEL}"] * 2
    assert json_attr(first, "gen_ai.output.messages")[0]["parts"] == [{"type": "tool_call", "name": "get_weather", "arguments": {"city": "Paris"}}]
    assert [m["role"] for m in json_attr(second, "gen_ai.input.messages")] == ["user", "assistant", "tool"]
