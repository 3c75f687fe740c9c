"""A streamed chat engine answer (`stream_chat` / `astream_chat`) is the engine span's output once
the app has read the stream: the span stays open until LlamaIndex has written the answer, the app's
stream is not eaten, content off records nothing; a stream failing mid-way fails the engine span."""

from __future__ import annotations

import asyncio
import time

import pytest
from llama_index.core import __version__ as llama_index_version

from tests.fakes.openai_server import CHAT_TEXT, MID_STREAM_ERROR_MESSAGE
from tests.integration.llama_index.conftest import open_runs
from tests.integration.spans import attrs, named, tree


# `settings` in every test: `SimpleChatEngine.from_defaults` makes LlamaIndex's global callback
# manager, which the fixture restores.


def no_run_left_open() -> bool:
    """Nothing left in the run map once LlamaIndex's writer thread has returned: on llama-index-core
    0.12.0 the app's read ends before that thread's last lines (its writer span's end) have run."""
    deadline = time.monotonic() + 5
    while open_runs() and time.monotonic() < deadline:
        time.sleep(0.005)
    return open_runs() == 0


def read(engine, message: str, asynchronous: bool) -> str:
    """The streamed answer as the app reads it (`response_gen` / `async_response_gen()`)."""
    if asynchronous:
        async def main():
            response = await engine.astream_chat(message)
            return "".join([token async for token in response.async_response_gen()])

        return asyncio.run(main())
    return "".join(engine.stream_chat(message).response_gen)


@pytest.mark.parametrize("asynchronous", [False, True], ids=["stream_chat", "astream_chat"])
def test_a_streamed_simple_chat_engine_answer_is_its_span_output(settings, llm, llama_index_instrumentor, openai_instrumentor, exporter, requests_made, asynchronous):
    from llama_index.core.chat_engine import SimpleChatEngine

    engine = SimpleChatEngine.from_defaults(llm=llm)
    name = "SimpleChatEngine.astream_chat" if asynchronous else "SimpleChatEngine.stream_chat"

    assert read(engine, "hi", asynchronous) == CHAT_TEXT

    assert tree(exporter) == [(name, "INTERNAL", None), ("chat gpt-4o-mini", "CLIENT", name)]
    assert attrs(named(exporter, name)) == {"input.value": '"hi"', "output.value": f'"{CHAT_TEXT}"'}
    assert len(requests_made()) == 1
    assert no_run_left_open()


@pytest.mark.parametrize("asynchronous", [False, True], ids=["stream_chat", "astream_chat"])
@pytest.mark.parametrize("chat_mode", ["condense_question", "context"])
def test_a_streamed_rag_chat_engine_answer_is_its_span_output(index, llama_index_instrumentor, exporter, chat_mode, asynchronous):
    engine = index.as_chat_engine(chat_mode=chat_mode, similarity_top_k=1)
    name = f"{type(engine).__name__}.{'astream_chat' if asynchronous else 'stream_chat'}"

    assert read(engine, "capital of France?", asynchronous) == CHAT_TEXT

    rows = tree(exporter)
    assert rows[0] == (name, "INTERNAL", None)
    assert [r for r in rows if r[2] is None] == [rows[0]]  # one tree
    expected = {"input.value": '"capital of France?"', "output.value": f'"{CHAT_TEXT}"'}
    if chat_mode == "context" and llama_index_version == "0.12.0":
        del expected["output.value"]  # its stream is handed to the app unwritten: the span ends at the call
    assert attrs(named(exporter, name)) == expected
    assert no_run_left_open()


@pytest.mark.parametrize("capture_content", [False])
def test_content_off_records_no_streamed_answer(settings, llm, llama_index_instrumentor, exporter, capture_content):
    from llama_index.core.chat_engine import SimpleChatEngine

    assert read(SimpleChatEngine.from_defaults(llm=llm), "SECRET", False) == CHAT_TEXT

    assert attrs(named(exporter, "SimpleChatEngine.stream_chat")) == {}
    assert no_run_left_open()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # LlamaIndex's writer thread re-raises
def test_a_stream_failing_mid_way_fails_the_engine_span_and_the_error_reaches_the_app(settings, srv, llama_index_instrumentor, exporter):
    from llama_index.core.base.llms.types import LLMMetadata
    from llama_index.core.chat_engine import SimpleChatEngine
    from llama_index.llms.openai import OpenAI

    class FakeModels(OpenAI):
        """The fake server's model names (`stream-error`), unknown to llama-index-llms-openai's table."""

        @property
        def metadata(self) -> LLMMetadata:
            return LLMMetadata(context_window=128_000, is_chat_model=True, is_function_calling_model=True, model_name=self.model)

    failing = FakeModels(model="stream-error", api_base=srv.base_url, api_key="sk-test-fake", max_retries=0)
    response = SimpleChatEngine.from_defaults(llm=failing).stream_chat("hi")

    with pytest.raises(Exception) as raised:
        "".join(response.response_gen)

    assert MID_STREAM_ERROR_MESSAGE in str(raised.value)
    engine_span = named(exporter, "SimpleChatEngine.stream_chat")
    assert engine_span.status.status_code.name == "ERROR"
    assert engine_span.attributes["error.type"] == type(raised.value).__name__
    assert no_run_left_open()
