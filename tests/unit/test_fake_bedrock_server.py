"""The fake Bedrock server driven by plain, uninstrumented boto3 (``bedrock-runtime``).

These prove that the fake speaks the wire format that botocore parses: rest-json
bodies, ``x-amzn-ErrorType`` errors, and AWS event-stream frames for ConverseStream and
InvokeModelWithResponseStream.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
from urllib.parse import quote

import pytest

boto3 = pytest.importorskip("boto3")

from botocore.config import Config  # noqa: E402
from botocore.eventstream import EventStreamBuffer  # noqa: E402
from botocore.exceptions import ClientError, EventStreamError, ReadTimeoutError  # noqa: E402

from tests.fakes.bedrock_server import (  # noqa: E402
    ANTHROPIC_TOOL_USE_ID,
    ANTHROPIC_USAGE,
    COHERE_EMBED_ID,
    EMBEDDING_HEADERS,
    ERRORS,
    IMAGE_BASE64,
    INVOCATION_METRICS,
    METRICS,
    MID_STREAM_ERROR_MESSAGE,
    NOVA_USAGE,
    OPAQUE,
    SIGNATURE,
    STREAMING_UNSUPPORTED,
    TEXT,
    THINKING_TEXT,
    TOKEN_HEADERS,
    TOOL_INPUT,
    TOOL_RESULT_TEXT,
    TOOL_USE_ID,
    USAGE,
    FakeBedrockServer,
    anthropic_model_name,
    base_model_id,
    model_family,
)
from tests.unit.fake_server_checks import started_then_stopped  # noqa: E402

MODEL_ID = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
ARN = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "Hi"}]}]
TOOL_CONFIG = {
    "tools": [
        {"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}},
        {"toolSpec": {"name": "get_time", "inputSchema": {"json": {"type": "object"}}}},
    ]
}
TOOL_FOLLOW_UP = [
    {"role": "user", "content": [{"text": "Weather in Paris?"}]},
    {"role": "assistant", "content": [{"toolUse": {"toolUseId": TOOL_USE_ID, "name": "get_weather", "input": {}}}]},
    {"role": "user", "content": [{"toolResult": {"toolUseId": TOOL_USE_ID, "content": [{"text": "sunny"}]}}]},
]
WORDS = ["Hello ", "from ", "the ", "fake ", "Bedrock ", "server."]
ANTHROPIC_BODY = {
    "anthropic_version": "bedrock-2023-05-31",
    "max_tokens": 64,
    "messages": [{"role": "user", "content": "Hi"}],
}
NOVA_BODY = {"schemaVersion": "messages-v1", "messages": MESSAGES, "inferenceConfig": {"maxTokens": 64}}
MISTRAL_CHAT_BODY = {"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 64}
COHERE_BODY = {"message": "Hi", "chat_history": [{"role": "USER", "message": "Yo"}], "max_tokens": 64}


def make_client(srv, **retries):
    retries = retries or {"max_attempts": 1}
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=srv.url,
        aws_access_key_id="AKIDFAKEFAKE",
        aws_secret_access_key="fake-secret",
        config=Config(retries=retries),
    )


@pytest.fixture(scope="module")
def srv():
    with FakeBedrockServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_requests(srv):
    srv.requests.clear()


@pytest.fixture(scope="module")
def client(srv):
    return make_client(srv)


@pytest.fixture(scope="module")
def once_client(srv):
    """Sends every request exactly once (``max_attempts: 1`` still allows one retry)."""
    return make_client(srv, total_max_attempts=1)


def invoke_json(client, model_id, body):
    response = client.invoke_model(modelId=model_id, body=json.dumps(body))
    return response, json.loads(response["body"].read())


def stream_chunks(client, model_id, body):
    response = client.invoke_model_with_response_stream(modelId=model_id, body=json.dumps(body))
    assert response["contentType"] == "application/json"
    assert not set(TOKEN_HEADERS) & set(response["ResponseMetadata"]["HTTPHeaders"])  # counts come in the last chunk
    return [json.loads(event["chunk"]["bytes"]) for event in response["body"]]


# --- server lifecycle, routing, recorded requests --------------------------------------------


def test_start_stop_and_url():
    with started_then_stopped(FakeBedrockServer):
        pass


def test_requests_are_recorded(srv, client):
    client.converse(modelId=ARN, messages=MESSAGES, inferenceConfig={"maxTokens": 64})
    [request] = srv.requests
    assert request["method"] == "POST"
    assert request["path"] == f"/model/{quote(ARN, safe='')}/converse"  # one percent-encoded segment
    assert request["headers"]["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDFAKEFAKE/")
    assert request["headers"]["content-type"] == "application/json"
    assert all(name == name.lower() for name in request["headers"])
    assert request["body"] == {"messages": MESSAGES, "inferenceConfig": {"maxTokens": 64}}


@pytest.mark.parametrize(
    ("model_id", "base", "family"),
    [
        (MODEL_ID, "anthropic.claude-3-5-haiku-20241022-v1:0", "anthropic"),
        (ARN, "anthropic.claude-3-5-haiku-20241022-v1:0", "anthropic"),
        ("arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-8b-v1:0", "meta.llama3-8b-v1:0", "meta"),
        ("us-gov.meta.llama3-70b", "meta.llama3-70b", "meta"),
        ("amazon.titan-text-express-v1", "amazon.titan-text-express-v1", "titan"),
        ("apac.amazon.nova-lite-v1:0", "amazon.nova-lite-v1:0", "nova"),
        ("eu.mistral.pixtral-large-2502-v1:0", "mistral.pixtral-large-2502-v1:0", "mistral"),
        ("global.cohere.command-r-plus-v1:0", "cohere.command-r-plus-v1:0", "cohere"),
        ("amazon.titan-embed-text-v2:0", "amazon.titan-embed-text-v2:0", "titan-embed"),
        ("amazon.titan-embed-image-v1", "amazon.titan-embed-image-v1", "titan-embed"),
        ("cohere.embed-english-v3", "cohere.embed-english-v3", "cohere-embed"),
        ("us.amazon.nova-canvas-v1:0", "amazon.nova-canvas-v1:0", "media"),
        ("amazon.nova-reel-v1:1", "amazon.nova-reel-v1:1", "media"),
        ("amazon.titan-image-generator-v2:0", "amazon.titan-image-generator-v2:0", "media"),
        ("ai21.j2-ultra-v1", "ai21.j2-ultra-v1", "jurassic"),
        ("ai21.jamba-1-5-mini-v1:0", "ai21.jamba-1-5-mini-v1:0", "unknown"),
        ("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5", "a1b2c3d4e5", "unknown"),
    ],
)
def test_model_family(model_id, base, family):
    assert base_model_id(model_id) == base
    assert model_family(model_id) == family


@pytest.mark.parametrize(
    ("model_id", "name"),
    [
        ("us.anthropic.claude-3-5-haiku-20241022-v1:0", "claude-3-5-haiku-20241022"),
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet-20241022"),
        ("anthropic.claude-v2:1", "claude-v2:1"),
        ("anthropic.claude-instant-v1", "claude-instant-v1"),
    ],
)
def test_anthropic_model_name(model_id, name):
    assert anthropic_model_name(model_id) == name


def test_arn_and_cross_region_ids_route_to_the_family(client):
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-2-1b-instruct-v1:0"
    assert invoke_json(client, arn, {"prompt": "Hi"})[1]["generation"] == TEXT
    assert invoke_json(client, "eu.amazon.nova-micro-v1:0", NOVA_BODY)[1]["usage"] == NOVA_USAGE


def test_unknown_route_and_bad_body(srv, once_client):
    connection = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    connection.request("POST", "/nope", body=b"{}")
    response = connection.getresponse()
    assert response.status == 404
    assert response.getheader("x-amzn-errortype").startswith("UnknownOperationException:")
    assert json.loads(response.read()) == {"message": "Not found"}
    connection.close()
    with pytest.raises(once_client.exceptions.ValidationException):
        once_client.invoke_model(modelId="meta.llama3-8b-instruct-v1:0", body=b"not json")


# --- Converse ----------------------------------------------------------------------------------


def parsed_usage(client):
    """USAGE as this botocore parses it: releases before the cache counts drop them."""
    members = client.meta.service_model.shape_for("TokenUsage").members
    return {name: value for name, value in USAGE.items() if name in members}


def knows_reasoning(client):
    """Whether this botocore's Converse model has reasoning blocks (older ones drop them)."""
    return "reasoningContent" in client.meta.service_model.shape_for("ContentBlock").members


def test_converse_text(client):
    response = client.converse(modelId=MODEL_ID, messages=MESSAGES, system=[{"text": "Be brief."}])
    assert response["output"] == {"message": {"role": "assistant", "content": [{"text": TEXT}]}}
    assert response["stopReason"] == "end_turn"
    assert response["usage"] == parsed_usage(client)
    assert response["usage"]["totalTokens"] == 23
    assert response["metrics"] == METRICS == {"latencyMs": 5}
    assert "trace" not in response
    assert re.fullmatch(r"req_fake_\d+", response["ResponseMetadata"]["RequestId"])


def test_converse_tool_use(client):
    response = client.converse(modelId=MODEL_ID, messages=MESSAGES, toolConfig=TOOL_CONFIG)
    tool_use = {"toolUseId": "tooluse_fake_1", "name": "get_weather", "input": {"city": "Paris"}}
    assert response["output"]["message"]["content"] == [{"toolUse": tool_use}]
    assert response["stopReason"] == "tool_use"
    chosen = {**TOOL_CONFIG, "toolChoice": {"tool": {"name": "get_time"}}}
    response = client.converse(modelId=MODEL_ID, messages=MESSAGES, toolConfig=chosen)
    assert response["output"]["message"]["content"][0]["toolUse"]["name"] == "get_time"


def test_converse_after_tool_result(client):
    response = client.converse(modelId=MODEL_ID, messages=TOOL_FOLLOW_UP, toolConfig=TOOL_CONFIG)
    assert response["output"]["message"]["content"] == [{"text": TOOL_RESULT_TEXT}]
    assert TOOL_RESULT_TEXT == "The weather is sunny."
    assert response["stopReason"] == "end_turn"


def test_converse_max_tokens_and_guardrail(client):
    if "guardrailConfig" not in client.meta.service_model.operation_model("Converse").input_shape.members:
        pytest.skip("this botocore's Converse has no guardrailConfig")
    response = client.converse(
        modelId=MODEL_ID,
        messages=MESSAGES,
        inferenceConfig={"maxTokens": 1},
        guardrailConfig={"guardrailIdentifier": "gr-123", "guardrailVersion": "1"},
    )
    assert response["stopReason"] == "max_tokens"
    assert response["output"]["message"]["content"] == [{"text": TEXT}]
    assert response["trace"] == {"guardrail": {}}


# --- ConverseStream ----------------------------------------------------------------------------


def test_converse_stream_text(srv, client):
    response = client.converse_stream(modelId=MODEL_ID, messages=MESSAGES)
    events = list(response["stream"])
    assert srv.requests[-1]["path"] == f"/model/{quote(MODEL_ID, safe='')}/converse-stream"
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"
    assert [next(iter(event)) for event in events] == [
        "messageStart",
        *["contentBlockDelta"] * len(WORDS),
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert events[0] == {"messageStart": {"role": "assistant"}}
    assert [event["contentBlockDelta"] for event in events[1:-3]] == [
        {"delta": {"text": word}, "contentBlockIndex": 0} for word in WORDS
    ]
    assert "".join(WORDS) == TEXT
    assert events[-3] == {"contentBlockStop": {"contentBlockIndex": 0}}
    assert events[-2] == {"messageStop": {"stopReason": "end_turn"}}
    assert events[-1] == {"metadata": {"usage": parsed_usage(client), "metrics": METRICS}}


def test_converse_stream_tool_use(client):
    response = client.converse_stream(modelId=MODEL_ID, messages=MESSAGES, toolConfig=TOOL_CONFIG)
    assert list(response["stream"]) == [
        {"messageStart": {"role": "assistant"}},
        {
            "contentBlockStart": {
                "start": {"toolUse": {"toolUseId": TOOL_USE_ID, "name": "get_weather"}},
                "contentBlockIndex": 0,
            }
        },
        {"contentBlockDelta": {"delta": {"toolUse": {"input": '{"city": '}}, "contentBlockIndex": 0}},
        {"contentBlockDelta": {"delta": {"toolUse": {"input": '"Paris"}'}}, "contentBlockIndex": 0}},
        {"contentBlockStop": {"contentBlockIndex": 0}},
        {"messageStop": {"stopReason": "tool_use"}},
        {"metadata": {"usage": parsed_usage(client), "metrics": METRICS}},
    ]


REASONING = {"thinking": {"type": "enabled", "budget_tokens": 1024}}


def test_converse_reasoning(client):
    if not knows_reasoning(client):
        pytest.skip("this botocore's Converse has no reasoningContent")
    response = client.converse(modelId=MODEL_ID, messages=MESSAGES, additionalModelRequestFields=REASONING)
    reasoning = {"reasoningContent": {"reasoningText": {"text": THINKING_TEXT, "signature": SIGNATURE}}}
    assert response["output"]["message"]["content"] == [reasoning, {"text": TEXT}]
    nova = client.converse(modelId=MODEL_ID, messages=MESSAGES, additionalModelRequestFields={"reasoning_config": {"type": "enabled"}})
    assert nova["output"]["message"]["content"][0] == reasoning


def test_converse_stream_reasoning(client):
    if not knows_reasoning(client):
        pytest.skip("this botocore's ConverseStream has no reasoningContent")
    response = client.converse_stream(modelId=MODEL_ID, messages=MESSAGES, additionalModelRequestFields=REASONING)
    events = list(response["stream"])
    assert events[:7] == [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"delta": {"reasoningContent": {"text": "Let "}}, "contentBlockIndex": 0}},
        {"contentBlockDelta": {"delta": {"reasoningContent": {"text": "me "}}, "contentBlockIndex": 0}},
        {"contentBlockDelta": {"delta": {"reasoningContent": {"text": "think."}}, "contentBlockIndex": 0}},
        {"contentBlockDelta": {"delta": {"reasoningContent": {"signature": SIGNATURE}}, "contentBlockIndex": 0}},
        {"contentBlockStop": {"contentBlockIndex": 0}},
        {"contentBlockDelta": {"delta": {"text": "Hello "}, "contentBlockIndex": 1}},
    ]
    assert events[-3] == {"contentBlockStop": {"contentBlockIndex": 1}}


def test_converse_stream_after_tool_result_with_max_tokens(client):
    response = client.converse_stream(
        modelId=MODEL_ID, messages=TOOL_FOLLOW_UP, toolConfig=TOOL_CONFIG, inferenceConfig={"maxTokens": 1}
    )
    events = list(response["stream"])
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
    assert text == TOOL_RESULT_TEXT
    assert {"messageStop": {"stopReason": "max_tokens"}} in events


# --- InvokeModel --------------------------------------------------------------------------------


INVOKE_CASES = {
    "anthropic": (
        MODEL_ID,
        ANTHROPIC_BODY,
        {
            "id": "msg_bdrk_fake_<n>",
            "type": "message",
            "role": "assistant",
            "model": "claude-3-5-haiku-20241022",
            "content": [{"type": "text", "text": TEXT}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": ANTHROPIC_USAGE,
        },
    ),
    "meta": (
        "meta.llama3-8b-instruct-v1:0",
        {"prompt": "Hi", "max_gen_len": 64, "temperature": 0.5, "top_p": 0.9},
        {"generation": TEXT, "prompt_token_count": 11, "generation_token_count": 7, "stop_reason": "stop"},
    ),
    "titan": (
        "amazon.titan-text-express-v1",
        {"inputText": "Hi", "textGenerationConfig": {"maxTokenCount": 64}},
        {"inputTextTokenCount": 11, "results": [{"tokenCount": 7, "outputText": TEXT, "completionReason": "FINISH"}]},
    ),
    "nova": (
        "us.amazon.nova-lite-v1:0",
        NOVA_BODY,
        {
            "output": {"message": {"role": "assistant", "content": [{"text": TEXT}]}},
            "stopReason": "end_turn",
            "usage": {
                "inputTokens": 11,
                "outputTokens": 7,
                "totalTokens": 18,
                "cacheReadInputTokenCount": 0,
                "cacheWriteInputTokenCount": 0,
            },
        },
    ),
    "mistral-text": (
        "mistral.mistral-7b-instruct-v0:2",
        {"prompt": "<s>[INST] Hi [/INST]", "max_tokens": 64},
        {"outputs": [{"text": TEXT, "stop_reason": "stop"}]},
    ),
    "mistral-chat": (
        "mistral.mistral-large-2407-v1:0",
        MISTRAL_CHAT_BODY,
        {
            "id": "cmpl-fake-1",
            "object": "chat.completion",
            "model": "mistral.mistral-large-2407-v1:0",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": TEXT}, "stop_reason": "stop"}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        },
    ),
    "cohere": (
        "cohere.command-r-v1:0",
        COHERE_BODY,
        {
            "response_id": "resp_fake_1",
            "text": TEXT,
            "generation_id": "gen_fake_1",
            "chat_history": [
                {"role": "USER", "message": "Yo"},
                {"role": "USER", "message": "Hi"},
                {"role": "CHATBOT", "message": TEXT},
            ],
            "finish_reason": "COMPLETE",
            "meta": {"billed_units": {"input_tokens": 11, "output_tokens": 7}},
        },
    ),
    "unknown": ("ai21.jamba-1-5-mini-v1:0", {"anything": 1}, {"output": "opaque"}),
}


@pytest.mark.parametrize("case", list(INVOKE_CASES))
def test_invoke_model(srv, client, case):
    model_id, body, expected = INVOKE_CASES[case]
    response, reply = invoke_json(client, model_id, body)
    if case == "anthropic":
        assert re.fullmatch(r"msg_bdrk_fake_\d+", reply["id"])
        reply["id"] = "msg_bdrk_fake_<n>"
    assert reply == expected
    assert response["contentType"] == "application/json"
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert {name: headers[name] for name in TOKEN_HEADERS} == TOKEN_HEADERS == {
        "x-amzn-bedrock-input-token-count": "11",
        "x-amzn-bedrock-output-token-count": "7",
        "x-amzn-bedrock-invocation-latency": "5",
    }
    assert srv.requests[-1]["body"] == body
    assert srv.requests[-1]["path"] == f"/model/{quote(model_id, safe='')}/invoke"


CLAUDE_TEXT_BODY = {"prompt": "\n\nHuman: Hi\n\nAssistant:", "max_tokens_to_sample": 64, "temperature": 0.5}


def test_invoke_claude_text_completion(client):
    reply = invoke_json(client, "anthropic.claude-v2:1", CLAUDE_TEXT_BODY)[1]
    assert reply == {"completion": TEXT, "stop_reason": "stop_sequence", "stop": "\n\nHuman:"}
    reply = invoke_json(client, "anthropic.claude-v2", {**CLAUDE_TEXT_BODY, "max_tokens_to_sample": 1})[1]
    assert reply == {"completion": TEXT, "stop_reason": "max_tokens", "stop": None}
    chunks = stream_chunks(client, "anthropic.claude-v2:1", CLAUDE_TEXT_BODY)
    assert chunks[0] == {"completion": "Hello ", "stop_reason": None, "stop": None}
    assert chunks[-1] == {"completion": "server.", "stop_reason": "stop_sequence", "stop": "\n\nHuman:",
                          "amazon-bedrock-invocationMetrics": INVOCATION_METRICS}
    assert "".join(chunk["completion"] for chunk in chunks) == TEXT


def test_invoke_jurassic(client):
    response, reply = invoke_json(client, "ai21.j2-mid-v1", {"prompt": "Say hello.", "maxTokens": 64})
    assert reply["id"] == 1234
    assert reply["prompt"]["text"] == "Say hello."
    assert len(reply["prompt"]["tokens"]) == 11
    [completion] = reply["completions"]
    assert completion["data"]["text"] == TEXT
    assert len(completion["data"]["tokens"]) == 7
    assert completion["data"]["tokens"][0] == {
        "generatedToken": {"token": "\u2581Hello", "logprob": -0.5, "raw_logprob": -0.5}, "topTokens": None, "textRange": {"start": 0, "end": 6},
    }
    assert completion["finishReason"] == {"reason": "endoftext"}
    assert {name: response["ResponseMetadata"]["HTTPHeaders"][name] for name in TOKEN_HEADERS} == TOKEN_HEADERS
    limited = invoke_json(client, "ai21.j2-ultra-v1", {"prompt": "Hi", "maxTokens": 1})[1]
    assert limited["completions"][0]["finishReason"] == {"reason": "length", "length": 1}


def test_invoke_titan_embeddings(client):
    response, reply = invoke_json(client, "amazon.titan-embed-text-v2:0", {"inputText": "Hi", "dimensions": 256, "normalize": True})
    assert set(reply) == {"embedding", "inputTextTokenCount", "embeddingsByType"}
    assert len(reply["embedding"]) == 256
    assert reply["embeddingsByType"] == {"float": reply["embedding"]}
    assert reply["inputTextTokenCount"] == 11
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert {name: headers[name] for name in EMBEDDING_HEADERS} == EMBEDDING_HEADERS
    assert "x-amzn-bedrock-output-token-count" not in headers
    v1 = invoke_json(client, "amazon.titan-embed-text-v1", {"inputText": "Hi"})[1]
    assert set(v1) == {"embedding", "inputTextTokenCount"}
    assert len(v1["embedding"]) == 1536


def test_invoke_cohere_embeddings(client):
    response, reply = invoke_json(client, "cohere.embed-english-v3", {"texts": ["a", "b"], "input_type": "search_document"})
    assert reply["id"] == COHERE_EMBED_ID
    assert reply["response_type"] == "embeddings_floats"
    assert reply["texts"] == ["a", "b"]
    assert [len(vector) for vector in reply["embeddings"]] == [1024, 1024]
    assert {name: response["ResponseMetadata"]["HTTPHeaders"][name] for name in EMBEDDING_HEADERS} == EMBEDDING_HEADERS
    by_type = invoke_json(client, "cohere.embed-multilingual-v3", {"texts": ["a"], "input_type": "search_query", "embedding_types": ["float", "int8"]})[1]
    assert by_type["response_type"] == "embeddings_by_type"
    assert set(by_type["embeddings"]) == {"float", "int8"}


def test_invoke_image_generation(client):
    response, reply = invoke_json(client, "amazon.nova-canvas-v1:0", {"taskType": "TEXT_IMAGE", "textToImageParams": {"text": "a cat"}})
    assert reply == {"images": [IMAGE_BASE64]}
    assert not {name for name in response["ResponseMetadata"]["HTTPHeaders"] if name.startswith("x-amzn-bedrock-")}


@pytest.mark.parametrize("model_id", ["ai21.j2-mid-v1", "amazon.titan-embed-text-v2:0", "cohere.embed-english-v3", "amazon.nova-canvas-v1:0"])
def test_models_bedrock_does_not_stream(once_client, model_id):
    with pytest.raises(once_client.exceptions.ValidationException) as caught:
        once_client.invoke_model_with_response_stream(modelId=model_id, body=json.dumps({"prompt": "Hi", "texts": ["a"]}))
    assert caught.value.response["Error"]["Message"] == STREAMING_UNSUPPORTED


def test_invoke_anthropic_tool_use_and_result(client):
    tools = [{"name": "get_weather", "input_schema": {"type": "object"}}]
    reply = invoke_json(client, MODEL_ID, {**ANTHROPIC_BODY, "tools": tools})[1]
    assert ANTHROPIC_TOOL_USE_ID == "toolu_fake_1"
    assert reply["content"] == [{"type": "tool_use", "id": "toolu_fake_1", "name": "get_weather", "input": TOOL_INPUT}]
    assert reply["stop_reason"] == "tool_use"
    follow_up = [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": reply["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_fake_1", "content": "sunny"}]},
    ]
    reply = invoke_json(client, MODEL_ID, {**ANTHROPIC_BODY, "tools": tools, "messages": follow_up})[1]
    assert reply["content"] == [{"type": "text", "text": TOOL_RESULT_TEXT}]


def test_invoke_nova_tool_use(client):
    reply = invoke_json(client, "amazon.nova-pro-v1:0", {**NOVA_BODY, "toolConfig": TOOL_CONFIG})[1]
    tool_use = {"toolUseId": TOOL_USE_ID, "name": "get_weather", "input": TOOL_INPUT}
    assert reply["output"]["message"]["content"] == [{"toolUse": tool_use}]
    assert reply["stopReason"] == "tool_use"


@pytest.mark.parametrize(
    ("case", "limit", "stop_of"),
    [
        ("anthropic", {"max_tokens": 1}, lambda r: r["stop_reason"] == "max_tokens"),
        ("meta", {"max_gen_len": 1}, lambda r: r["stop_reason"] == "length"),
        (
            "titan",
            {"textGenerationConfig": {"maxTokenCount": 1}},
            lambda r: r["results"][0]["completionReason"] == "LENGTH",
        ),
        ("nova", {"inferenceConfig": {"max_new_tokens": 1}}, lambda r: r["stopReason"] == "max_tokens"),
        ("mistral-text", {"max_tokens": 1}, lambda r: r["outputs"][0]["stop_reason"] == "length"),
        ("mistral-chat", {"max_tokens": 1}, lambda r: r["choices"][0]["stop_reason"] == "length"),
        ("cohere", {"max_tokens": 1}, lambda r: r["finish_reason"] == "MAX_TOKENS"),
    ],
)
def test_invoke_model_one_token_limit(client, case, limit, stop_of):
    model_id, body, _ = INVOKE_CASES[case]
    assert stop_of(invoke_json(client, model_id, {**body, **limit})[1])


# --- InvokeModelWithResponseStream --------------------------------------------------------------


STREAM_TEXT = {  # the streamed text of one chunk
    "anthropic": lambda c: c["delta"]["text"] if c["type"] == "content_block_delta" else "",
    "meta": lambda c: c["generation"],
    "titan": lambda c: c["outputText"],
    "nova": lambda c: c["contentBlockDelta"]["delta"]["text"] if "contentBlockDelta" in c else "",
    "mistral-text": lambda c: c["outputs"][0]["text"],
    "mistral-chat": lambda c: c["choices"][0]["message"]["content"],
    "cohere": lambda c: c.get("text", "") if c["event_type"] == "text-generation" else "",
    "unknown": lambda c: "",
}
STREAM_ENDS = {  # (first chunk, last chunk without the invocation metrics)
    "meta": (
        {"generation": "Hello ", "prompt_token_count": 11, "generation_token_count": 1, "stop_reason": None},
        {"generation": "server.", "prompt_token_count": None, "generation_token_count": 7, "stop_reason": "stop"},
    ),
    "titan": (
        {
            "outputText": "Hello ",
            "index": 0,
            "totalOutputTextTokenCount": 1,
            "completionReason": None,
            "inputTextTokenCount": 11,
        },
        {"outputText": "server.", "index": 0, "totalOutputTextTokenCount": 7, "completionReason": "FINISH"},
    ),
    "nova": ({"messageStart": {"role": "assistant"}}, {"metadata": {"usage": {"inputTokens": 11, "outputTokens": 7}}}),
    "mistral-text": (
        {"outputs": [{"text": "Hello ", "stop_reason": None}]},
        {"outputs": [{"text": "server.", "stop_reason": "stop"}]},
    ),
    "mistral-chat": (
        {"choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello "}, "stop_reason": None}]},
        {"choices": [{"index": 0, "message": {"role": "assistant", "content": "server."}, "stop_reason": "stop"}]},
    ),
    "cohere": (
        {"is_finished": False, "event_type": "stream-start", "generation_id": "gen_fake_1"},
        {
            "is_finished": True,
            "event_type": "stream-end",
            "finish_reason": "COMPLETE",
            "response": INVOKE_CASES["cohere"][2],
        },
    ),
    "unknown": (OPAQUE, OPAQUE),
}


@pytest.mark.parametrize("case", list(INVOKE_CASES))
def test_invoke_model_with_response_stream(srv, client, case):
    model_id, body, _ = INVOKE_CASES[case]
    chunks = stream_chunks(client, model_id, body)
    assert srv.requests[-1]["path"] == f"/model/{quote(model_id, safe='')}/invoke-with-response-stream"
    last = chunks[-1].pop("amazon-bedrock-invocationMetrics")
    assert last == INVOCATION_METRICS
    assert INVOCATION_METRICS == {
        "inputTokenCount": 11,
        "outputTokenCount": 7,
        "invocationLatency": 5,
        "firstByteLatency": 2,
    }
    assert not any("amazon-bedrock-invocationMetrics" in chunk for chunk in chunks)
    pieces = [piece for piece in map(STREAM_TEXT[case], chunks) if piece]
    assert pieces == ([] if case == "unknown" else WORDS)
    if case in STREAM_ENDS:
        assert (chunks[0], chunks[-1]) == STREAM_ENDS[case]


def test_invoke_stream_anthropic_events(client):
    chunks = stream_chunks(client, MODEL_ID, ANTHROPIC_BODY)
    assert [chunk["type"] for chunk in chunks] == [
        "message_start",
        "content_block_start",
        *["content_block_delta"] * len(WORDS),
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert chunks[0]["message"]["usage"] == {**ANTHROPIC_USAGE, "output_tokens": 1}
    delta = {"stop_reason": "end_turn", "stop_sequence": None}
    assert chunks[-2] == {"type": "message_delta", "delta": delta, "usage": {"output_tokens": 7}}
    assert chunks[-1] == {"type": "message_stop", "amazon-bedrock-invocationMetrics": INVOCATION_METRICS}
    tools = [{"name": "get_weather", "input_schema": {"type": "object"}}]
    chunks = stream_chunks(client, MODEL_ID, {**ANTHROPIC_BODY, "tools": tools})
    partial = [c["delta"]["partial_json"] for c in chunks if c["type"] == "content_block_delta"]
    assert partial == ["", '{"city": ', '"Paris"}']
    assert chunks[-2]["delta"]["stop_reason"] == "tool_use"


def test_invoke_stream_nova_events(client):
    chunks = stream_chunks(client, "amazon.nova-micro-v1:0", NOVA_BODY)
    assert [next(iter(chunk)) for chunk in chunks] == [
        "messageStart",
        *["contentBlockDelta"] * len(WORDS),
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert chunks[-2] == {"messageStop": {"stopReason": "end_turn"}}


def _raw_frames(srv, path, body):
    connection = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    connection.request("POST", path, body=json.dumps(body).encode(), headers={"content-type": "application/json"})
    response = connection.getresponse()
    assert response.status == 200
    assert response.getheader("transfer-encoding") == "chunked"
    buffer = EventStreamBuffer()
    buffer.add_data(response.read())
    connection.close()
    return list(buffer)


def test_raw_frames(srv):
    """Invoke chunks wrap the JSON as {"bytes": base64}; ConverseStream payloads are the bare event."""
    [first, *_] = _raw_frames(srv, "/model/meta.llama3/invoke-with-response-stream", {"prompt": "Hi"})
    assert first.headers == {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
    payload = json.loads(first.payload)
    assert json.loads(base64.b64decode(payload["bytes"]))["generation"] == "Hello "
    [first, *_] = _raw_frames(srv, "/model/meta.llama3/converse-stream", {"messages": MESSAGES})
    assert first.headers[":event-type"] == "messageStart"
    assert first.headers[":message-type"] == "event"
    assert json.loads(first.payload) == {"role": "assistant"}


# --- errors ------------------------------------------------------------------------------------


def _call(client, route, model_id):
    if route == "converse":
        return client.converse(modelId=model_id, messages=MESSAGES)
    if route == "converse_stream":
        return client.converse_stream(modelId=model_id, messages=MESSAGES)
    if route == "invoke_model":
        return client.invoke_model(modelId=model_id, body=json.dumps(ANTHROPIC_BODY))
    return client.invoke_model_with_response_stream(modelId=model_id, body=json.dumps(ANTHROPIC_BODY))


@pytest.mark.parametrize("route", ["converse", "converse_stream", "invoke_model", "invoke_model_with_response_stream"])
@pytest.mark.parametrize("marker", list(ERRORS))
def test_error_models(srv, once_client, route, marker):
    status, exception = ERRORS[marker]
    # botocore's model has no class for some errors in older releases: they are plain ClientErrors
    expected = getattr(once_client.exceptions, exception, ClientError)
    with pytest.raises(expected) as caught:
        _call(once_client, route, f"anthropic.{marker}-v1:0")
    response = caught.value.response
    assert response["Error"] == {"Code": exception, "Message": f"fake {exception}"}
    assert response["ResponseMetadata"]["HTTPStatusCode"] == status
    assert len(srv.requests) == 1


def test_documented_error_statuses():
    assert {marker: status for marker, (status, _) in ERRORS.items()} == {
        "error-throttling": 429,
        "error-validation": 400,
        "error-access": 403,
        "error-notfound": 404,
        "error-internal": 500,
        "error-unavailable": 503,
        "error-timeout": 408,
        "error-model": 424,
        "error-notready": 429,
        "error-quota": 400,
    }


def test_max_attempts_one_still_retries_once(srv, client):
    """botocore's ``max_attempts`` counts retries: 1 means two requests for a retryable error."""
    with pytest.raises(client.exceptions.InternalServerException):
        client.converse(modelId="error-internal", messages=MESSAGES)
    assert len(srv.requests) == 2
    with pytest.raises(client.exceptions.ValidationException):  # 400: never retried
        client.converse(modelId="error-validation", messages=MESSAGES)
    assert len(srv.requests) == 3


def _events_until_error(iterable):
    received = []
    with pytest.raises(EventStreamError) as caught:
        for event in iterable:
            received.append(event)
    return received, caught.value


@pytest.mark.parametrize("case", list(INVOKE_CASES))
def test_mid_stream_error_invoke(client, case):
    model_id, body, _ = INVOKE_CASES[case]
    stream_error_id = f"{model_id}-stream-error"  # e.g. "meta.llama3-8b-instruct-v1:0-stream-error"
    assert model_family(stream_error_id) == model_family(model_id)
    response = client.invoke_model_with_response_stream(modelId=stream_error_id, body=json.dumps(body))
    events, error = _events_until_error(response["body"])
    chunks = [json.loads(event["chunk"]["bytes"]) for event in events]
    pieces = [piece for piece in map(STREAM_TEXT[case], chunks) if piece]
    assert pieces == ([] if case == "unknown" else WORDS[:2])
    assert chunks[-1] == OPAQUE if case == "unknown" else STREAM_TEXT[case](chunks[-1]) == "from "
    assert not any("amazon-bedrock-invocationMetrics" in chunk for chunk in chunks)
    assert not isinstance(error, client.exceptions.ModelStreamErrorException)
    assert error.response["Error"] == {"Code": "modelStreamErrorException", "Message": MID_STREAM_ERROR_MESSAGE}


def test_mid_stream_error_converse_stream(client):
    response = client.converse_stream(modelId="anthropic.stream-error-v1", messages=MESSAGES)
    events, error = _events_until_error(response["stream"])
    assert events == [
        {"messageStart": {"role": "assistant"}},
        {"contentBlockDelta": {"delta": {"text": "Hello "}, "contentBlockIndex": 0}},
        {"contentBlockDelta": {"delta": {"text": "from "}, "contentBlockIndex": 0}},
    ]
    assert error.response["Error"]["Code"] == "modelStreamErrorException"
    # A stream-error model answers the non-streaming routes normally.
    assert client.converse(modelId="anthropic.stream-error-v1", messages=MESSAGES)["stopReason"] == "end_turn"


def test_slow_model_times_out(srv):
    client = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=srv.url,
        aws_access_key_id="AKIDFAKEFAKE",
        aws_secret_access_key="fake-secret",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=0.05),
    )
    with pytest.raises(ReadTimeoutError):
        client.converse(modelId="anthropic.slow-v1", messages=MESSAGES)
