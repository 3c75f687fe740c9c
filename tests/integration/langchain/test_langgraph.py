"""A LangGraph graph: a workflow span named by the graph, its nodes as children named by node,
the model call inside a node as the one inference span, the thread id as the Opik thread."""

from __future__ import annotations

from typing import TypedDict

import pytest

pytest.importorskip("langgraph")

from langgraph.graph import END, START, StateGraph  # noqa: E402

from tests.fakes.openai_server import CHAT_TEXT  # noqa: E402
from tests.integration.spans import attrs, named, tree  # noqa: E402


class State(TypedDict):
    question: str
    answer: str


class Form(TypedDict):
    value: str


@pytest.fixture
def graph(model):
    def ask(state: State) -> dict:
        return {"answer": model.invoke(state["question"]).content}

    def shout(state: State) -> dict:
        return {"answer": state["answer"].upper()}

    builder = StateGraph(State)
    builder.add_node("ask", ask)
    builder.add_node("shout", shout)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", "shout")
    builder.add_edge("shout", END)
    return builder.compile()


EXPECTED_TREE = [
    ("invoke_workflow LangGraph", "INTERNAL", None),
    ("ask", "INTERNAL", "invoke_workflow LangGraph"),
    ("chat gpt-4o-mini", "CLIENT", "ask"),
    ("shout", "INTERNAL", "invoke_workflow LangGraph"),
]


def test_a_two_node_graph_with_a_thread_id(langchain_instrumentor, openai_instrumentor, graph, exporter, requests_made):
    result = graph.invoke({"question": "hi", "answer": ""}, config={"configurable": {"thread_id": "thread-7"}})

    assert result == {"question": "hi", "answer": CHAT_TEXT.upper()}
    assert tree(exporter) == EXPECTED_TREE
    assert len(requests_made()) == 1
    workflow = attrs(named(exporter, "invoke_workflow LangGraph"))
    assert workflow["gen_ai.operation.name"] == "invoke_workflow"
    for span in exporter.get_finished_spans():
        assert span.attributes["gen_ai.conversation.id"] == "thread-7", span.name
    assert [s.name for s in exporter.get_finished_spans() if "gen_ai.usage.cost" in s.attributes] == ["chat gpt-4o-mini"]


def test_stream_and_astream_are_traced_alike(run_async, langchain_instrumentor, openai_instrumentor, graph, exporter):
    chunks = list(graph.stream({"question": "hi", "answer": ""}))
    assert [list(c) for c in chunks] == [["ask"], ["shout"]]
    assert tree(exporter) == EXPECTED_TREE
    exporter.clear()

    async def run() -> list:
        return [chunk async for chunk in graph.astream({"question": "hi", "answer": ""})]

    assert len(run_async(run())) == 2
    assert tree(exporter) == EXPECTED_TREE


def test_a_prebuilt_react_agent(langchain_instrumentor, openai_instrumentor, model, exporter, requests_made):
    import warnings

    from langchain_core.tools import tool

    @tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # moved to `langchain.agents` in LangGraph 1.0
        from langgraph.prebuilt import create_react_agent

        agent = create_react_agent(model, [get_weather])

    result = agent.invoke({"messages": [("user", "weather in Paris?")]})

    assert result["messages"][-1].content == "The weather is sunny."
    assert len(requests_made()) == 2
    kept = {"invoke_agent LangGraph", "agent", "RunnableSequence", "tools", "chat gpt-4o-mini", "execute_tool get_weather"}
    rows = [row for row in tree(exporter) if row[0] in kept]
    assert rows == [
        ("invoke_agent LangGraph", "INTERNAL", None),
        ("agent", "INTERNAL", "invoke_agent LangGraph"),
        ("RunnableSequence", "INTERNAL", "agent"),
        ("chat gpt-4o-mini", "CLIENT", "RunnableSequence"),
        ("tools", "INTERNAL", "invoke_agent LangGraph"),
        ("execute_tool get_weather", "INTERNAL", "tools"),
        ("agent", "INTERNAL", "invoke_agent LangGraph"),
        ("RunnableSequence", "INTERNAL", "agent"),
        ("chat gpt-4o-mini", "CLIENT", "RunnableSequence"),
    ]
    root = attrs(named(exporter, "invoke_agent LangGraph"))
    assert root["gen_ai.operation.name"] == "invoke_agent"
    assert root["gen_ai.agent.name"] == "LangGraph"
    assert len([s for s in exporter.get_finished_spans() if "gen_ai.usage.cost" in s.attributes]) == 2


def test_an_interrupt_and_its_resume_leave_no_span_open_and_are_not_errors(langchain_instrumentor, exporter):
    from langgraph.checkpoint.memory import MemorySaver
    from langgraph.types import Command, interrupt

    from opik_otel.instrumentors.langchain.instrumentor import _ACTIVE

    def ask(state: Form) -> dict:
        return {"value": interrupt("need a value")}

    builder = StateGraph(Form)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_edge("ask", END)
    graph = builder.compile(checkpointer=MemorySaver())
    config = {"configurable": {"thread_id": "form-1"}}

    graph.invoke({"value": ""}, config)
    assert graph.invoke(Command(resume="yes"), config) == {"value": "yes"}

    assert tree(exporter) == [
        ("invoke_workflow LangGraph", "INTERNAL", None),
        ("ask", "INTERNAL", "invoke_workflow LangGraph"),
        ("invoke_workflow LangGraph", "INTERNAL", None),
        ("ask", "INTERNAL", "invoke_workflow LangGraph"),
    ]
    assert [s.status.status_code.name for s in exporter.get_finished_spans()] == ["UNSET"] * 4
    assert len(_ACTIVE.runs) == 0


def test_a_subgraph_is_a_nested_workflow(langchain_instrumentor, exporter):
    inner = StateGraph(Form)
    inner.add_node("inner_step", lambda state: {"value": state["value"] + "i"})
    inner.add_edge(START, "inner_step")
    inner.add_edge("inner_step", END)

    outer = StateGraph(Form)
    outer.add_node("sub", inner.compile())
    outer.add_node("last", lambda state: {"value": state["value"] + "o"})
    outer.add_edge(START, "sub")
    outer.add_edge("sub", "last")
    outer.add_edge("last", END)

    assert outer.compile().invoke({"value": ""}) == {"value": "io"}
    assert tree(exporter) == [
        ("invoke_workflow LangGraph", "INTERNAL", None),
        ("sub", "INTERNAL", "invoke_workflow LangGraph"),  # the node …
        ("invoke_workflow LangGraph", "INTERNAL", "sub"),  # … runs the subgraph (named by its own graph name)
        ("inner_step", "INTERNAL", "invoke_workflow LangGraph"),
        ("last", "INTERNAL", "invoke_workflow LangGraph"),
    ]


def test_a_langchain_create_agent_is_an_agent(langchain_instrumentor, openai_instrumentor, model, exporter, requests_made):
    agents = pytest.importorskip("langchain.agents")
    if not hasattr(agents, "create_agent"):
        pytest.skip("langchain < 1.0 has no create_agent")
    from langchain_core.tools import tool

    @tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        return f"sunny in {city}"

    agent = agents.create_agent(model, [get_weather], name="weather")
    result = agent.invoke({"messages": [("user", "weather in Paris?")]})

    assert result["messages"][-1].content == "The weather is sunny."
    assert len(requests_made()) == 2
    kept = {"invoke_agent weather", "model", "tools", "chat gpt-4o-mini", "execute_tool get_weather"}
    assert [row for row in tree(exporter) if row[0] in kept] == [
        ("invoke_agent weather", "INTERNAL", None),
        ("model", "INTERNAL", "invoke_agent weather"),
        ("chat gpt-4o-mini", "CLIENT", "model"),
        ("tools", "INTERNAL", "invoke_agent weather"),
        ("execute_tool get_weather", "INTERNAL", "tools"),
        ("model", "INTERNAL", "invoke_agent weather"),
        ("chat gpt-4o-mini", "CLIENT", "model"),
    ]
    root = attrs(named(exporter, "invoke_agent weather"))
    assert root["gen_ai.operation.name"] == "invoke_agent"
    assert root["gen_ai.agent.name"] == "weather"
