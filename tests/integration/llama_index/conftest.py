"""Fixtures: the real llama-index-core, llama-index-llms-openai and llama-index-embeddings-openai
against the fake OpenAI server, `LlamaIndexInstrumentor` (and, per test, `OpenAIInstrumentor`)
on the in-memory TracerProvider of tests/integration/conftest.py."""

from __future__ import annotations

import logging

import pytest

pytest.importorskip("llama_index.core")
pytest.importorskip("llama_index.llms.openai")
pytest.importorskip("llama_index.embeddings.openai")

from opik_otel.instrumentors.llama_index import LlamaIndexInstrumentor  # noqa: E402
from opik_otel.instrumentors.openai import OpenAIInstrumentor  # noqa: E402
from tests.fakes.openai_server import FakeOpenAIServer  # noqa: E402
from tests.integration.conftest import instrumented  # noqa: E402

DOCUMENTS = [("d1", "Paris is the capital of France."), ("d2", "Berlin is the capital of Germany.")]


@pytest.fixture(scope="session")
def srv():
    with FakeOpenAIServer() as server:
        yield server


@pytest.fixture
def capture_content():
    """Whether the instrumentors record content; a test module overrides this fixture to turn it off."""
    return True


@pytest.fixture
def llama_index_instrumentor(provider, capture_content):
    yield from instrumented(LlamaIndexInstrumentor, provider, capture_content)


@pytest.fixture
def openai_instrumentor(provider, capture_content):
    yield from instrumented(OpenAIInstrumentor, provider, capture_content)


@pytest.fixture
def llm(srv):
    from llama_index.llms.openai import OpenAI

    return OpenAI(model="gpt-4o-mini", temperature=0.2, api_base=srv.base_url, api_key="sk-test-fake", max_retries=0)


@pytest.fixture
def embed_model(srv):
    from llama_index.embeddings.openai import OpenAIEmbedding

    return OpenAIEmbedding(model="text-embedding-3-small", api_base=srv.base_url, api_key="sk-test-fake", max_retries=0)


@pytest.fixture
def settings(llm, embed_model):
    """LlamaIndex's global `Settings` with the fake server's LLM and embedding model (restored after)."""
    from llama_index.core import Settings

    saved = Settings._llm, Settings._embed_model, Settings._callback_manager
    Settings.llm = llm
    Settings.embed_model = embed_model
    yield Settings
    Settings._llm, Settings._embed_model, Settings._callback_manager = saved


@pytest.fixture
def index(settings):
    """A two-document vector index (built before the test's instrumentors, so its embeddings are not traced)."""
    from llama_index.core import Document, VectorStoreIndex

    documents = [Document(text=text, id_=doc_id) for doc_id, text in DOCUMENTS]
    return VectorStoreIndex.from_documents(documents)


@pytest.fixture
def requests_made(srv):
    """The fake's chat and embeddings requests made during this test (a callable: call it after the run)."""
    before = len(srv.requests)
    return lambda kind="/chat/completions": [r for r in srv.requests[before:] if r["path"].endswith(kind)]


@pytest.fixture(autouse=True)
def no_context_errors(caplog):
    """No run may make OpenTelemetry log "Failed to detach context", nor leave a context attached."""
    from opentelemetry import context as otel_context

    before = otel_context.get_current()
    with caplog.at_level(logging.DEBUG, logger="opentelemetry.context"):
        yield
    assert "Failed to detach context" not in caplog.text
    assert otel_context.get_current() is before


def open_runs() -> int:
    """How many runs the shared run map holds (call while instrumented)."""
    from opik_otel.instrumentors.llama_index.instrumentor import active_runs

    runs = active_runs()
    return len(runs.runs) + len(runs)
