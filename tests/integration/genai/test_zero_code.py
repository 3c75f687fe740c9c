"""Zero code: `opentelemetry-instrument python app.py` on an unmodified google-genai app
delivers its calls to the (fake) Opik back end: one priced llm span per round trip, and an
automatic function calling call as one trace (agent, round trips, tool)."""

from __future__ import annotations

import types

import pytest
from genai_prices import Usage, calc_price

pytest.importorskip("opik", reason="the fake Opik back end validates bodies with the opik package")

from tests.integration.genai.conftest import API_KEY, MODEL  # noqa: E402
from tests.integration.zero_code import PROJECT, rows_in_order, run_app, span_rows  # noqa: E402

APP = '''
import os

from google import genai


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


client = genai.Client(http_options={"base_url": os.environ["FAKE_GEMINI_URL"]})  # older google-genai reads no GOOGLE_GEMINI_BASE_URL
print("answer:", client.models.generate_content(model="gemini-2.5-flash", contents="Say hello").text)
print("tool answer:", client.models.generate_content(model="gemini-2.5-flash", contents="Weather in Paris?", config={"tools": [get_weather]}).text)
'''
COST = float(calc_price(Usage(input_tokens=10, cache_read_tokens=4, output_tokens=8), MODEL, provider_id="google").total_price)


def test_a_google_genai_app_under_opentelemetry_instrument(tmp_path, backend, srv):
    no_openai = types.SimpleNamespace(base_url="http://127.0.0.1:9/v1")
    process = run_app(APP, tmp_path, backend, no_openai, FAKE_GEMINI_URL=srv.url, GOOGLE_API_KEY=API_KEY, GEMINI_API_KEY=None, GOOGLE_GENAI_USE_VERTEXAI=None)

    assert "answer: Hello from the fake Gemini server." in process.stdout
    assert "tool answer: The weather is sunny." in process.stdout
    assert backend.errors == []
    assert sorted(t["name"] for t in backend.traces.values()) == [f"generate_content {MODEL}", f"invoke_agent {MODEL}"]
    assert {t["project_name"] for t in backend.traces.values()} == {PROJECT}
    spans = backend.spans
    assert span_rows(backend) == rows_in_order([
        (f"generate_content {MODEL}", "llm", None),
        (f"invoke_agent {MODEL}", "general", None),
        (f"generate_content {MODEL}", "llm", f"invoke_agent {MODEL}"),
        ("execute_tool get_weather", "tool", f"invoke_agent {MODEL}"),
        (f"generate_content {MODEL}", "llm", f"invoke_agent {MODEL}"),
    ])
    llm = [s for s in spans.values() if s["type"] == "llm"]
    assert [(s["provider"], s["model"], s["usage"]["prompt_tokens"], s["usage"]["completion_tokens"]) for s in llm] == [("google_ai", MODEL, 10, 8)] * 3
    assert [s["total_estimated_cost"] for s in llm] == [pytest.approx(COST, rel=1e-9)] * 3
    assert [s["name"] for s in spans.values() if "total_estimated_cost" in s] == [f"generate_content {MODEL}"] * 3
