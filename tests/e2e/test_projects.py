"""Project routing at the fake Opik back end: traces of different projects in one process each
reach their own project, with every span of a trace in the trace's project."""

from __future__ import annotations

from collections import Counter

from tests.e2e._helpers import run_snippet


def test_each_trace_and_all_its_spans_reach_their_own_project(backend, env):
    values, _ = run_snippet(
        f"""
        import opik_otel
        opik_otel.configure(url={backend.url!r}, api_key="k", workspace="ws", project_name="default-project")
        opik_otel.OpikInstrumentor().instrument()
        client = openai_client()

        @opik_otel.track(project_name="project-b")   # nested: the trace's project wins
        def lookup(q):
            return chat(client, q).choices[0].message.content

        @opik_otel.track(project_name="project-a")
        def agent_a(q):
            return lookup(q)

        @opik_otel.track
        def agent_b(q):
            return lookup(q)

        agent_a("a")
        with opik_otel.tracing_context(project_name="project-c", thread_id="conv-c"):
            agent_b("c")
        agent_b("default")
        report(flushed=opik_otel.flush())
        """,
        env,
    )
    assert values == {"flushed": True}
    assert backend.errors == []
    assert len(backend.traces) == 3 and len(backend.spans) == 9
    traces = {trace["id"]: trace for trace in backend.traces.values()}
    for span in backend.spans.values():
        assert span["project_name"] == traces[span["trace_id"]]["project_name"], span["name"]
    assert Counter(trace["project_name"] for trace in traces.values()) == {"project-a": 1, "project-c": 1, "default-project": 1}
    assert Counter(span["project_name"] for span in backend.spans.values()) == {"project-a": 3, "project-c": 3, "default-project": 3}
    (conversation,) = [trace for trace in traces.values() if trace["project_name"] == "project-c"]
    assert conversation["thread_id"] == "conv-c"
