"""Tools and ReAct, `dspy.Evaluate` and an optimizer's `compile` (examples run in threads), an
adapter's failed parse, and odd events: each call one span, parented right, nothing raised."""

from __future__ import annotations

import threading

import dspy
import pytest
from opentelemetry import context as otel_context

from tests.integration.dspy.conftest import chat_adapter_text, field_answer, output_fields
from tests.integration.spans import attrs, named, tree

CHAT = "chat openai/gpt-4o-mini"


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def react_reply(body: dict) -> str:
    """ReAct's steps: call get_weather, then finish; every other request: its fields answered."""
    fields = output_fields(body)
    if "next_tool_name" not in fields:
        return field_answer(body)
    called = "observation_0" in body["messages"][-1]["content"]
    return chat_adapter_text({
        "next_thought": "done" if called else "look it up",
        "next_tool_name": "finish" if called else "get_weather",
        "next_tool_args": "{}" if called else '{"city": "Paris"}',
    })


def test_react_tools_are_execute_tool_spans_under_the_agent(dspy_instrumentor, exporter, lm, srv, requests_made):
    srv.reply_with(react_reply)
    with dspy.context(lm=lm):
        result = dspy.ReAct("question -> answer", tools=[get_weather])(question="weather in Paris?")

    assert result.answer == "4"
    rows = tree(exporter)
    assert rows[0] == ("ReAct", "INTERNAL", None)
    tools = [row for row in rows if row[0].startswith("execute_tool ")]
    assert tools[0] == ("execute_tool get_weather", "INTERNAL", "ReAct")
    assert {row[2] for row in tools} == {"ReAct"}
    chats = [row for row in rows if row[0] == CHAT]
    assert len(chats) == len(requests_made()) == 3  # two steps and the extraction
    assert {row[2] for row in chats} == {"Predict"}
    tool = attrs(named(exporter, "execute_tool get_weather"))
    assert tool == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "get_weather",
        "input.value": '{"city":"Paris"}',
        "output.value": '"sunny in Paris"',
    }


def test_a_failing_tool_marks_its_span(dspy_instrumentor, exporter):
    error = RuntimeError("tool down")

    def broken(city: str) -> str:
        raise error

    tool = dspy.Tool(broken) if hasattr(dspy, "Tool") else dspy.predict.react.Tool(broken)
    with pytest.raises(RuntimeError) as raised:
        tool(city="Paris")

    assert raised.value is error
    span = named(exporter, "execute_tool broken")
    assert (span.status.status_code.name, span.attributes["error.type"]) == ("ERROR", "RuntimeError")


def exact_answer(example, prediction, trace=None) -> bool:
    return prediction.answer == example.answer


def test_evaluate_is_a_workflow_with_each_examples_run_under_it_in_threads(dspy_instrumentor, exporter, lm, requests_made):
    devset = [dspy.Example(question=f"q{i}", answer="4").with_inputs("question") for i in range(4)]
    evaluate = dspy.Evaluate(devset=devset, metric=exact_answer, num_threads=2, display_progress=False)
    with dspy.context(lm=lm):
        result = evaluate(dspy.ChainOfThought("question -> answer"))

    assert float(getattr(result, "score", result)) == 100.0
    rows = tree(exporter)
    assert rows.count(("invoke_workflow Evaluate", "INTERNAL", None)) == 1
    assert sorted(rows[1:]) == sorted([("ChainOfThought", "INTERNAL", "invoke_workflow Evaluate"), ("Predict", "INTERNAL", "ChainOfThought"), (CHAT, "CLIENT", "Predict")] * 4)
    workflow = named(exporter, "invoke_workflow Evaluate")
    assert workflow.attributes["gen_ai.operation.name"] == "invoke_workflow"
    assert workflow.attributes["output.value"] == '{"score":100.0}'
    assert len({s.context.trace_id for s in exporter.get_finished_spans()}) == 1
    assert len(requests_made()) == 4


def test_compile_is_a_workflow_with_the_programs_runs_under_it(dspy_instrumentor, exporter, lm):
    trainset = [dspy.Example(question=f"q{i}", answer="4").with_inputs("question") for i in range(2)]
    optimizer = dspy.BootstrapFewShot(metric=exact_answer, max_bootstrapped_demos=2, max_labeled_demos=0)
    with dspy.context(lm=lm):
        compiled = optimizer.compile(dspy.ChainOfThought("question -> answer"), trainset=trainset)

    assert compiled is not None
    rows = tree(exporter)
    assert rows[0] == ("invoke_workflow BootstrapFewShot", "INTERNAL", None)
    assert len({s.context.trace_id for s in exporter.get_finished_spans()}) == 1
    assert [row for row in rows if row[0] == "ChainOfThought"] == [("ChainOfThought", "INTERNAL", "invoke_workflow BootstrapFewShot")] * 2
    assert len([row for row in rows if row[0] == CHAT]) == 2
    workflow = named(exporter, "invoke_workflow BootstrapFewShot")
    assert (workflow.attributes["gen_ai.operation.name"], workflow.attributes["output.value"]) == ("invoke_workflow", '{"program":"ChainOfThought"}')


class Fanout(dspy.Module):
    """Runs its predictors in DSPy's worker threads (`dspy.Parallel`, `Module.batch`)."""

    def __init__(self):
        super().__init__()
        self.predict = dspy.Predict("question -> answer")

    def forward(self, questions):
        pairs = [(self.predict, {"question": q}) for q in questions]
        dspy.Parallel(num_threads=2)(pairs)
        return self.predict.batch([dspy.Example(question=q).with_inputs("question") for q in questions], num_threads=2)


@pytest.mark.skipif(not hasattr(dspy, "Parallel"), reason="this DSPy has no dspy.Parallel")
def test_parallel_runs_nest_under_the_module_that_started_them(dspy_instrumentor, exporter, lm):
    with dspy.context(lm=lm):
        Fanout()(questions=["a", "b"])

    rows = tree(exporter)
    assert rows[0] == ("Fanout", "INTERNAL", None)
    assert sorted(rows[1:]) == sorted([("Predict", "INTERNAL", "Fanout"), (CHAT, "CLIENT", "Predict")] * 4)
    assert len({s.context.trace_id for s in exporter.get_finished_spans()}) == 1


def test_modules_in_the_apps_threads_nest_under_the_span_current_there(dspy_instrumentor, provider, exporter, lm):
    tracer = provider.get_tracer("app")

    def work(i: int) -> None:
        with tracer.start_as_current_span(f"thread {i}"):
            with dspy.context(lm=lm):
                dspy.Predict("question -> answer")(question=f"q{i}")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    rows = tree(exporter)
    for i in range(3):
        assert (f"thread {i}", "INTERNAL", None) in rows
    assert sorted(row for row in rows if row[0] == "Predict") == sorted(("Predict", "INTERNAL", f"thread {i}") for i in range(3))
    assert [row[2] for row in rows if row[0] == CHAT] == ["Predict"] * 3


def test_an_unparsable_answer_is_an_adapter_event_on_the_module_span(dspy_instrumentor, exporter, lm, srv, requests_made):
    srv.reply_with(lambda body: "not in any adapter's format")
    with pytest.raises(Exception):
        with dspy.context(lm=lm):
            dspy.Predict("question -> answer")(question="q")

    # the ChatAdapter's parse fails, DSPy asks again through the JSONAdapter, whose parse fails too
    assert len(requests_made()) == 2
    assert tree(exporter) == [("Predict", "INTERNAL", None), (CHAT, "CLIENT", "Predict"), (CHAT, "CLIENT", "Predict")]
    predict = named(exporter, "Predict")
    assert predict.status.status_code.name == "ERROR"
    assert [e.name for e in predict.events] == ["dspy.adapter.parse.error", "dspy.adapter.parse.error", "exception"]
    assert all(isinstance(e.attributes["error.type"], str) and e.attributes["error.type"] for e in predict.events[:2])


def test_odd_events_lose_an_attribute_or_a_span_never_raise(provider, exporter):
    from opik_otel._content import ContentPolicy
    from opik_otel.instrumentors._callbacks import RunSpans
    from opik_otel.instrumentors.dspy.callbacks import OpikDSPyCallback

    callback = OpikDSPyCallback(RunSpans(provider.get_tracer("t")), ContentPolicy(True))
    before = otel_context.get_current()
    callback.on_module_end("never-started", outputs=None)
    callback.on_lm_end("never-started", outputs=None)
    callback.on_lm_start("lm", instance=object(), inputs=None)  # no inputs mapping: no span
    callback.on_lm_end("lm", outputs=["x"])
    callback.on_module_start("m", instance=object(), inputs={"args": (object(),), "kwargs": {"x": {1, 2}}})
    callback.on_module_end("m", outputs=object())
    callback.on_tool_start("t", instance=None, inputs={})
    callback.on_tool_end("t", outputs=None, exception=ValueError("x"))
    callback.on_evaluate_end("never-started", outputs=None)

    assert otel_context.get_current() is before
    assert [s.name for s in exporter.get_finished_spans()] == ["object", "execute_tool NoneType"]
