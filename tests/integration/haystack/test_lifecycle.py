"""Which tracer Haystack keeps: ours replaces none and Haystack's auto-enabled OpenTelemetry tracer
(whose spans would duplicate ours), never a tracer the app set on purpose; `uninstrument()` puts
back what was there; instrument again works."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from haystack import Pipeline, tracing
from haystack.tracing.logging_tracer import LoggingTracer

from opik_otel.instrumentors.haystack import HaystackInstrumentor
from opik_otel.instrumentors.haystack.tracer import OpikHaystackTracer
from tests.integration.spans import tree


@pytest.fixture
def pipeline():
    from haystack.components.builders import PromptBuilder

    pipeline = Pipeline()
    pipeline.add_component("prompt", PromptBuilder(template="Say {{q}}"))
    return pipeline


def test_uninstrument_restores_no_tracer_and_instrument_again_resumes(provider, pipeline, exporter):
    instrumentor = HaystackInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    assert isinstance(tracing.tracer.actual_tracer, OpikHaystackTracer)
    pipeline.run({"prompt": {"q": "hi"}})
    instrumentor.uninstrument()

    assert not tracing.is_tracing_enabled()
    pipeline.run({"prompt": {"q": "hi"}})
    assert [row[0] for row in tree(exporter)] == ["invoke_workflow pipeline", "prompt"]

    instrumentor.instrument(tracer_provider=provider)
    try:
        pipeline.run({"prompt": {"q": "hi"}})
    finally:
        instrumentor.uninstrument()
    assert [row[0] for row in tree(exporter)] == ["invoke_workflow pipeline", "prompt"] * 2


def test_a_tracer_the_app_set_is_kept(provider, pipeline, exporter):
    mine = LoggingTracer()
    tracing.enable_tracing(mine)
    instrumentor = HaystackInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        assert tracing.tracer.actual_tracer is mine
        pipeline.run({"prompt": {"q": "hi"}})
    finally:
        instrumentor.uninstrument()
    assert tracing.tracer.actual_tracer is mine
    assert exporter.get_finished_spans() == ()


def test_haystacks_own_opentelemetry_tracer_is_replaced_and_put_back(provider, pipeline, exporter):
    module = pytest.importorskip("haystack.tracing.opentelemetry", reason="Haystack 3 has no OpenTelemetry tracer")
    auto = module.OpenTelemetryTracer(provider.get_tracer("haystack"))
    tracing.enable_tracing(auto)
    instrumentor = HaystackInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        pipeline.run({"prompt": {"q": "hi"}})
    finally:
        instrumentor.uninstrument()

    assert [row[0] for row in tree(exporter)] == ["invoke_workflow pipeline", "prompt"]  # no haystack.* duplicates
    assert tracing.tracer.actual_tracer is auto


def test_a_tracer_the_app_set_after_instrument_is_not_undone_by_uninstrument(provider):
    instrumentor = HaystackInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    mine = LoggingTracer()
    tracing.enable_tracing(mine)
    instrumentor.uninstrument()
    assert tracing.tracer.actual_tracer is mine


LAZY_APP = """
import os, sys
from opik_otel.instrumentors.haystack import HaystackInstrumentor

instrumentor = HaystackInstrumentor()
instrumentor.instrument()
assert "haystack" not in sys.modules, "instrument() imported haystack"
assert os.environ["HAYSTACK_AUTO_TRACE_ENABLED"] == "false"
from haystack import tracing
print(type(tracing.tracer.actual_tracer).__name__)
instrumentor.uninstrument()
print(type(tracing.tracer.actual_tracer).__name__, "HAYSTACK_AUTO_TRACE_ENABLED" in os.environ)
"""


def test_instrument_before_haystack_is_imported_enables_ours_on_import_and_uninstrument_undoes_it(tmp_path):
    app = tmp_path / "app.py"
    app.write_text(LAZY_APP)
    env = {k: v for k, v in os.environ.items() if k != "HAYSTACK_AUTO_TRACE_ENABLED"}
    process = subprocess.run([sys.executable, str(app)], capture_output=True, text=True, timeout=60, env=env)

    assert process.returncode == 0, process.stderr
    assert process.stdout.split("\n")[:2] == ["OpikHaystackTracer", "NullTracer False"]
