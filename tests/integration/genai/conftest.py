"""Fixtures: one fake Gemini server per session; per test the instrumentor applied to the
TracerProvider of tests/integration/conftest.py, and google-genai clients (Gemini API, Vertex AI)
pointed at the fake."""

from __future__ import annotations

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


@pytest.fixture(autouse=True)
def spans_end_exactly_once(spans_end_exactly_once):
    """The shared check of tests/integration/conftest.py, on for every test here."""
