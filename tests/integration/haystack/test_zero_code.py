"""Zero code: `opentelemetry-instrument python app.py` on an unmodified Haystack RAG app delivers its
trace to the (fake) Opik back end: the pipeline, its retriever and prompt builder, one priced llm
span for the one model call (the openai instrumentor's, claimed by the generator), and no stray
trace of Haystack 2.x probing the provider at import (`haystack.tracing.auto_enable`)."""

from __future__ import annotations

from tests.fakes.openai_server import CHAT_TEXT
from tests.integration.zero_code import PROJECT, rows_in_order, run_app, span_rows

RAG_APP = '''
from haystack import Document, Pipeline
from haystack.components.builders import ChatPromptBuilder
from haystack.components.generators.chat import OpenAIChatGenerator
from haystack.components.retrievers.in_memory import InMemoryBM25Retriever
from haystack.dataclasses import ChatMessage
from haystack.document_stores.in_memory import InMemoryDocumentStore

store = InMemoryDocumentStore()
store.write_documents([Document(id="d1", content="Paris is the capital of France")])
template = [ChatMessage.from_user("{% for d in documents %}{{ d.content }} {% endfor %}Question: {{ question }}")]
rag = Pipeline(metadata={"name": "rag"})
rag.add_component("retriever", InMemoryBM25Retriever(document_store=store, top_k=1))
rag.add_component("prompt", ChatPromptBuilder(template=template, required_variables=["question"]))
rag.add_component("llm", OpenAIChatGenerator(model="gpt-4o-mini", max_retries=0))
rag.connect("retriever.documents", "prompt.documents")
rag.connect("prompt.prompt", "llm.messages")
result = rag.run({"retriever": {"query": "capital of France"}, "prompt": {"question": "capital of France?"}})
print("answer:", result["llm"]["replies"][0].text)
'''


def test_a_haystack_rag_pipeline_under_opentelemetry_instrument(tmp_path, backend, srv, requests_made):
    process = run_app(RAG_APP, tmp_path, backend, srv, HAYSTACK_CONTENT_TRACING_ENABLED="true")

    assert f"answer: {CHAT_TEXT}" in process.stdout
    assert backend.errors == []
    assert len(backend.traces) == 1
    (trace,) = backend.traces.values()
    assert trace["name"] == "invoke_workflow rag"
    assert trace["project_name"] == PROJECT
    assert trace["input"] == {"retriever": {"query": "capital of France"}, "prompt": {"question": "capital of France?"}}
    by_id = backend.spans
    assert span_rows(backend) == rows_in_order([
        ("invoke_workflow rag", "general", None),
        ("retrieval", "general", "invoke_workflow rag"),
        ("prompt", "general", "invoke_workflow rag"),
        ("chat gpt-4o-mini", "llm", "invoke_workflow rag"),
    ])
    (llm,) = [s for s in by_id.values() if s["type"] == "llm"]
    assert len(requests_made()) == 1
    assert llm["total_estimated_cost"] > 0 and llm["usage"]["prompt_tokens"] == 12
    assert llm["metadata"]["haystack.component.name"] == "llm"
    (retrieval,) = [s for s in by_id.values() if s["name"] == "retrieval"]
    assert retrieval["input"] == {"input": "capital of France"}
    assert [{k: row[k] for k in ("id", "content")} for row in retrieval["output"]["output"]] == [
        {"id": "d1", "content": "Paris is the capital of France"}
    ]
    assert llm["input"]["messages"][0]["parts"][0]["content"] == "Paris is the capital of France Question: capital of France?"
