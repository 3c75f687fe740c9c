"""100,000 Haystack spans leave the callback engine's run map empty and no context attached; a
span that never ends is evicted past the bound."""

from __future__ import annotations

import contextvars

import pytest

pytest.importorskip("haystack")

from opentelemetry import context as otel_context  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

from opik_otel._content import ContentPolicy  # noqa: E402
from opik_otel.instrumentors.haystack.tracer import _CURRENT, OpikHaystackTracer  # noqa: E402
from tests.reliability.runs import EVICTION_LOGGER, CountingExporter, never_ended_logs, run_spans  # noqa: E402

GENERATOR_TAGS = {"haystack.component.name": "llm", "haystack.component.type": "OpenAIChatGenerator"}
REPLY = {"replies": ["hi"], "meta": [{"model": "gpt-4o-mini", "finish_reason": "stop", "usage": {"prompt_tokens": 3, "completion_tokens": 1}}]}


def test_100000_spans_leave_the_run_map_empty():
    exporter = CountingExporter()
    runs = run_spans(exporter)
    tracer = OpikHaystackTracer(runs, ContentPolicy(False))
    before = otel_context.get_current()

    for i in range(50_000):  # a pipeline and its generator: 100,000 spans, one run in 50 failing
        with tracer.trace("haystack.pipeline.run", tags={"haystack.pipeline.metadata": {}}) as pipeline:
            try:
                with tracer.trace("haystack.component.run", tags=GENERATOR_TAGS, parent_span=pipeline) as span:
                    if i % 50 == 0:
                        raise ValueError("boom")
                    span.set_content_tag("haystack.component.output", REPLY)
            except ValueError:
                pass

    assert len(runs) == 0
    assert exporter.count == 100_000
    assert otel_context.get_current() is before
    assert _CURRENT.get() is None


def test_spans_that_never_end_are_evicted_past_the_bound(caplog):
    exporter = InMemorySpanExporter()
    runs = run_spans(exporter, max_runs=100)
    tracer = OpikHaystackTracer(runs, ContentPolicy(False))
    opened = []

    def open_150() -> None:  # entered, never exited (abandoned), in a context of their own
        for i in range(150):
            block = tracer.trace("haystack.component.run", tags={"haystack.component.name": f"c{i}"})
            block.__enter__()
            opened.append(block)

    with caplog.at_level("DEBUG", logger=EVICTION_LOGGER):
        contextvars.copy_context().run(open_150)

    assert len(runs) == 100
    assert sorted(s.name for s in exporter.get_finished_spans()) == sorted(f"c{i}" for i in range(50))
    assert never_ended_logs(caplog) == 50
