"""100,000 DSPy calls leave the callback engine's run map empty and no context attached; a call that
never ends is evicted past the bound."""

from __future__ import annotations

import contextvars

import pytest

pytest.importorskip("dspy")

from opentelemetry import context as otel_context  # noqa: E402
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter  # noqa: E402

from opik_otel._content import ContentPolicy  # noqa: E402
from opik_otel.instrumentors.dspy.callbacks import OpikDSPyCallback  # noqa: E402
from tests.reliability.runs import EVICTION_LOGGER, CountingExporter, never_ended_logs, run_spans  # noqa: E402


class Predict:
    """Stands for the module instance DSPy passes (only its class name is read)."""


class LM:
    """Stands for the `dspy.LM` DSPy passes: a model string, settings and a history."""

    model = "openai/gpt-4o-mini"
    model_type = "chat"
    kwargs: dict = {}
    history: list = []


def test_100000_calls_leave_the_run_map_empty():
    exporter = CountingExporter()
    runs = run_spans(exporter)
    callback = OpikDSPyCallback(runs, ContentPolicy(False))
    lm, module = LM(), Predict()
    inputs = {"messages": [{"role": "user", "content": "q"}], "kwargs": {}}
    before = otel_context.get_current()

    for i in range(50_000):  # a module and its LM call: 100,000 spans, one call in 50 failing
        callback.on_module_start(f"m{i}", module, {"kwargs": {"question": "q"}})
        callback.on_lm_start(f"l{i}", lm, inputs)
        if i % 50 == 0:
            error = ValueError("boom")
            callback.on_lm_end(f"l{i}", None, error)
            callback.on_module_end(f"m{i}", None, error)
        else:
            callback.on_lm_end(f"l{i}", ["answer"])
            callback.on_module_end(f"m{i}", {"answer": "a"})

    assert len(runs) == 0
    assert callback._lm_calls == {}
    assert exporter.count == 100_000
    assert otel_context.get_current() is before


def test_calls_that_never_end_are_evicted_past_the_bound(caplog):
    exporter = InMemorySpanExporter()
    runs = run_spans(exporter, max_runs=100)
    callback = OpikDSPyCallback(runs, ContentPolicy(False))

    def open_150() -> None:  # started, never ended (abandoned), in a context of their own
        for i in range(75):
            callback.on_module_start(f"m{i}", Predict(), {"kwargs": {}})
            callback.on_lm_start(f"l{i}", LM(), {"messages": [], "kwargs": {}})

    with caplog.at_level("DEBUG", logger=EVICTION_LOGGER):
        contextvars.copy_context().run(open_150)

    assert len(runs) == 100
    assert len(callback._lm_calls) == 75  # within the bound
    assert len(exporter.get_finished_spans()) == 25  # the evicted modules' spans (LM calls open no span)
    assert never_ended_logs(caplog) == 50
    contextvars.copy_context().run(lambda: [callback.on_lm_start(f"x{i}", LM(), {"messages": [], "kwargs": {}}) for i in range(200)])
    assert len(callback._lm_calls) == 100
