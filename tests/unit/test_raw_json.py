"""Content spliced into the request body as JSON text (`RawJson`), not parsed and re-encoded.

The exporter maps with `raw_json=True`: content and metadata JSON that needs no cutting stays
text, checked valid, and `client.encode` splices it in. What reaches Opik must be what the
parsed path gives; anything the text cannot carry safely (invalid JSON, NaN, media, oversize)
takes the parsed path.
"""

from __future__ import annotations

import gzip
import json

import pytest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opik_otel import semconv as sc
from opik_otel._ids import OpikIdMapper, UuidV7IdGenerator
from opik_otel.exporters.opik.client import encode
from opik_otel.exporters.opik.exporter import _shrink_item
from opik_otel.exporters.opik.mapping import span_to_opik
from opik_otel.exporters.opik.payload import RawJson, parsed

# Long enough to be spliced (shorter JSON is cheaper to parse and encode again)
MESSAGES = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Wetter in Köln? \u2603 " * 60}]}], ensure_ascii=False)
OUTPUT = json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "Sonnig. " * 150}], "finish_reason": "stop"}])
TOOLS = json.dumps([{"name": f"tool_{i}", "description": "A tool of the agent." * 3} for i in range(20)])


@pytest.fixture
def finished():
    exporter = InMemorySpanExporter()
    provider = TracerProvider(id_generator=UuidV7IdGenerator(), resource=Resource.create({"service.name": "svc"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test")

    def make(attributes: dict) -> object:
        exporter.clear()
        tracer.start_span("chat m", attributes=attributes).end()
        return exporter.get_finished_spans()[0]

    yield make
    provider.shutdown()


def both(span, max_bytes: int | None = 1_000_000):
    raw, raw_trace = span_to_opik(span, OpikIdMapper(), "p", max_bytes, raw_json=True)
    plain, plain_trace = span_to_opik(span, OpikIdMapper(), "p", max_bytes)
    return raw, plain, raw_trace, plain_trace


def body_of(kind: str, items: list) -> dict:
    body = encode(kind, items)
    return json.loads(gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body)


def test_valid_content_and_metadata_stay_text_and_reach_the_body_as_the_parsed_path_gives_them(finished):
    span = finished({
        sc.GEN_AI_OPERATION_NAME: "chat", sc.GEN_AI_REQUEST_MODEL: "m",
        sc.GEN_AI_INPUT_MESSAGES: MESSAGES, sc.GEN_AI_OUTPUT_MESSAGES: OUTPUT,
        "opik.metadata.tools": TOOLS, sc.INPUT_VALUE: '{"ignored": 1}',
    })
    raw, plain, raw_trace, plain_trace = both(span)

    assert type(raw["input"]["messages"]) is RawJson and raw["input"]["messages"].text == MESSAGES
    assert type(raw["output"]["messages"]) is RawJson
    assert type(raw["metadata"]["tools"]) is RawJson
    assert parsed(raw["input"]) == plain["input"] == {"messages": json.loads(MESSAGES)}
    assert body_of("spans", [raw]) == body_of("spans", [plain])
    assert body_of("traces", [raw_trace]) == body_of("traces", [plain_trace])
    assert MESSAGES.encode() in gzip.decompress(encode("spans", [raw] * 40))  # spliced verbatim (40 items: gzip'd)


PAD = " " * 300  # JSON whitespace: long enough to be spliced


@pytest.mark.parametrize("value, expected", [
    ("{question} in Paris" + PAD, {"input": "{question} in Paris" + PAD}),  # looks like JSON, is not: a plain string
    ('{"x": NaN, "y": [Infinity]}' + PAD, {"x": "NaN", "y": ["Infinity"]}),  # Opik rejects NaN: parsed, as strings
    ('[1, 2' + PAD, {"input": "[1, 2" + PAD}),  # cut by an attribute length limit
    ('{"a": 1}' + PAD, {"a": 1}),
    ('["a"]' + PAD, {"input": ["a"]}),
])
def test_text_that_cannot_be_spliced_takes_the_parsed_path(finished, value, expected):
    raw, plain, _, _ = both(finished({sc.INPUT_VALUE: value, sc.INPUT_MIME_TYPE: sc.JSON_MIME_TYPE}))

    assert parsed(raw["input"]) == plain["input"] == expected
    assert body_of("spans", [raw])["spans"][0]["input"] == expected


def test_short_json_is_parsed_not_spliced(finished):
    raw, plain, _, _ = both(finished({sc.GEN_AI_OUTPUT_MESSAGES: '[{"role": "assistant", "parts": []}]'}))
    assert raw["output"] == plain["output"] == {"messages": [{"role": "assistant", "parts": []}]}


def test_valid_long_json_is_spliced(finished):
    raw, _, _, _ = both(finished({sc.INPUT_VALUE: '{"a": 1}' + PAD}))
    assert type(raw["input"]) is RawJson and raw["input"].text == '{"a": 1}' + PAD


def test_content_with_large_media_or_over_the_limit_is_fitted_as_before(finished):
    image = "data:image/png;base64," + "A" * 6000
    media = json.dumps([{"role": "user", "parts": [{"type": "text", "content": image}]}])
    raw, plain, _, _ = both(finished({sc.GEN_AI_INPUT_MESSAGES: media}))
    assert raw["input"] == plain["input"]
    assert raw["input"]["messages"][0]["parts"][0]["content"] == "<image/png base64, 4500 bytes omitted>"

    long_text = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "word " * 2000}]}])
    raw, plain, _, _ = both(finished({sc.GEN_AI_INPUT_MESSAGES: long_text}), max_bytes=2000)
    assert raw["input"] == plain["input"] and len(json.dumps(raw["input"])) <= 2000

    raw, _, _, _ = both(finished({sc.GEN_AI_INPUT_MESSAGES: long_text}), max_bytes=None)  # no limit: spliced
    assert type(raw["input"]["messages"]) is RawJson


def test_a_user_string_shaped_like_the_splice_marker_is_left_alone(finished):
    raw, _, _, _ = both(finished({sc.GEN_AI_INPUT_MESSAGES: MESSAGES, sc.OUTPUT_VALUE: json.dumps("\u0000opik-raw-0-0")}))
    assert body_of("spans", [raw])["spans"][0]["output"] == {"output": "\u0000opik-raw-0-0"}


def test_a_lone_surrogate_elsewhere_in_the_batch_still_splices(finished):
    raw, _, _, _ = both(finished({sc.GEN_AI_INPUT_MESSAGES: MESSAGES, "odd": "\ud800"}))
    item = body_of("spans", [raw])["spans"][0]
    assert item["input"] == {"messages": json.loads(MESSAGES)}
    assert item["metadata"]["odd"] == "?"


def test_shrinking_an_item_for_a_413_reads_its_text(finished):
    big = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "word " * 4000}]}])
    raw, _, _, _ = both(finished({sc.GEN_AI_INPUT_MESSAGES: big}), max_bytes=None)
    assert type(raw["input"]["messages"]) is RawJson

    assert _shrink_item(raw, 4) is True
    assert len(json.dumps(raw["input"])) < len(big) // 3
    assert raw["input"]["messages"][0]["parts"][0]["content"].startswith("word word")
