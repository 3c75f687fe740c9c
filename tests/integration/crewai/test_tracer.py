"""The seed API: `OpikCrew(crew, project_name=…)` traces that crew's runs with its project, tags,
metadata and thread; `track_crewai(project_name=…)` every crew; with `CrewAIInstrumentor` on as
well, still one span per run."""

from __future__ import annotations

import asyncio

import pytest

from opik_otel.instrumentors.crewai import OpikCrew, track_crewai
from tests.integration.crewai.conftest import FINAL
from tests.integration.crewai.test_crew import crew_tree
from tests.integration.spans import every_span_has, tree

SEED = {"opik.project_name": "crew-project", "opik.tags": ["t1"], "opik.metadata.team": "maths", "gen_ai.conversation.id": "conv-1"}
#: The inference span CrewAI makes itself (no provider instrumented here).
CREW = [(name, kind, parent) if kind != "CLIENT" else ("chat gpt-4o-mini", kind, parent) for name, kind, parent in crew_tree()]


def opik_crew(crew) -> OpikCrew:
    return OpikCrew(crew, project_name="crew-project", tags=["t1"], metadata={"team": "maths"}, thread_id="conv-1")


@pytest.fixture(autouse=True)
def hook_reset():
    """Each test leaves the CrewAI hook as it found it (off)."""
    from opik_otel.instrumentors.crewai import instrumentor

    yield
    instrumentor._HOOK.tracked = None
    if not instrumentor._HOOK.instrumented:
        instrumentor._remove()


def test_opik_crew_alone_traces_only_its_crew(global_provider, make_crew, replies, exporter, requests_made):
    replies()
    crew = make_crew()
    tracked = opik_crew(crew)

    assert tracked.kickoff(inputs={"x": 1}).raw == FINAL
    make_crew(name="Other crew").kickoff()  # not wrapped, no instrumentor: not traced

    assert tree(exporter) == CREW
    every_span_has(exporter, SEED)
    assert len(requests_made()) == 2


def test_opik_crew_delegates_everything_else_to_the_crew(global_provider, make_crew):
    crew = make_crew()
    tracked = opik_crew(crew)

    assert tracked.crew is crew
    assert tracked.agents is crew.agents
    assert tracked.name == "Math crew"
    assert repr(tracked) == f"OpikCrew({crew!r})"


def test_opik_crew_kickoff_async_and_for_each(global_provider, make_crew, replies, exporter):
    replies()
    tracked = opik_crew(make_crew())

    asyncio.run(tracked.kickoff_async(inputs={"x": 1}))
    tracked.kickoff_for_each(inputs=[{"x": 2}])

    assert tree(exporter) == CREW * 2
    every_span_has(exporter, SEED)


def test_opik_crew_with_the_instrumentor_on_gives_no_duplicate(global_provider, crewai_instrumentor, make_crew, replies, exporter):
    replies()
    opik_crew(make_crew()).kickoff()

    assert tree(exporter) == CREW
    every_span_has(exporter, SEED)

    exporter.clear()
    make_crew().kickoff()  # the instrumentor alone: traced, with no project of the seed
    assert tree(exporter) == CREW
    assert all("opik.project_name" not in s.attributes for s in exporter.get_finished_spans())


def test_track_crewai_traces_every_crew(global_provider, make_crew, replies, exporter):
    replies()
    track_crewai(project_name="crew-project", tags=["t1"], metadata={"team": "maths"}, thread_id="conv-1")

    make_crew().kickoff()
    make_crew(name="Other crew").kickoff()

    assert tree(exporter) == CREW + [(n.replace("Math crew", "Other crew"), k, p and p.replace("Math crew", "Other crew")) for n, k, p in CREW]
    every_span_has(exporter, SEED)


def test_track_crewai_with_the_instrumentor_on_gives_no_duplicate(global_provider, crewai_instrumentor, make_crew, replies, exporter):
    replies()
    track_crewai(project_name="crew-project", tags=["t1"], metadata={"team": "maths"}, thread_id="conv-1")

    make_crew().kickoff()

    assert tree(exporter) == CREW
    every_span_has(exporter, SEED)
