"""Chat Completions, not streamed: one CLIENT span that says everything the conventions ask for."""

from __future__ import annotations

import pydantic
import pytest
from genai_prices import Usage, calc_price
from opentelemetry.trace import SpanKind, StatusCode

from tests.fakes.openai_server import CHAT_TEXT
from tests.integration.openai.helpers import attrs, json_attr, one_span, output_text, requires, resolve, text_message

REQUEST = dict(
    model="gpt-4o-mini",
    messages=[{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Say hello."}],
    temperature=0.2,
    top_p=0.9,
    max_tokens=50,
    stop="END",
    seed=7,
    n=2,
)

GPT_4O_MINI_COST = float(
    calc_price(Usage(input_tokens=12, cache_read_tokens=4, output_tokens=7), "gpt-4o-mini", provider_id="openai").total_price
)


def expected_attributes(srv, completion) -> dict:
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "server.address": "127.0.0.1",
        "server.port": srv.port,
        "openai.api.type": "chat_completions",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.top_p": 0.9,
        "gen_ai.request.max_tokens": 50,
        "gen_ai.request.stop_sequences": ["END"],
        "gen_ai.request.seed": 7,
        "gen_ai.request.choice.count": 2,
        "gen_ai.response.id": completion.id,
        "gen_ai.response.model": "gpt-4o-mini",
        "gen_ai.response.finish_reasons": ["stop", "stop"],
        "openai.response.service_tier": "default",
        "openai.response.system_fingerprint": "fp_fake",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 7,
        "gen_ai.usage.cache_read.input_tokens": 4,
        "gen_ai.usage.reasoning.output_tokens": 2,
        "gen_ai.usage.cost": pytest.approx(GPT_4O_MINI_COST),
        "gen_ai.input.messages": [text_message("system", "You are terse."), text_message("user", "Say hello.")],
        "gen_ai.output.messages": [output_text(CHAT_TEXT), output_text(CHAT_TEXT)],
    }


def assert_chat_span(span, srv, completion) -> None:
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    assert span.events == ()
    actual = attrs(span)
    actual["gen_ai.input.messages"] = json_attr(span, "gen_ai.input.messages")
    actual["gen_ai.output.messages"] = json_attr(span, "gen_ai.output.messages")
    assert actual == expected_attributes(srv, completion)


def test_chat_sync(client, exporter, srv):
    completion = client.chat.completions.create(**REQUEST)

    assert [c.message.content for c in completion.choices] == [CHAT_TEXT, CHAT_TEXT]
    assert_chat_span(one_span(exporter), srv, completion)


async def test_chat_async(aclient, exporter, srv):
    completion = await aclient.chat.completions.create(**REQUEST)

    assert [c.message.content for c in completion.choices] == [CHAT_TEXT, CHAT_TEXT]
    assert_chat_span(one_span(exporter), srv, completion)


def test_multimodal_user_content_parts(client, exporter):
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "input_audio", "input_audio": {"data": "UklGRg==", "format": "wav"}},
    ]
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": content, "name": "ann"}])

    assert json_attr(one_span(exporter), "gen_ai.input.messages") == [
        {
            "role": "user",
            "name": "ann",
            "parts": [
                {"type": "text", "content": "What is this?"},
                {"type": "uri", "modality": "image", "uri": "https://example.com/cat.png"},
                {"type": "blob", "modality": "image", "mime_type": "image/png", "content": "iVBORw0KGgo="},
                {"type": "blob", "modality": "audio", "mime_type": "audio/wav", "content": "UklGRg=="},
            ],
        }
    ]


def test_max_tokens_reached_is_length(client, exporter):
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=1)

    span = one_span(exporter)
    assert span.attributes["gen_ai.request.max_tokens"] == 1
    assert span.attributes["gen_ai.response.finish_reasons"] == ("length",)
    assert json_attr(span, "gen_ai.output.messages")[0]["finish_reason"] == "length"


def test_max_tokens_of_zero_is_recorded_as_passed(client, exporter):
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], max_tokens=0)

    assert one_span(exporter).attributes["gen_ai.request.max_tokens"] == 0


def test_json_object_response_format_is_json_output(client, exporter):
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "json"}], response_format={"type": "json_object"})

    assert one_span(exporter).attributes["gen_ai.output.type"] == "json"


def test_json_schema_response_format_is_json_output(client, exporter):
    schema = {"type": "object", "properties": {"ok": {"type": "boolean"}}, "required": ["ok"]}
    completion = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "json"}],
        response_format={"type": "json_schema", "json_schema": {"name": "answer", "schema": schema}},
    )

    assert completion.choices[0].message.content == '{"ok": true}'
    assert one_span(exporter).attributes["gen_ai.output.type"] == "json"


def test_plain_text_has_no_output_type(client, exporter):
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])

    assert "gen_ai.output.type" not in one_span(exporter).attributes


# --- structured outputs: `parse` -------------------------------------------------------------


class City(pydantic.BaseModel):
    name: str
    population: int


PARSE_METHODS = [
    pytest.param("chat.completions.parse", marks=requires("chat.completions.parse")),
    pytest.param("beta.chat.completions.parse", marks=requires("beta.chat.completions.parse")),
]


def assert_parse_span(exporter, completion) -> None:
    assert completion.choices[0].message.parsed == City(name="x", population=1)
    span = one_span(exporter)  # parse → create inside the library adds no second span
    assert span.name == "chat gpt-4o-mini"
    assert span.attributes["gen_ai.output.type"] == "json"
    assert span.attributes["gen_ai.response.id"] == completion.id
    assert json_attr(span, "gen_ai.output.messages") == [output_text('{"name": "x", "population": 1}')]


@pytest.mark.parametrize("method", PARSE_METHODS)
def test_parse_sync(client, exporter, method):
    parse = resolve(client, method)
    completion = parse(model="gpt-4o-mini", messages=[{"role": "user", "content": "A city?"}], response_format=City)

    assert_parse_span(exporter, completion)


@pytest.mark.parametrize("method", PARSE_METHODS)
async def test_parse_async(aclient, exporter, method):
    parse = resolve(aclient, method)
    completion = await parse(model="gpt-4o-mini", messages=[{"role": "user", "content": "A city?"}], response_format=City)

    assert_parse_span(exporter, completion)
