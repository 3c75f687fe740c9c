"""Automatic function calling: the SDK runs the app's function itself. The whole call is one
`invoke_agent {model}` span; under it each model round trip is an inference span and each
function run an `execute_tool {name}` span, in the order they happened."""

# No `from __future__ import annotations`: google-genai < 1.x.y reads the functions' annotations as objects.
import pytest
from google.genai import types
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from tests.fakes.gemini_server import TOOL_RESULT_TEXT
from tests.integration.genai.conftest import MODEL
from tests.integration.genai.test_generate_content import GEMINI_COST
from tests.integration.spans import attrs, exception_events, json_attr


def get_weather(city: str) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


async def get_weather_async(city: str) -> str:
    """Weather for a city."""
    return f"sunny in {city}"


def broken_weather(city: str) -> str:
    """Weather for a city."""
    raise RuntimeError("weather station down")


def assert_tree(exporter, srv, tool_name="get_weather", result="sunny in Paris", answered=True) -> None:
    """invoke_agent ⊃ [generate_content (asks for the tool), execute_tool, generate_content (answers)]."""
    spans = sorted(exporter.get_finished_spans(), key=lambda s: s.start_time)
    assert [s.name for s in spans] == [f"invoke_agent {MODEL}", f"generate_content {MODEL}", f"execute_tool {tool_name}", f"generate_content {MODEL}"]
    agent, ask, tool, answer = spans
    assert agent.parent is None and agent.kind is SpanKind.INTERNAL
    assert {s.parent.span_id for s in (ask, tool, answer)} == {agent.context.span_id}
    assert {s.context.trace_id for s in spans} == {agent.context.trace_id}
    expected_agent = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.provider.name": "gcp.gemini",
        "gen_ai.request.model": MODEL,
        "server.address": "127.0.0.1",
        "server.port": srv.port,
        "gen_ai.input.messages": [{"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}],
        "gen_ai.tool.definitions": [{"type": "function", "name": tool_name, "description": "Weather for a city."}],
    }
    if answered:  # a plain call's reply; a stream's chunks are the app's
        expected_agent["gen_ai.output.messages"] = [{"role": "assistant", "parts": [{"type": "text", "content": TOOL_RESULT_TEXT}], "finish_reason": "stop"}]
    actual_agent = attrs(agent)
    for key in ("gen_ai.input.messages", "gen_ai.tool.definitions", "gen_ai.output.messages"):
        if key in actual_agent:
            actual_agent[key] = json_attr(agent, key)
    assert actual_agent == expected_agent
    assert "gen_ai.usage.cost" not in agent.attributes  # only the round trips are billed
    assert [s.attributes["gen_ai.usage.cost"] for s in (ask, answer)] == [pytest.approx(GEMINI_COST, rel=1e-9)] * 2
    assert json_attr(ask, "gen_ai.output.messages")[0]["finish_reason"] == "tool_call"
    assert tool.kind is SpanKind.INTERNAL
    assert attrs(tool) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": tool_name,
        "gen_ai.tool.call.arguments": '{"city":"Paris"}',
        "gen_ai.tool.call.result": f'"{result}"',
    }
    assert json_attr(answer, "gen_ai.input.messages")[-1] == {
        "role": "tool",
        "parts": [{"type": "tool_call_response", "response": {"result": result}}],
    }


def test_generate_content_with_a_python_function(client, exporter, srv):
    response = client.models.generate_content(model=MODEL, contents="Weather in Paris?", config={"tools": [get_weather]})

    assert response.text == TOOL_RESULT_TEXT
    assert_tree(exporter, srv)


async def test_async_generate_content_with_sync_and_async_functions(client, exporter, srv):
    from google.genai import _extra_utils

    if not hasattr(_extra_utils, "invoke_function_from_dict_args_async"):
        pytest.skip("this google-genai runs no async functions itself")
    response = await client.aio.models.generate_content(model=MODEL, contents="Weather in Paris?", config={"tools": [get_weather_async]})
    assert response.text == TOOL_RESULT_TEXT
    assert_tree(exporter, srv, "get_weather_async")
    exporter.clear()

    await client.aio.models.generate_content(model=MODEL, contents="Weather in Paris?", config={"tools": [get_weather]})
    assert_tree(exporter, srv)  # run in a worker thread by the SDK: still under the call's span


def test_a_chat_turn_with_a_python_function(client, exporter, srv):
    chat = client.chats.create(model=MODEL, config=types.GenerateContentConfig(tools=[get_weather]))
    assert chat.send_message("Weather in Paris?").text == TOOL_RESULT_TEXT

    assert_tree(exporter, srv)


def test_a_streamed_call_with_a_python_function(client, exporter, srv):
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="Weather in Paris?", config={"tools": [get_weather]}))

    assert "".join(c.text or "" for c in chunks) == TOOL_RESULT_TEXT
    assert_tree(exporter, srv, answered=False)
    [agent] = [s for s in exporter.get_finished_spans() if s.name.startswith("invoke_agent")]
    assert agent.end_time >= max(s.end_time for s in exporter.get_finished_spans() if s is not agent)


def test_a_failing_function_fails_its_span_only(client, exporter):
    response = client.models.generate_content(model=MODEL, contents="Weather in Paris?", config={"tools": [broken_weather]})

    assert response.text == TOOL_RESULT_TEXT  # the SDK sends the error to the model
    spans = {s.name: s for s in exporter.get_finished_spans()}
    tool = spans["execute_tool broken_weather"]
    assert tool.status.status_code is StatusCode.ERROR
    assert tool.attributes["error.type"] == "RuntimeError"
    assert len(exception_events(tool)) == 1
    assert spans[f"invoke_agent {MODEL}"].status.status_code is StatusCode.UNSET


def test_without_functions_or_with_afc_off_there_is_no_agent_span(client, exporter):
    no_afc = types.GenerateContentConfig(tools=[get_weather], automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True))
    client.models.generate_content(model=MODEL, contents="Weather in Paris?", config=no_afc)
    client.models.generate_content(model=MODEL, contents="Hi")

    assert [s.name for s in exporter.get_finished_spans()] == [f"generate_content {MODEL}"] * 2


def test_a_function_called_outside_afc_makes_no_span(instrumentor, exporter):
    from google.genai import _extra_utils

    assert _extra_utils.invoke_function_from_dict_args({"city": "Rome"}, get_weather) == "sunny in Rome"
    assert exporter.get_finished_spans() == ()


def test_afc_inside_the_apps_span_nests_under_it(client, exporter, provider):
    with provider.get_tracer("app").start_as_current_span("app") as app:
        client.models.generate_content(model=MODEL, contents="Weather in Paris?", config={"tools": [get_weather]})

    [agent] = [s for s in exporter.get_finished_spans() if s.name.startswith("invoke_agent")]
    assert agent.parent.span_id == app.get_span_context().span_id
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_a_streamed_chat_turn_with_a_python_function(client, exporter, srv):
    chat = client.chats.create(model=MODEL, config={"tools": [get_weather]})
    assert "".join(c.text or "" for c in chat.send_message_stream("Weather in Paris?")) == TOOL_RESULT_TEXT

    assert_tree(exporter, srv, answered=False)


async def test_an_async_chat_turn_with_a_python_function(client, exporter, srv):
    chat = client.aio.chats.create(model=MODEL, config={"tools": [get_weather]})
    assert (await chat.send_message("Weather in Paris?")).text == TOOL_RESULT_TEXT
    assert_tree(exporter, srv)
    exporter.clear()

    stream = await chat.send_message_stream("Weather in Paris?")
    assert "".join([c.text or "" async for c in stream]) == TOOL_RESULT_TEXT
    spans = sorted(exporter.get_finished_spans(), key=lambda s: s.start_time)
    assert [s.name for s in spans] == [f"invoke_agent {MODEL}", f"generate_content {MODEL}", "execute_tool get_weather", f"generate_content {MODEL}"]
    assert {s.parent.span_id for s in spans[1:]} == {spans[0].context.span_id}


def test_a_failing_round_trip_fails_the_call_and_reaches_the_app(client, exporter):
    from google.genai import errors

    with pytest.raises(errors.ClientError) as raised:
        client.models.generate_content(model="error-429", contents="Weather in Paris?", config={"tools": [get_weather]})

    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert sorted(spans) == ["generate_content error-429", "invoke_agent error-429"]
    for span in spans.values():
        assert (span.status.status_code, span.attributes["error.type"]) == (StatusCode.ERROR, "ClientError")
        [event] = exception_events(span)
        assert event.attributes["exception.message"] == str(raised.value)
