"""Anthropic Messages API: one inference span per call, per the GenAI conventions."""

from __future__ import annotations

import gc
import inspect
import json

import pytest
from genai_prices import Usage, calc_price
from opentelemetry.trace import SpanKind, StatusCode

anthropic = pytest.importorskip("anthropic")

API_KEY = "sk-ant-test-fake"
MODEL = "claude-sonnet-4-5"
TEXT = "Hello from the fake Anthropic server."
REQUEST = dict(model=MODEL, max_tokens=100, system="Be brief.", messages=[{"role": "user", "content": "Hi"}])
WEATHER_TOOL = {"name": "get_weather", "description": "Weather of a city", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}


def ours(exporter):
    return [s for s in exporter.get_finished_spans() if s.instrumentation_scope.name == "opik_otel.instrumentors.anthropic"]


def one_span(exporter):
    spans = exporter.get_finished_spans()
    assert [s.instrumentation_scope.name for s in spans] == ["opik_otel.instrumentors.anthropic"], "exactly one span, ours"
    return spans[0]


def expected_cost() -> float:
    # the conventions' input count: 10 uncached + 4 cache reads + 2 cache writes
    usage = Usage(input_tokens=16, cache_read_tokens=4, cache_write_tokens=2, output_tokens=6)
    return float(calc_price(usage, MODEL, provider_id="anthropic").total_price)


def assert_chat_span(span, srv, *, stream: bool = False) -> None:
    attributes = dict(span.attributes)
    assert span.name == f"chat {MODEL}"
    assert span.kind is SpanKind.CLIENT
    assert span.status.status_code is StatusCode.UNSET
    expected = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "anthropic",
        "gen_ai.request.model": MODEL,
        "gen_ai.request.max_tokens": 100,
        "server.address": "127.0.0.1",
        "server.port": srv.port,
        "gen_ai.response.model": MODEL,
        "gen_ai.response.finish_reasons": ("end_turn",),
        "gen_ai.usage.input_tokens": 16,
        "gen_ai.usage.output_tokens": 6,
        "gen_ai.usage.cache_read.input_tokens": 4,
        "gen_ai.usage.cache_creation.input_tokens": 2,
    }
    if stream:
        expected["gen_ai.request.stream"] = True
    for key, value in expected.items():
        assert attributes[key] == value, key
    assert attributes["gen_ai.response.id"].startswith("msg_fake_")
    assert json.loads(attributes["gen_ai.system_instructions"]) == [{"type": "text", "content": "Be brief."}]
    assert json.loads(attributes["gen_ai.input.messages"]) == [{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}]
    assert json.loads(attributes["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": TEXT}], "finish_reason": "stop"}
    ]
    assert attributes["gen_ai.usage.cost"] == pytest.approx(expected_cost(), rel=1e-9)


def test_create(client, exporter, srv):
    message = client.messages.create(**REQUEST)
    assert message.content[0].text == TEXT
    assert_chat_span(one_span(exporter), srv)


async def test_create_async(aclient, exporter, srv):
    await aclient.messages.create(**REQUEST)
    assert_chat_span(one_span(exporter), srv)


def test_create_stream_raw_events(client, exporter, srv):
    stream = client.messages.create(**REQUEST, stream=True)
    if type(anthropic.Stream) is type:  # anthropic < 2 overrides isinstance() on Stream for every proxy
        assert isinstance(stream, anthropic.Stream)
    assert exporter.get_finished_spans() == ()
    events = [event.type for event in stream]
    assert events[0] == "message_start" and events[-1] == "message_stop"
    span = one_span(exporter)
    assert_chat_span(span, srv, stream=True)
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0


async def test_create_stream_async(aclient, exporter, srv):
    stream = await aclient.messages.create(**REQUEST, stream=True)
    async for _ in stream:
        pass
    assert_chat_span(one_span(exporter), srv, stream=True)


def test_stream_helper_text_stream(client, exporter, srv):
    with client.messages.stream(**REQUEST) as stream:
        assert "".join(stream.text_stream) == TEXT
        assert stream.get_final_message().content[0].text == TEXT
    assert_chat_span(one_span(exporter), srv, stream=True)


async def test_stream_helper_async(aclient, exporter, srv):
    async with aclient.messages.stream(**REQUEST) as stream:
        assert await stream.get_final_text() == TEXT
    assert_chat_span(one_span(exporter), srv, stream=True)


def test_stream_helper_until_done(client, exporter, srv):
    with client.messages.stream(**REQUEST) as stream:
        stream.until_done()
    assert_chat_span(one_span(exporter), srv, stream=True)


def test_stream_helper_early_exit_ends_the_span_at_with_exit(client, exporter):
    with client.messages.stream(**REQUEST) as stream:
        for _ in stream:
            break
        assert exporter.get_finished_spans() == ()
    assert len(exporter.get_finished_spans()) == 1
    del stream
    gc.collect()
    assert len(exporter.get_finished_spans()) == 1


def test_raw_stream_early_break_then_gc(client, exporter):
    stream = client.messages.create(**REQUEST, stream=True)
    for _ in stream:
        break
    del stream
    gc.collect()
    assert len(ours(exporter)) == 1


def test_tools_and_tool_results(client, exporter):
    client.messages.create(**{**REQUEST, "tools": [WEATHER_TOOL]})
    span = one_span(exporter)
    assert json.loads(span.attributes["gen_ai.tool.definitions"]) == [
        {"type": "function", "name": "get_weather", "description": "Weather of a city", "parameters": WEATHER_TOOL["input_schema"]}
    ]
    assert span.attributes["gen_ai.response.finish_reasons"] == ("tool_use",)
    assert json.loads(span.attributes["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "tool_call", "name": "get_weather", "id": "toolu_fake_1", "arguments": {"city": "Paris"}}], "finish_reason": "tool_call"}
    ]
    exporter.clear()
    follow_up = [
        {"role": "user", "content": "Weather in Paris?"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_fake_1", "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_fake_1", "content": "sunny"}]},
    ]
    client.messages.create(**{**REQUEST, "messages": follow_up, "tools": [WEATHER_TOOL]})
    messages = json.loads(one_span(exporter).attributes["gen_ai.input.messages"])
    assert messages[1]["parts"] == [{"type": "tool_call", "name": "get_weather", "id": "toolu_fake_1", "arguments": {"city": "Paris"}}]
    assert messages[2] == {"role": "user", "parts": [{"type": "tool_call_response", "response": "sunny", "id": "toolu_fake_1"}]}


def test_streamed_tool_call_is_assembled(client, exporter):
    for _ in client.messages.create(**{**REQUEST, "tools": [WEATHER_TOOL]}, stream=True):
        pass
    output = json.loads(one_span(exporter).attributes["gen_ai.output.messages"])
    assert output[0]["parts"] == [{"type": "tool_call", "name": "get_weather", "id": "toolu_fake_1", "arguments": {"city": "Paris"}}]
    assert output[0]["finish_reason"] == "tool_call"


def test_thinking_becomes_a_reasoning_part(client, exporter):
    if "thinking" not in inspect.signature(anthropic.resources.messages.Messages.create).parameters:
        pytest.skip(f"anthropic {anthropic.__version__} has no extended thinking")
    client.messages.create(**{**REQUEST, "max_tokens": 2000, "thinking": {"type": "enabled", "budget_tokens": 1024}})
    parts = json.loads(one_span(exporter).attributes["gen_ai.output.messages"])[0]["parts"]
    assert parts[0] == {"type": "reasoning", "content": "Let me think."}
    assert parts[1] == {"type": "text", "content": TEXT}


def test_beta_messages(client, exporter, srv):
    client.beta.messages.create(**REQUEST)
    assert_chat_span(one_span(exporter), srv)


@pytest.mark.parametrize(
    ("model", "error"),
    [("error-400", "BadRequestError"), ("error-429", "RateLimitError"), ("error-500", "InternalServerError")],
)
def test_errors_are_recorded_and_reraised(client, exporter, model, error):
    with pytest.raises(getattr(anthropic, error)):
        client.messages.create(**{**REQUEST, "model": model})
    span = one_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["error.type"] == error
    assert [e.name for e in span.events] == ["exception"]


def test_sdk_spans_alone_are_priced(srv, provider, exporter):
    """Without our instrumentor the SDK's own span is kept, and the processor prices it."""
    with anthropic.Anthropic(base_url=srv.url, api_key=API_KEY, max_retries=0) as client:
        client.messages.create(**REQUEST)
    if not exporter.get_finished_spans():
        pytest.skip(f"anthropic {anthropic.__version__} does not trace itself")
    (span,) = exporter.get_finished_spans()
    assert span.instrumentation_scope.name == "com.anthropic.sdk.python"
    assert span.attributes["gen_ai.usage.cost"] == pytest.approx(expected_cost(), rel=1e-9)


def test_bedrock_and_vertex_clients_report_their_provider(srv, instrumentor, exporter):
    pytest.importorskip("botocore", reason="AnthropicBedrock signs requests with botocore")
    bedrock = anthropic.AnthropicBedrock(base_url=srv.url + "/bedrock", aws_region="us-east-1", aws_access_key="AKIDFAKE", aws_secret_key="fake", max_retries=0)
    vertex = anthropic.AnthropicVertex(base_url=srv.url + "/vertex", region="us-east5", project_id="p", access_token="fake", max_retries=0)
    for client in (bedrock, vertex):
        client.messages.create(**REQUEST)
    providers = [s.attributes["gen_ai.provider.name"] for s in ours(exporter)]
    assert providers == ["aws.bedrock", "gcp.vertex_ai"]


def test_uninstrument_restores(srv, provider, exporter):
    instrumentor = __import__("opik_otel.instrumentors.anthropic", fromlist=["AnthropicInstrumentor"]).AnthropicInstrumentor()
    original = anthropic.resources.messages.Messages.create
    instrumentor.instrument(tracer_provider=provider)
    instrumentor.uninstrument()
    assert anthropic.resources.messages.Messages.create is original
    assert not ours(exporter)


def test_track_anthropic_traces_that_client_only(srv, provider, exporter):
    from opik_otel.instrumentors.anthropic import track_anthropic

    tracked = track_anthropic(anthropic.Anthropic(base_url=srv.url, api_key=API_KEY, max_retries=0), project_name="proj-a")
    other = anthropic.Anthropic(base_url=srv.url, api_key=API_KEY, max_retries=0)
    other.messages.create(**REQUEST)
    tracked.messages.create(**REQUEST)
    (span,) = ours(exporter)
    assert span.attributes["opik.project_name"] == "proj-a"


def test_parse_structured_output_is_one_span(client, exporter):
    import pydantic

    if not hasattr(anthropic.resources.messages.Messages, "parse"):
        pytest.skip(f"anthropic {anthropic.__version__} has no messages.parse")

    class Weather(pydantic.BaseModel):
        city: str
        sunny: bool

    parsed = client.messages.parse(**REQUEST, output_format=Weather)
    assert isinstance(parsed.parsed_output, Weather)
    span = one_span(exporter)
    assert span.attributes["gen_ai.output.type"] == "json"
    assert span.attributes["gen_ai.usage.input_tokens"] == 16


def test_content_off_records_no_text(srv, provider, exporter):
    instrumentor = __import__("opik_otel.instrumentors.anthropic", fromlist=["AnthropicInstrumentor"]).AnthropicInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=False)
    try:
        with anthropic.Anthropic(base_url=srv.url, api_key=API_KEY, max_retries=0) as client:
            client.messages.create(**{**REQUEST, "tools": [WEATHER_TOOL]})
            with client.messages.stream(**REQUEST) as stream:
                stream.until_done()
    finally:
        instrumentor.uninstrument()
    for span in ours(exporter):
        attributes = dict(span.attributes)
        for key in ("gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.tool.definitions"):
            assert key not in attributes
        assert "Be brief." not in json.dumps(attributes, default=str) and TEXT not in json.dumps(attributes, default=str)
        assert attributes["gen_ai.usage.input_tokens"] == 16


def test_timeout_and_connection_errors(client, exporter, srv):
    with pytest.raises(anthropic.APITimeoutError):
        client.messages.create(**{**REQUEST, "model": "slow-2000"}, timeout=0.2)
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    with anthropic.Anthropic(base_url=f"http://127.0.0.1:{closed_port}", api_key=API_KEY, max_retries=0) as dead:
        with pytest.raises(anthropic.APIConnectionError):
            dead.messages.create(**REQUEST)
    errors = [s.attributes["error.type"] for s in ours(exporter)]
    assert errors == ["APITimeoutError", "APIConnectionError"]
    assert all(s.status.status_code is StatusCode.ERROR for s in ours(exporter))


def test_mid_stream_error_ends_the_span_with_the_error(client, exporter):
    with pytest.raises(anthropic.APIError):
        for _ in client.messages.create(**{**REQUEST, "model": "stream-error"}, stream=True):
            pass
    (span,) = ours(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert [e.name for e in span.events] == ["exception"]


async def test_async_stream_helper_early_exit(aclient, exporter):
    async with aclient.messages.stream(**REQUEST) as stream:
        async for _ in stream:
            break
        assert ours(exporter) == []
    assert len(ours(exporter)) == 1


def test_with_raw_response(client, exporter, srv):
    raw = client.messages.with_raw_response.create(**REQUEST)
    assert raw.parse().content[0].text == TEXT
    assert_chat_span(one_span(exporter), srv)
