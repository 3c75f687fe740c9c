"""`uninstrument()` puts CrewAI's event bus back and stops tracing, instrument again resumes; odd events
lose an attribute or a span, never raise. (That `instrument()` waits for the app to import crewai is
the zero-code test's: the instrumentors load before the app imports it.)"""

from __future__ import annotations

from opik_otel.instrumentors.crewai import CrewAIInstrumentor
from opik_otel.instrumentors.crewai import instrumentor as hook
from tests.integration.crewai.test_crew import crew_tree
from tests.integration.spans import attrs, named, tree


def bus_class():
    try:
        from crewai.events.event_bus import CrewAIEventsBus
    except ImportError:  # crewai < 1.0
        from crewai.utilities.events.crewai_event_bus import CrewAIEventsBus
    return CrewAIEventsBus


def test_uninstrument_restores_the_bus_and_instrument_again_resumes(provider, model_instrumentor, make_crew, replies, exporter):
    replies()
    original = bus_class().__dict__["emit"]
    instrumentor = CrewAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    assert bus_class().__dict__["emit"] is not original
    make_crew().kickoff()
    instrumentor.uninstrument()

    assert bus_class().__dict__["emit"] is original
    make_crew().kickoff()  # the provider span alone
    expected = crew_tree()
    assert tree(exporter) == expected + [expected[-1][:2] + (None,)]

    exporter.clear()
    instrumentor.instrument(tracer_provider=provider)
    try:
        make_crew().kickoff()
    finally:
        instrumentor.uninstrument()
    assert tree(exporter) == expected
    assert bus_class().__dict__["emit"] is original


def test_odd_events_lose_an_attribute_or_a_span_never_raise(crewai_instrumentor, exporter, caplog):
    from opentelemetry import context as otel_context

    class Unreadable:
        def __getattr__(self, name):
            raise RuntimeError("no attributes here")

    events = hook._HOOK.events
    before = otel_context.get_current()
    with caplog.at_level("DEBUG", logger="opik_otel.instrumentors.crewai"):
        events.handle(None, Unreadable(), None, True)  # no `type`: not an event we read
        for kind in ("crew_kickoff_started", "task_started", "agent_execution_started", "tool_usage_started", "llm_call_started", "flow_started"):
            odd = type("Odd", (), {"type": kind, "__getattr__": lambda self, name: (_ for _ in ()).throw(RuntimeError(name))})()
            events.handle(Unreadable(), odd, None, True)
        for kind in ("crew_kickoff_completed", "task_failed", "llm_call_completed", "tool_usage_error"):
            events.handle(None, type("End", (), {"type": kind})(), None, True)  # never started: ignored
        bare = type("Bare", (), {"type": "crew_kickoff_started"})()  # no fields at all: a span with defaults
        events.handle(None, bare, {"opik.project_name": "p"}, True)
        events.handle(None, type("Bare", (), {"type": "crew_kickoff_completed"})(), None, True)

    assert otel_context.get_current() is before
    assert len(events.runs) == 0
    assert [row[0] for row in tree(exporter)] == ["invoke_workflow crew"]
    assert attrs(named(exporter, "invoke_workflow crew")) == {"opik.project_name": "p", "gen_ai.operation.name": "invoke_workflow", "input.value": "{}", "output.value": "null"}
    assert "could not read a CrewAI" in caplog.text

