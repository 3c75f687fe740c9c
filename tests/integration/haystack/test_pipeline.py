"""Haystack pipelines: exact span tree, one inference span per billed call (the openai
instrumentor on and off), retrievers, embedders, async pipelines, streaming, errors."""

from __future__ import annotations

import asyncio
import json

import pytest
from haystack import Document, Pipeline, component
from haystack.components.builders import ChatPromptBuilder, PromptBuilder
from haystack.components.embedders import OpenAITextEmbedder
from haystack.components.retrievers.in_memory import InMemoryBM25Retriever, InMemoryEmbeddingRetriever
from haystack.dataclasses import ChatMessage
from haystack.document_stores.in_memory import InMemoryDocumentStore

from tests.fakes.openai_server import CHAT_TEXT, embedding_vector
from tests.integration.spans import attrs, named, tree

COST = 5.7e-06  # the fake's usage (12 in, 4 of them cached, 7 out) on gpt-4o-mini
TREE = [
    ("invoke_workflow pipeline", "INTERNAL", None),
    ("prompt", "INTERNAL", "invoke_workflow pipeline"),
    ("chat gpt-4o-mini", "CLIENT", "invoke_workflow pipeline"),
]


def build_rag(chat_generator, pipeline_class=Pipeline):
    """prompt → llm, the two-component pipeline."""
    pipeline = pipeline_class()
    pipeline.add_component("prompt", ChatPromptBuilder(template=[ChatMessage.from_system("be brief"), ChatMessage.from_user("Say {{q}}")]))
    pipeline.add_component("llm", chat_generator)
    pipeline.connect("prompt.prompt", "llm.messages")
    return pipeline


@pytest.fixture
def rag(chat_generator):
    return build_rag(chat_generator)


def priced(exporter) -> list[str]:
    return [s.name for s in exporter.get_finished_spans() if "gen_ai.usage.cost" in (s.attributes or {})]


def reply_text(result) -> str:
    return result["llm"]["replies"][0].text


def test_with_the_provider_instrumented_the_provider_span_is_the_inference_span(
    haystack_instrumentor, openai_instrumentor, rag, exporter, requests_made
):
    assert reply_text(rag.run({"prompt": {"q": "hi"}})) == CHAT_TEXT

    assert tree(exporter) == TREE
    assert len(requests_made()) == 1
    assert priced(exporter) == ["chat gpt-4o-mini"]
    llm = attrs(named(exporter, "chat gpt-4o-mini"))
    assert llm["gen_ai.usage.cost"] == pytest.approx(COST)
    assert llm["openai.api.type"] == "chat_completions"  # the provider's span …
    assert llm["gen_ai.response.id"].startswith("chatcmpl-fake-")
    # … with Haystack's component
    assert llm["opik.metadata.haystack.component.name"] == "llm"
    assert llm["opik.metadata.haystack.component.type"] == "OpenAIChatGenerator"
    workflow = attrs(named(exporter, "invoke_workflow pipeline"))
    assert workflow["gen_ai.operation.name"] == "invoke_workflow"
    assert workflow["input.value"] == '{"prompt":{"q":"hi"}}'
    assert json.loads(workflow["output.value"])["llm"]["replies"][0]["content"] == [{"text": CHAT_TEXT}]
    prompt = attrs(named(exporter, "prompt"))
    assert prompt["haystack.component.type"] == "ChatPromptBuilder"
    assert json.loads(prompt["input.value"])["q"] == "hi"
    assert json.loads(prompt["output.value"])["prompt"][1]["content"] == [{"text": "Say hi"}]


def test_without_the_provider_instrumented_haystack_makes_the_inference_span(haystack_instrumentor, rag, exporter, requests_made):
    assert reply_text(rag.run({"prompt": {"q": "hi"}})) == CHAT_TEXT

    assert tree(exporter) == TREE
    assert len(requests_made()) == 1
    assert priced(exporter) == ["chat gpt-4o-mini"]
    llm = named(exporter, "chat gpt-4o-mini")
    workflow = named(exporter, "invoke_workflow pipeline")
    assert workflow.start_time < llm.start_time < llm.end_time < workflow.end_time
    got = attrs(llm)
    assert got.pop("gen_ai.usage.cost") == pytest.approx(COST)
    assert got == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.response.model": "gpt-4o-mini",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 7,
        "gen_ai.usage.cache_read.input_tokens": 4,
        "gen_ai.usage.reasoning.output_tokens": 2,
        "gen_ai.system_instructions": '[{"type":"text","content":"be brief"}]',
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Say hi"}]}]',
        "gen_ai.output.messages": json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": CHAT_TEXT}], "finish_reason": "stop"}], separators=(",", ":")
        ),
        "opik.metadata.haystack.component.name": "llm",
        "opik.metadata.haystack.component.type": "OpenAIChatGenerator",
    }


def test_opik_instrumentor_traces_haystack_with_every_provider_instrumentor_on(provider, rag, exporter, requests_made):
    from opik_otel import OpikInstrumentor

    instrumentor = OpikInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=True)
    try:
        assert reply_text(rag.run({"prompt": {"q": "hi"}})) == CHAT_TEXT
    finally:
        instrumentor.uninstrument()

    assert tree(exporter) == TREE
    assert len(requests_made()) == 1
    assert priced(exporter) == ["chat gpt-4o-mini"]
    assert attrs(named(exporter, "chat gpt-4o-mini"))["openai.api.type"] == "chat_completions"


def test_a_text_generator_is_a_text_completion_span(haystack_instrumentor, srv, secret, exporter, requests_made):
    generators = pytest.importorskip("haystack.components.generators")
    OpenAIGenerator = getattr(generators, "OpenAIGenerator", None)
    if OpenAIGenerator is None:
        pytest.skip("Haystack 3 has no OpenAIGenerator")
    pipeline = Pipeline()
    pipeline.add_component("prompt", PromptBuilder(template="Say {{q}}"))
    pipeline.add_component("llm", OpenAIGenerator(model="gpt-4o-mini", api_base_url=srv.base_url, api_key=secret))
    pipeline.connect("prompt.prompt", "llm.prompt")

    assert pipeline.run({"prompt": {"q": "hi"}})["llm"]["replies"] == [CHAT_TEXT]

    assert [row[0] for row in tree(exporter)] == ["invoke_workflow pipeline", "prompt", "text_completion gpt-4o-mini"]
    assert len(requests_made()) == 1
    llm = attrs(named(exporter, "text_completion gpt-4o-mini"))
    assert llm["gen_ai.operation.name"] == "text_completion"
    assert llm["gen_ai.usage.input_tokens"] == 12
    assert llm["gen_ai.input.messages"] == '[{"role":"user","parts":[{"type":"text","content":"Say hi"}]}]'
    assert llm["gen_ai.usage.cost"] > 0


@pytest.fixture
def store():
    store = InMemoryDocumentStore()
    store.write_documents([
        Document(id="d1", content="Paris is the capital of France", embedding=embedding_vector(0, 8)),
        Document(id="d2", content="Berlin is the capital of Germany", embedding=embedding_vector(1, 8)),
    ])
    return store


def test_a_bm25_retriever_is_a_retrieval_span_with_its_documents(haystack_instrumentor, store, exporter):
    pipeline = Pipeline()
    pipeline.add_component("retriever", InMemoryBM25Retriever(document_store=store, top_k=1))

    documents = pipeline.run({"retriever": {"query": "capital of France", "top_k": 1}})["retriever"]["documents"]

    assert [d.id for d in documents] == ["d1"]
    assert tree(exporter) == [("invoke_workflow pipeline", "INTERNAL", None), ("retrieval", "INTERNAL", "invoke_workflow pipeline")]
    got = attrs(named(exporter, "retrieval"))
    assert got["gen_ai.operation.name"] == "retrieval"
    assert got["gen_ai.request.top_k"] == 1
    assert got["haystack.component.name"] == "retriever"
    assert got["input.value"] == '"capital of France"'
    assert json.loads(got["output.value"]) == [{"id": "d1", "score": documents[0].score, "content": "Paris is the capital of France"}]


@pytest.mark.parametrize("provider_instrumented", [True, False])
def test_an_embedder_is_one_embeddings_span_and_the_embedding_retriever_a_retrieval_span(
    haystack_instrumentor, srv, secret, store, exporter, requests_made, provider_instrumented, request
):
    if provider_instrumented:
        request.getfixturevalue("openai_instrumentor")
    pipeline = Pipeline()
    pipeline.add_component("embedder", OpenAITextEmbedder(model="text-embedding-3-small", api_base_url=srv.base_url, api_key=secret))
    pipeline.add_component("retriever", InMemoryEmbeddingRetriever(document_store=store, top_k=2))
    pipeline.connect("embedder.embedding", "retriever.query_embedding")

    documents = pipeline.run({"embedder": {"text": "capital?"}})["retriever"]["documents"]

    assert sorted(d.id for d in documents) == ["d1", "d2"]
    assert len(requests_made("/embeddings")) == 1
    assert tree(exporter) == [
        ("invoke_workflow pipeline", "INTERNAL", None),
        ("embeddings text-embedding-3-small", "CLIENT", "invoke_workflow pipeline"),
        ("retrieval", "INTERNAL", "invoke_workflow pipeline"),
    ]
    embeddings = attrs(named(exporter, "embeddings text-embedding-3-small"))
    assert embeddings["gen_ai.operation.name"] == "embeddings"
    assert embeddings["gen_ai.usage.input_tokens"] == 5
    assert embeddings["opik.metadata.haystack.component.name"] == "embedder"
    assert embeddings["gen_ai.usage.cost"] > 0
    assert ("server.address" in embeddings) is provider_instrumented  # the provider's span, or Haystack's
    retrieval = attrs(named(exporter, "retrieval"))
    assert [row["id"] for row in json.loads(retrieval["output.value"])] == [d.id for d in documents]


@pytest.mark.parametrize("provider_instrumented", [True, False])
def test_an_async_pipeline_run(haystack_instrumentor, chat_generator, exporter, requests_made, provider_instrumented, request):
    if provider_instrumented:
        request.getfixturevalue("openai_instrumentor")
    import haystack

    # Haystack 2.x has an `AsyncPipeline`; 3.x runs any `Pipeline` async
    pipeline = build_rag(chat_generator, getattr(haystack, "AsyncPipeline", Pipeline))

    result = asyncio.run(pipeline.run_async({"prompt": {"q": "hi"}}))

    assert reply_text(result) == CHAT_TEXT
    assert tree(exporter) == TREE
    assert len(requests_made()) == 1
    assert priced(exporter) == ["chat gpt-4o-mini"]


@pytest.mark.parametrize("provider_instrumented", [True, False])
def test_a_streaming_callback_gets_every_chunk_and_the_span_ends_once(
    haystack_instrumentor, rag, exporter, requests_made, provider_instrumented, request
):
    if provider_instrumented:
        request.getfixturevalue("openai_instrumentor")
    chunks: list[str] = []
    rag.get_component("llm").streaming_callback = lambda chunk: chunks.append(chunk.content)

    assert reply_text(rag.run({"prompt": {"q": "hi"}})) == CHAT_TEXT

    assert "".join(chunks) == CHAT_TEXT
    assert tree(exporter) == TREE
    assert len(requests_made()) == 1
    llm = attrs(named(exporter, "chat gpt-4o-mini"))
    assert llm["gen_ai.response.finish_reasons"] == ["stop"]
    assert llm["gen_ai.output.messages"].count(CHAT_TEXT) == 1


@component
class Failing:
    @component.output_types(text=str)
    def run(self, text: str) -> dict:
        raise ValueError("boom")


def test_an_error_marks_the_failing_component_and_its_ancestors_and_reaches_the_app_unchanged(haystack_instrumentor, exporter):
    pipeline = Pipeline()
    pipeline.add_component("failing", Failing())

    with pytest.raises(Exception) as raised:
        pipeline.run({"failing": {"text": "x"}})

    assert isinstance(raised.value.__cause__, ValueError)
    assert tree(exporter) == [("invoke_workflow pipeline", "INTERNAL", None), ("failing", "INTERNAL", "invoke_workflow pipeline")]
    failing, workflow = named(exporter, "failing"), named(exporter, "invoke_workflow pipeline")
    assert failing.status.status_code.name == "ERROR" == workflow.status.status_code.name
    assert failing.attributes["error.type"] == "ValueError"
    assert workflow.attributes["error.type"] == type(raised.value).__qualname__
    assert [e.name for e in failing.events] == ["exception"]


@pytest.mark.parametrize("provider_instrumented", [True, False])
def test_a_failing_model_call_is_one_failed_inference_span(
    haystack_instrumentor, srv, secret, exporter, requests_made, provider_instrumented, request
):
    from haystack.components.generators.chat import OpenAIChatGenerator

    if provider_instrumented:
        request.getfixturevalue("openai_instrumentor")
    rag = build_rag(OpenAIChatGenerator(model="error-500", api_base_url=srv.base_url, api_key=secret, max_retries=0))

    with pytest.raises(Exception) as raised:
        rag.run({"prompt": {"q": "hi"}})

    name = "chat error-500" if provider_instrumented else "chat"  # Haystack's own span knows the model from the reply only
    assert [row[0] for row in tree(exporter)] == ["invoke_workflow pipeline", "prompt", name]
    llm = named(exporter, name)
    assert llm.status.status_code.name == "ERROR"
    assert llm.attributes["error.type"] == type(raised.value.__cause__).__qualname__ == "InternalServerError"
    assert named(exporter, "invoke_workflow pipeline").status.status_code.name == "ERROR"
    assert len(requests_made()) == 1


def test_a_pipeline_inside_the_apps_span_nests_under_it(haystack_instrumentor, rag, provider, exporter):
    with provider.get_tracer("app").start_as_current_span("request"):
        rag.run({"prompt": {"q": "hi"}})

    assert tree(exporter)[0] == ("request", "INTERNAL", None)
    assert tree(exporter)[1] == ("invoke_workflow pipeline", "INTERNAL", "request")


def test_the_pipeline_span_is_named_by_its_metadata_name(haystack_instrumentor, chat_generator, exporter):
    pipeline = Pipeline(metadata={"name": "qa"})
    pipeline.add_component("llm", chat_generator)

    pipeline.run({"llm": {"messages": [ChatMessage.from_user("hi")]}})

    assert tree(exporter) == [("invoke_workflow qa", "INTERNAL", None), ("chat gpt-4o-mini", "CLIENT", "invoke_workflow qa")]
