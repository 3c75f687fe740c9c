"""A DSPy program against the fake server: the module tree, one priced inference span per billed
call (LiteLLM's when DSPy calls LiteLLM and it is instrumented, else made from DSPy's data), sync
and async, DSPy's cache, the app's span and callbacks."""

from __future__ import annotations

import json

import dspy
import pytest

from tests.integration.dspy.conftest import HAS_ENGINES
from tests.integration.spans import attrs, every_span_has, named, tree

QUESTION = "What is 2+2?"
ANSWER = {"reasoning": "reasoning text", "answer": "4"}
COT_TREE = [
    ("ChainOfThought", "INTERNAL", None),
    ("Predict", "INTERNAL", "ChainOfThought"),
    ("chat openai/gpt-4o-mini", "CLIENT", "Predict"),
]


def compact(value) -> str:
    return json.dumps(value, separators=(",", ":"))


#: The request parameters an LM's settings hold (DSPy 2.6 sends temperature 0.0 and max_tokens 1000 by default).
PARAMETERS = {"temperature": "gen_ai.request.temperature", "max_tokens": "gen_ai.request.max_tokens"}
needs_acall = pytest.mark.skipif(not hasattr(dspy.Module, "acall"), reason="this DSPy has no async modules")


def dspy_chat_attributes(lm, request: dict, response_id: str) -> dict:
    """The inference span DSPy's data makes for one ChainOfThought call (`request`: the body the fake got)."""
    system, user = request["messages"]
    parameters = {attribute: lm.kwargs[key] for key, attribute in PARAMETERS.items() if lm.kwargs.get(key) is not None}
    reply = "[[ ## reasoning ## ]]\nreasoning text\n\n[[ ## answer ## ]]\n4\n\n[[ ## completed ## ]]"
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "openai/gpt-4o-mini",
        **parameters,
        "gen_ai.system_instructions": compact([{"type": "text", "content": system["content"]}]),
        "gen_ai.input.messages": compact([{"role": "user", "parts": [{"type": "text", "content": user["content"]}]}]),
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 7,
        "gen_ai.usage.cache_read.input_tokens": 4,
        "gen_ai.usage.reasoning.output_tokens": 2,
        "gen_ai.response.id": response_id,
        "gen_ai.response.model": "gpt-4o-mini",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.output.messages": compact([{"role": "assistant", "parts": [{"type": "text", "content": reply}], "finish_reason": "stop"}]),
        "gen_ai.usage.cost": 5.7e-06,
    }


def module_attributes() -> dict:
    return {"input.value": compact({"question": QUESTION}), "output.value": compact(ANSWER)}


def test_chain_of_thought_without_litellm_instrumented_dspy_makes_the_inference_span(dspy_instrumentor, exporter, lm, requests_made):
    with dspy.context(lm=lm):
        prediction = dspy.ChainOfThought("question -> answer")(question=QUESTION)

    assert (prediction.reasoning, prediction.answer) == ("reasoning text", "4")
    assert tree(exporter) == COT_TREE
    (request,) = requests_made()
    chat = named(exporter, "chat openai/gpt-4o-mini")
    assert attrs(chat) == dspy_chat_attributes(lm, request["body"], chat.attributes["gen_ai.response.id"])
    assert chat.attributes["gen_ai.response.id"].startswith("chatcmpl-fake-")
    assert attrs(named(exporter, "ChainOfThought")) == module_attributes()
    assert attrs(named(exporter, "Predict")) == module_attributes()
    assert named(exporter, "Predict").parent.span_id == named(exporter, "ChainOfThought").context.span_id
    assert chat.parent.span_id == named(exporter, "Predict").context.span_id


@needs_acall
async def test_chain_of_thought_async(dspy_instrumentor, exporter, lm, requests_made):
    with dspy.context(lm=lm):
        prediction = await dspy.ChainOfThought("question -> answer").acall(question=QUESTION)

    assert prediction.answer == "4"
    assert tree(exporter) == COT_TREE
    (request,) = requests_made()
    chat = named(exporter, "chat openai/gpt-4o-mini")
    assert attrs(chat) == dspy_chat_attributes(lm, request["body"], chat.attributes["gen_ai.response.id"])


def test_with_litellm_instrumented_the_litellm_span_is_the_inference_span(dspy_instrumentor, litellm_instrumentor, exporter, litellm_lm, srv, requests_made):
    with dspy.context(lm=litellm_lm):
        dspy.ChainOfThought("question -> answer")(question=QUESTION)

    assert tree(exporter) == COT_TREE
    assert len(requests_made()) == 1
    chat = attrs(named(exporter, "chat openai/gpt-4o-mini"))
    assert (chat["server.address"], chat["server.port"]) == ("127.0.0.1", srv.port)  # LiteLLM's span: it saw the HTTP call
    assert chat["opik.metadata.litellm.response_cost"] == pytest.approx(5.7e-06)
    assert (chat["gen_ai.usage.input_tokens"], chat["gen_ai.usage.cost"]) == (12, 5.7e-06)
    assert [s.name for s in exporter.get_finished_spans() if "gen_ai.usage.cost" in s.attributes] == ["chat openai/gpt-4o-mini"]


@needs_acall
async def test_with_litellm_instrumented_async(dspy_instrumentor, litellm_instrumentor, exporter, litellm_lm, requests_made):
    with dspy.context(lm=litellm_lm):
        await dspy.ChainOfThought("question -> answer").acall(question=QUESTION)

    assert tree(exporter) == COT_TREE
    assert len(requests_made()) == 1
    assert "opik.metadata.litellm.response_cost" in named(exporter, "chat openai/gpt-4o-mini").attributes


def test_opik_instrumentor_traces_dspy_with_every_instrumentor_on(provider, exporter, litellm_lm, requests_made):
    from opik_otel import OpikInstrumentor

    instrumentor = OpikInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=True)
    try:
        with dspy.context(lm=litellm_lm):
            dspy.ChainOfThought("question -> answer")(question=QUESTION)
    finally:
        instrumentor.uninstrument()

    assert tree(exporter) == COT_TREE
    assert len(requests_made()) == 1
    assert [s.name for s in exporter.get_finished_spans() if "gen_ai.usage.cost" in s.attributes] == ["chat openai/gpt-4o-mini"]


@pytest.mark.parametrize("litellm_on", [False, True], ids=["dspy-span", "litellm-span"])
def test_a_cached_answer_is_marked_and_not_billed(request, dspy_instrumentor, exporter, srv, requests_made, litellm_on):
    if litellm_on:
        request.getfixturevalue("litellm_instrumentor")
    extra = {"engine": "litellm"} if HAS_ENGINES and litellm_on else {}
    cached_lm = dspy.LM("openai/gpt-4o-mini", api_base=srv.base_url, api_key="sk-test-fake", cache=True, num_retries=0, **extra)
    question = f"cached {request.node.name} {id(cached_lm)}"  # new to the cache (memory and disk)
    with dspy.context(lm=cached_lm):
        first = dspy.Predict("question -> answer")(question=question)
        second = dspy.Predict("question -> answer")(question=question)

    assert first.answer == second.answer == "4"
    assert len(requests_made()) == 1
    billed, cached = sorted((s for s in exporter.get_finished_spans() if s.name == "chat openai/gpt-4o-mini"), key=lambda s: s.start_time)
    assert billed.attributes["gen_ai.usage.cost"] == 5.7e-06
    assert "opik.metadata.cache_hit" not in billed.attributes
    got = attrs(cached)
    assert got["opik.metadata.cache_hit"] is True
    assert [k for k in got if k.startswith("gen_ai.usage.")] == []
    assert cached.parent.span_id == [s for s in exporter.get_finished_spans() if s.name == "Predict"][1].context.span_id


class Answerer(dspy.Module):
    def __init__(self, tracer):
        super().__init__()
        self.tracer = tracer
        self.think = dspy.ChainOfThought("question -> answer")

    def forward(self, question):
        with self.tracer.start_as_current_span("app step inside forward"):
            pass
        return self.think(question=question)


def test_a_user_module_nests_its_calls_and_the_apps_spans(dspy_instrumentor, provider, exporter, lm):
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("request"):
        with dspy.context(lm=lm):
            Answerer(tracer)(question=QUESTION)

    assert tree(exporter) == [
        ("request", "INTERNAL", None),
        ("Answerer", "INTERNAL", "request"),
        ("app step inside forward", "INTERNAL", "Answerer"),
        ("ChainOfThought", "INTERNAL", "Answerer"),
        ("Predict", "INTERNAL", "ChainOfThought"),
        ("chat openai/gpt-4o-mini", "CLIENT", "Predict"),
    ]


class Failing(dspy.Module):
    def __init__(self, error):
        super().__init__()
        self.error = error
        self.predict = dspy.Predict("question -> answer")

    def forward(self, question):
        self.predict(question=question)
        raise self.error


def test_an_error_marks_the_failing_module_and_reaches_the_app_unchanged(dspy_instrumentor, exporter, lm):
    error = ValueError("boom")
    with pytest.raises(ValueError) as raised:
        with dspy.context(lm=lm):
            Failing(error)(question=QUESTION)

    assert raised.value is error
    failing = named(exporter, "Failing")
    assert failing.status.status_code.name == "ERROR"
    assert failing.attributes["error.type"] == "ValueError"
    assert [e.name for e in failing.events] == ["exception"]
    assert named(exporter, "Predict").status.status_code.name == "UNSET"


def test_a_failing_lm_call_is_one_failed_inference_span_and_its_ancestors_fail(dspy_instrumentor, exporter, srv, requests_made):
    broken = dspy.LM("openai/error-500", api_base=srv.base_url, api_key="sk-test-fake", cache=False, num_retries=0)
    with pytest.raises(Exception) as raised:
        with dspy.context(lm=broken):
            dspy.ChainOfThought("question -> answer")(question=QUESTION)

    assert len(requests_made()) >= 1
    names = [row[0] for row in tree(exporter)]
    assert names[:2] == ["ChainOfThought", "Predict"]
    failed = [s for s in exporter.get_finished_spans() if s.status.status_code.name == "ERROR"]
    assert {s.name for s in failed} == {"ChainOfThought", "Predict", "chat openai/error-500"}
    for span in failed:
        assert span.attributes["error.type"] == type(raised.value).__qualname__ or span.name != "ChainOfThought"
    assert [s.name for s in exporter.get_finished_spans() if "gen_ai.usage.cost" in s.attributes] == []


def test_the_apps_callbacks_stay_and_ours_stays_when_the_app_sets_callbacks(dspy_instrumentor, exporter, lm):
    from dspy.utils.callback import BaseCallback

    seen = []

    class Mine(BaseCallback):
        def on_module_start(self, call_id, instance, inputs):
            seen.append(type(instance).__name__)

    mine = Mine()
    dspy.configure(callbacks=[mine])
    with dspy.context(lm=lm):
        dspy.Predict("question -> answer")(question=QUESTION)

    assert seen == ["Predict"]
    assert [row[0] for row in tree(exporter)] == ["Predict", "chat openai/gpt-4o-mini"]
    assert dspy.settings.callbacks[0] is mine


def test_uninstrument_removes_only_ours_and_instrument_again_resumes(provider, exporter, lm, capture_content):
    from opik_otel.instrumentors.dspy import DSPyInstrumentor
    from opik_otel.instrumentors.dspy.callbacks import OpikDSPyCallback

    from dspy.utils.callback import BaseCallback

    from dspy.utils.parallelizer import ParallelExecutor

    def originals() -> list:
        settings_class = type(dspy.settings)
        return [dspy.configure, dspy.context, settings_class.__dict__["configure"], settings_class.__dict__["context"],
                ParallelExecutor.__dict__["execute"], dspy.Evaluate.__dict__["__call__"], dspy.BootstrapFewShot.__dict__["compile"]]

    before = originals()
    mine = BaseCallback()
    dspy.configure(callbacks=[mine])
    instrumentor = DSPyInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=capture_content)
    assert [type(c) for c in dspy.settings.callbacks] == [BaseCallback, OpikDSPyCallback]
    assert all(now is not then for now, then in zip(originals()[:5], before[:5]))  # wrapped
    instrumentor.uninstrument()
    assert dspy.settings.callbacks == [mine]
    assert all(now is then for now, then in zip(originals(), before))  # the library's own back
    with dspy.context(lm=lm):
        dspy.Predict("question -> answer")(question=QUESTION)
    assert exporter.get_finished_spans() == ()

    instrumentor.instrument(tracer_provider=provider, capture_content=capture_content)
    try:
        with dspy.context(lm=lm):
            dspy.Predict("question -> answer")(question=QUESTION)
    finally:
        instrumentor.uninstrument()
    assert [row[0] for row in tree(exporter)] == ["Predict", "chat openai/gpt-4o-mini"]
    assert dspy.settings.callbacks == [mine]


def test_track_dspy_routes_every_span_to_its_project(global_provider, exporter, lm):
    from opik_otel.instrumentors.dspy import track_dspy, untrack_dspy

    callback = track_dspy(project_name="dspy-project", tags=["t1"])
    try:
        with dspy.context(lm=lm):
            dspy.ChainOfThought("question -> answer")(question=QUESTION)
    finally:
        untrack_dspy(callback)

    assert tree(exporter) == COT_TREE
    every_span_has(exporter, {"opik.project_name": "dspy-project", "opik.tags": ["t1"]})
    assert callback not in dspy.settings.callbacks


def test_track_dspy_beside_the_instrumentor_traces_each_call_once(dspy_instrumentor, global_provider, exporter, lm):
    from opik_otel.instrumentors.dspy import track_dspy, untrack_dspy
    from opik_otel.instrumentors.dspy.callbacks import OpikDSPyCallback

    callback = track_dspy(project_name="dspy-project")
    assert [c for c in dspy.settings.callbacks if isinstance(c, OpikDSPyCallback)] == [callback]
    try:
        with dspy.context(lm=lm):
            dspy.ChainOfThought("question -> answer")(question=QUESTION)
            dspy.ChainOfThought("question -> answer", callbacks=[callback])(question=QUESTION)  # given to the module too
    finally:
        untrack_dspy(callback)

    assert tree(exporter) == COT_TREE * 2
    every_span_has(exporter, {"opik.project_name": "dspy-project"})
    assert [type(c) for c in dspy.settings.callbacks] == [OpikDSPyCallback]  # the instrumentor's is back


def test_uninstrument_before_dspy_is_imported_cancels_the_pending_activation():
    """In a fresh process: instrument() then uninstrument() before `import dspy` adds nothing when
    dspy is imported; instrument() after the import adds our callback at once. (Instrumenting
    before the import, then importing, is what the zero-code test does.)"""
    import subprocess
    import sys

    code = """
import sys
from opik_otel.instrumentors.dspy import DSPyInstrumentor
instrumentor = DSPyInstrumentor()
instrumentor.instrument()
instrumentor.uninstrument()
assert "dspy" not in sys.modules
import dspy
print(len(dspy.settings.callbacks))
instrumentor.instrument()
print([type(c).__name__ for c in dspy.settings.callbacks])
"""
    process = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert process.returncode == 0, process.stderr
    assert process.stdout.split("\n")[:2] == ["0", "['OpikDSPyCallback']"]
