"""Zero code: `opentelemetry-instrument python app.py` on an unmodified DSPy app delivers its trace
to the (fake) Opik back end: the module tree and one priced llm span per model call."""

from __future__ import annotations

from tests.integration.zero_code import PROJECT, rows_in_order, run_app, span_rows

APP = '''
import os
import dspy

lm = dspy.LM("openai/gpt-4o-mini", api_base=os.environ["OPENAI_BASE_URL"], api_key="sk-test-fake", cache=False, num_retries=0)
dspy.configure(lm=lm)
qa = dspy.ChainOfThought("question -> answer")
print("answer:", qa(question="What is 2+2?").answer)
'''


def test_a_dspy_program_under_opentelemetry_instrument(tmp_path, backend, srv, requests_made):
    process = run_app(APP, tmp_path, backend, srv, DSPY_CACHEDIR=str(tmp_path / "dspy-cache"),
                      LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_TELEMETRY="False")

    assert "answer: 4" in process.stdout
    assert backend.errors == []
    assert len(backend.traces) == 1
    (trace,) = backend.traces.values()
    assert trace["name"] == "ChainOfThought"
    assert trace["project_name"] == PROJECT
    assert span_rows(backend) == rows_in_order([
        ("ChainOfThought", "general", None),
        ("Predict", "general", "ChainOfThought"),
        ("chat openai/gpt-4o-mini", "llm", "Predict"),
    ])
    llm = [s for s in backend.spans.values() if s["type"] == "llm"]
    assert len(llm) == 1 == len(requests_made())
    assert (llm[0]["provider"], llm[0]["usage"]["prompt_tokens"], llm[0]["total_estimated_cost"] > 0) == ("openai", 12, True)
    assert [s["name"] for s in backend.spans.values() if "total_estimated_cost" in s] == ["chat openai/gpt-4o-mini"]
