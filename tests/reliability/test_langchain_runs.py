"""100,000 LangChain runs leave the callback engine's run map empty; runs that never end are
evicted past the bound, with their spans ended."""

from __future__ import annotations

import uuid

import pytest

pytest.importorskip("langchain_core")

from opentelemetry import context as otel_context  # noqa: E402
from opentelemetry.sdk.trace import TracerProvider  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

from opik_otel._content import ContentPolicy  # noqa: E402
from opik_otel.instrumentors._callbacks import RunSpans  # noqa: E402
from opik_otel.instrumentors.langchain.callbacks import OpikCallbackHandler  # noqa: E402
from tests.reliability.runs import EVICTION_LOGGER, CountingExporter, never_ended_logs, run_spans  # noqa: E402


def test_100000_runs_leave_the_run_map_empty():
    exporter = CountingExporter()
    runs = run_spans(exporter)
    handler = OpikCallbackHandler(runs, ContentPolicy(False))
    before = otel_context.get_current()

    for _ in range(50_000):  # a chain with a child: 100,000 runs
        parent, child = uuid.uuid4(), uuid.uuid4()
        handler.on_chain_start({}, {"q": 1}, run_id=parent, name="outer")
        handler.on_chain_start({}, {"q": 1}, run_id=child, parent_run_id=parent, name="inner")
        handler.on_chain_end({}, run_id=child)
        handler.on_chain_end({}, run_id=parent)

    assert len(runs) == 0
    assert exporter.count == 100_000
    assert otel_context.get_current() is before


def test_runs_that_never_end_are_evicted_past_the_bound(caplog):
    exporter = InMemorySpanExporter()
    runs = run_spans(exporter, max_runs=100)
    token = otel_context.attach(otel_context.get_current())
    try:
        with caplog.at_level("DEBUG", logger=EVICTION_LOGGER):
            for i in range(150):
                runs.start(i, None, f"run {i}")
    finally:
        otel_context.detach(token)

    assert len(runs) == 100
    assert sorted(s.name for s in exporter.get_finished_spans()) == sorted(f"run {i}" for i in range(50))
    assert never_ended_logs(caplog) == 50
    runs.end(0)  # an evicted (unknown) run id: ignored
    runs.end(149)
    assert len(runs) == 99


def test_a_run_ended_in_another_context_logs_no_detach_failure_and_restores_that_context(caplog):
    import contextvars

    provider = TracerProvider()
    runs = RunSpans(provider.get_tracer("test"))
    before = otel_context.get_current()

    def end_elsewhere() -> object:
        runs.end("r")  # the attach token belongs to the caller's context: it cannot be reset here
        return otel_context.get_current()

    outer = otel_context.attach(before)  # so that this test can put the caller's context back after
    try:
        with caplog.at_level("DEBUG"):
            runs.start("r", None, "run")
            after_end = contextvars.copy_context().run(end_elsewhere)
    finally:
        otel_context.detach(outer)

    assert "Failed to detach context" not in caplog.text
    assert after_end is before
    assert len(runs) == 0
