"""The tracer's contract with Haystack and the app: spans made inside a component nest under it
(sync, async, threads), odd calls never raise, `current_span()` and log correlation."""

from __future__ import annotations

import asyncio
import threading

import pytest
from haystack import Pipeline, component, tracing
from opentelemetry import context as otel_context
from opentelemetry import trace

from tests.integration.spans import tree


@component
class Inner:
    """Makes an app span inside its run, and one in a thread of its own from the run's context."""

    def __init__(self, tracer) -> None:
        self.tracer = tracer

    @component.output_types(text=str)
    def run(self, text: str) -> dict:
        with self.tracer.start_as_current_span("inside"):
            pass
        here = otel_context.get_current()
        worker = threading.Thread(target=lambda: self.tracer.start_span("in a thread", context=here).end())
        worker.start()
        worker.join()
        return {"text": text}

    @component.output_types(text=str)
    async def run_async(self, text: str) -> dict:
        with self.tracer.start_as_current_span("inside"):
            await asyncio.sleep(0)
        return {"text": text}


def test_spans_made_inside_a_component_nest_under_it_sync_and_in_threads(haystack_instrumentor, provider, exporter):
    pipeline = Pipeline()
    pipeline.add_component("inner", Inner(provider.get_tracer("app")))

    assert pipeline.run({"inner": {"text": "x"}}) == {"inner": {"text": "x"}}

    assert sorted(tree(exporter)) == sorted([
        ("invoke_workflow pipeline", "INTERNAL", None),
        ("inner", "INTERNAL", "invoke_workflow pipeline"),
        ("inside", "INTERNAL", "inner"),
        ("in a thread", "INTERNAL", "inner"),
    ])


def test_spans_made_inside_an_async_component_nest_under_it(haystack_instrumentor, provider, exporter):
    import haystack

    pipeline = getattr(haystack, "AsyncPipeline", Pipeline)()
    pipeline.add_component("inner", Inner(provider.get_tracer("app")))

    asyncio.run(pipeline.run_async({"inner": {"text": "x"}}))

    assert tree(exporter) == [
        ("invoke_workflow pipeline", "INTERNAL", None),
        ("inner", "INTERNAL", "invoke_workflow pipeline"),
        ("inside", "INTERNAL", "inner"),
    ]


def test_current_span_and_log_correlation(haystack_instrumentor, exporter):
    with tracing.tracer.trace("haystack.pipeline.run", tags={"haystack.pipeline.metadata": {}}) as outer:
        assert tracing.tracer.current_span() is outer
        with tracing.tracer.trace("custom.op", parent_span=outer) as inner:
            assert tracing.tracer.current_span() is inner
            correlation = inner.get_correlation_data_for_logs()
            assert inner.raw_span() is trace.get_current_span()
        assert tracing.tracer.current_span() is outer
    assert tracing.tracer.current_span() is None

    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"invoke_workflow pipeline", "custom.op"}
    assert correlation == {
        "trace_id": format(spans["custom.op"].context.trace_id, "032x"),
        "span_id": format(spans["custom.op"].context.span_id, "016x"),
    }


def test_odd_calls_lose_an_attribute_or_a_span_never_raise(haystack_instrumentor, exporter):
    class Unprintable:
        def to_dict(self):
            raise RuntimeError("no")

        def __repr__(self):
            raise RuntimeError("no")

    odd_tags = {"haystack.component.type": None, "haystack.component.name": 42, "haystack.pipeline.metadata": object()}
    with tracing.tracer.trace("haystack.component.run", tags=odd_tags, parent_span=object()) as span:
        span.set_tag("haystack.component.input", Unprintable())
        span.set_content_tag("haystack.component.output", {"replies": [Unprintable()], "meta": "not a list"})
        span.set_tag("some.list", [1, 2])
        span.set_tags({"a": 1})
    with tracing.tracer.trace("haystack.component.run", tags={"haystack.component.type": "OpenAIChatGenerator"}) as span:
        span.set_content_tag("haystack.component.output", {"replies": "not a list", "meta": [None, {"usage": "odd"}]})
    with tracing.tracer.trace("haystack.pipeline.run", tags=None):
        pass

    assert sorted(s.name for s in exporter.get_finished_spans()) == ["42", "chat", "invoke_workflow pipeline"]


def test_an_exception_in_a_traced_block_reaches_the_caller_unchanged(haystack_instrumentor, exporter):
    error = KeyError("k")
    with pytest.raises(KeyError) as raised:
        with tracing.tracer.trace("haystack.pipeline.run"):
            raise error
    assert raised.value is error
    (span,) = exporter.get_finished_spans()
    assert span.status.status_code.name == "ERROR"
    assert span.attributes["error.type"] == "KeyError"
