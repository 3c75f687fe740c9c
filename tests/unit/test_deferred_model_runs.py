"""A framework's model run defers its span (the one-inference-span rule): its request attributes,
given as a function, are read only when no provider call claims the run, that is only for the
inference span the run then makes itself."""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from opik_otel._model_call import claim_model_call
from opik_otel.instrumentors._callbacks import RunSpans

CLAIMABLE = {"gen_ai.agent.name": "support_agent"}


class Request:
    """The deferred request attributes, counting their reads."""

    def __init__(self) -> None:
        self.reads = 0

    def __call__(self) -> dict:
        self.reads += 1
        return {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini", **CLAIMABLE}


def runs_with_exporter() -> tuple[RunSpans, InMemorySpanExporter]:
    """A `RunSpans` on a provider whose finished spans the returned exporter holds."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return RunSpans(provider.get_tracer("test")), exporter


def test_a_claimed_model_run_never_reads_its_deferred_request_attributes():
    runs, exporter = runs_with_exporter()
    request = Request()
    runs.defer("model-1", None, "chat gpt-4o-mini", request, CLAIMABLE)

    claimed = claim_model_call()  # what the provider instrumentor does as the billed call starts
    runs.end("model-1", {"gen_ai.usage.input_tokens": 3})

    assert claimed == (CLAIMABLE, None)
    assert request.reads == 0
    assert exporter.get_finished_spans() == ()


def test_an_unclaimed_model_run_reads_them_once_for_its_own_inference_span():
    runs, exporter = runs_with_exporter()
    request = Request()
    before = otel_context.get_current()
    runs.defer("model-1", None, "chat gpt-4o-mini", request, CLAIMABLE)
    runs.end("model-1", {"gen_ai.usage.input_tokens": 3})

    (span,) = exporter.get_finished_spans()
    assert request.reads == 1
    assert span.name == "chat gpt-4o-mini"
    assert span.kind is SpanKind.CLIENT
    assert dict(span.attributes) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.agent.name": "support_agent",
        "gen_ai.usage.input_tokens": 3,
    }
    assert otel_context.get_current() is before


def test_a_rename_before_the_end_adds_to_the_deferred_attributes_without_reading_them():
    runs, exporter = runs_with_exporter()
    request = Request()
    runs.defer("model-1", None, "chat", request, CLAIMABLE)
    runs.rename("model-1", "chat gpt-4o-mini-2024-07-18", {"gen_ai.request.model": "gpt-4o-mini-2024-07-18"})
    assert request.reads == 0

    runs.end("model-1")

    (span,) = exporter.get_finished_spans()
    assert request.reads == 1
    assert span.name == "chat gpt-4o-mini-2024-07-18"
    assert span.attributes["gen_ai.request.model"] == "gpt-4o-mini-2024-07-18"
    assert span.attributes["gen_ai.operation.name"] == "chat"


def test_a_failing_read_loses_the_attributes_not_the_span():
    runs, exporter = runs_with_exporter()

    def broken() -> dict:
        raise ValueError("an odd request")

    runs.defer("model-1", None, "chat", broken, CLAIMABLE)
    runs.end("model-1", {"gen_ai.usage.input_tokens": 3})

    (span,) = exporter.get_finished_spans()
    assert dict(span.attributes) == {"gen_ai.usage.input_tokens": 3}
