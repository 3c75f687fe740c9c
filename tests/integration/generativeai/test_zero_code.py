"""Zero code: `opentelemetry-instrument python app.py` on an unmodified google-generativeai app
(the seed's: `genai.configure(...)`, `GenerativeModel`, a chat) delivers one priced llm span per
request to the (fake) Opik back end."""

from __future__ import annotations

import types

import pytest
from genai_prices import Usage, calc_price

pytest.importorskip("opik", reason="the fake Opik back end validates bodies with the opik package")

from tests.integration.generativeai.conftest import API_KEY, MODEL  # noqa: E402
from tests.integration.zero_code import PROJECT, run_app, span_rows  # noqa: E402

APP = '''
import os
import warnings

warnings.simplefilter("ignore")
import google.generativeai as genai

genai.configure(api_key=os.environ["GOOGLE_API_KEY"], transport="rest", client_options={"api_endpoint": os.environ["FAKE_GEMINI_URL"]})
model = genai.GenerativeModel("gemini-2.5-flash")
print("answer:", model.generate_content("Say hello").text)
print("chat:", model.start_chat().send_message("Hi").text)
'''
COST = float(calc_price(Usage(input_tokens=10, cache_read_tokens=4, output_tokens=6), MODEL, provider_id="google").total_price)


def test_a_google_generativeai_app_under_opentelemetry_instrument(tmp_path, backend, srv):
    no_openai = types.SimpleNamespace(base_url="http://127.0.0.1:9/v1")
    process = run_app(APP, tmp_path, backend, no_openai, FAKE_GEMINI_URL=srv.url, GOOGLE_API_KEY=API_KEY, GEMINI_API_KEY=None)

    assert "answer: Hello from the fake Gemini server." in process.stdout
    assert "chat: Hello from the fake Gemini server." in process.stdout
    assert backend.errors == []
    assert [t["name"] for t in backend.traces.values()] == [f"generate_content {MODEL}"] * 2
    assert {t["project_name"] for t in backend.traces.values()} == {PROJECT}
    assert span_rows(backend) == [(f"generate_content {MODEL}", "llm", None)] * 2
    llm = list(backend.spans.values())
    assert [(s["provider"], s["model"], s["usage"]["prompt_tokens"], s["usage"]["completion_tokens"]) for s in llm] == [("google_ai", MODEL, 10, 6)] * 2
    assert [s["total_estimated_cost"] for s in llm] == [pytest.approx(COST, rel=1e-9)] * 2
