"""Fixtures: the fake Bedrock server, the instrumentor on the TracerProvider of
tests/integration/conftest.py (behind the usage/cost processor), and boto3 `bedrock-runtime`
clients (no retries, fake credentials)."""

from __future__ import annotations

import pytest

boto3 = pytest.importorskip("boto3")

from botocore.config import Config  # noqa: E402

from opik_otel.instrumentors.bedrock import BedrockInstrumentor  # noqa: E402
from tests.fakes.bedrock_server import FakeBedrockServer  # noqa: E402

MODEL_ID = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
TEXT = "Hello from the fake Bedrock server."
MESSAGES = [{"role": "user", "content": [{"text": "Hi"}]}]
TOOLS = {"tools": [{"toolSpec": {"name": "get_weather", "description": "Weather of a city", "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}}}}]}
AWS_KEY_ID, AWS_SECRET = "AKIDFAKEFAKE", "fake-secret-key-bedrock"


@pytest.fixture(scope="session")
def srv():
    with FakeBedrockServer() as server:
        yield server


@pytest.fixture
def instrumentor(provider):
    instrumentor = BedrockInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=True)
    yield instrumentor
    instrumentor.uninstrument()


def new_client(srv, session=None, **extra):
    """A `bedrock-runtime` client on the fake server: from boto3, or from `session` (boto3 or botocore)."""
    factory = boto3.client if session is None else getattr(session, "client", None) or session.create_client
    return factory(
        "bedrock-runtime", region_name="us-east-1", endpoint_url=srv.url, config=Config(retries={"total_max_attempts": 1}),
        aws_access_key_id=AWS_KEY_ID, aws_secret_access_key=AWS_SECRET, **extra,
    )


@pytest.fixture
def client(srv, instrumentor):
    return new_client(srv)


def one_span(exporter):
    (span,) = exporter.get_finished_spans()
    return span
