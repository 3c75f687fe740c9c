"""ADK's own spans are replaced by ours while instrumented and back after `uninstrument()`;
instrument again works; `OpikInstrumentor` with every instrumentor on, and `track_adk`, still
give one span per agent, model call and tool call; spans made inside a tool nest under it; odd
callback arguments never reach the app."""

from __future__ import annotations

import pytest
from google.adk.agents import LlmAgent
from opentelemetry import trace

from opik_otel.instrumentors import adk as adk_package
from opik_otel.instrumentors.adk import ADKInstrumentor, instrumentor as adk_instrumentor_module
from opik_otel.instrumentors.adk.instrumentor import SilentTracer
from tests.fakes.gemini_server import TOOL_RESULT_TEXT
from tests.integration.adk.conftest import MODEL, final_text, get_weather, run_async
from tests.integration.adk.test_agent import AGENT_TREE, weather_agent
from tests.integration.spans import attrs, every_span_has, named, spans, tree

ADK_SCOPE = "gcp.vertex.agent"


def scopes(exporter) -> set[str]:
    return {s.instrumentation_scope.name for s in spans(exporter)}


def adk_tracers() -> list[object]:
    import sys

    return [vars(m).get("tracer") for n, m in list(sys.modules.items()) if n.startswith("google.adk") and isinstance(vars(m).get("tracer"), trace.Tracer)]


async def test_adks_spans_are_replaced_while_instrumented_and_back_after_uninstrument(global_provider, exporter):
    instrumentor = ADKInstrumentor()
    instrumentor.instrument(tracer_provider=global_provider)
    await run_async(weather_agent())
    assert scopes(exporter) == {"opik_otel.instrumentors.adk"}
    assert adk_tracers() and all(isinstance(t, SilentTracer) for t in adk_tracers())
    instrumentor.uninstrument()

    assert not any(isinstance(t, SilentTracer) for t in adk_tracers())
    exporter.clear()
    await run_async(weather_agent())
    assert scopes(exporter) == {ADK_SCOPE}  # ADK's own tracing, untouched

    exporter.clear()
    instrumentor.instrument(tracer_provider=global_provider)
    try:
        await run_async(weather_agent())
    finally:
        instrumentor.uninstrument()
    assert tree(exporter) == AGENT_TREE


async def test_opik_instrumentor_traces_adk_with_every_provider_instrumentor_on(provider, exporter, requests_made):
    from opik_otel import OpikInstrumentor

    instrumentor = OpikInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=True)
    try:
        events = await run_async(weather_agent())
    finally:
        instrumentor.uninstrument()

    assert final_text(events) == TOOL_RESULT_TEXT
    assert tree(exporter) == AGENT_TREE
    assert len(requests_made()) == 2
    assert [s.name for s in spans(exporter) if "gen_ai.usage.cost" in s.attributes] == [f"generate_content {MODEL}"] * 2
    assert scopes(exporter) == {"opik_otel.instrumentors.adk", "opik_otel.instrumentors.genai"}


@pytest.fixture
def fresh_track(monkeypatch):
    """`track_adk` as if never called in this process; its activation undone after the test."""
    monkeypatch.setattr(adk_instrumentor_module, "_tracked", [])
    yield
    adk_instrumentor_module._ON_IMPORT.cancel()
    adk_instrumentor_module._deactivate()


@pytest.mark.parametrize("beside_the_instrumentor", [False, True])
async def test_track_adk_routes_every_run_to_its_project(global_provider, exporter, requests_made, fresh_track, beside_the_instrumentor, request):
    if beside_the_instrumentor:
        request.getfixturevalue("adk_instrumentor")
    adk_package.track_adk(project_name="adk-project")
    adk_package.track_adk(project_name="other")  # once per process

    events = await run_async(weather_agent())

    assert final_text(events) == TOOL_RESULT_TEXT
    assert tree(exporter) == AGENT_TREE
    every_span_has(exporter, {"opik.project_name": "adk-project"})
    assert len(requests_made()) == 2 == len([s for s in spans(exporter) if "gen_ai.usage.cost" in s.attributes])


async def test_spans_made_inside_a_tool_nest_under_it_and_a_run_in_the_apps_span_under_that(adk_instrumentor, provider, exporter):
    app_tracer = provider.get_tracer("app")

    def traced_weather(city: str) -> dict:
        """The weather in a city, with a span of the app's."""
        with app_tracer.start_as_current_span("lookup"):
            return get_weather(city)

    agent = LlmAgent(name="weather_agent", model=MODEL, instruction="Answer.", tools=[traced_weather])
    with app_tracer.start_as_current_span("request"):
        await run_async(agent)

    assert tree(exporter) == [
        ("request", "INTERNAL", None),
        ("invoke_agent weather_agent", "INTERNAL", "request"),
        (f"generate_content {MODEL}", "CLIENT", "invoke_agent weather_agent"),
        ("execute_tool traced_weather", "INTERNAL", "invoke_agent weather_agent"),
        ("lookup", "INTERNAL", "execute_tool traced_weather"),
        (f"generate_content {MODEL}", "CLIENT", "invoke_agent weather_agent"),
    ]


async def test_odd_callback_arguments_lose_a_span_never_raise(adk_instrumentor, exporter):
    plugin = adk_instrumentor_module._STATE.plugin
    odd = object()
    assert await plugin.before_agent_callback(agent=odd, callback_context=odd) is None
    assert await plugin.after_agent_callback(agent=odd, callback_context=odd) is None
    assert await plugin.before_model_callback(callback_context=odd, llm_request=odd) is None
    assert await plugin.after_model_callback(callback_context=odd, llm_response=odd) is None
    assert await plugin.before_tool_callback(tool=odd, tool_args=odd, tool_context=odd) is None
    assert await plugin.after_tool_callback(tool=odd, tool_args=odd, tool_context=odd, result=odd) is None
    assert await plugin.on_tool_error_callback(tool=odd, tool_args=odd, tool_context=odd, error=RuntimeError()) is None
    assert await plugin.on_model_error_callback(callback_context=odd, llm_request=odd, error=RuntimeError()) is None
    assert await plugin.on_event_callback(invocation_context=odd, event=odd) is None
    assert spans(exporter) == [] and len(plugin.runs) == 0

    await run_async(weather_agent())  # and the next run is traced as usual
    assert tree(exporter) == AGENT_TREE
    assert attrs(named(exporter, "invoke_agent weather_agent"))["gen_ai.agent.name"] == "weather_agent"


async def test_unsampled_runs_record_nothing_and_leave_nothing_open(exporter, requests_made):
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    unsampled = TracerProvider(sampler=ALWAYS_OFF)
    unsampled.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = ADKInstrumentor()
    instrumentor.instrument(tracer_provider=unsampled)
    try:
        events = await run_async(weather_agent())
        plugin = adk_instrumentor_module._STATE.plugin
    finally:
        instrumentor.uninstrument()

    assert final_text(events) == TOOL_RESULT_TEXT
    assert spans(exporter) == []
    assert len(plugin.runs) == 0
    assert len(requests_made()) == 2


async def test_no_api_key_on_any_span(adk_instrumentor, genai_instrumentor, exporter):
    await run_async(weather_agent())

    assert tree(exporter) == AGENT_TREE
    assert "fake-key" not in repr([dict(s.attributes) for s in spans(exporter)])


def test_a_silent_tracers_spans_carry_their_parents_context_as_a_with_block_and_as_a_decorator(provider):
    silent = SilentTracer(trace.get_tracer("gcp.vertex.agent"))
    with provider.get_tracer("app").start_as_current_span("ours") as ours:
        with silent.start_as_current_span("call_llm") as adks:
            assert not adks.is_recording()
            assert adks.get_span_context() == ours.get_span_context()
            assert trace.get_current_span() is adks
        assert trace.get_current_span() is ours

        @silent.start_as_current_span("execute_tool")
        def tool() -> trace.Span:
            return trace.get_current_span()

        inside = [tool(), tool()]  # a fresh scope per call, as the API's decorator gives
        assert all(span.get_span_context() == ours.get_span_context() and not span.is_recording() for span in inside)
        assert trace.get_current_span() is ours
