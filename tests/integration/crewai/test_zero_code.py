"""Zero code: `opentelemetry-instrument python app.py` on an unmodified CrewAI app delivers its trace to
the (fake) Opik back end: the crew, its task, the agent, the tool and one priced llm span per model
request, under one trace. CrewAI's own telemetry is off in the app (no network in tests)."""

from __future__ import annotations

from tests.integration.crewai.conftest import FINAL, crewai_major
from tests.integration.zero_code import PROJECT, rows_in_order, run_app, span_rows

CREW_APP = '''
import os
import warnings

warnings.simplefilter("ignore")
from crewai import LLM, Agent, Crew, Task
from crewai.tools import tool


@tool("add")
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


llm = LLM(model="openai/gpt-4o-mini", base_url=os.environ["OPENAI_BASE_URL"], max_retries=0)
agent = Agent(role="Calculator", goal="Add numbers", backstory="You are good at maths.", llm=llm, tools=[add])
task = Task(description="Add 1 and 2", expected_output="A number", agent=agent, name="addition")
print("answer:", Crew(agents=[agent], tasks=[task], name="Math crew").kickoff().raw)
'''


def test_a_crew_under_opentelemetry_instrument(tmp_path, backend, srv, replies, requests_made):
    replies("add", {"a": 1, "b": 2})
    process = run_app(
        CREW_APP, tmp_path, backend, srv,
        CREWAI_DISABLE_TELEMETRY="true", CREWAI_TRACING_ENABLED="false", CREWAI_STORAGE_DIR=str(tmp_path / "crewai"),
    )

    assert f"answer: {FINAL}" in process.stdout
    assert backend.errors == []
    assert len(backend.traces) == 1
    (trace,) = backend.traces.values()
    assert trace["name"] == "invoke_workflow Math crew"
    assert trace["project_name"] == PROJECT
    llm_name = "chat gpt-4o-mini" if crewai_major() >= 1 else "chat openai/gpt-4o-mini"
    assert span_rows(backend) == rows_in_order([
        ("invoke_workflow Math crew", "general", None),
        ("task addition", "general", "invoke_workflow Math crew"),
        ("invoke_agent Calculator", "general", "task addition"),
        (llm_name, "llm", "invoke_agent Calculator"),
        ("execute_tool add", "tool", "invoke_agent Calculator"),
        (llm_name, "llm", "invoke_agent Calculator"),
    ])
    llm = [s for s in backend.spans.values() if s["type"] == "llm"]
    assert len(llm) == 2 == len(requests_made())
    assert [(s["provider"], s["usage"]["prompt_tokens"], s["usage"]["completion_tokens"]) for s in llm] == [("openai", 12, 7)] * 2
    assert all(s["total_estimated_cost"] > 0 for s in llm)
    assert [s["name"] for s in backend.spans.values() if "total_estimated_cost" in s] == [llm_name] * 2
