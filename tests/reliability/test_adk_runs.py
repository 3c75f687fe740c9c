"""100,000 ADK spans leave the callback engine's run map and every invocation's bookkeeping empty,
with no context left attached; runs that never end are evicted past the bound; real runner turns
(ending normally, failing, abandoned) leave nothing open."""

from __future__ import annotations

import asyncio
import contextvars
import types

import pytest

pytest.importorskip("google.adk")

from google.adk.agents import LlmAgent  # noqa: E402
from google.adk.models.llm_response import LlmResponse  # noqa: E402
from google.adk.runners import InMemoryRunner  # noqa: E402
from google.genai import types as genai_types  # noqa: E402
from opentelemetry import context as otel_context  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export import SimpleSpanProcessor  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

from opik_otel._content import ContentPolicy  # noqa: E402
from opik_otel.instrumentors.adk import ADKInstrumentor  # noqa: E402
from opik_otel.instrumentors.adk import instrumentor as adk_instrumentor  # noqa: E402
from opik_otel.instrumentors.adk.callbacks import CURRENT, Invocation, OpikAdkPlugin  # noqa: E402
from tests.reliability.runs import EVICTION_LOGGER, CountingExporter, never_ended_logs, run_spans  # noqa: E402

AGENT = types.SimpleNamespace(name="agent", description="")
TOOL = types.SimpleNamespace(name="tool", description="")
REPLY = LlmResponse(content=genai_types.Content(role="model", parts=[genai_types.Part(text="hi")]))


def callback_context(invocation_id: str) -> types.SimpleNamespace:
    return types.SimpleNamespace(invocation_id=invocation_id, agent_name="agent", function_call_id=f"call-{invocation_id}")


def test_100000_spans_leave_the_run_map_empty():
    exporter = CountingExporter()
    plugin = OpikAdkPlugin(run_spans(exporter), ContentPolicy(False))
    before = otel_context.get_current()

    async def turns() -> None:  # an agent, its model call and its tool: 3 spans a turn; one turn in 50 fails
        for i in range(33_334):
            context = callback_context(str(i))
            invocation = Invocation(nested=False)
            token = CURRENT.set(invocation)
            await plugin.before_agent_callback(agent=AGENT, callback_context=context)
            await plugin.before_model_callback(callback_context=context, llm_request=types.SimpleNamespace(model="m"))
            await plugin.after_model_callback(callback_context=context, llm_response=REPLY)
            await plugin.before_tool_callback(tool=TOOL, tool_args={}, tool_context=context)
            if i % 50 == 0:
                plugin.close_invocation(invocation, ValueError("boom"))
            else:
                await plugin.after_tool_callback(tool=TOOL, tool_args={}, tool_context=context, result={})
                await plugin.after_agent_callback(agent=AGENT, callback_context=context)
            assert not invocation.open
            CURRENT.reset(token)

    asyncio.run(turns())

    assert len(plugin.runs) == 0
    assert exporter.count == 100_002
    assert otel_context.get_current() is before


def test_runs_that_never_end_are_evicted_past_the_bound(caplog):
    exporter = InMemorySpanExporter()
    plugin = OpikAdkPlugin(run_spans(exporter, max_runs=100), ContentPolicy(False))

    async def open_150() -> None:  # agents started, never ended, in a context of their own
        for i in range(150):
            await plugin.before_agent_callback(agent=types.SimpleNamespace(name=f"a{i}", description=""), callback_context=callback_context(str(i)))

    with caplog.at_level("DEBUG", logger=EVICTION_LOGGER):
        contextvars.copy_context().run(asyncio.run, open_150())

    assert len(plugin.runs) == 100
    assert sorted(s.name for s in exporter.get_finished_spans()) == sorted(f"invoke_agent a{i}" for i in range(50))
    assert never_ended_logs(caplog) == 50


def test_real_turns_ended_failed_and_abandoned_leave_nothing_open():
    exporter = CountingExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = ADKInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        plugin = adk_instrumentor._STATE.plugin
        state = {"n": 0}

        def answer(callback_context, llm_request):  # the app's callback answers: no model request
            state["n"] += 1
            if state["n"] % 3 == 0:
                raise RuntimeError("callback failed")
            return REPLY

        runner = InMemoryRunner(agent=LlmAgent(name="agent", model="gemini-2.5-flash", before_model_callback=answer), app_name="app")
        before = otel_context.get_current()

        async def turns() -> None:
            message = genai_types.Content(role="user", parts=[genai_types.Part(text="hi")])
            for i in range(60):
                await runner.session_service.create_session(app_name="app", user_id="u", session_id=f"s{i}")
                events = runner.run_async(user_id="u", session_id=f"s{i}", new_message=message)
                try:
                    async for _ in events:
                        if i % 5 == 0:
                            break  # abandoned
                except RuntimeError:
                    pass
                await events.aclose()

        asyncio.run(turns())

        assert len(plugin.runs) == 0
        assert exporter.count == 60  # one agent span a turn (the callback answers: no model span)
        assert otel_context.get_current() is before
    finally:
        instrumentor.uninstrument()
