"""Bedrock Runtime through boto3: `converse` and `converse_stream` against the fake Bedrock server."""

from __future__ import annotations

import gc
import json

import pytest

boto3 = pytest.importorskip("boto3")

from opentelemetry.trace import SpanKind, StatusCode  # noqa: E402

from opik_otel.instrumentors.bedrock import BedrockInstrumentor  # noqa: E402
from tests.integration.bedrock.conftest import MESSAGES, MODEL_ID, TEXT, TOOLS, new_client, one_span  # noqa: E402

# Claude 3.5 Haiku through a US inference profile: $0.80 / $4 per million input / output
# tokens, cache reads $0.08, cache writes $1 (the same in every genai-prices release we support).
HAIKU_COST = (11 * 0.8 + 3 * 0.08 + 2 * 1.0 + 7 * 4) / 1e6
HAIKU_COST_WITHOUT_CACHE_COUNTS = (11 * 0.8 + 7 * 4) / 1e6


def test_converse(client, exporter, srv):
    response = client.converse(modelId=MODEL_ID, messages=MESSAGES, system=[{"text": "Be brief."}], inferenceConfig={"maxTokens": 100, "temperature": 0.5})
    assert response["output"]["message"]["content"][0]["text"] == TEXT
    span = one_span(exporter)
    assert span.name == f"chat {MODEL_ID}"
    assert span.kind is SpanKind.CLIENT
    attributes = dict(span.attributes)
    assert attributes["gen_ai.provider.name"] == "aws.bedrock"
    assert attributes["gen_ai.request.model"] == MODEL_ID
    assert "gen_ai.response.id" not in attributes  # a Converse reply has no id of its own
    assert attributes["aws.request_id"] == response["ResponseMetadata"]["RequestId"]
    assert attributes["server.address"] == "127.0.0.1"
    assert attributes["gen_ai.request.max_tokens"] == 100
    assert attributes["gen_ai.request.temperature"] == 0.5
    assert attributes["gen_ai.usage.output_tokens"] == 7
    if reports_cache_usage(client):
        assert attributes["gen_ai.usage.input_tokens"] == 11 + 3 + 2  # uncached + cache read + cache write
        assert attributes["gen_ai.usage.cache_read.input_tokens"] == 3
        assert attributes["gen_ai.usage.cache_creation.input_tokens"] == 2
        assert attributes["gen_ai.usage.cost"] == pytest.approx(HAIKU_COST, rel=1e-9)
    else:  # older botocore drops the cache counts it has no model for
        assert attributes["gen_ai.usage.input_tokens"] == 11
        assert attributes["gen_ai.usage.cost"] == pytest.approx(HAIKU_COST_WITHOUT_CACHE_COUNTS, rel=1e-9)
    assert attributes["gen_ai.response.finish_reasons"] == ("end_turn",)
    assert json.loads(attributes["gen_ai.system_instructions"]) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(attributes["gen_ai.output.messages"]) == [{"role": "assistant", "parts": [{"type": "text", "content": TEXT}], "finish_reason": "stop"}]


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
    assert "gen_ai.response.id" not in attributes
    assert attributes["aws.request_id"] == response["ResponseMetadata"]["RequestId"]
    assert json.loads(attributes["gen_ai.output.messages"])[0]["parts"] == [{"type": "text", "content": TEXT}]


REASONING = {"thinking": {"type": "enabled", "budget_tokens": 1024}}
REASONED_OUTPUT = [{"role": "assistant", "parts": [{"type": "reasoning", "content": "Let me think."}, {"type": "text", "content": TEXT}],
                    "finish_reason": "stop"}]


def test_streamed_and_non_streamed_reasoning_agree(client, exporter):
    client.converse(modelId=MODEL_ID, messages=MESSAGES, additionalModelRequestFields=REASONING)
    for _ in client.converse_stream(modelId=MODEL_ID, messages=MESSAGES, additionalModelRequestFields=REASONING)["stream"]:
        pass
    plain, streamed = (json.loads(span.attributes["gen_ai.output.messages"]) for span in exporter.get_finished_spans())
    if "reasoningContent" in client.meta.service_model.shape_for("ContentBlock").members:
        assert plain == streamed == REASONED_OUTPUT
    else:  # botocore < 1.36 has no model for reasoning blocks and drops them, streamed or not
        assert plain == streamed == [{"role": "assistant", "parts": [{"type": "text", "content": TEXT}], "finish_reason": "stop"}]


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


HAIKU_PRICES = (0.8, 4, 0.08, 1.0)  # USD per million: input, output, cache read, cache write


@pytest.mark.parametrize(("model_id", "prices"), [
    pytest.param(MODEL_ID, HAIKU_PRICES, id="us-profile"),
    pytest.param(f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{MODEL_ID}", HAIKU_PRICES, id="inference-profile-arn"),
    pytest.param("global.anthropic.claude-sonnet-4-20250514-v1:0", (3, 15, 0.3, 3.75), id="global-profile"),
    pytest.param("arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-1-8b-instruct-v1:0", (0.22, 0.22, 0.22, 0.22), id="foundation-model-arn"),
    pytest.param("arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5", None, id="application-profile-arn"),
    pytest.param("arn:aws:bedrock:us-east-1:123456789012:provisioned-model/pm0123abcd", None, id="provisioned-model-arn"),
])
def test_model_id_is_recorded_as_sent_and_priced_as_its_model(client, exporter, model_id, prices):
    client.converse(modelId=model_id, messages=MESSAGES)
    span = one_span(exporter)
    assert span.name == f"chat {model_id}"
    assert span.attributes["gen_ai.request.model"] == model_id
    if prices is None:  # an application profile's or a provisioned model's ARN names no model we can price
        assert "gen_ai.usage.cost" not in span.attributes
        return
    uncached, cache_read, cache_write = (11, 3, 2) if reports_cache_usage(client) else (11, 0, 0)
    expected = (uncached * prices[0] + 7 * prices[1] + cache_read * prices[2] + cache_write * prices[3]) / 1e6
    assert span.attributes["gen_ai.usage.cost"] == pytest.approx(expected, rel=1e-9)


def test_throttling_is_recorded_and_reraised(client, exporter):
    with pytest.raises(client.exceptions.ThrottlingException):
        client.converse(modelId="error-throttling", messages=MESSAGES)
    span = one_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ThrottlingException"


def test_other_services_are_untouched(instrumentor):
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="AKIDFAKEFAKE", aws_secret_access_key="fake")
    assert "_make_api_call" not in vars(s3)  # botocore's own, from the class


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


def test_uninstrument_untraces_clients_created_before_it(srv, provider, exporter):
    instrumentor = BedrockInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        client = new_client(srv)
        client.converse(modelId=MODEL_ID, messages=MESSAGES)
    finally:
        instrumentor.uninstrument()
    client.converse(modelId=MODEL_ID, messages=MESSAGES)
    for _ in client.converse_stream(modelId=MODEL_ID, messages=MESSAGES)["stream"]:
        pass
    assert len(exporter.get_finished_spans()) == 1


def test_instrument_again_after_uninstrument(srv, provider, exporter):
    """A client from an earlier instrument() is traced once per call by the current one, with its provider."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    instrumentor = BedrockInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    early = new_client(srv)
    instrumentor.uninstrument()
    second = InMemorySpanExporter()
    second_provider = TracerProvider()
    second_provider.add_span_processor(SimpleSpanProcessor(second))
    instrumentor.instrument(tracer_provider=second_provider)
    try:
        early.converse(modelId=MODEL_ID, messages=MESSAGES)
        new_client(srv).converse(modelId=MODEL_ID, messages=MESSAGES)
    finally:
        instrumentor.uninstrument()
    assert exporter.get_finished_spans() == ()
    assert [span.name for span in second.get_finished_spans()] == [f"chat {MODEL_ID}"] * 2


@pytest.mark.parametrize(("setting", "recorded"), [("SPAN_ONLY", True), ("NO_CONTENT", False)])
def test_instrument_reads_the_content_switch_from_the_environment(srv, provider, exporter, monkeypatch, setting, recorded):
    monkeypatch.setenv("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT", setting)
    instrumentor = BedrockInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        client = new_client(srv)
        client.converse(modelId=MODEL_ID, messages=MESSAGES, system=[{"text": "Be brief."}])
        for _ in client.converse_stream(modelId=MODEL_ID, messages=MESSAGES)["stream"]:
            pass
        client.invoke_model(modelId=MODEL_ID, body=json.dumps({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 64,
                                                              "messages": [{"role": "user", "content": "Hi"}]}))
    finally:
        instrumentor.uninstrument()
    spans = exporter.get_finished_spans()
    assert len(spans) == 3
    for span in spans:
        content = {"gen_ai.input.messages", "gen_ai.output.messages"} & set(span.attributes)
        assert content == ({"gen_ai.input.messages", "gen_ai.output.messages"} if recorded else set())


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
    assert one_span(exporter).name == f"chat {MODEL_ID}"


def test_track_bedrock_on_an_instrumented_client_gives_one_span_in_its_project(srv, instrumentor, global_provider, exporter):
    from opik_otel.instrumentors.bedrock import track_bedrock

    client = track_bedrock(new_client(srv), project_name="proj-b")
    assert track_bedrock(client) is client
    client.converse(modelId=MODEL_ID, messages=MESSAGES)
    assert one_span(exporter).attributes["opik.project_name"] == "proj-b"


def test_converse_stream_close_ends_the_span(client, exporter):
    response = client.converse_stream(modelId=MODEL_ID, messages=MESSAGES)
    stream = response["stream"]
    next(iter(stream))
    stream.close()
    span = one_span(exporter)
    assert span.status.status_code is StatusCode.UNSET
    assert "gen_ai.usage.output_tokens" not in span.attributes


def test_a_call_with_an_unreadable_inference_config_is_traced_with_botocore_s_error(client, exporter):
    """The parameters we cannot read are left out; the span records the call and the error botocore raises."""
    from botocore.exceptions import ParamValidationError

    with pytest.raises(ParamValidationError):
        client.converse(modelId=MODEL_ID, messages=MESSAGES, inferenceConfig=["maxTokens"])

    span = one_span(exporter)
    assert span.name == f"chat {MODEL_ID}"
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == "ParamValidationError"
    assert "gen_ai.request.max_tokens" not in span.attributes


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
    assert names == [f"chat {MODEL_ID}", f"chat {MODEL_ID}"]


@pytest.mark.parametrize("ours_first", [True, False], ids=["ours-first", "official-first"])
def test_official_botocore_instrumentation_in_either_order(srv, provider, exporter, ours_first):
    """One span per Bedrock call whichever instruments first; each uninstrument() undoes only its own."""
    botocore_instrumentation = pytest.importorskip("opentelemetry.instrumentation.botocore")
    ours, official = BedrockInstrumentor(), botocore_instrumentation.BotocoreInstrumentor()
    first, second = (ours, official) if ours_first else (official, ours)
    first.instrument(tracer_provider=provider)
    second.instrument(tracer_provider=provider)
    try:
        client = new_client(srv)
        client.converse(modelId=MODEL_ID, messages=MESSAGES)
        assert [span.instrumentation_scope.name for span in exporter.get_finished_spans()] == ["opik_otel.instrumentors.bedrock"]
        ours.uninstrument()
        client.converse(modelId=MODEL_ID, messages=MESSAGES)  # the official instrumentation alone now
        assert exporter.get_finished_spans()[-1].instrumentation_scope.name.startswith("opentelemetry.instrumentation.botocore")
    finally:
        official.uninstrument()
        ours.uninstrument()
    client.converse(modelId=MODEL_ID, messages=MESSAGES)
    assert len(exporter.get_finished_spans()) == 2
