"""`OpikCallbackHandler` added to `Settings.callback_manager`: the components holding it are traced
(through the dispatcher, like the instrumentor) with its project, tags, metadata and thread on
every span; with `LlamaIndexInstrumentor` on as well, still one span per dispatcher span."""

from __future__ import annotations

from opik_otel.instrumentors.llama_index import OpikCallbackHandler
from tests.fakes.openai_server import CHAT_TEXT
from tests.integration.llama_index.conftest import open_runs
from tests.integration.llama_index.test_query import QUERY_TREE
from tests.integration.spans import every_span_has, tree


def handler() -> OpikCallbackHandler:
    return OpikCallbackHandler(project_name="li-project", tags=["t1"], metadata={"team": "search"}, thread_id="conv-1")


def check(exporter) -> None:
    assert tree(exporter) == QUERY_TREE
    every_span_has(exporter, {"opik.project_name": "li-project", "opik.tags": ["t1"], "opik.metadata.team": "search", "gen_ai.conversation.id": "conv-1"})


def test_it_is_a_llama_index_callback_handler():
    from llama_index.core.callbacks.base_handler import BaseCallbackHandler

    assert isinstance(handler(), BaseCallbackHandler)


def test_the_handler_alone(global_provider, settings, index, exporter):
    settings.callback_manager.add_handler(handler())

    assert str(index.as_query_engine(similarity_top_k=1).query("capital of France?")) == CHAT_TEXT
    check(exporter)
    assert open_runs() == 0


def test_the_handler_with_the_instrumentors_on_gives_no_duplicate(global_provider, settings, index, llama_index_instrumentor, openai_instrumentor, exporter, requests_made):
    settings.callback_manager.add_handler(handler())

    assert str(index.as_query_engine(similarity_top_k=1).query("capital of France?")) == CHAT_TEXT
    check(exporter)
    assert len(requests_made()) == 1
    assert open_runs() == 0


def test_components_without_the_handler_are_not_traced_by_it(global_provider, settings, index, exporter):
    handler()  # made, but in no callback manager
    assert str(index.as_query_engine(similarity_top_k=1).query("capital of France?")) == CHAT_TEXT
    assert exporter.get_finished_spans() == ()


def test_the_instrumentor_alone_traces_once_without_the_project(settings, index, llama_index_instrumentor, exporter):
    assert str(index.as_query_engine(similarity_top_k=1).query("capital of France?")) == CHAT_TEXT
    assert tree(exporter) == QUERY_TREE
    assert all("opik.project_name" not in s.attributes for s in exporter.get_finished_spans())


def test_the_handler_keeps_tracing_after_the_instrumentor_is_uninstrumented(global_provider, settings, index, exporter):
    from opik_otel.instrumentors.llama_index import LlamaIndexInstrumentor

    settings.callback_manager.add_handler(handler())
    instrumentor = LlamaIndexInstrumentor()
    instrumentor.instrument(tracer_provider=global_provider)
    instrumentor.uninstrument()

    assert str(index.as_query_engine(similarity_top_k=1).query("capital of France?")) == CHAT_TEXT
    check(exporter)
    assert open_runs() == 0
