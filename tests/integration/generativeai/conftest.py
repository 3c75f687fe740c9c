"""Fixtures: one fake Gemini server per session; per test the GenAI instrumentor applied to the
TracerProvider of tests/integration/conftest.py, and google-generativeai (the older SDK)
configured on the fake through its REST transport."""

from __future__ import annotations

import warnings

import pytest

from opik_otel.instrumentors.genai import GenAIInstrumentor
from tests.fakes.gemini_server import FakeGeminiServer
from tests.integration.conftest import instrumented

try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "support for google.generativeai has ended"
        import google.generativeai as generativeai
except ImportError:  # a test group without google-generativeai: these tests are not collected
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


def configure(srv: FakeGeminiServer) -> None:
    generativeai.configure(api_key=API_KEY, transport="rest", client_options={"api_endpoint": srv.url})


@pytest.fixture
def genai(srv, instrumentor):
    """The `google.generativeai` module, configured on the fake (REST), instrumented."""
    configure(srv)
    return generativeai


@pytest.fixture(autouse=True)
def spans_end_exactly_once(spans_end_exactly_once):
    """The shared check of tests/integration/conftest.py, on for every test here."""
