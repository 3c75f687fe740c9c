"""Zero code: `opentelemetry-instrument python app.py` on an unmodified LiteLLM app (that imports
`completion` before anything is instrumented) delivers each call to the (fake) Opik back end as
one priced llm span, with the openai and anthropic instrumentors on too."""

from __future__ import annotations

import pytest

pytest.importorskip("opik", reason="the fake Opik back end validates bodies with the opik package")

from tests.integration.litellm.conftest import ANTHROPIC_KEY, OPENAI_KEY  # noqa: E402
from tests.integration.zero_code import PROJECT, rows_in_order, run_app, span_rows  # noqa: E402

APP = '''
import os

from litellm import completion

messages = [{"role": "user", "content": "Say hello"}]
stream = completion(model="openai/gpt-4o-mini", messages=messages, api_base=os.environ["FAKE_OPENAI_URL"], api_key=os.environ["OPENAI_API_KEY"],
                    stream=True, stream_options={"include_usage": True})
print("openai:", "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices))
reply = completion(model="anthropic/claude-haiku-4-5", messages=messages, api_base=os.environ["FAKE_ANTHROPIC_URL"], api_key=os.environ["ANTHROPIC_API_KEY"], max_tokens=64)
print("anthropic:", reply.choices[0].message.content)
'''


def test_a_litellm_app_under_opentelemetry_instrument(tmp_path, backend, srv, anthropic_srv):
    process = run_app(
        APP,
        tmp_path,
        backend,
        srv,
        FAKE_OPENAI_URL=srv.base_url,
        FAKE_ANTHROPIC_URL=anthropic_srv.url,
        OPENAI_API_KEY=OPENAI_KEY,
        ANTHROPIC_API_KEY=ANTHROPIC_KEY,
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        LITELLM_TELEMETRY="False",
    )

    assert "openai: Hello from the fake OpenAI server." in process.stdout
    assert "anthropic: Hello from the fake Anthropic server." in process.stdout
    assert backend.errors == []
    assert {t["project_name"] for t in backend.traces.values()} == {PROJECT}
    assert span_rows(backend) == rows_in_order([("chat openai/gpt-4o-mini", "llm", None), ("chat anthropic/claude-haiku-4-5", "llm", None)])
    llm = sorted(backend.spans.values(), key=lambda s: s["name"])
    got = [(s["name"], s["provider"], s["model"], s["usage"]["prompt_tokens"], s["usage"]["completion_tokens"]) for s in llm]
    assert got == [("chat anthropic/claude-haiku-4-5", "anthropic", "claude-haiku-4-5", 16, 6), ("chat openai/gpt-4o-mini", "openai", "gpt-4o-mini", 12, 7)]
    assert [s["total_estimated_cost"] for s in llm] == [pytest.approx(4.29e-05, rel=1e-9), pytest.approx(5.7e-06, rel=1e-9)]
    assert [s["metadata"]["otel_scope"] for s in llm] == ["opik_otel.instrumentors.litellm"] * 2
    assert "litellm.response_cost" not in llm[1]["metadata"]  # LiteLLM puts no cost on a stream's chunks
