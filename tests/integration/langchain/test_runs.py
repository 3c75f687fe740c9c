"""Tools, retrievers, hidden runs, errors and nesting of other spans inside a step."""

from __future__ import annotations

import inspect

import pytest
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableLambda, RunnableParallel
from langchain_core.tools import BaseTool, tool
from opentelemetry import trace

from tests.integration.spans import attrs, named, tree

#: Newer langchain-core passes the tool call id to `on_tool_start`; 0.3.23 does not (read from its source).
PASSES_TOOL_CALL_ID = "tool_call_id=tool_call_id" in inspect.getsource(BaseTool.run)


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


class Shelf(BaseRetriever):
    """Two fixed documents."""

    def _get_relevant_documents(self, query, *, run_manager):
        return [Document(page_content=f"about {query}", id="doc-1", metadata={"score": 0.9}), Document(page_content="other", id="doc-2")]


def test_a_tool_call_is_an_execute_tool_span(langchain_instrumentor, exporter):
    result = get_weather.invoke({"type": "tool_call", "id": "call_1", "name": "get_weather", "args": {"city": "Paris"}})

    assert result.content == "sunny in Paris"
    assert tree(exporter) == [("execute_tool get_weather", "INTERNAL", None)]
    expected = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "input.value": '{"city":"Paris"}',
        "output.value": '"sunny in Paris"',
    }
    if PASSES_TOOL_CALL_ID:
        expected["gen_ai.tool.call.id"] = "call_1"
    assert attrs(named(exporter, "execute_tool get_weather")) == expected


def test_a_retriever_is_a_retrieval_span(langchain_instrumentor, exporter):
    documents = Shelf().invoke("cats")

    assert [d.id for d in documents] == ["doc-1", "doc-2"]
    assert tree(exporter) == [("retrieval", "INTERNAL", None)]
    assert attrs(named(exporter, "retrieval")) == {
        "gen_ai.operation.name": "retrieval",
        "input.value": '"cats"',
        "output.value": '[{"id":"doc-1","score":0.9,"content":"about cats"},{"id":"doc-2","content":"other"}]',
    }


def test_hidden_runs_are_left_out_and_their_children_attach_to_the_nearest_visible_ancestor(langchain_instrumentor, exporter):
    def leaf(x):
        return x + 1

    def plumbing(x, config):  # plumbing calling the user's code: the child does not inherit the tag
        callbacks = config["callbacks"].copy()
        callbacks.remove_tags(["langsmith:hidden"])
        return RunnableLambda(leaf).invoke(x, {"callbacks": callbacks, "tags": []})

    chain = RunnableLambda(lambda x: x).with_config(run_name="outer") | RunnableLambda(plumbing).with_config(tags=["langsmith:hidden"])

    assert chain.invoke(1) == 2
    assert tree(exporter) == [
        ("RunnableSequence", "INTERNAL", None),
        ("outer", "INTERNAL", "RunnableSequence"),
        ("leaf", "INTERNAL", "RunnableSequence"),
    ]


class Boom(Exception):
    pass


def test_an_error_marks_the_failing_run_and_its_ancestors_and_reaches_the_app_unchanged(langchain_instrumentor, exporter):
    error = Boom("no")

    def explode(x):
        raise error

    chain = RunnableLambda(lambda x: x).with_config(run_name="ok") | RunnableLambda(explode)

    with pytest.raises(Boom) as raised:
        chain.invoke(1)

    assert raised.value is error
    assert tree(exporter) == [
        ("RunnableSequence", "INTERNAL", None),
        ("ok", "INTERNAL", "RunnableSequence"),
        ("explode", "INTERNAL", "RunnableSequence"),
    ]
    for name in ("explode", "RunnableSequence"):
        span = named(exporter, name)
        assert span.status.status_code.name == "ERROR"
        assert span.attributes["error.type"] == "Boom"
        assert [e.attributes["exception.type"] for e in span.events if e.name == "exception"] == ["tests.integration.langchain.test_runs.Boom"]
    assert named(exporter, "ok").status.status_code.name == "UNSET"


def _inner_span(provider):
    tracer = provider.get_tracer("test")

    def step(x):
        with tracer.start_as_current_span(f"inside {x}"):
            return x

    return step


def test_spans_made_inside_a_step_nest_under_it_sync_and_in_threads(langchain_instrumentor, provider, exporter):
    step = _inner_span(provider)
    parallel = RunnableParallel(a=RunnableLambda(step).with_config(run_name="a"), b=RunnableLambda(step).with_config(run_name="b"))

    assert parallel.invoke(1) == {"a": 1, "b": 1}
    assert RunnableLambda(step).with_config(run_name="batched").batch([2, 3]) == [2, 3]

    rows = sorted(tree(exporter))
    assert rows == sorted([
        ("RunnableParallel<a,b>", "INTERNAL", None),
        ("a", "INTERNAL", "RunnableParallel<a,b>"),
        ("b", "INTERNAL", "RunnableParallel<a,b>"),
        ("inside 1", "INTERNAL", "a"),
        ("inside 1", "INTERNAL", "b"),
        ("batched", "INTERNAL", None),
        ("batched", "INTERNAL", None),
        ("inside 2", "INTERNAL", "batched"),
        ("inside 3", "INTERNAL", "batched"),
    ])


def test_spans_made_inside_an_async_step_nest_under_it(run_async, langchain_instrumentor, provider, exporter):
    tracer = provider.get_tracer("test")

    async def step(x):
        with tracer.start_as_current_span("inside"):
            return x

    chain = RunnableLambda(lambda x: x).with_config(run_name="first") | RunnableLambda(step)

    assert run_async(chain.ainvoke(1)) == 1
    assert tree(exporter) == [
        ("RunnableSequence", "INTERNAL", None),
        ("first", "INTERNAL", "RunnableSequence"),
        ("step", "INTERNAL", "RunnableSequence"),
        ("inside", "INTERNAL", "step"),
    ]


def test_a_chain_inside_the_apps_span_nests_under_it(langchain_instrumentor, provider, exporter):
    with provider.get_tracer("test").start_as_current_span("request"):
        RunnableLambda(lambda x: x).with_config(run_name="step").invoke(1)

    assert tree(exporter) == [("request", "INTERNAL", None), ("step", "INTERNAL", "request")]
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_odd_events_lose_an_attribute_or_a_span_never_raise(langchain_instrumentor, exporter, caplog):
    import uuid

    from opik_otel.instrumentors.langchain.instrumentor import _ACTIVE

    handler = _ACTIVE.handler

    class Unprintable:
        def __str__(self):
            raise RuntimeError("no")

        __repr__ = __str__

    unknown = uuid.uuid4()
    handler.on_chain_end({}, run_id=unknown)  # never started
    handler.on_llm_end(object(), run_id=unknown)
    handler.on_tool_error(ValueError("x"), run_id=unknown)
    run = uuid.uuid4()
    handler.on_chain_start(None, {"x": Unprintable()}, run_id=run, name="odd")
    handler.on_chain_end(Unprintable(), run_id=run)
    model_run = uuid.uuid4()
    handler.on_chat_model_start(None, [[object(), "plain text"]], run_id=model_run, invocation_params={"model": "m-1"})
    handler.on_llm_end(object(), run_id=model_run)

    assert tree(exporter) == [("odd", "INTERNAL", None), ("chat m-1", "CLIENT", None)]
    odd = attrs(named(exporter, "odd"))
    assert odd["input.value"] == '"<unserialisable dict>"'
    assert odd["output.value"] == '"<unserialisable Unprintable>"'
    assert attrs(named(exporter, "chat m-1"))["gen_ai.input.messages"] == (
        '[{"role":"user","parts":[]},{"role":"user","parts":[{"type":"text","content":"plain text"}]}]'
    )
    assert len(handler._runs) == 0


def test_langgraph_astream_events_is_traced(run_async, langchain_instrumentor, exporter):
    pytest.importorskip("langgraph")
    from typing import TypedDict

    from langgraph.graph import END, START, StateGraph

    class State(TypedDict):
        n: int

    builder = StateGraph(State)
    builder.add_node("inc", lambda s: {"n": s["n"] + 1})
    builder.add_edge(START, "inc")
    builder.add_edge("inc", END)
    graph = builder.compile()

    async def run() -> list:
        return [event["event"] async for event in graph.astream_events({"n": 1}, version="v2")]

    events = run_async(run())
    assert events[0] == "on_chain_start" and events[-1] == "on_chain_end"
    assert tree(exporter) == [("invoke_workflow LangGraph", "INTERNAL", None), ("inc", "INTERNAL", "invoke_workflow LangGraph")]


def test_uninstrument_stops_tracing_and_instrument_again_resumes(provider, exporter):
    from opik_otel.instrumentors.langchain import LangChainInstrumentor

    step = RunnableLambda(lambda x: x).with_config(run_name="step")
    instrumentor = LangChainInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    step.invoke(1)
    instrumentor.uninstrument()
    step.invoke(2)
    assert tree(exporter) == [("step", "INTERNAL", None)]

    instrumentor.instrument(tracer_provider=provider)
    try:
        step.invoke(3)
    finally:
        instrumentor.uninstrument()
    assert tree(exporter) == [("step", "INTERNAL", None), ("step", "INTERNAL", None)]


def test_an_abandoned_stream_ends_its_spans_and_leaves_no_context_attached(langchain_instrumentor, exporter):
    import gc

    from opentelemetry import context as otel_context

    def numbers(xs):
        yield from xs

    chain = RunnableLambda(lambda x: x).with_config(run_name="a") | RunnableLambda(numbers).with_config(run_name="numbers")
    before = otel_context.get_current()
    stream = chain.stream([1, 2, 3])
    assert next(stream) == 1
    del stream
    gc.collect()

    assert otel_context.get_current() is before
    assert tree(exporter) == [
        ("RunnableSequence", "INTERNAL", None),
        ("a", "INTERNAL", "RunnableSequence"),
        ("numbers", "INTERNAL", "RunnableSequence"),
    ]
