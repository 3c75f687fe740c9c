"""Zero code: `opentelemetry-instrument python app.py` on an unmodified aisuite app delivers its
calls to the (fake) Opik back end: one priced llm span per billed call (the openai / anthropic
instrumentors' spans, which AISuite's round trips defer to), and a tool loop as one trace (agent,
round trips, tool)."""

from __future__ import annotations

import pytest
from genai_prices import Usage, calc_price

pytest.importorskip("opik", reason="the fake Opik back end validates bodies with the opik package")

from tests.integration.aisuite.conftest import needs_tool_loop  # noqa: E402
from tests.integration.zero_code import PROJECT, rows_in_order, run_app, span_rows  # noqa: E402

APP = '''
import os

import aisuite


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


client = aisuite.Client(provider_configs={
    "openai": {"base_url": os.environ["OPENAI_BASE_URL"], "max_retries": 0},
    "anthropic": {"base_url": os.environ["FAKE_ANTHROPIC_URL"], "api_key": "sk-ant-test-fake", "max_retries": 0},
})
hello = [{"role": "user", "content": "Say hello"}]
print("openai:", client.chat.completions.create(model="openai:gpt-4o-mini", messages=hello).choices[0].message.content)
print("anthropic:", client.chat.completions.create(model="anthropic:claude-3-5-haiku-20241022", messages=hello).choices[0].message.content)
weather = [{"role": "user", "content": "Weather in Paris?"}]
print("tools:", client.chat.completions.create(model="openai:gpt-4o-mini", messages=weather, tools=[get_weather], max_turns=3).choices[0].message.content)
'''
CLAUDE = "claude-3-5-haiku-20241022"
OPENAI_COST = float(calc_price(Usage(input_tokens=12, cache_read_tokens=4, output_tokens=7), "gpt-4o-mini", provider_id="openai").total_price)


@needs_tool_loop  # the app runs a tool loop too
def test_an_aisuite_app_under_opentelemetry_instrument(tmp_path, backend, srv, anthropic_srv, requests_made, anthropic_requests):
    process = run_app(APP, tmp_path, backend, srv, FAKE_ANTHROPIC_URL=anthropic_srv.url)

    assert "openai: Hello from the fake OpenAI server." in process.stdout
    assert "anthropic: Hello from the fake Anthropic server." in process.stdout
    assert "tools: The weather is sunny." in process.stdout
    assert (len(requests_made()), len(anthropic_requests())) == (3, 1)
    assert backend.errors == []
    assert sorted(t["name"] for t in backend.traces.values()) == [f"chat {CLAUDE}", "chat gpt-4o-mini", "invoke_agent gpt-4o-mini"]
    assert {t["project_name"] for t in backend.traces.values()} == {PROJECT}
    assert span_rows(backend) == rows_in_order([
        ("chat gpt-4o-mini", "llm", None),
        (f"chat {CLAUDE}", "llm", None),
        ("invoke_agent gpt-4o-mini", "general", None),
        ("chat gpt-4o-mini", "llm", "invoke_agent gpt-4o-mini"),
        ("execute_tool get_weather", "tool", "invoke_agent gpt-4o-mini"),
        ("chat gpt-4o-mini", "llm", "invoke_agent gpt-4o-mini"),
    ])
    llm = sorted(((s["provider"], s["model"], s["usage"]["completion_tokens"]) for s in backend.spans.values() if s["type"] == "llm"))
    assert llm == [("anthropic", CLAUDE, 6)] + [("openai", "gpt-4o-mini", 7)] * 3
    openai_costs = [s["total_estimated_cost"] for s in backend.spans.values() if s.get("provider") == "openai"]
    assert openai_costs == [pytest.approx(OPENAI_COST, rel=1e-9)] * 3
    assert sorted(s["name"] for s in backend.spans.values() if "total_estimated_cost" in s) == [f"chat {CLAUDE}"] + ["chat gpt-4o-mini"] * 3
