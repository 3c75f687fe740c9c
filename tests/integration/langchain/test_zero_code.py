"""Zero code: `opentelemetry-instrument python app.py` on an unmodified LangGraph agent app delivers
its trace to the (fake) Opik back end: the agent, its nodes, one priced llm span per model call,
the tool, under one trace in the app's thread."""

from __future__ import annotations

import pytest

from tests.integration.zero_code import PROJECT, rows_in_order, run_app, span_rows

AGENT_APP = '''
import warnings
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI

warnings.simplefilter("ignore")
from langgraph.prebuilt import create_react_agent


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


agent = create_react_agent(ChatOpenAI(model="gpt-4o-mini", max_retries=0), [get_weather])
result = agent.invoke({"messages": [("user", "weather in Paris?")]}, config={"configurable": {"thread_id": "conv-1"}})
print("answer:", result["messages"][-1].content)
'''


def test_a_langgraph_agent_under_opentelemetry_instrument(tmp_path, backend, srv, requests_made):
    pytest.importorskip("langgraph.prebuilt")
    process = run_app(AGENT_APP, tmp_path, backend, srv)

    assert "answer: The weather is sunny." in process.stdout
    assert backend.errors == []
    assert len(backend.traces) == 1
    (trace,) = backend.traces.values()
    assert trace["name"] == "invoke_agent LangGraph"
    assert trace["project_name"] == PROJECT
    assert trace["thread_id"] == "conv-1"
    by_id = backend.spans
    rows = span_rows(backend, {"invoke_agent LangGraph", "agent", "tools", "chat gpt-4o-mini", "execute_tool get_weather"})
    assert rows == rows_in_order([
        ("invoke_agent LangGraph", "general", None),
        ("agent", "general", "invoke_agent LangGraph"),
        ("agent", "general", "invoke_agent LangGraph"),
        ("tools", "general", "invoke_agent LangGraph"),
        ("execute_tool get_weather", "tool", "tools"),
        ("chat gpt-4o-mini", "llm", "RunnableSequence"),
        ("chat gpt-4o-mini", "llm", "RunnableSequence"),
    ])
    llm = [s for s in by_id.values() if s["type"] == "llm"]
    assert len(llm) == 2 == len(requests_made())
    assert all(s["total_estimated_cost"] > 0 and s["usage"]["prompt_tokens"] == 12 for s in llm)
    assert [s["name"] for s in by_id.values() if "total_estimated_cost" in s] == ["chat gpt-4o-mini"] * 2
