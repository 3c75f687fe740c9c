"""`RunSpans.start` opens a run's span, makes it current and returns it; the same run id again
gains attributes and returns the same span; `end` puts the context back as it was."""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry import trace

from opik_otel.instrumentors._callbacks import RunSpans
from tests.unit.test_deferred_model_runs import runs_with_exporter


def test_start_returns_the_runs_span_made_current_and_end_restores_the_context():
    runs, exporter = runs_with_exporter()
    before = otel_context.get_current()

    span = runs.start("agent-1", None, "invoke_agent support_agent", attributes={"gen_ai.agent.name": "support_agent"})

    assert span is not None and span.is_recording()
    assert trace.get_current_span() is span
    runs.end("agent-1")
    assert otel_context.get_current() is before
    (finished,) = exporter.get_finished_spans()
    assert finished.name == "invoke_agent support_agent"
    assert finished.context.span_id == span.get_span_context().span_id


def test_starting_an_open_run_again_adds_attributes_to_the_same_span_and_returns_it():
    runs, exporter = runs_with_exporter()
    first = runs.start("tool-1", None, "execute_tool lookup")

    again = runs.start("tool-1", None, "execute_tool lookup", attributes={"gen_ai.tool.call.id": "call-1"})
    runs.end("tool-1")

    assert first is not None and again is first
    (finished,) = exporter.get_finished_spans()
    assert finished.attributes["gen_ai.tool.call.id"] == "call-1"


def test_a_child_run_started_without_a_parent_run_id_nests_under_the_current_run():
    runs, exporter = runs_with_exporter()
    parent = runs.start("agent-1", None, "invoke_agent support_agent")
    child = runs.start("tool-1", None, "execute_tool lookup")
    runs.end("tool-1")
    runs.end("agent-1")

    assert child.parent.span_id == parent.get_span_context().span_id
    assert len(exporter.get_finished_spans()) == 2


def test_a_span_that_cannot_start_returns_none_and_leaves_the_context_alone():
    class Broken:
        def start_span(self, *args, **kwargs):
            raise RuntimeError("no tracer today")

    runs = RunSpans(Broken())  # type: ignore[arg-type]
    before = otel_context.get_current()

    assert runs.start("agent-1", None, "invoke_agent support_agent") is None
    assert otel_context.get_current() is before
    assert "agent-1" not in runs
