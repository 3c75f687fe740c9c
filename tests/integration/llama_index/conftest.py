"""Fixtures: the real llama-index-core, llama-index-llms-openai and llama-index-embeddings-openai
against the fake OpenAI server, `LlamaIndexInstrumentor` (and, per test, `OpenAIInstrumentor`)
on the in-memory TracerProvider of tests/integration/conftest.py, which also gives the fake server,
`requests_made` and the checks."""

from __future__ import annotations

import pytest

pytest.importorskip("llama_index.core")
pytest.importorskip("llama_index.llms.openai")
pytest.importorskip("llama_index.embeddings.openai")

from opik_otel.instrumentors.llama_index import LlamaIndexInstrumentor  # noqa: E402
from tests.integration.conftest import instrumented  # noqa: E402

DOCUMENTS = [("d1", "Paris is the capital of France."), ("d2", "Berlin is the capital of Germany.")]


@pytest.fixture
def llama_index_instrumentor(provider, capture_content):
    yield from instrumented(LlamaIndexInstrumentor, provider, capture_content)


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


@pytest.fixture(autouse=True)
def no_context_errors(no_context_errors):
    """The shared check of tests/integration/conftest.py, on for every test here."""


def open_runs() -> int:
    """How many runs the shared run map holds (call while instrumented)."""
    from opik_otel.instrumentors.llama_index.instrumentor import active_runs

    runs = active_runs()
    return len(runs.runs) + len(runs)
