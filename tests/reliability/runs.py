"""What the framework run-map tests share: a span exporter that counts without keeping, the callback
engine's run map on a provider of its own, and the "never ended" debug lines of its evictions."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opik_otel.instrumentors._callbacks import RunSpans


class CountingExporter(InMemorySpanExporter):
    """Counts spans without keeping them (100,000 spans in memory would be the leak we test for)."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def export(self, spans):
        self.count += len(spans)
        return super().export([])


def run_spans(exporter: InMemorySpanExporter, **options) -> RunSpans:
    """The callback engine's run map, its spans exported to `exporter` (`options`: e.g. `max_runs`)."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return RunSpans(provider.get_tracer("test"), **options)


def never_ended_logs(caplog: pytest.LogCaptureFixture) -> int:
    """How many evictions the run map logged ("... never ended") while `caplog` captured its debug lines."""
    return len([r for r in caplog.records if "never ended" in r.getMessage()])


EVICTION_LOGGER = "opik_otel.instrumentors._callbacks"
