"""Bedrock Runtime `invoke_model` and `invoke_model_with_response_stream`, one body family at a time."""

from __future__ import annotations

import json
import re

import pytest

boto3 = pytest.importorskip("boto3")

from botocore.response import StreamingBody  # noqa: E402
from opentelemetry.trace import StatusCode  # noqa: E402

from tests.integration.bedrock.conftest import TEXT, one_span  # noqa: E402
from tests.integration.bedrock.test_converse import HAIKU_COST  # noqa: E402

PROMPT = "Say hello."
TEXT_PART = [{"type": "text", "content": TEXT}]
USER_PROMPT = [{"role": "user", "parts": [{"type": "text", "content": PROMPT}]}]


class Case:
    """One family: a model id, a request body, what the span must say."""

    def __init__(self, model_id, body, *, operation="chat", params=None, input_messages=USER_PROMPT, system=None, input_tokens=11,
                 finish="stop", finish_reasons=None, response_id=None, response_model=None, streamed_response_id=...):
        self.model_id, self.body, self.operation = model_id, body, operation
        self.params, self.input_messages, self.system = params or {}, input_messages, system
        self.input_tokens, self.finish, self.finish_reasons = input_tokens, finish, finish_reasons
        self.response_id, self.response_model = response_id, response_model  # the id: a regular expression
        self.streamed_response_id = response_id if streamed_response_id is ... else streamed_response_id


CASES = {
    "claude": Case(
        "us.anthropic.claude-3-5-haiku-20241022-v1:0",
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "temperature": 0.5, "system": "Be brief.",
         "messages": [{"role": "user", "content": PROMPT}]},
        params={"gen_ai.request.max_tokens": 100, "gen_ai.request.temperature": 0.5}, system=[{"type": "text", "content": "Be brief."}],
        input_tokens=11 + 3 + 2, finish_reasons=("end_turn",), response_id=r"msg_bdrk_fake_\d+", response_model="claude-3-5-haiku-20241022",
    ),
    "claude-text": Case(
        "anthropic.claude-v2:1", {"prompt": f"\n\nHuman: {PROMPT}\n\nAssistant:", "max_tokens_to_sample": 64, "temperature": 0.3, "top_k": 40,
                                  "stop_sequences": ["\n\nHuman:"]},
        operation="text_completion",
        params={"gen_ai.request.max_tokens": 64, "gen_ai.request.temperature": 0.3, "gen_ai.request.top_k": 40,
                "gen_ai.request.stop_sequences": ("\n\nHuman:",)},
        input_messages=[{"role": "user", "parts": [{"type": "text", "content": f"\n\nHuman: {PROMPT}\n\nAssistant:"}]}], finish_reasons=("stop_sequence",),
    ),
    "llama": Case(
        "meta.llama3-1-8b-instruct-v1:0", {"prompt": PROMPT, "max_gen_len": 64, "temperature": 0.2, "top_p": 0.9},
        operation="text_completion",
        params={"gen_ai.request.max_tokens": 64, "gen_ai.request.temperature": 0.2, "gen_ai.request.top_p": 0.9}, finish_reasons=("stop",),
    ),
    "titan": Case(
        "amazon.titan-text-express-v1", {"inputText": PROMPT, "textGenerationConfig": {"maxTokenCount": 64, "temperature": 0.1, "stopSequences": ["User:"]}},
        operation="text_completion",
        params={"gen_ai.request.max_tokens": 64, "gen_ai.request.temperature": 0.1, "gen_ai.request.stop_sequences": ("User:",)}, finish_reasons=("FINISH",),
    ),
    "nova": Case(
        "us.amazon.nova-lite-v1:0",
        {"schemaVersion": "messages-v1", "messages": [{"role": "user", "content": [{"text": PROMPT}]}], "system": [{"text": "Be brief."}],
         "inferenceConfig": {"maxTokens": 64, "temperature": 0.3, "topP": 0.8}},
        params={"gen_ai.request.max_tokens": 64, "gen_ai.request.temperature": 0.3, "gen_ai.request.top_p": 0.8}, system=[{"type": "text", "content": "Be brief."}],
        finish_reasons=("end_turn",),
    ),
    "mistral-prompt": Case(
        "mistral.mistral-7b-instruct-v0:2", {"prompt": f"<s>[INST] {PROMPT} [/INST]", "max_tokens": 64, "top_k": 50},
        params={"gen_ai.request.max_tokens": 64, "gen_ai.request.top_k": 50},
        input_messages=[{"role": "user", "parts": [{"type": "text", "content": f"<s>[INST] {PROMPT} [/INST]"}]}], finish_reasons=("stop",),
    ),
    "mistral-chat": Case(
        "mistral.mistral-large-2407-v1:0", {"messages": [{"role": "user", "content": PROMPT}], "max_tokens": 64, "temperature": 0.4},
        params={"gen_ai.request.max_tokens": 64, "gen_ai.request.temperature": 0.4}, finish_reasons=("stop",), response_id="cmpl-fake-1",
        streamed_response_id=None,  # the stream's chunks carry no id
    ),
    "cohere": Case(
        "cohere.command-r-v1:0",
        {"message": PROMPT, "chat_history": [{"role": "USER", "message": "Hi"}, {"role": "CHATBOT", "message": "Hello!"}], "preamble": "Be brief.",
         "max_tokens": 64, "p": 0.7},
        params={"gen_ai.request.max_tokens": 64, "gen_ai.request.top_p": 0.7},
        input_messages=[{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}, {"role": "assistant", "parts": [{"type": "text", "content": "Hello!"}]}, *USER_PROMPT],
        system=[{"type": "text", "content": "Be brief."}], finish_reasons=("COMPLETE",), response_id="resp_fake_1",
    ),
}
# Bedrock does not stream these.
UNSTREAMED_CASES = {
    "jurassic": Case(
        "ai21.j2-mid-v1", {"prompt": PROMPT, "maxTokens": 64, "temperature": 0.7, "topP": 0.9, "stopSequences": ["##"],
                           "presencePenalty": {"scale": 0.5}, "frequencyPenalty": {"scale": 0.25}},
        operation="text_completion",
        params={"gen_ai.request.max_tokens": 64, "gen_ai.request.temperature": 0.7, "gen_ai.request.top_p": 0.9, "gen_ai.request.stop_sequences": ("##",),
                "gen_ai.request.presence_penalty": 0.5, "gen_ai.request.frequency_penalty": 0.25},
        finish_reasons=("endoftext",), response_id="1234",
    ),
}


def check_span(span, case, *, stream):
    attributes = dict(span.attributes)
    assert span.name == f"{case.operation} {case.model_id}"  # the model id as sent
    assert attributes["gen_ai.operation.name"] == case.operation
    assert attributes["gen_ai.provider.name"] == "aws.bedrock"
    assert attributes["gen_ai.request.model"] == case.model_id
    assert attributes.get("gen_ai.response.model") == case.response_model
    response_id = case.streamed_response_id if stream else case.response_id
    if response_id is None:  # the body has no id: the AWS request id is not one
        assert "gen_ai.response.id" not in attributes
    else:
        assert re.fullmatch(response_id, attributes["gen_ai.response.id"])
    assert re.fullmatch(r"req_fake_\d+", attributes["aws.request_id"])
    assert attributes.get("gen_ai.request.stream") is (True if stream else None)
    for name, value in case.params.items():
        assert attributes[name] == value, name
    assert attributes["gen_ai.usage.input_tokens"] == case.input_tokens
    assert attributes["gen_ai.usage.output_tokens"] == 7
    assert attributes["gen_ai.response.finish_reasons"] == case.finish_reasons
    assert json.loads(attributes["gen_ai.input.messages"]) == case.input_messages
    if case.system:
        assert json.loads(attributes["gen_ai.system_instructions"]) == case.system
    assert json.loads(attributes["gen_ai.output.messages"]) == [{"role": "assistant", "parts": TEXT_PART, "finish_reason": case.finish}]


@pytest.mark.parametrize("family", [*CASES, *UNSTREAMED_CASES])
def test_invoke_model(client, exporter, family):
    case = CASES.get(family) or UNSTREAMED_CASES[family]
    response = client.invoke_model(modelId=case.model_id, body=json.dumps(case.body))
    body = response["body"]
    assert isinstance(body, StreamingBody)
    raw = body.read()
    assert TEXT in raw.decode()  # the caller reads the whole body, as without instrumentation
    check_span(one_span(exporter), case, stream=False)


@pytest.mark.parametrize("family", CASES)
def test_invoke_model_with_response_stream(client, exporter, family):
    case = CASES[family]
    response = client.invoke_model_with_response_stream(modelId=case.model_id, body=json.dumps(case.body))
    chunks = [json.loads(event["chunk"]["bytes"]) for event in response["body"]]
    assert "amazon-bedrock-invocationMetrics" in chunks[-1]  # every event reached the caller
    check_span(one_span(exporter), case, stream=True)


def test_the_body_reads_in_pieces_as_without_instrumentation(client, exporter):
    body = json.dumps(CASES["claude"].body)
    first = client.invoke_model(modelId=CASES["claude"].model_id, body=body)["body"]
    head = first.read(5)
    assert json.loads(head + first.read())["content"][0]["text"] == TEXT
    second = client.invoke_model(modelId=CASES["claude"].model_id, body=body.encode())["body"]
    assert json.loads(b"".join(second.iter_chunks(chunk_size=7)))["content"][0]["text"] == TEXT
    assert len(exporter.get_finished_spans()) == 2


def test_body_token_counts_that_are_not_integers_are_left_out(client, exporter):
    """Max tokens and top k are counts: a body's 64.0 is not recorded, as on every other API; the rest of the body is."""
    body = {"prompt": PROMPT, "max_tokens": 64.0, "top_k": 50.0, "temperature": 0.5}
    client.invoke_model(modelId="mistral.mistral-7b-instruct-v0:2", body=json.dumps(body))

    attributes = dict(one_span(exporter).attributes)
    assert "gen_ai.request.max_tokens" not in attributes
    assert "gen_ai.request.top_k" not in attributes
    assert attributes["gen_ai.request.temperature"] == 0.5
    assert json.loads(attributes["gen_ai.input.messages"]) == USER_PROMPT


def test_claude_tool_use(client, exporter):
    body = {**CASES["claude"].body, "tools": [{"name": "get_weather", "description": "Weather of a city", "input_schema": {"type": "object"}}]}
    client.invoke_model(modelId=CASES["claude"].model_id, body=json.dumps(body))
    output = json.loads(one_span(exporter).attributes["gen_ai.output.messages"])
    assert output == [{"role": "assistant", "parts": [{"type": "tool_call", "name": "get_weather", "id": "toolu_fake_1", "arguments": {"city": "Paris"}}],
                       "finish_reason": "tool_call"}]


def test_claude_stream_is_priced(client, exporter):
    for _ in client.invoke_model_with_response_stream(modelId=CASES["claude"].model_id, body=json.dumps(CASES["claude"].body))["body"]:
        pass
    attributes = one_span(exporter).attributes
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 3
    assert attributes["gen_ai.usage.cost"] == pytest.approx(HAIKU_COST, rel=1e-9)


def test_a_global_profile_is_priced_as_sent_not_as_the_model_the_reply_names(client, exporter):
    """Bedrock charges a global profile less than a regional one; the reply names only the model."""
    body = CASES["claude"].body
    client.invoke_model(modelId="global.anthropic.claude-sonnet-4-5-20250929-v1:0", body=json.dumps(body))
    attributes = one_span(exporter).attributes
    assert attributes["gen_ai.response.model"] == "claude-sonnet-4-5-20250929"
    assert attributes["gen_ai.usage.cost"] == pytest.approx((11 * 3 + 3 * 0.3 + 2 * 3.75 + 7 * 15) / 1e6, rel=1e-9)


@pytest.mark.parametrize("model_id", ["anthropic.claude-v2", "anthropic.claude-v2:1", "us.anthropic.claude-v2:1"])
def test_claude_2_is_priced(client, exporter, model_id):
    client.invoke_model(modelId=model_id, body=json.dumps(CASES["claude-text"].body))
    assert one_span(exporter).attributes["gen_ai.usage.cost"] == pytest.approx((11 * 8 + 7 * 24) / 1e6, rel=1e-9)  # $8 / $24 per million


def test_claude_2_messages_bodies_are_read_as_chat(client, exporter):
    client.invoke_model(modelId="anthropic.claude-v2:1", body=json.dumps(CASES["claude"].body))
    span = one_span(exporter)
    assert span.name == "chat anthropic.claude-v2:1"
    assert json.loads(span.attributes["gen_ai.output.messages"])[0]["parts"] == TEXT_PART


@pytest.mark.parametrize(("model_id", "body", "dimensions", "formats", "response_id", "input_value"), [
    pytest.param("amazon.titan-embed-text-v1", {"inputText": PROMPT}, 1536, None, None, PROMPT, id="titan-v1"),
    pytest.param("amazon.titan-embed-text-v2:0", {"inputText": PROMPT, "dimensions": 256, "normalize": True, "embeddingTypes": ["float"]},
                 256, ("float",), None, PROMPT, id="titan-v2"),
    pytest.param("cohere.embed-english-v3", {"texts": [PROMPT, "Bye."], "input_type": "search_document", "embedding_types": ["float"]},
                 1024, ("float",), "emb_fake_1", [PROMPT, "Bye."], id="cohere"),
])
def test_embedding_models_are_embeddings(client, exporter, model_id, body, dimensions, formats, response_id, input_value):
    response = client.invoke_model(modelId=model_id, body=json.dumps(body))
    assert json.loads(response["body"].read())["id" if "texts" in body else "embedding"]
    span = one_span(exporter)
    attributes = dict(span.attributes)
    assert span.name == f"embeddings {model_id}"
    assert attributes["gen_ai.operation.name"] == "embeddings"
    assert attributes["gen_ai.request.model"] == model_id
    assert attributes["gen_ai.usage.input_tokens"] == 11
    assert "gen_ai.usage.output_tokens" not in attributes
    assert attributes["gen_ai.embeddings.dimension.count"] == dimensions
    assert attributes.get("gen_ai.request.encoding_formats") == formats
    assert attributes.get("gen_ai.response.id") == response_id
    assert json.loads(attributes["input.value"]) == {"input": input_value}
    assert not {"gen_ai.input.messages", "gen_ai.output.messages"} & set(attributes)


def test_embeddings_are_priced(client, exporter):
    """Titan Embeddings G1: $0.10 per million input tokens (every genai-prices release we support knows it)."""
    client.invoke_model(modelId="amazon.titan-embed-text-v1", body=json.dumps({"inputText": PROMPT}))
    assert one_span(exporter).attributes["gen_ai.usage.cost"] == pytest.approx(11 * 0.1 / 1e6, rel=1e-9)


@pytest.mark.parametrize("model_id", ["amazon.nova-canvas-v1:0", "us.amazon.nova-canvas-v1:0", "amazon.titan-image-generator-v2:0"])
def test_image_models_are_not_read_as_chat(client, exporter, srv, model_id):
    body = {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "a cat"}, "imageGenerationConfig": {"numberOfImages": 1}}
    response = client.invoke_model(modelId=model_id, body=json.dumps(body))
    assert json.loads(response["body"].read()) == {"images": ["iVBORw0KGgo="]}
    span = one_span(exporter)
    assert span.name == f"generate_content {model_id}"
    assert span.status.status_code is StatusCode.UNSET
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "generate_content", "gen_ai.provider.name": "aws.bedrock", "gen_ai.request.model": model_id,
        "server.address": "127.0.0.1", "server.port": srv.port, "aws.request_id": response["ResponseMetadata"]["RequestId"],
    }


def test_unknown_family_gets_the_model_and_bedrock_counts_only(client, exporter):
    response = client.invoke_model(modelId="ai21.jamba-1-5-mini-v1:0", body=json.dumps({"prompt": PROMPT}))
    assert json.loads(response["body"].read()) == {"output": "opaque"}
    attributes = dict(one_span(exporter).attributes)
    assert attributes["gen_ai.request.model"] == "ai21.jamba-1-5-mini-v1:0"
    assert "gen_ai.response.id" not in attributes
    assert attributes["gen_ai.usage.input_tokens"] == 11
    assert attributes["gen_ai.usage.output_tokens"] == 7
    assert not {"gen_ai.input.messages", "gen_ai.output.messages"} & set(attributes)


def test_invoke_error_is_recorded_and_reraised(client, exporter):
    with pytest.raises(client.exceptions.ValidationException):
        client.invoke_model(modelId="error-validation", body=b"{}")
    span = one_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ValidationException"


def test_invoke_stream_early_exit_ends_the_span_on_close(client, exporter):
    response = client.invoke_model_with_response_stream(modelId=CASES["llama"].model_id, body=json.dumps(CASES["llama"].body))
    for _ in response["body"]:
        break
    response["body"].close()
    assert len(exporter.get_finished_spans()) == 1


def test_guardrail_on_invoke_model(client, exporter):
    client.invoke_model(modelId=CASES["llama"].model_id, body=json.dumps(CASES["llama"].body), guardrailIdentifier="gr-9", guardrailVersion="DRAFT")
    assert one_span(exporter).attributes["aws.bedrock.guardrail.id"] == "gr-9"

