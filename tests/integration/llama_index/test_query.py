"""A RAG query through the real LlamaIndex: query engine, retriever, synthesizer, embeddings and the
LLM as one tree, with exact attributes; one inference span per billed call, with the openai
instrumentor on underneath and without; async; chat engines; errors."""

from __future__ import annotations

import asyncio

import pytest
from llama_index.core import __version__ as llama_index_version

from tests.fakes.openai_server import CHAT_TEXT
from tests.integration.llama_index.conftest import open_runs
from tests.integration.spans import attrs, named, tree

QUERY_TREE = [
    ("RetrieverQueryEngine.query", "INTERNAL", None),
    ("retrieval", "INTERNAL", "RetrieverQueryEngine.query"),
    ("embeddings text-embedding-3-small", "CLIENT", "retrieval"),
    ("CompactAndRefine.synthesize", "INTERNAL", "RetrieverQueryEngine.query"),
    ("chat gpt-4o-mini", "CLIENT", "CompactAndRefine.synthesize"),
]
SYSTEM_PROMPT_START = "You are an expert Q&A system"


def node_id(index, doc_id: str) -> str:
    return next(n.node_id for n in index.docstore.docs.values() if n.ref_doc_id == doc_id)


def test_without_the_provider_instrumented_llama_index_makes_the_inference_spans(index, llama_index_instrumentor, exporter, requests_made):
    response = index.as_query_engine(similarity_top_k=1).query("capital of France?")

    assert str(response) == CHAT_TEXT
    assert tree(exporter) == QUERY_TREE
    assert open_runs() == 0
    assert attrs(named(exporter, "RetrieverQueryEngine.query")) == {
        "input.value": '"capital of France?"', "output.value": f'"{CHAT_TEXT}"'
    }
    assert attrs(named(exporter, "retrieval")) == {
        "gen_ai.operation.name": "retrieval",
        "gen_ai.request.top_k": 1,
        "input.value": '"capital of France?"',
        "output.value": '[{"id":"%s","score":1.0,"content":"Paris is the capital of France."}]' % node_id(index, "d1"),
    }
    assert attrs(named(exporter, "embeddings text-embedding-3-small")) == {
        "gen_ai.operation.name": "embeddings",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "text-embedding-3-small",
        "input.value": '{"input":"capital of France?"}',
        "opik.metadata.llama_index.class": "OpenAIEmbedding",
        "opik.metadata.llama_index.input_count": 1,
        "gen_ai.embeddings.dimension.count": 8,
    }
    chat = attrs(named(exporter, "chat gpt-4o-mini"))
    assert chat.pop("gen_ai.system_instructions").startswith('[{"type":"text","content":"%s' % SYSTEM_PROMPT_START)
    assert chat.pop("gen_ai.input.messages").startswith('[{"role":"user","parts":[{"type":"text","content":"Context information is below.')
    assert chat == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.temperature": 0.2,
        "opik.metadata.llama_index.class": "OpenAI",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 7,
        "gen_ai.response.id": chat["gen_ai.response.id"],
        "gen_ai.response.model": "gpt-4o-mini",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"%s"}],"finish_reason":"stop"}]' % CHAT_TEXT,
        "gen_ai.usage.cost": 6e-06,
    }
    assert chat["gen_ai.response.id"].startswith("chatcmpl-fake-")
    assert len(requests_made()) == 1 and len(requests_made("/embeddings")) == 1


def test_with_the_provider_instrumented_the_provider_spans_are_the_inference_spans(index, llama_index_instrumentor, openai_instrumentor, exporter, requests_made):
    response = index.as_query_engine(similarity_top_k=1).query("capital of France?")

    assert str(response) == CHAT_TEXT
    assert tree(exporter) == QUERY_TREE  # one chat span and one embeddings span: the openai ones
    chat = attrs(named(exporter, "chat gpt-4o-mini"))
    assert chat["openai.api.type"] == "chat_completions"  # made by the openai instrumentor ...
    assert chat["opik.metadata.llama_index.class"] == "OpenAI"  # ... which claimed LlamaIndex's model run
    assert chat["gen_ai.usage.cache_read.input_tokens"] == 4
    assert chat["gen_ai.usage.cost"] == 5.7e-06
    embeddings = attrs(named(exporter, "embeddings text-embedding-3-small"))
    assert embeddings["server.address"] == "127.0.0.1"
    assert embeddings["gen_ai.usage.input_tokens"] == 5
    assert embeddings["opik.metadata.llama_index.input_count"] == 1
    priced = [s.name for s in exporter.get_finished_spans() if "gen_ai.usage.cost" in s.attributes]
    assert sorted(priced) == ["chat gpt-4o-mini", "embeddings text-embedding-3-small"]
    assert len(requests_made()) == 1 and len(requests_made("/embeddings")) == 1


def test_opik_instrumentor_traces_llama_index_with_every_provider_instrumentor_on(index, provider, exporter, requests_made):
    from opik_otel import OpikInstrumentor

    instrumentor = OpikInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=True)
    try:
        index.as_query_engine(similarity_top_k=1).query("capital of France?")
    finally:
        instrumentor.uninstrument()
    assert tree(exporter) == QUERY_TREE
    assert len(requests_made()) == 1


def test_aquery(index, llama_index_instrumentor, openai_instrumentor, exporter):
    async def main():
        return await index.as_query_engine(similarity_top_k=1).aquery("capital of France?")

    assert str(asyncio.run(main())) == CHAT_TEXT
    assert tree(exporter) == [(name.replace(".query", ".aquery").replace(".synthesize", ".asynthesize"), kind, parent and parent.replace(".query", ".aquery").replace(".synthesize", ".asynthesize")) for name, kind, parent in QUERY_TREE]
    assert open_runs() == 0


def test_a_chat_engine(index, llama_index_instrumentor, openai_instrumentor, exporter, requests_made):
    engine = index.as_chat_engine(chat_mode="context", similarity_top_k=1)

    assert str(engine.chat("capital of France?")) == CHAT_TEXT
    assert tree(exporter) == [
        ("ContextChatEngine.chat", "INTERNAL", None),
        ("retrieval", "INTERNAL", "ContextChatEngine.chat"),
        ("embeddings text-embedding-3-small", "CLIENT", "retrieval"),
        ("CompactAndRefine.synthesize", "INTERNAL", "ContextChatEngine.chat"),
        ("chat gpt-4o-mini", "CLIENT", "CompactAndRefine.synthesize"),
    ]
    assert attrs(named(exporter, "ContextChatEngine.chat")) == {"input.value": '"capital of France?"', "output.value": f'"{CHAT_TEXT}"'}
    assert len(requests_made()) == 1


def test_an_llm_stream_is_one_inference_span_ended_when_consumed(llm, llama_index_instrumentor, exporter):
    from llama_index.core.llms import ChatMessage

    stream = llm.stream_chat([ChatMessage(role="user", content="hi")])
    assert exporter.get_finished_spans() == ()  # the stream is not consumed yet
    chunks = list(stream)

    assert chunks[-1].message.content == CHAT_TEXT
    (span,) = exporter.get_finished_spans()
    assert span.name == "chat gpt-4o-mini"
    got = attrs(span)
    assert got["gen_ai.request.stream"] is True
    assert got["gen_ai.response.time_to_first_chunk"] > 0
    assert got["gen_ai.response.finish_reasons"] == ["stop"]
    assert got["gen_ai.input.messages"] == '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]'
    assert got["gen_ai.output.messages"] == '[{"role":"assistant","parts":[{"type":"text","content":"%s"}],"finish_reason":"stop"}]' % CHAT_TEXT
    assert open_runs() == 0


def test_an_error_marks_the_failing_span_and_its_ancestors_and_reaches_the_app_unchanged(index, llama_index_instrumentor, srv, exporter):
    from llama_index.llms.openai import OpenAI

    failing = OpenAI(model="gpt-4o-mini", api_base=srv.url + "/no-such-api", api_key="sk-test-fake", max_retries=0)
    engine = index.as_query_engine(llm=failing, similarity_top_k=1)

    with pytest.raises(Exception) as raised:
        engine.query("capital of France?")

    assert type(raised.value).__name__ == "NotFoundError"
    rows = tree(exporter)
    assert rows == [
        ("RetrieverQueryEngine.query", "INTERNAL", None),
        ("retrieval", "INTERNAL", "RetrieverQueryEngine.query"),
        ("embeddings text-embedding-3-small", "CLIENT", "retrieval"),
        ("CompactAndRefine.synthesize", "INTERNAL", "RetrieverQueryEngine.query"),
        ("chat gpt-4o-mini", "CLIENT", "CompactAndRefine.synthesize"),
    ]
    failed = {s.name: s for s in exporter.get_finished_spans() if s.status.status_code.name == "ERROR"}
    assert sorted(failed) == ["CompactAndRefine.synthesize", "RetrieverQueryEngine.query", "chat gpt-4o-mini"]
    for span in failed.values():
        assert span.attributes["error.type"] == "NotFoundError"
        assert [e.name for e in span.events] == ["exception"]
    assert named(exporter, "retrieval").status.status_code.name == "UNSET"
    assert open_runs() == 0


def test_a_streamed_query_with_the_provider_instrumented_is_one_inference_span(index, llama_index_instrumentor, openai_instrumentor, exporter, requests_made):
    """LlamaIndex returns the LLM's stream before the billed call starts (on the first chunk the app
    reads): the openai span made then, while that stream runs, still claims LlamaIndex's model run."""
    response = index.as_query_engine(streaming=True, similarity_top_k=1).query("capital of France?")
    assert "".join(response.response_gen) == CHAT_TEXT

    chats = [s for s in exporter.get_finished_spans() if s.name == "chat gpt-4o-mini"]
    assert len(chats) == 1 == len(requests_made())
    got = attrs(chats[0])
    assert got["openai.api.type"] == "chat_completions"
    assert got["opik.metadata.llama_index.class"] == "OpenAI"
    assert got["gen_ai.request.stream"] is True
    assert open_runs() == 0


def test_an_llm_stream_with_the_provider_instrumented_is_one_inference_span(llm, llama_index_instrumentor, openai_instrumentor, exporter, requests_made):
    from llama_index.core.llms import ChatMessage

    async def main():
        stream = await llm.astream_chat([ChatMessage(role="user", content="hi")])
        return [chunk async for chunk in stream]

    assert asyncio.run(main())[-1].message.content == CHAT_TEXT
    (span,) = exporter.get_finished_spans()
    assert span.name == "chat gpt-4o-mini"
    assert attrs(span)["opik.metadata.llama_index.class"] == "OpenAI"
    assert len(requests_made()) == 1
    assert open_runs() == 0


@pytest.mark.parametrize("asynchronous", [False, True])
def test_a_streamed_chat_engine_answer_is_one_inference_span(index, llama_index_instrumentor, openai_instrumentor, exporter, requests_made, asynchronous):
    engine = index.as_chat_engine(chat_mode="context", similarity_top_k=1)
    if asynchronous:
        async def main():
            response = await engine.astream_chat("capital of France?")
            return "".join([token async for token in response.async_response_gen()])

        text, prefix, synthesize = asyncio.run(main()), "ContextChatEngine.astream_chat", "CompactAndRefine.asynthesize"
    else:
        text = "".join(engine.stream_chat("capital of France?").response_gen)
        prefix, synthesize = "ContextChatEngine.stream_chat", "CompactAndRefine.synthesize"

    assert text == CHAT_TEXT
    assert tree(exporter) == [
        (prefix, "INTERNAL", None),
        ("retrieval", "INTERNAL", prefix),
        ("embeddings text-embedding-3-small", "CLIENT", "retrieval"),
        (synthesize, "INTERNAL", prefix),
        # read after the synthesizer returned the stream: by a thread (a task) LlamaIndex starts, in
        # the engine's context; on llama-index-core 0.12.0 by the app's own loop, outside every span
        # of the run, and the call claims the synthesizer's pending model call (and its place)
        ("chat gpt-4o-mini", "CLIENT", synthesize if llama_index_version == "0.12.0" else prefix),
    ]
    assert attrs(named(exporter, "chat gpt-4o-mini"))["opik.metadata.llama_index.class"] == "OpenAI"
    assert len(requests_made()) == 1
    assert open_runs() == 0


@pytest.mark.parametrize("provider_instrumented", [True, False])
def test_a_stream_failing_mid_way_is_one_failed_inference_span_and_the_error_reaches_the_app(srv, llama_index_instrumentor, exporter, requests_made, provider_instrumented, request):
    import openai
    from llama_index.core.llms import ChatMessage
    from llama_index.llms.openai import OpenAI

    if provider_instrumented:
        request.getfixturevalue("openai_instrumentor")
    from llama_index.core.base.llms.types import LLMMetadata

    class FakeModels(OpenAI):
        """The fake server's model names (`stream-error`), unknown to llama-index-llms-openai's table."""

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(context_window=128_000, is_chat_model=True, is_function_calling_model=True, model_name=self.model)

    llm = FakeModels(model="stream-error", api_base=srv.base_url, api_key="sk-test-fake", max_retries=0)
    stream = llm.stream_chat([ChatMessage(role="user", content="hi")])
    chunks = []
    with pytest.raises(openai.APIError) as raised:
        for chunk in stream:
            chunks.append(chunk)

    assert "fake mid-stream error" in str(raised.value)
    assert len(chunks) == 3  # the role chunk and two content chunks reached the app
    (span,) = exporter.get_finished_spans()
    assert span.name == "chat stream-error"
    assert span.status.status_code.name == "ERROR"
    assert span.attributes["error.type"] == "APIError"
    assert [e.name for e in span.events] == ["exception"]
    assert ("openai.api.type" in span.attributes) is provider_instrumented  # the openai span, or LlamaIndex's
    assert len(requests_made()) == 1
    assert open_runs() == 0


@pytest.mark.parametrize("provider_instrumented", [True, False])
def test_an_abandoned_stream_ends_its_span_once_and_leaves_nothing_open(llm, llama_index_instrumentor, exporter, requests_made, provider_instrumented, request):
    import gc

    from llama_index.core.llms import ChatMessage

    if provider_instrumented:
        request.getfixturevalue("openai_instrumentor")
    stream = llm.stream_chat([ChatMessage(role="user", content="hi")])
    for _ in stream:
        break
    del stream
    gc.collect()

    (span,) = exporter.get_finished_spans()
    assert span.name == "chat gpt-4o-mini"
    assert span.status.status_code.name == "UNSET"
    assert len(requests_made()) == 1
    assert open_runs() == 0


def test_a_reranker_is_a_child_of_the_query(index, llama_index_instrumentor, openai_instrumentor, exporter):
    """A node postprocessor that reports its work as a dispatcher span, as LlamaIndex's rerankers do."""
    from llama_index.core.instrumentation import get_dispatcher
    from llama_index.core.postprocessor.types import BaseNodePostprocessor

    dispatcher = get_dispatcher("tests.rerank")

    class KeepBest(BaseNodePostprocessor):
        @dispatcher.span
        def _postprocess_nodes(self, nodes, query_bundle=None):
            return sorted(nodes, key=lambda n: n.score or 0, reverse=True)[:1]

    engine = index.as_query_engine(similarity_top_k=2, node_postprocessors=[KeepBest()])
    assert str(engine.query("capital of France?")) == CHAT_TEXT

    assert tree(exporter) == [
        QUERY_TREE[0], QUERY_TREE[1], QUERY_TREE[2],
        ("KeepBest.postprocess_nodes", "INTERNAL", "RetrieverQueryEngine.query"),
        QUERY_TREE[3], QUERY_TREE[4],
    ]
    reranked = attrs(named(exporter, "KeepBest.postprocess_nodes"))
    assert reranked["output.value"] == '[{"id":"%s","score":1.0,"content":"Paris is the capital of France."}]' % node_id(index, "d1")
    assert reranked["input.value"].startswith('{"nodes":[{"id":')
    assert reranked["input.value"].endswith('],"query":"capital of France?"}')
    assert open_runs() == 0


def test_an_llm_method_calling_another_is_one_inference_span(srv, llama_index_instrumentor, exporter, requests_made):
    """A custom LLM whose `complete` calls its own `chat` (both dispatcher spans): one model call."""
    from llama_index.core.base.llms.types import CompletionResponse, LLMMetadata
    from llama_index.core.llms import ChatMessage
    from llama_index.core.llms.callbacks import llm_completion_callback
    from llama_index.llms.openai import OpenAI

    class CompleteThroughChat(OpenAI):
        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(context_window=128_000, is_chat_model=True, model_name=self.model)

        @llm_completion_callback()
        def complete(self, prompt: str, formatted: bool = False, **kwargs) -> CompletionResponse:
            response = self.chat([ChatMessage(role="user", content=prompt)])
            return CompletionResponse(text=response.message.content, raw=response.raw)

    llm = CompleteThroughChat(model="gpt-4o-mini", api_base=srv.base_url, api_key="sk-test-fake", max_retries=0)
    assert llm.complete("hi").text == CHAT_TEXT

    assert tree(exporter) == [("text_completion gpt-4o-mini", "CLIENT", None)]
    assert attrs(named(exporter, "text_completion gpt-4o-mini"))["gen_ai.usage.input_tokens"] == 12
    assert len(requests_made()) == 1
    assert open_runs() == 0
