"""100,000 CrewAI runs (real CrewAI events, read as the event bus hands them over) leave the callback
engine's run map empty and no context attached; runs that never end are evicted past the bound."""

from __future__ import annotations

import contextvars

import pytest

pytest.importorskip("crewai")

from opentelemetry import context as otel_context  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

from opik_otel._content import ContentPolicy  # noqa: E402
from opik_otel.instrumentors.crewai.callbacks import CrewAIEvents  # noqa: E402
from tests.reliability.runs import EVICTION_LOGGER, CountingExporter, never_ended_logs, run_spans  # noqa: E402

try:  # crewai >= 1.0
    from crewai.events.types.crew_events import CrewKickoffCompletedEvent, CrewKickoffFailedEvent, CrewKickoffStartedEvent
    from crewai.events.types.task_events import TaskCompletedEvent, TaskFailedEvent, TaskStartedEvent
except ImportError:
    from crewai.utilities.events.crew_events import CrewKickoffCompletedEvent, CrewKickoffFailedEvent, CrewKickoffStartedEvent
    from crewai.utilities.events.task_events import TaskCompletedEvent, TaskFailedEvent, TaskStartedEvent
from crewai.tasks.task_output import TaskOutput  # noqa: E402


class Source:
    """What emits an event (a crew, a task): only its identity matters to older crewai's run keys."""


def paired(start, end, parent=None):
    """Stamp the ids the bus gives events in crewai >= 1.0 (older events have no such fields)."""
    if hasattr(end, "started_event_id"):
        end.started_event_id = start.event_id
        start.parent_event_id = parent.event_id if parent is not None else None
    return start, end


def test_100000_runs_leave_the_run_map_empty():
    exporter = CountingExporter()
    runs = run_spans(exporter)
    events = CrewAIEvents(runs, ContentPolicy(False))
    crew, task = Source(), Source()
    output = TaskOutput(description="d", agent="a", raw="r")
    crew_started, crew_completed = paired(CrewKickoffStartedEvent(crew_name="c", inputs=None), CrewKickoffCompletedEvent(crew_name="c", output=output))
    _, crew_failed = paired(crew_started, CrewKickoffFailedEvent(crew_name="c", error="boom"))
    task_started, task_completed = paired(TaskStartedEvent(context=None, task=None), TaskCompletedEvent(output=output, task=None), crew_started)
    _, task_failed = paired(task_started, TaskFailedEvent(error="boom", task=None), crew_started)
    before = otel_context.get_current()

    for i in range(50_000):  # a crew and its task: 100,000 runs, one crew in 50 failing
        events.handle(crew, crew_started, None, True)
        events.handle(task, task_started, None, True)
        if i % 50 == 0:
            events.handle(task, task_failed, None, True)
            events.handle(crew, crew_failed, None, True)
        else:
            events.handle(task, task_completed, None, True)
            events.handle(crew, crew_completed, None, True)

    assert len(runs) == 0
    assert exporter.count == 100_000
    assert otel_context.get_current() is before


def test_runs_that_never_end_are_evicted_past_the_bound(caplog):
    exporter = InMemorySpanExporter()
    runs = run_spans(exporter, max_runs=100)
    events = CrewAIEvents(runs, ContentPolicy(False))

    tasks = [Source() for _ in range(150)]  # alive, so that older crewai's run keys (their identities) differ

    def start_150() -> None:  # started, never ended (abandoned), in a context of their own
        for task in tasks:
            events.handle(task, TaskStartedEvent(context=None, task=None), None, True)

    with caplog.at_level("DEBUG", logger=EVICTION_LOGGER):
        contextvars.copy_context().run(start_150)

    assert len(runs) == 100
    assert [s.name for s in exporter.get_finished_spans()] == ["task"] * 50
    assert never_ended_logs(caplog) == 50
