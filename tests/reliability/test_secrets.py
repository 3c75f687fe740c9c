"""No secret leaks: one process calls OpenAI, Anthropic and Bedrock (with fake keys) and exports to
Opik through an outage (so batches are spooled and replayed), logging at DEBUG. Every span
attribute and event, every log line, stdout/stderr, every spool byte and every body the back
end received is scanned for the keys. The Opik key may appear in exactly one place: the
Authorization header of requests to the configured Opik host."""

from __future__ import annotations

import gzip
import json

import pytest

pytest.importorskip("anthropic")
pytest.importorskip("boto3")

from tests.e2e._helpers import clean_env, run_snippet  # noqa: E402
from tests.fakes.anthropic_server import FakeAnthropicServer  # noqa: E402
from tests.fakes.bedrock_server import FakeBedrockServer  # noqa: E402
from tests.fakes.openai_server import FakeOpenAIServer  # noqa: E402
from tests.fakes.opik_backend import FakeOpikBackend  # noqa: E402

OPIK_KEY = "opik-secret-key-7f3a9"
OPENAI_KEY = "sk-openai-secret-key-1b2c3"
ANTHROPIC_KEY = "sk-ant-secret-key-4d5e6"
AWS_KEY_ID, AWS_SECRET = "AKIASECRETKEYID7890", "aws-secret-access-key-8h9i0"
SECRETS = (OPIK_KEY, OPENAI_KEY, ANTHROPIC_KEY, AWS_KEY_ID, AWS_SECRET)


def test_no_secret_in_spans_logs_spool_or_bodies(tmp_path):
    spool = tmp_path / "spool"
    with FakeOpikBackend() as backend, FakeOpenAIServer() as openai_server, FakeAnthropicServer() as anthropic_server, \
            FakeBedrockServer() as bedrock_server:
        backend.fail_next(503, times=4)  # an outage: the first batch is spooled, then replayed
        env = clean_env(tmp_path, OPIK_OTEL_SPOOL_DIR=str(spool))
        values, process = run_snippet(
            f"""
            import logging, json
            logging.basicConfig(level=logging.WARNING, format="%(name)s %(levelname)s %(message)s")
            logging.getLogger("opik_otel").setLevel(logging.DEBUG)  # ours at DEBUG (botocore's own DEBUG logs print signed headers)
            import opik_otel
            from opentelemetry import trace
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor
            from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
            import opik_otel.exporters.opik.client as client_module
            client_module._retry_delay = lambda headers, attempt: 0.0
            import opik_otel.exporters.opik.exporter as exporter_module
            exporter_module.PROBE_INTERVAL_S = 0.0
            opik_otel.configure(url={backend.url!r}, api_key={OPIK_KEY!r}, workspace="ws", project_name="secrets")
            memory = InMemorySpanExporter()
            trace.get_tracer_provider().add_span_processor(SimpleSpanProcessor(memory))
            opik_otel.OpikInstrumentor().instrument()
            import openai, anthropic, boto3
            from botocore.config import Config

            @opik_otel.track
            def run(question):
                openai.OpenAI(base_url={openai_server.base_url!r}, api_key={OPENAI_KEY!r}, max_retries=0).chat.completions.create(
                    model="gpt-4o-mini", messages=[{{"role": "user", "content": question}}])
                try:
                    openai.OpenAI(base_url={openai_server.base_url!r}, api_key={OPENAI_KEY!r}, max_retries=0).chat.completions.create(
                        model="error-401", messages=[{{"role": "user", "content": question}}])
                except openai.AuthenticationError:
                    pass
                anthropic.Anthropic(base_url={anthropic_server.url!r}, api_key={ANTHROPIC_KEY!r}, max_retries=0).messages.create(
                    model="claude-haiku-4-5", max_tokens=32, messages=[{{"role": "user", "content": question}}])
                boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url={bedrock_server.url!r},
                             aws_access_key_id={AWS_KEY_ID!r}, aws_secret_access_key={AWS_SECRET!r},
                             config=Config(retries={{"total_max_attempts": 1}})).converse(
                    modelId="anthropic.claude-3-5-haiku-20241022-v1:0", messages=[{{"role": "user", "content": [{{"text": question}}]}}])

            run("hello")
            opik_otel.flush()
            run("again")   # the back end is back: this export also replays the spool
            opik_otel.flush()
            spans = [{{"attributes": dict(s.attributes), "events": [dict(e.attributes or {{}}) for e in s.events],
                       "status": s.status.description, "name": s.name}} for s in memory.get_finished_spans()]
            report(spans=spans)
            """,
            env,
        )
        assert len(values["spans"]) == 10
        scanned = {
            "span attributes and events": json.dumps(values["spans"], default=str),
            "stdout and stderr (our DEBUG logs, everyone's warnings)": process.stdout + process.stderr,
            "spool files": b"".join(gzip.decompress(p.read_bytes()) if p.read_bytes()[:2] == b"\x1f\x8b" else p.read_bytes()
                                    for p in spool.rglob("*") if p.is_file()).decode("utf-8", "replace"),
            "bodies received by Opik": json.dumps([r.body for r in backend.requests], default=str),
            "request headers other than Authorization": json.dumps(
                [{k: v for k, v in r.headers.items() if k != "authorization"} for r in backend.requests]),
        }
        assert "opik_otel" in scanned["stdout and stderr (our DEBUG logs, everyone's warnings)"]  # the logs really were on
        assert any(r.status == 503 for r in backend.requests) and any(r.status == 204 for r in backend.requests)
        for where, text in scanned.items():
            for secret in SECRETS:
                assert secret not in text, f"{secret!r} leaked into {where}"
        assert {r.headers.get("authorization") for r in backend.requests} == {OPIK_KEY}  # only to the Opik host
        assert len(backend.spans) == 10 and backend.errors == []  # nothing lost through the outage
