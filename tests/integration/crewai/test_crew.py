"""A crew's kickoff as one tree: the crew, its task, the agent, the tool and one priced inference span
per model request (the provider's when it is instrumented, else CrewAI's); errors, tasks in
threads, the other kickoffs, flows, nesting in the app's span."""

from __future__ import annotations

import asyncio
import json

import pytest
from opentelemetry import trace

from tests.integration.crewai.conftest import FINAL, crewai_major
from tests.integration.spans import attrs, exception_events, named, tree

NEW = crewai_major() >= 1
#: crewai >= 1.0 calls the openai SDK itself (the model as the app named it, without "openai/");
#: older crewai calls LiteLLM, whose span names the model as CrewAI passed it.
INFERENCE = "chat gpt-4o-mini" if NEW else "chat openai/gpt-4o-mini"
TASK_PROMPT = (
    "Add 1 and 2\n\nThis is the expected criteria for your final answer: A number\n"
    "you MUST return the actual complete content as the final answer, not a summary."
)


def tool_tree(inference: str = INFERENCE) -> list[tuple[str, str, str | None]]:
    return [
        ("invoke_workflow Math crew", "INTERNAL", None),
        ("task addition", "INTERNAL", "invoke_workflow Math crew"),
        ("invoke_agent Calculator", "INTERNAL", "task addition"),
        (inference, "CLIENT", "invoke_agent Calculator"),
        ("execute_tool add", "INTERNAL", "invoke_agent Calculator"),
        (inference, "CLIENT", "invoke_agent Calculator"),
    ]


def crew_tree(name: str = "Math crew", parent: str | None = None) -> list[tuple[str, str, str | None]]:
    return [
        (f"invoke_workflow {name}", "INTERNAL", parent),
        ("task addition", "INTERNAL", f"invoke_workflow {name}"),
        ("invoke_agent Calculator", "INTERNAL", "task addition"),
        (INFERENCE, "CLIENT", "invoke_agent Calculator"),
    ]


def inference_spans(exporter):
    return sorted((s for s in exporter.get_finished_spans() if s.kind.name == "CLIENT"), key=lambda s: s.start_time)


def test_with_the_provider_instrumented_the_provider_span_is_the_inference_span(
    crewai_instrumentor, model_instrumentor, make_crew, replies, add_tool, exporter, requests_made
):
    replies("add", {"a": 1, "b": 2})

    output = make_crew([add_tool]).kickoff()

    assert output.raw == FINAL
    assert tree(exporter) == tool_tree()
    assert attrs(named(exporter, "invoke_workflow Math crew")) == {
        "gen_ai.operation.name": "invoke_workflow",
        "input.value": "{}",
        "output.value": f'"{FINAL}"',
    }
    assert attrs(named(exporter, "task addition")) == {
        "input.value": '{"description":"Add 1 and 2","expected_output":"A number"}',
        "output.value": f'"{FINAL}"',
    }
    assert attrs(named(exporter, "invoke_agent Calculator")) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "Calculator",
        "input.value": json.dumps(TASK_PROMPT),
        "output.value": f'"{FINAL}"',
    }
    assert attrs(named(exporter, "execute_tool add")) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "add",
        "input.value": '{"a":1,"b":2}',
        "output.value": '"3"',
    }
    llm = inference_spans(exporter)
    assert len(llm) == 2 == len(requests_made())
    expected_scope = "opik_otel.instrumentors.openai" if NEW else "opik_otel.instrumentors.litellm"
    assert [s.instrumentation_scope.name for s in llm] == [expected_scope] * 2
    assert [s.attributes["gen_ai.usage.cost"] for s in llm] == [5.7e-06] * 2
    assert [s.attributes["gen_ai.response.id"][:14] for s in llm] == ["chatcmpl-fake-"] * 2
    # what only CrewAI knows, claimed by the provider span (older crewai's LLM events name no agent)
    assert [s.attributes.get("opik.metadata.crewai.agent_role") for s in llm] == ["Calculator" if NEW else None] * 2


def test_without_the_provider_instrumented_crewai_makes_the_inference_span(crewai_instrumentor, make_crew, replies, add_tool, exporter, requests_made):
    replies("add", {"a": 1, "b": 2})

    assert make_crew([add_tool]).kickoff().raw == FINAL

    assert tree(exporter) == tool_tree("chat gpt-4o-mini")
    llm = inference_spans(exporter)
    assert len(llm) == 2 == len(requests_made())
    assert [s.instrumentation_scope.name for s in llm] == ["opik_otel.instrumentors.crewai"] * 2
    first, second = (attrs(s) for s in llm)
    for span in (first, second):
        assert json.loads(span.pop("gen_ai.system_instructions"))[0]["content"].startswith("You are Calculator. You are good at maths.")
        messages = json.loads(span.pop("gen_ai.input.messages"))
        assert messages[0]["role"] == "user" and "Current Task: Add 1 and 2" in messages[0]["parts"][0]["content"]
    common = {"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini"}
    if NEW:  # crewai >= 1.0 reports the request parameters, usage, response id and model, and the tools
        for span in (first, second):
            assert span.pop("gen_ai.response.id")[:14] == "chatcmpl-fake-"
            assert [(d["name"], d["description"]) for d in json.loads(span.pop("gen_ai.tool.definitions"))] == [("add", "Add two numbers.")]
        common.update({
            "gen_ai.request.temperature": 0.2,
            "opik.metadata.crewai.agent_role": "Calculator",
            "gen_ai.usage.input_tokens": 12,
            "gen_ai.usage.output_tokens": 7,
            "gen_ai.usage.cache_read.input_tokens": 4,
            "gen_ai.usage.reasoning.output_tokens": 2,
            "gen_ai.response.model": "gpt-4o-mini",
            "gen_ai.usage.cost": 5.7e-06,
        })
        tool_call = [{"type": "tool_call", "name": "add", "id": "call_1", "arguments": {"a": 1, "b": 2}}]
        first_output = [{"role": "assistant", "parts": tool_call, "finish_reason": "tool_call"}]
        final_text = FINAL
    else:  # older crewai: the ReAct text, no usage (so no cost: install the LiteLLM instrumentation)
        react = 'Thought: I should use the tool\nAction: add\nAction Input: {"a": 1, "b": 2}'
        first_output = [{"role": "assistant", "parts": [{"type": "text", "content": react}], "finish_reason": "stop"}]
        final_text = f"Thought: I now know the final answer\nFinal Answer: {FINAL}"
    assert json.loads(first.pop("gen_ai.output.messages")) == first_output
    assert json.loads(second.pop("gen_ai.output.messages")) == [{"role": "assistant", "parts": [{"type": "text", "content": final_text}], "finish_reason": "stop"}]
    assert first == {**common, "gen_ai.response.finish_reasons": ["tool_calls" if NEW else "stop"]}
    assert second == {**common, "gen_ai.response.finish_reasons": ["stop"]}


def test_opik_instrumentor_traces_crewai_with_every_provider_instrumentor_on(provider, make_crew, replies, add_tool, exporter, requests_made):
    from opik_otel import OpikInstrumentor

    instrumentor = OpikInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=True)
    try:
        replies("add", {"a": 1, "b": 2})
        assert make_crew([add_tool]).kickoff().raw == FINAL
    finally:
        instrumentor.uninstrument()

    assert tree(exporter) == tool_tree()
    llm = inference_spans(exporter)
    assert len(llm) == 2 == len(requests_made())
    assert [s.attributes["gen_ai.usage.cost"] for s in llm] == [5.7e-06] * 2


def test_a_failing_model_call_marks_the_agent_task_and_crew_and_reaches_the_app_unchanged(
    crewai_instrumentor, model_instrumentor, make_crew, exporter, srv, requests_made
):
    from crewai import LLM

    crew = make_crew()
    crew.agents[0].llm = LLM(model="openai/error-500", base_url=srv.base_url, api_key="sk-test-fake", max_retries=0)
    crew.agents[0].max_retry_limit = 0
    errors = []

    def failing_kickoff() -> None:
        try:
            crew.kickoff()
        except Exception as error:
            errors.append(error)

    failing_kickoff()

    # the provider's own exception, as crewai raises it with no tracing (crewai >= 1.0: the openai SDK's; older: LiteLLM's)
    expected = __import__("openai").InternalServerError if NEW else __import__("litellm").exceptions.APIError
    assert len(errors) == 1 and type(errors[0]) is expected and "fake error 500" in str(errors[0])
    error_type = type(errors[0]).__name__
    assert error_type == ("InternalServerError" if NEW else "APIError")
    inference = "chat error-500" if NEW else "chat openai/error-500"
    assert tree(exporter) == [
        ("invoke_workflow Math crew", "INTERNAL", None),
        ("task addition", "INTERNAL", "invoke_workflow Math crew"),
        ("invoke_agent Calculator", "INTERNAL", "task addition"),
        (inference, "CLIENT", "invoke_agent Calculator"),
    ]
    assert len(requests_made()) == 1
    for span in exporter.get_finished_spans():
        assert (span.name, span.status.status_code.name, span.attributes["error.type"], len(exception_events(span))) == (span.name, "ERROR", error_type, 1)
    crew_span = named(exporter, "invoke_workflow Math crew")
    assert "output.value" not in crew_span.attributes


def test_a_failing_tool_is_a_failed_execute_tool_span_and_the_agent_goes_on(crewai_instrumentor, model_instrumentor, make_crew, replies, exporter):
    from crewai.tools import tool

    @tool("explode")
    def explode(a: int) -> int:
        """Fails."""
        raise ValueError("tool broke")

    replies("explode", {"a": 1})

    assert make_crew([explode]).kickoff().raw == FINAL

    tools = [s for s in exporter.get_finished_spans() if s.name == "execute_tool explode"]
    assert len(tools) == (1 if NEW else 3)  # older crewai retries a failing tool itself
    for span in tools:
        assert (span.status.status_code.name, span.attributes["error.type"], len(exception_events(span))) == ("ERROR", "ValueError", 1)
        assert exception_events(span)[0].attributes["exception.message"] == "tool broke"
    assert named(exporter, "invoke_agent Calculator").status.status_code.name == "UNSET"


def test_tasks_run_in_threads_keep_their_parents(crewai_instrumentor, model_instrumentor, llm, replies, exporter, requests_made):
    from crewai import Agent, Crew, Task

    replies()
    first = Agent(role="First", goal="Answer", backstory="Quick.", llm=llm)
    second = Agent(role="Second", goal="Answer", backstory="Careful.", llm=llm)
    one = Task(description="Task one", expected_output="An answer", agent=first, name="one", async_execution=True)
    two = Task(description="Task two", expected_output="An answer", agent=second, name="two", async_execution=True)
    three = Task(description="Task three", expected_output="An answer", agent=first, name="three", context=[one, two])

    Crew(agents=[first, second], tasks=[one, two, three], name="Parallel crew").kickoff()

    rows = tree(exporter)
    assert sorted(rows) == sorted([
        ("invoke_workflow Parallel crew", "INTERNAL", None),
        ("task one", "INTERNAL", "invoke_workflow Parallel crew"),
        ("invoke_agent First", "INTERNAL", "task one"),
        (INFERENCE, "CLIENT", "invoke_agent First"),
        ("task two", "INTERNAL", "invoke_workflow Parallel crew"),
        ("invoke_agent Second", "INTERNAL", "task two"),
        (INFERENCE, "CLIENT", "invoke_agent Second"),
        ("task three", "INTERNAL", "invoke_workflow Parallel crew"),
        ("invoke_agent First", "INTERNAL", "task three"),
        (INFERENCE, "CLIENT", "invoke_agent First"),
    ])
    by_id = {s.context.span_id: s for s in exporter.get_finished_spans()}
    for agent in (s for s in exporter.get_finished_spans() if s.name.startswith("invoke_agent")):
        task = by_id[agent.parent.span_id]
        model_calls = [s for s in exporter.get_finished_spans() if s.parent and s.parent.span_id == agent.context.span_id]
        assert len(model_calls) == 1, (task.name, agent.name)
    assert len({s.context.trace_id for s in exporter.get_finished_spans()}) == 1
    assert len(requests_made()) == 3


def test_kickoff_async_and_kickoff_for_each_are_one_workflow_span_per_run(crewai_instrumentor, model_instrumentor, make_crew, replies, exporter, requests_made):
    replies()
    crew = make_crew()

    asyncio.run(crew.kickoff_async(inputs={"run": "async"}))
    crew.kickoff_for_each(inputs=[{"run": "one"}, {"run": "two"}])

    assert tree(exporter) == crew_tree() * 3
    workflows = [s for s in exporter.get_finished_spans() if s.name == "invoke_workflow Math crew"]
    assert sorted(s.attributes["input.value"] for s in workflows) == ['{"run":"async"}', '{"run":"one"}', '{"run":"two"}']
    assert len({s.context.trace_id for s in workflows}) == 3
    assert len(requests_made()) == 3 == len(inference_spans(exporter))


def test_a_flow_is_a_workflow_span_with_a_child_per_method(crewai_instrumentor, model_instrumentor, make_crew, replies, exporter):
    from crewai.flow.flow import Flow, listen, start

    replies()

    class MathFlow(Flow):
        @start()
        def begin(self):
            return "go"

        @listen(begin)
        def run_crew(self, value):
            return make_crew().kickoff().raw

    assert MathFlow().kickoff() == FINAL

    assert tree(exporter) == [
        ("invoke_workflow MathFlow", "INTERNAL", None),
        ("begin", "INTERNAL", "invoke_workflow MathFlow"),
        ("run_crew", "INTERNAL", "invoke_workflow MathFlow"),
        *crew_tree(parent="run_crew"),
    ]
    assert attrs(named(exporter, "invoke_workflow MathFlow")) == {
        "gen_ai.operation.name": "invoke_workflow",
        "input.value": "{}",
        "output.value": f'"{FINAL}"',
    }
    assert attrs(named(exporter, "begin"))["output.value"] == '"go"'
    assert attrs(named(exporter, "run_crew"))["output.value"] == f'"{FINAL}"'


def test_a_crew_inside_the_apps_span_nests_under_it(crewai_instrumentor, model_instrumentor, provider, make_crew, replies, exporter):
    replies()
    with provider.get_tracer("app").start_as_current_span("app"):
        make_crew().kickoff()

    assert tree(exporter) == [("app", "INTERNAL", None), *crew_tree(parent="app")]


def test_spans_made_inside_a_tool_nest_under_it(crewai_instrumentor, model_instrumentor, provider, make_crew, replies, exporter):
    from crewai.tools import tool

    @tool("lookup")
    def lookup(a: int) -> int:
        """Looks a number up."""
        with provider.get_tracer("app").start_as_current_span("inside the tool"):
            return a

    replies("lookup", {"a": 1})
    make_crew([lookup]).kickoff()

    assert ("inside the tool", "INTERNAL", "execute_tool lookup") in tree(exporter)
    assert trace.get_current_span() is trace.INVALID_SPAN


def test_an_agent_kicked_off_alone_is_an_agent_span(crewai_instrumentor, model_instrumentor, llm, replies, exporter, requests_made):
    from crewai import Agent

    replies()
    agent = Agent(role="Calculator", goal="Add numbers", backstory="You are good at maths.", llm=llm)
    if not hasattr(agent, "kickoff"):
        pytest.skip("this crewai has no Agent.kickoff")

    output = agent.kickoff("Add 1 and 2")

    assert output.raw == FINAL
    assert [row for row in tree(exporter) if row[1] == "INTERNAL"] == [("invoke_agent Calculator", "INTERNAL", None)]
    # one request, one inference span: the provider's (older crewai reports the lite agent's call
    # and its LLM's, the same call, twice)
    assert [row for row in tree(exporter) if row[1] == "CLIENT"] == [(INFERENCE, "CLIENT", "invoke_agent Calculator")]
    assert len(requests_made()) == 1
    assert [s.instrumentation_scope.name for s in inference_spans(exporter)] == [
        "opik_otel.instrumentors.openai" if NEW else "opik_otel.instrumentors.litellm"
    ]
    assert attrs(named(exporter, "invoke_agent Calculator"))["gen_ai.agent.name"] == "Calculator"


@pytest.mark.parametrize("provider_instrumented", [True, False])
def test_a_streamed_llm_call_is_one_inference_span(crewai_instrumentor, srv, replies, exporter, requests_made, provider_instrumented, request):
    from crewai import LLM, Agent, Crew, Task

    if provider_instrumented:
        request.getfixturevalue("model_instrumentor")
    replies()
    llm = LLM(model="openai/gpt-4o-mini", base_url=srv.base_url, api_key="sk-test-fake", max_retries=0, stream=True)
    agent = Agent(role="Calculator", goal="Add numbers", backstory="You are good at maths.", llm=llm)
    task = Task(description="Add 1 and 2", expected_output="A number", agent=agent, name="addition")

    assert Crew(agents=[agent], tasks=[task], name="Math crew").kickoff().raw == FINAL

    inference = INFERENCE if provider_instrumented else "chat gpt-4o-mini"
    assert tree(exporter)[-1] == (inference, "CLIENT", "invoke_agent Calculator")
    (span,) = inference_spans(exporter)
    assert len(requests_made()) == 1 and requests_made()[0]["body"]["stream"] is True
    assert span.attributes["gen_ai.request.stream"] is True
    assert span.attributes["gen_ai.response.time_to_first_chunk"] > 0
