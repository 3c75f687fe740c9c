"""Content: the redaction hook runs on every content value before it becomes an attribute; a hook
that fails never lets the unredacted content through; `configure(redact=...)` installs it."""

from __future__ import annotations

import json

import pytest

import opik_otel
from opik_otel import semconv as sc

openai = pytest.importorskip("openai")


@pytest.fixture
def hook():
    yield sc.set_content_hook
    sc.set_content_hook(None)


def mask(value):
    return json.loads(json.dumps(value).replace("4111-1111-1111-1111", "[card]"))


def test_the_hook_redacts_llm_and_tracked_content(hook, provider, exporter):
    from opik_otel.instrumentors.openai import OpenAIInstrumentor
    from tests.fakes.openai_server import FakeOpenAIServer

    hook(mask)
    instrumentor = OpenAIInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=True)
    try:
        with FakeOpenAIServer() as server:
            client = openai.OpenAI(base_url=server.base_url, api_key="sk-test-fake", max_retries=0)

            @opik_otel.track
            def pay(card):
                client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": f"charge {card}"}])
                return {"card": card}

            pay("4111-1111-1111-1111")
    finally:
        instrumentor.uninstrument()
    everything = json.dumps([dict(span.attributes) for span in exporter.get_finished_spans()])
    assert "4111-1111-1111-1111" not in everything
    assert everything.count("[card]") >= 3  # the prompt, the tracked input and output


def test_a_failing_hook_records_a_placeholder(hook, caplog):
    def broken(value):
        raise RuntimeError("bug in the user's hook")

    hook(broken)
    assert sc.content_json({"secret": "x"}) == '"[redaction failed]"'


def test_configure_installs_the_hook_and_rejects_a_non_callable():
    with pytest.raises(opik_otel.ConfigurationError, match="redact"):
        opik_otel.configure(exporter="none", redact="not callable")
