"""Anthropic and Bedrock calls reach the fake Opik back end as priced `llm` spans: `configure()` +
`OpikInstrumentor().instrument()` in a fresh interpreter, against the fake provider servers."""

from __future__ import annotations

import pytest

pytest.importorskip("anthropic")
pytest.importorskip("boto3")

from tests.e2e._helpers import run_snippet  # noqa: E402
from tests.fakes.anthropic_server import FakeAnthropicServer  # noqa: E402
from tests.fakes.bedrock_server import FakeBedrockServer  # noqa: E402
from tests.fakes.bedrock_server import TEXT as BEDROCK_TEXT  # noqa: E402


@pytest.fixture
def providers():
    with FakeAnthropicServer() as anthropic_server, FakeBedrockServer() as bedrock_server:
        yield anthropic_server, bedrock_server


def test_anthropic_stream_and_bedrock_converse_stream_reach_opik_priced(backend, env, providers):
    anthropic_server, bedrock_server = providers
    values, _ = run_snippet(
        f"""
        import opik_otel
        opik_otel.configure(url={backend.url!r}, api_key="opik-key", workspace="ws", project_name="providers")
        opik_otel.OpikInstrumentor().instrument()
        import anthropic, boto3
        from botocore.config import Config

        claude = anthropic.Anthropic(base_url={anthropic_server.url!r}, api_key="sk-ant-test-fake", max_retries=0)
        with claude.messages.stream(model="claude-3-5-haiku-20241022", max_tokens=64, messages=[{{"role": "user", "content": "Hi"}}]) as stream:
            claude_text = "".join(stream.text_stream)
        bedrock = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url={bedrock_server.url!r},
                               aws_access_key_id="AKIDFAKEFAKE", aws_secret_access_key="fake-secret", config=Config(retries={{"total_max_attempts": 1}}))
        events = bedrock.converse_stream(modelId="us.anthropic.claude-3-5-haiku-20241022-v1:0", messages=[{{"role": "user", "content": [{{"text": "Hi"}}]}}])["stream"]
        bedrock_text = "".join(e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e)
        report(claude_text=claude_text, bedrock_text=bedrock_text, flushed=opik_otel.flush())
        """,
        env,
    )
    assert values["bedrock_text"] == BEDROCK_TEXT
    assert values["claude_text"] and values["flushed"] is True
    assert backend.errors == []
    spans = {span["provider"]: span for span in backend.spans.values()}
    assert set(spans) == {"anthropic", "bedrock"} and len(backend.spans) == 2 and len(backend.traces) == 2
    claude, bedrock = spans["anthropic"], spans["bedrock"]
    assert (claude["name"], claude["model"], claude["type"]) == ("chat claude-3-5-haiku-20241022", "claude-3-5-haiku-20241022", "llm")
    assert claude["usage"]["prompt_tokens"] == 10 + 4 + 2 and claude["usage"]["completion_tokens"] == 6
    assert (bedrock["name"], bedrock["model"]) == ("chat us.anthropic.claude-3-5-haiku-20241022-v1:0", "us.anthropic.claude-3-5-haiku-20241022-v1:0")
    assert bedrock["usage"]["prompt_tokens"] == 11 + 3 + 2 and bedrock["usage"]["completion_tokens"] == 7
    assert bedrock["output"]["messages"][0]["parts"][0]["content"] == BEDROCK_TEXT
    for span in (claude, bedrock):
        assert span["total_estimated_cost"] > 0
        assert span["project_name"] == "providers"
