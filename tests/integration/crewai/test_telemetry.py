"""CrewAI's own telemetry (anonymous usage spans on a TracerProvider of its own, exported to
telemetry.crewai.com): with tracing on, it still records, and none of its spans reach the app's
traces. Its exporter is replaced here by an in-memory one (no network in tests)."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from tests.integration.crewai.test_crew import crew_tree
from tests.integration.spans import tree


@pytest.fixture
def crewai_telemetry(monkeypatch):
    """CrewAI's telemetry switched on for this test, its spans kept in memory: the exporter."""
    from crewai.telemetry.telemetry import Telemetry

    for name in ("CREWAI_DISABLE_TELEMETRY", "CREWAI_DISABLE_TRACKING", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    telemetry = Telemetry()  # the one instance (CrewAI's event listener holds it), made while switched off
    received = InMemorySpanExporter()
    own = TracerProvider()
    own.add_span_processor(SimpleSpanProcessor(received))
    monkeypatch.setattr(telemetry, "provider", own, raising=False)
    monkeypatch.setattr(telemetry, "ready", True, raising=False)
    yield received
    own.shutdown()


def test_crewai_telemetry_stays_on_and_out_of_the_apps_traces(global_provider, crewai_instrumentor, model_instrumentor, crewai_telemetry, make_crew, replies, exporter):
    from opentelemetry import trace

    replies()
    make_crew().kickoff()

    assert tree(exporter) == crew_tree()
    telemetry_names = {s.name for s in crewai_telemetry.get_finished_spans()}
    assert {"Crew Created", "Task Created"} <= telemetry_names
    assert trace.get_tracer_provider() is global_provider
