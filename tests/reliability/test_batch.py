"""`OpikBatchSpanProcessor`: the app thread only queues; bounded memory; flush and shutdown in time."""

from __future__ import annotations

import logging
import threading
import time

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from opik_otel._batch import OpikBatchSpanProcessor


class Recording(SpanExporter):
    """Records exported names; `block` makes export wait (a back end that hangs)."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.spooled: list[str] = []
        self.block = threading.Event()
        self.block.set()
        self.deadline = None

    def export(self, spans):
        self.block.wait()
        self.names.extend(span.name for span in spans)
        return SpanExportResult.SUCCESS

    def set_deadline(self, deadline):
        self.deadline = deadline

    def spool_spans(self, spans):
        self.spooled.extend(span.name for span in spans)

    def shutdown(self):
        pass


def tracer_with(processor):
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider.get_tracer("t")


def end_spans(tracer, count, prefix="s"):
    for index in range(count):
        tracer.start_span(f"{prefix}{index}").end()


def test_flush_exports_everything_in_order():
    exporter = Recording()
    processor = OpikBatchSpanProcessor(exporter, max_export_batch_size=7, schedule_delay_millis=60_000)
    end_spans(tracer_with(processor), 20)
    assert processor.force_flush(5000)
    assert exporter.names == [f"s{i}" for i in range(20)]
    processor.shutdown()


def test_a_burst_beyond_the_queue_is_dropped_counted_and_reported_once(caplog):
    exporter = Recording()
    exporter.block.clear()  # the back end hangs: nothing leaves the queue
    processor = OpikBatchSpanProcessor(exporter, max_queue_size=100, max_export_batch_size=50, schedule_delay_millis=10, shutdown_timeout_millis=500)
    tracer = tracer_with(processor)
    with caplog.at_level(logging.WARNING, logger="opik_otel"):
        end_spans(tracer, 5000)
        time.sleep(0.1)
        end_spans(tracer, 1000, "late")
        assert len(processor._queue) <= 100
        exporter.block.set()
        processor.shutdown()
    delivered_or_spooled = len(exporter.names) + len(exporter.spooled)
    assert delivered_or_spooled + processor.dropped == 6000
    assert processor.dropped >= 5800
    warnings = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert 1 <= len(warnings) <= 2  # one within the minute, one final count at shutdown
    assert "OTEL_BSP_MAX_QUEUE_SIZE" in warnings[0]


def test_shutdown_with_a_hung_back_end_returns_in_time_and_spools_the_rest():
    exporter = Recording()
    exporter.block.clear()
    processor = OpikBatchSpanProcessor(exporter, max_export_batch_size=10, schedule_delay_millis=10, shutdown_timeout_millis=300)
    end_spans(tracer_with(processor), 35)
    time.sleep(0.05)  # the worker is now stuck exporting the first batch
    started = time.monotonic()
    processor.shutdown()
    assert time.monotonic() - started < 0.6
    assert exporter.deadline is not None
    assert sorted(exporter.spooled) == sorted(f"s{i}" for i in range(35))  # the stuck batch too: nothing lost
    exporter.block.set()


def test_flush_timeout_returns_false_and_sets_a_deadline():
    exporter = Recording()
    exporter.block.clear()
    processor = OpikBatchSpanProcessor(exporter, schedule_delay_millis=60_000, shutdown_timeout_millis=200)
    end_spans(tracer_with(processor), 3)
    started = time.monotonic()
    assert processor.force_flush(200) is False
    assert time.monotonic() - started < 0.5
    exporter.block.set()
    processor.shutdown()


def test_the_app_thread_only_queues():
    exporter = Recording()
    exporter.block.clear()
    processor = OpikBatchSpanProcessor(exporter, max_queue_size=10_000, schedule_delay_millis=1)
    tracer = tracer_with(processor)
    started = time.monotonic()
    end_spans(tracer, 2000)
    assert time.monotonic() - started < 2.0  # not blocked by the hung exporter
    exporter.block.set()
    processor.shutdown()


def test_prepare_runs_on_the_worker_and_a_failing_one_loses_no_span():
    exporter = Recording()
    threads: set[str] = set()

    def prepare(span):
        threads.add(threading.current_thread().name)
        if span.name == "s1":
            raise ValueError("bad span")
        return span

    processor = OpikBatchSpanProcessor(exporter, schedule_delay_millis=10_000, prepare=prepare)
    end_spans(tracer_with(processor), 3)
    assert threads == set()  # nothing on the app's thread
    assert processor.force_flush(5000)
    assert threads == {"opik-otel-export"}
    assert exporter.names == ["s0", "s1", "s2"]
    processor.shutdown()


def test_spans_being_prepared_at_shutdown_are_spooled_not_lost():
    exporter = Recording()
    preparing, release = threading.Event(), threading.Event()

    def slow_pricing(span):
        preparing.set()
        release.wait(10)  # pricing is stuck until the test lets it go
        return span

    processor = OpikBatchSpanProcessor(exporter, schedule_delay_millis=10, shutdown_timeout_millis=300, prepare=slow_pricing)
    end_spans(tracer_with(processor), 100)
    assert preparing.wait(5)  # the worker took all 100 off the queue and is pricing them
    processor.shutdown()
    release.set()
    processor._worker.join(5)
    assert sorted(exporter.spooled) == sorted(f"s{i}" for i in range(100))  # in flight, so spooled
    assert exporter.names == []  # and only spooled: the worker does not export them as well
    assert processor.dropped == 0
