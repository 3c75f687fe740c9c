"""Ingestion: `VectorStoreIndex.from_documents` and `IngestionPipeline.run` are one span tree per
call, their embedding calls under them, no span per document or node, nothing kept after."""

from __future__ import annotations

import pytest

from tests.integration.llama_index.conftest import open_runs
from tests.integration.spans import attrs, named, tree


@pytest.fixture
def documents():
    from llama_index.core import Document

    return [Document(text=f"Document number {i} says hello.", id_=f"doc-{i}") for i in range(1000)]


def test_from_documents_of_1000_documents_is_one_tree_with_one_span_per_embeddings_call(settings, llama_index_instrumentor, openai_instrumentor, documents, exporter, requests_made):
    from llama_index.core import VectorStoreIndex

    index = VectorStoreIndex.from_documents(documents)

    assert len(index.docstore.docs) == 1000
    calls = requests_made("/embeddings")
    assert len(calls) == 10  # OpenAIEmbedding's batches of 100
    assert tree(exporter) == [("VectorStoreIndex.from_documents", "INTERNAL", None)] + [
        ("embeddings text-embedding-3-small", "CLIENT", "VectorStoreIndex.from_documents")
    ] * 10
    assert attrs(named(exporter, "VectorStoreIndex.from_documents")) == {"input.value": '{"count":1000}'}
    spans = sorted((s for s in exporter.get_finished_spans() if s.name.startswith("embeddings")), key=lambda s: s.start_time)
    embeddings = [attrs(s) for s in spans]
    # LlamaIndex makes one embeddings call of 1,000 texts, sent as ten requests: each request is
    # an openai span (priced), the first claimed LlamaIndex's call and carries its attributes
    assert embeddings[0]["opik.metadata.llama_index.input_count"] == 1000
    assert ["opik.metadata.llama_index.input_count" in e for e in embeddings[1:]] == [False] * 9
    assert [e["gen_ai.usage.input_tokens"] for e in embeddings] == [500] * 10
    assert open_runs() == 0


def test_an_ingestion_pipeline_run(settings, llama_index_instrumentor, documents, exporter, requests_made):
    from llama_index.core.ingestion import IngestionPipeline
    from llama_index.core.node_parser import SentenceSplitter

    pipeline = IngestionPipeline(transformations=[SentenceSplitter(), settings.embed_model])
    nodes = pipeline.run(documents=documents[:150])

    assert len(nodes) == 150
    assert tree(exporter) == [  # one embeddings call of LlamaIndex's (two requests: without the openai instrumentor, one span)
        ("IngestionPipeline.run", "INTERNAL", None), ("embeddings text-embedding-3-small", "CLIENT", "IngestionPipeline.run")
    ]
    assert attrs(named(exporter, "IngestionPipeline.run"))["input.value"] == '{"count":150}'
    assert attrs(named(exporter, "embeddings text-embedding-3-small"))["opik.metadata.llama_index.input_count"] == 150
    assert len(requests_made("/embeddings")) == 2
    assert open_runs() == 0


def test_from_documents_is_left_alone_after_uninstrument(settings, documents):
    from llama_index.core import VectorStoreIndex
    from llama_index.core.indices.base import BaseIndex

    from opik_otel.instrumentors.llama_index import LlamaIndexInstrumentor

    original = BaseIndex.__dict__["from_documents"]
    instrumentor = LlamaIndexInstrumentor()
    instrumentor.instrument()
    assert BaseIndex.__dict__["from_documents"] is not original
    instrumentor.uninstrument()
    assert BaseIndex.__dict__["from_documents"] is original
    assert len(VectorStoreIndex.from_documents(documents[:3]).docstore.docs) == 3
