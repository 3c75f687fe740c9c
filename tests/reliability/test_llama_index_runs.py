"""100,000 LlamaIndex dispatcher spans leave the run map empty and no context attached; streams
that are never read, and spans that never exit, are forgotten past the bound."""

from __future__ import annotations

import inspect
import uuid

import pytest

pytest.importorskip("llama_index.core")

from opentelemetry import context as otel_context  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

from opik_otel import _model_call  # noqa: E402
from opik_otel._content import ContentPolicy  # noqa: E402
from opik_otel.instrumentors.llama_index.callbacks import LlamaIndexRuns, OpikSpanHandler  # noqa: E402
from tests.reliability.runs import CountingExporter, run_spans  # noqa: E402


class Step:
    """An app's class with dispatcher spans (kept, named `Step.method`)."""

    def outer(self, q: str) -> str:
        return q

    def inner(self, q: str) -> str:
        return q


def bound(function, *args):
    return inspect.signature(function).bind(*args)


def handler_on(exporter, max_runs: int = 10_000) -> tuple[LlamaIndexRuns, OpikSpanHandler]:
    runs = LlamaIndexRuns(run_spans(exporter, max_runs=max_runs), ContentPolicy(False), trace_all=True)
    return runs, OpikSpanHandler(runs)


def test_100000_spans_leave_the_run_map_empty():
    exporter = CountingExporter()
    runs, handler = handler_on(exporter)
    step = Step()
    outer_args, inner_args = bound(Step.outer, step, "q"), bound(Step.inner, step, "q")
    before = otel_context.get_current()

    for _ in range(50_000):  # a span with a child: 100,000 spans
        parent, child = f"Step.outer-{uuid.uuid4()}", f"Step.inner-{uuid.uuid4()}"
        handler.span_enter(id_=parent, bound_args=outer_args, instance=step)
        handler.span_enter(id_=child, bound_args=inner_args, instance=step, parent_id=parent)
        handler.span_exit(id_=child, bound_args=inner_args, instance=step, result="a")
        handler.span_exit(id_=parent, bound_args=outer_args, instance=step, result="a")

    assert exporter.count == 100_000
    assert len(runs.runs) == 0 and len(runs) == 0
    assert handler.open_spans == {}
    assert otel_context.get_current() is before


def test_streams_never_read_are_forgotten_past_the_bound(srv_llm):
    exporter = InMemorySpanExporter()
    runs, handler = handler_on(exporter, max_runs=50)
    llm = srv_llm
    before = otel_context.get_current()
    streams = []
    for _ in range(120):
        span_id = f"OpenAI.stream_chat-{uuid.uuid4()}"
        arguments = bound(type(llm).stream_chat, llm, [])
        handler.span_enter(id_=span_id, bound_args=arguments, instance=llm)
        stream = (chunk for chunk in ())  # a generator the app never reads
        streams.append(stream)
        handler.span_exit(id_=span_id, bound_args=arguments, instance=llm, result=stream)

    assert len(runs.runs) == 50  # the oldest 70 evicted, their (deferred, unclaimed) spans ended
    assert len(runs) == 50
    assert len(exporter.get_finished_spans()) == 0  # a deferred run evicted makes no span: nothing was billed
    assert otel_context.get_current() is before
    del streams, stream
    import gc

    gc.collect()
    assert _model_call._STREAM_CALLS == {}


@pytest.fixture
def srv_llm():
    pytest.importorskip("llama_index.llms.openai")
    from llama_index.llms.openai import OpenAI

    return OpenAI(model="gpt-4o-mini", api_base="http://127.0.0.1:9/v1", api_key="sk-test-fake", max_retries=0)
