"""Bedrock Runtime through boto3: `converse` and `converse_stream` against the fake Bedrock server."""

from __future__ import annotations

import gc
import json

import pytest

boto3 = pytest.importorskip("boto3")

from opentelemetry.trace import SpanKind, StatusCode  # noqa: E402

from opik_otel.instrumentors.bedrock import BedrockInstrumentor  # noqa: E402
from tests.integration.bedrock.conftest import MESSAGES, MODEL, MODEL_ID, TEXT, TOOLS, new_client, one_span  # noqa: E402


def test_converse(client, exporter, srv):
    response = client.converse(modelId=MODEL_ID, messages=MESSAGES, system=[{"text": "Be brief."}], inferenceConfig={"maxTokens": 100, "temperature": 0.5})
    assert response["output"]["message"]["content"][0]["text"] == TEXT
    span = one_span(exporter)
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    attributes = dict(span.attributes)
    assert attributes["gen_ai.provider.name"] == "aws.bedrock"
    assert attributes["gen_ai.request.model"] == MODEL
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["gen_ai.request.max_tokens"] == 100
    assert attributes["gen_ai.request.temperature"] == 0.5
    assert attributes["gen_ai.usage.output_tokens"] == 7
    if reports_cache_usage(client):
        assert attributes["gen_ai.usage.input_tokens"] == 11 + 3 + 2  # uncached + cache read + cache write
        assert attributes["gen_ai.usage.cache_read.input_tokens"] == 3
        assert attributes["gen_ai.usage.cache_creation.input_tokens"] == 2
    else:  # older botocore drops the cache counts it has no model for
        assert attributes["gen_ai.usage.input_tokens"] == 11
    assert attributes["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert json.loads(attributes["gen_ai.system_instructions"]) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(attributes["gen_ai.output.messages"]) == [{"role": "assistant", "parts": [{"type": "text", "content": TEXT}], "finish_reason": "stop"}]
    if genai_prices_knows(MODEL):
        assert attributes["gen_ai.usage.cost"] > 0


def genai_prices_knows(model):
    """Whether the installed genai-prices prices this Bedrock model (old releases lack some)."""
    from opik_otel._pricing import PriceBook, TokenUsage

    return PriceBook().cost("aws.bedrock", model, TokenUsage(input=10, output=10)) is not None


def reports_cache_usage(client):
    """Whether this botocore's Converse model has the cache counts (added after 1.34)."""
    return "cacheReadInputTokens" in client.meta.service_model.shape_for("TokenUsage").members


def test_converse_stream(client, exporter):
    response = client.converse_stream(modelId=MODEL_ID, messages=MESSAGES)
    assert exporter.get_finished_spans() == ()
    text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in response["stream"] if "contentBlockDelta" in e)
    assert text == TEXT
    attributes = dict(one_span(exporter).attributes)
    assert attributes["gen_ai.request.stream"] is True
    assert attributes["gen_ai.usage.output_tokens"] == 7
    assert attributes["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert attributes["gen_ai.response.time_to_first_chunk"] > 0
    assert attributes["gen_ai.response.id"] == response["ResponseMetadata"]["RequestId"]
    assert json.loads(attributes["gen_ai.output.messages"])[0]["parts"] == [{"type": "text", "content": TEXT}]


def test_converse_stream_tool_use(client, exporter):
    response = client.converse_stream(modelId=MODEL_ID, messages=MESSAGES, toolConfig=TOOLS)
    for _ in response["stream"]:
        pass
    attributes = dict(one_span(exporter).attributes)
    output = json.loads(attributes["gen_ai.output.messages"])[0]
    assert {"type": "tool_call", "name": "get_weather", "id": "tooluse_fake_1", "arguments": {"city": "Paris"}} in output["parts"]
    assert output["finish_reason"] == "tool_call"
    assert json.loads(attributes["gen_ai.tool.definitions"])[0]["name"] == "get_weather"


def test_converse_stream_early_exit_then_gc(client, exporter):
    response = client.converse_stream(modelId=MODEL_ID, messages=MESSAGES)
    for _ in response["stream"]:
        break
    del response
    gc.collect()
    assert len(exporter.get_finished_spans()) == 1


def test_guardrail_id(client, exporter):
    if "guardrailConfig" not in client.meta.service_model.operation_model("Converse").input_shape.members:
        pytest.skip("this botocore's Converse has no guardrailConfig")
    client.converse(modelId=MODEL_ID, messages=MESSAGES, guardrailConfig={"guardrailIdentifier": "gr-123", "guardrailVersion": "1"})
    assert one_span(exporter).attributes["aws.bedrock.guardrail.id"] == "gr-123"


def test_arn_model_ids_resolve_to_the_model(client, exporter):
    arn = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{MODEL_ID}"
    client.converse(modelId=arn, messages=MESSAGES)
    assert one_span(exporter).attributes["gen_ai.request.model"] == MODEL


def test_throttling_is_recorded_and_reraised(client, exporter):
    with pytest.raises(client.exceptions.ThrottlingException):
        client.converse(modelId="error-throttling", messages=MESSAGES)
    span = one_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ThrottlingException"


def test_other_services_are_untouched(instrumentor):
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="AKIDFAKEFAKE", aws_secret_access_key="fake")
    assert not getattr(s3, "_opik_otel_tracked", False)


def test_clients_created_before_instrument_are_covered_by_track_bedrock(srv, provider, exporter, monkeypatch):
    import opik_otel._configure
    from opentelemetry import trace
    from opentelemetry.util._once import Once

    from opik_otel.instrumentors.bedrock import track_bedrock

    monkeypatch.setattr(opik_otel._configure, "ensure_configured", lambda: None)
    saved = trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE
    trace._TRACER_PROVIDER_SET_ONCE, trace._TRACER_PROVIDER = Once(), None
    trace.set_tracer_provider(provider)
    try:
        client = track_bedrock(new_client(srv), project_name="proj-b")
        client.converse(modelId=MODEL_ID, messages=MESSAGES)
    finally:
        trace._TRACER_PROVIDER, trace._TRACER_PROVIDER_SET_ONCE = saved
    assert one_span(exporter).attributes["opik.project_name"] == "proj-b"


def test_uninstrument_stops_tracing_new_clients(srv, provider, exporter):
    instrumentor = BedrockInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    instrumentor.uninstrument()
    new_client(srv).converse(modelId=MODEL_ID, messages=MESSAGES)
    assert exporter.get_finished_spans() == ()


def test_converse_tool_use_and_tool_result(client, exporter):
    first = client.converse(modelId=MODEL_ID, messages=MESSAGES, toolConfig=TOOLS)
    use = first["output"]["message"]["content"][0]["toolUse"]
    assert first["stopReason"] == "tool_use"
    follow_up = [*MESSAGES, first["output"]["message"],
                 {"role": "user", "content": [{"toolResult": {"toolUseId": use["toolUseId"], "content": [{"text": "sunny"}]}}]}]
    second = client.converse(modelId=MODEL_ID, messages=follow_up, toolConfig=TOOLS)
    assert second["output"]["message"]["content"][0]["text"] == "The weather is sunny."
    calling, answering = (dict(span.attributes) for span in exporter.get_finished_spans())
    assert json.loads(calling["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "tool_call", "name": "get_weather", "id": "tooluse_fake_1", "arguments": {"city": "Paris"}}], "finish_reason": "tool_call"}
    ]
    assert json.loads(calling["gen_ai.tool.definitions"]) == [
        {"type": "function", "name": "get_weather", "description": "Weather of a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
    ]
    messages = json.loads(answering["gen_ai.input.messages"])
    assert messages[2] == {"role": "user", "parts": [{"type": "tool_call_response", "id": "tooluse_fake_1", "response": [{"text": "sunny"}]}]}


def test_max_tokens_finish_reason(client, exporter):
    client.converse(modelId=MODEL_ID, messages=MESSAGES, inferenceConfig={"maxTokens": 1})
    attributes = one_span(exporter).attributes
    assert attributes["gen_ai.response.finish_reasons"] == ("max_tokens",)
    assert json.loads(attributes["gen_ai.output.messages"])[0]["finish_reason"] == "length"


def test_content_off_records_no_text(srv, provider, exporter):
    instrumentor = BedrockInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=False)
    try:
        client = new_client(srv)
        client.converse(modelId=MODEL_ID, messages=MESSAGES, system=[{"text": "Be brief."}], toolConfig=TOOLS)
        for _ in client.converse_stream(modelId=MODEL_ID, messages=MESSAGES)["stream"]:
            pass
    finally:
        instrumentor.uninstrument()
    for span in exporter.get_finished_spans():
        assert not {"gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.tool.definitions"} & set(span.attributes)
        assert span.attributes["gen_ai.usage.output_tokens"] == 7
    assert len(exporter.get_finished_spans()) == 2


@pytest.mark.parametrize("make_session", [
    pytest.param(lambda: boto3.Session(), id="boto3-session"),
    pytest.param(lambda: __import__("botocore.session").session.get_session(), id="botocore-session"),
])
def test_clients_from_sessions_are_covered(srv, instrumentor, exporter, make_session):
    new_client(srv, make_session()).converse(modelId=MODEL_ID, messages=MESSAGES)
    assert one_span(exporter).name == f"chat {MODEL}"


def test_track_bedrock_on_an_instrumented_client_gives_one_span(srv, instrumentor, exporter):
    from opik_otel.instrumentors.bedrock import track_bedrock

    client = track_bedrock(new_client(srv))
    client.converse(modelId=MODEL_ID, messages=MESSAGES)
    assert len(exporter.get_finished_spans()) == 1


def test_converse_stream_close_ends_the_span(client, exporter):
    response = client.converse_stream(modelId=MODEL_ID, messages=MESSAGES)
    stream = response["stream"]
    next(iter(stream))
    stream.close()
    span = one_span(exporter)
    assert span.status.status_code is StatusCode.UNSET
    assert "gen_ai.usage.output_tokens" not in span.attributes


def test_mid_stream_error_is_recorded_and_reraised(client, exporter):
    response = client.converse_stream(modelId="anthropic.stream-error-v1", messages=MESSAGES)
    with pytest.raises(Exception) as raised:
        for _ in response["stream"]:
            pass
    span = one_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == type(raised.value).__qualname__


def test_official_botocore_instrumentation_adds_no_second_span(srv, instrumentor, provider, exporter):
    botocore_instrumentation = pytest.importorskip("opentelemetry.instrumentation.botocore")
    official = botocore_instrumentation.BotocoreInstrumentor()
    official.instrument(tracer_provider=provider)
    try:
        client = new_client(srv)  # created while both are active, as under opentelemetry-instrument
        client.converse(modelId=MODEL_ID, messages=MESSAGES)
        for _ in client.converse_stream(modelId=MODEL_ID, messages=MESSAGES)["stream"]:
            pass
    finally:
        official.uninstrument()
    names = [span.name for span in exporter.get_finished_spans()]
    assert names == [f"chat {MODEL}", f"chat {MODEL}"]
