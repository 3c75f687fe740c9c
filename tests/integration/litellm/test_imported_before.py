"""`from litellm import completion` at the top of the app, before instrumenting: the name the app
bound is traced too (and restored by `uninstrument`)."""

from __future__ import annotations

import litellm
import wrapt
from litellm import acompletion, completion, embedding

from tests.integration.spans import one_span, tree


def test_function_imported_before_instrumenting_is_traced(instrumentor, exporter, openai_call, requests_made):
    completion(**openai_call)

    assert len(requests_made()) == 1
    assert one_span(exporter).name == "chat openai/gpt-4o-mini"


async def test_async_function_imported_before_instrumenting_is_traced(instrumentor, exporter, openai_call):
    await acompletion(**openai_call)

    assert tree(exporter) == [("chat openai/gpt-4o-mini", "CLIENT", None)]


def test_embedding_imported_before_instrumenting_is_traced(instrumentor, exporter, srv):
    embedding(model="openai/text-embedding-3-small", input=["a"], api_base=srv.base_url, api_key="sk-test-fake")

    assert one_span(exporter).name == "embeddings openai/text-embedding-3-small"


def test_uninstrument_restores_the_imported_names(instrumentor, exporter, openai_call):
    instrumentor.uninstrument()

    assert globals()["completion"] is litellm.completion
    assert not isinstance(litellm.completion, wrapt.ObjectProxy)
    globals()["completion"](**openai_call)
    assert exporter.get_finished_spans() == ()
