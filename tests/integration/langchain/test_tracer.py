"""`OpikTracer` passed in `config={"callbacks": [...]}`: its project, tags, metadata and thread on the
spans; with `LangChainInstrumentor` on as well, still one span per run."""

from __future__ import annotations

import pytest
from langchain_core.runnables import RunnableLambda

from opik_otel.instrumentors.langchain import OpikTracer
from tests.integration.spans import attrs, every_span_has, named, tree

EXPECTED = [("RunnableSequence", "INTERNAL", None), ("one", "INTERNAL", "RunnableSequence"), ("two", "INTERNAL", "RunnableSequence")]


@pytest.fixture
def chain():
    return RunnableLambda(lambda x: x + 1).with_config(run_name="one") | RunnableLambda(lambda x: x * 2).with_config(run_name="two")


def check(exporter) -> None:
    assert tree(exporter) == EXPECTED
    every_span_has(exporter, {"opik.project_name": "lc-project", "opik.tags": ["t1"], "opik.metadata.team": "search", "gen_ai.conversation.id": "conv-1"})


def tracer() -> OpikTracer:
    return OpikTracer(project_name="lc-project", tags=["t1"], metadata={"team": "search"}, thread_id="conv-1")


def test_opik_tracer_alone(global_provider, chain, exporter):
    assert chain.invoke(1, config={"callbacks": [tracer()]}) == 4
    check(exporter)


def test_opik_tracer_with_the_instrumentor_on_gives_no_duplicate(global_provider, langchain_instrumentor, chain, exporter):
    assert chain.invoke(1, config={"callbacks": [tracer()]}) == 4
    check(exporter)


def test_without_a_tracer_the_instrumentor_alone_traces_once(langchain_instrumentor, chain, exporter):
    assert chain.invoke(1) == 4
    assert tree(exporter) == EXPECTED


def test_a_tracer_on_an_inner_call_inside_a_traced_run_gives_no_duplicate(global_provider, langchain_instrumentor, chain, exporter):
    def outer(x):
        return chain.invoke(x, config={"callbacks": [tracer()]})

    assert RunnableLambda(outer).invoke(1) == 4
    assert tree(exporter) == [("outer", "INTERNAL", None)] + [(n, k, p or "outer") for n, k, p in EXPECTED]


def test_a_tracer_merged_into_an_instrumented_runs_callbacks_gives_no_duplicate(global_provider, langchain_instrumentor, chain, exporter):
    """`with_config(callbacks=[tracer])` inside a traced run: LangChain merges the tracer into the
    parent's callback manager, so both handlers see the inner runs; they share one run map."""
    inner = chain.with_config(callbacks=[tracer()])

    def outer(x):
        return inner.invoke(x)

    assert RunnableLambda(outer).invoke(1) == 4
    assert tree(exporter) == [("outer", "INTERNAL", None)] + [(n, k, p or "outer") for n, k, p in EXPECTED]
    for name in ("RunnableSequence", "one", "two"):  # the inner runs carry the tracer's attributes
        assert attrs(named(exporter, name))["opik.project_name"] == "lc-project", name
    assert "opik.project_name" not in attrs(named(exporter, "outer"))
