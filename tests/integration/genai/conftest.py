"""Fixtures: one fake Gemini server per session; per test the instrumentor applied to the
TracerProvider of tests/integration/conftest.py, and google-genai clients (Gemini API, Vertex AI)
pointed at the fake."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from opik_otel.instrumentors.genai import GenAIInstrumentor
from tests.fakes.gemini_server import FakeGeminiServer
from tests.integration.conftest import instrumented

try:
    import google.oauth2.credentials
    from google import genai
    from google.genai import types
except ImportError:  # a test group without google-genai (`oldest`): these tests are not collected
    collect_ignore_glob = ["test_*.py"]

API_KEY = "fake-key"
MODEL = "gemini-2.5-flash"


@pytest.fixture(scope="session")
def srv():
    with FakeGeminiServer() as server:
        yield server


@pytest.fixture
def capture_content():
    """Whether the instrumentor records content; a test module overrides this fixture to turn it off."""
    return True


@pytest.fixture
def instrumentor(provider, capture_content):
    yield from instrumented(GenAIInstrumentor, provider, capture_content)


def make_client(srv: FakeGeminiServer) -> Any:
    return genai.Client(api_key=API_KEY, http_options=types.HttpOptions(base_url=srv.url))


def make_vertex(srv: FakeGeminiServer) -> Any:
    credentials = google.oauth2.credentials.Credentials(token="fake-token")
    return genai.Client(
        vertexai=True, project="p", location="us-central1", credentials=credentials, http_options=types.HttpOptions(base_url=srv.url)
    )


@pytest.fixture
def client(srv, instrumentor):
    return make_client(srv)


@pytest.fixture
def vertex(srv, instrumentor):
    return make_vertex(srv)


def by_name(exporter) -> dict[str, list]:
    found: dict[str, list] = {}
    for span in exporter.get_finished_spans():
        found.setdefault(span.name, []).append(span)
    return found


def json_attr(span, name: str) -> Any:
    return json.loads(span.attributes[name])


CONTENT_ATTRIBUTES = (
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
    "input.value",
)


def one_span(exporter):
    """The only finished span (fails listing the names when there are more or none)."""
    finished = list(exporter.get_finished_spans())
    assert len(finished) == 1, [s.name for s in finished]
    return finished[0]


def attrs(span) -> dict[str, Any]:
    """The span's attributes with the SDK's tuples turned back into lists."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in (span.attributes or {}).items()}


def exception_events(span) -> list:
    return [e for e in span.events if e.name == "exception"]


class _EndedTwice(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if "ended span" in record.getMessage():
            self.messages.append(record.getMessage())


@pytest.fixture(autouse=True)
def spans_end_exactly_once():
    """The SDK logs "Calling end() on an ended span." on a second end() (and "Setting attribute on
    ended span." for late writes): no test may trigger either."""
    handler = _EndedTwice()
    sdk_logger = logging.getLogger("opentelemetry.sdk.trace")
    sdk_logger.addHandler(handler)
    yield
    sdk_logger.removeHandler(handler)
    assert handler.messages == [], "a span was ended twice or written to after it ended"
