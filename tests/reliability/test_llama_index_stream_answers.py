"""Streamed chat answers (`StreamingAgentChatResponse`) over 20,000 dispatcher spans leave nothing
behind, whichever ends first (the engine's call or LlamaIndex's writer), and an answer the app drops
before any writer ran still ends its engine's span."""

from __future__ import annotations

import gc
import inspect
import uuid

import pytest

pytest.importorskip("llama_index.core")

from opentelemetry import context as otel_context  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

from opik_otel._content import ContentPolicy  # noqa: E402
from opik_otel.instrumentors.llama_index.callbacks import LlamaIndexRuns, OpikEventHandler, OpikSpanHandler  # noqa: E402
from tests.reliability.runs import CountingExporter, run_spans  # noqa: E402


def handlers_on(exporter) -> tuple[LlamaIndexRuns, OpikSpanHandler, OpikEventHandler]:
    runs = LlamaIndexRuns(run_spans(exporter), ContentPolicy(True), trace_all=True)
    return runs, OpikSpanHandler(runs), OpikEventHandler(runs)


@pytest.fixture
def engine():
    from llama_index.core.chat_engine import SimpleChatEngine
    from llama_index.core.llms import MockLLM

    return SimpleChatEngine.from_defaults(llm=MockLLM())


def test_20000_spans_of_streamed_answers_leave_nothing_behind(engine):
    from llama_index.core.chat_engine.types import StreamingAgentChatResponse
    from llama_index.core.instrumentation.events.chat_engine import StreamChatDeltaReceivedEvent, StreamChatEndEvent

    exporter = CountingExporter()
    runs, spans, events = handlers_on(exporter)
    chat_args = inspect.signature(type(engine).stream_chat).bind(engine, "hi")
    before = otel_context.get_current()

    for turn in range(10_000):  # the engine's span and its writer's: 20,000 spans
        answer = StreamingAgentChatResponse(chat_stream=iter(()))
        write_args = inspect.signature(type(answer).write_response_to_history).bind(answer, None)
        chat_id = f"SimpleChatEngine.stream_chat-{uuid.uuid4()}"
        write_id = f"StreamingAgentChatResponse.write_response_to_history-{uuid.uuid4()}"
        spans.span_enter(id_=chat_id, bound_args=chat_args, instance=engine)
        spans.span_enter(id_=write_id, bound_args=write_args, instance=answer, parent_id=chat_id)
        if turn % 2:  # the call returns before the answer is written (the usual order)
            spans.span_exit(id_=chat_id, bound_args=chat_args, instance=engine, result=answer)
        events.handle(StreamChatDeltaReceivedEvent(delta="a", span_id=write_id))
        events.handle(StreamChatEndEvent(span_id=write_id))
        spans.span_exit(id_=write_id, bound_args=write_args, instance=answer, result=None)
        if not turn % 2:  # the writer was faster
            spans.span_exit(id_=chat_id, bound_args=chat_args, instance=engine, result=answer)

    assert exporter.count == 10_000  # the writer's span is plumbing: one span per turn
    assert len(runs.runs) == 0 and len(runs) == 0
    assert otel_context.get_current() is before


def test_an_answer_dropped_before_any_writer_ran_ends_its_span(engine):
    from llama_index.core.chat_engine.types import StreamingAgentChatResponse

    exporter = InMemorySpanExporter()
    runs, spans, _ = handlers_on(exporter)
    chat_args = inspect.signature(type(engine).stream_chat).bind(engine, "hi")
    chat_id = f"SimpleChatEngine.stream_chat-{uuid.uuid4()}"
    answer = StreamingAgentChatResponse(chat_stream=iter(()))

    spans.span_enter(id_=chat_id, bound_args=chat_args, instance=engine)
    spans.span_exit(id_=chat_id, bound_args=chat_args, instance=engine, result=answer)
    assert exporter.get_finished_spans() == ()  # open while the answer may still be written
    del answer
    gc.collect()

    (span,) = exporter.get_finished_spans()
    assert (span.name, dict(span.attributes)) == ("SimpleChatEngine.stream_chat", {"input.value": '"hi"'})
    assert len(runs.runs) == 0 and len(runs) == 0
