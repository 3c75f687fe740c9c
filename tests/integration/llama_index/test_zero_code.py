"""Zero code: `opentelemetry-instrument python app.py` on an unmodified LlamaIndex RAG app delivers
its traces to the (fake) Opik back end: the ingestion and the query, each one trace, with one
priced llm span per model call and the embeddings under the retriever."""

from __future__ import annotations

from tests.integration.zero_code import PROJECT, rows_in_order, run_app, span_rows

RAG_APP = '''
import os
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.embeddings.openai import OpenAIEmbedding
from llama_index.llms.openai import OpenAI

base = os.environ["OPENAI_BASE_URL"]
Settings.llm = OpenAI(model="gpt-4o-mini", api_base=base, max_retries=0)
Settings.embed_model = OpenAIEmbedding(model="text-embedding-3-small", api_base=base, max_retries=0)
index = VectorStoreIndex.from_documents([Document(text="Paris is the capital of France."), Document(text="Berlin is in Germany.")])
print("answer:", index.as_query_engine(similarity_top_k=1).query("capital of France?"))
'''


def test_a_rag_app_under_opentelemetry_instrument(tmp_path, backend, srv, requests_made):
    process = run_app(RAG_APP, tmp_path, backend, srv)

    assert "answer: Hello from the fake OpenAI server." in process.stdout
    assert backend.errors == []
    assert sorted(t["name"] for t in backend.traces.values()) == ["RetrieverQueryEngine.query", "VectorStoreIndex.from_documents"]
    assert {t["project_name"] for t in backend.traces.values()} == {PROJECT}
    by_id = backend.spans
    assert span_rows(backend) == rows_in_order([
        ("VectorStoreIndex.from_documents", "general", None),
        ("embeddings text-embedding-3-small", "llm", "VectorStoreIndex.from_documents"),
        ("RetrieverQueryEngine.query", "general", None),
        ("retrieval", "general", "RetrieverQueryEngine.query"),
        ("embeddings text-embedding-3-small", "llm", "retrieval"),
        ("CompactAndRefine.synthesize", "general", "RetrieverQueryEngine.query"),
        ("chat gpt-4o-mini", "llm", "CompactAndRefine.synthesize"),
    ])
    (llm,) = [s for s in by_id.values() if s["name"] == "chat gpt-4o-mini"]
    assert len(requests_made()) == 1
    assert llm["total_estimated_cost"] > 0 and llm["usage"]["prompt_tokens"] == 12
    assert llm["metadata"]["llama_index.class"] == "OpenAI"
