"""Bedrock Runtime `invoke_model` and `invoke_model_with_response_stream`, one body family at a time."""

from __future__ import annotations

import json

import pytest

boto3 = pytest.importorskip("boto3")

from botocore.response import StreamingBody  # noqa: E402
from opentelemetry.trace import StatusCode  # noqa: E402

from tests.integration.bedrock.conftest import TEXT, one_span  # noqa: E402
from tests.integration.bedrock.test_converse import genai_prices_knows  # noqa: E402

PROMPT = "Say hello."
TEXT_PART = [{"type": "text", "content": TEXT}]
USER_PROMPT = [{"role": "user", "parts": [{"type": "text", "content": PROMPT}]}]


class Case:
    """One family: a model id, a request body, what the span must say."""

    def __init__(self, model_id, body, *, operation="chat", params=None, input_messages=USER_PROMPT, system=None, input_tokens=11,
                 finish="stop", finish_reasons=None):
        self.model_id, self.body, self.operation = model_id, body, operation
        self.params, self.input_messages, self.system = params or {}, input_messages, system
        self.input_tokens, self.finish, self.finish_reasons = input_tokens, finish, finish_reasons

    @property
    def model(self):
        return self.model_id.split(".", 1)[1] if self.model_id.startswith(("us.", "eu.")) else self.model_id


CASES = {
    "claude": Case(
        "us.anthropic.claude-3-5-haiku-20241022-v1:0",
        {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "temperature": 0.5, "system": "Be brief.",
         "messages": [{"role": "user", "content": PROMPT}]},
        params={"gen_ai.request.max_tokens": 100, "gen_ai.request.temperature": 0.5}, system=[{"type": "text", "content": "Be brief."}],
        input_tokens=11 + 3 + 2, finish_reasons=("end_turn",),
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
        params={"gen_ai.request.max_tokens": 64, "gen_ai.request.temperature": 0.4}, finish_reasons=("stop",),
    ),
    "cohere": Case(
        "cohere.command-r-v1:0",
        {"message": PROMPT, "chat_history": [{"role": "USER", "message": "Hi"}, {"role": "CHATBOT", "message": "Hello!"}], "preamble": "Be brief.",
         "max_tokens": 64, "p": 0.7},
        params={"gen_ai.request.max_tokens": 64, "gen_ai.request.top_p": 0.7},
        input_messages=[{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}, {"role": "assistant", "parts": [{"type": "text", "content": "Hello!"}]}, *USER_PROMPT],
        system=[{"type": "text", "content": "Be brief."}], finish_reasons=("COMPLETE",),
    ),
}


def check_span(span, case, *, stream):
    attributes = dict(span.attributes)
    assert span.name == f"{case.operation} {case.model}"
    assert attributes["gen_ai.operation.name"] == case.operation
    assert attributes["gen_ai.provider.name"] == "aws.bedrock"
    assert attributes["gen_ai.request.model"] == case.model
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


@pytest.mark.parametrize("family", CASES)
def test_invoke_model(client, exporter, family):
    case = CASES[family]
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
    if genai_prices_knows(CASES["claude"].model):
        assert attributes["gen_ai.usage.cost"] > 0


def test_unknown_family_gets_the_model_and_bedrock_counts_only(client, exporter):
    response = client.invoke_model(modelId="stability.sd3-large-v1:0", body=json.dumps({"prompt": PROMPT}))
    assert json.loads(response["body"].read()) == {"output": "opaque"}
    attributes = dict(one_span(exporter).attributes)
    assert attributes["gen_ai.request.model"] == "stability.sd3-large-v1:0"
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

