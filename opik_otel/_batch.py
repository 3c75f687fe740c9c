"""`OpikBatchSpanProcessor`: the app's thread only queues; a worker exports in batches.

Like the SDK's `BatchSpanProcessor`, with what delivery that loses nothing needs:

- a bounded queue: past `max_queue_size` a span is dropped and counted, never buffered, and
  the drops are reported in one warning with counts at most once a minute;
- `force_flush(timeout)` / `shutdown()` within a timeout: the exporter gets a deadline (no
  retry starts after it), and whatever is still queued or in flight when the time is up is
  handed to the exporter's spool (`spool_spans`), so a dead back end never holds exit longer
  than `shutdown_timeout_millis` and nothing is lost;
- safe after `fork()`: the child starts its own worker.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from typing import Any, Callable

from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter

logger = logging.getLogger(__name__)

DROP_WARNING_INTERVAL_S = 60.0


class OpikBatchSpanProcessor(SpanProcessor):
    """Queues ended spans (bounded) and exports them in batches from a worker thread.

    `prepare`, if given, turns each span into the one to export, off the app's thread
    (`configure()` prices spans there); it must not raise.
    """

    def __init__(
        self,
        exporter: SpanExporter,
        max_queue_size: int = 2048,
        max_export_batch_size: int = 512,
        schedule_delay_millis: int = 1000,
        shutdown_timeout_millis: int = 5000,
        prepare: Callable[[ReadableSpan], ReadableSpan] | None = None,
    ) -> None:
        self.span_exporter = exporter
        self.prepare = prepare
        self.max_queue_size = max_queue_size
        self.max_export_batch_size = min(max_export_batch_size, max_queue_size)
        self.schedule_delay = schedule_delay_millis / 1000
        self.shutdown_timeout = shutdown_timeout_millis / 1000
        self.dropped = 0  # spans dropped because the queue was full (or after shutdown)
        self._reported_drops = 0
        self._last_drop_warning = float("-inf")
        self._is_shutdown = False
        self._in_flight: list[ReadableSpan] = []
        self._start_worker()

    def _start_worker(self) -> None:
        self._pid = os.getpid()
        self._queue: collections.deque[ReadableSpan] = collections.deque()
        self._wake = threading.Event()
        self._flushes: list[threading.Event] = []
        self._flushes_lock = threading.Lock()
        self._worker = threading.Thread(target=self._run, name="opik-otel-export", daemon=True)
        self._worker.start()

    def on_start(self, span: Span, parent_context: Any = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if not span.context.trace_flags.sampled:
            return
        if self._pid != os.getpid():  # a forked child: its own queue and worker
            self._start_worker()
        queue = self._queue
        if self._is_shutdown or len(queue) >= self.max_queue_size:
            self.dropped += 1
            return
        queue.append(span)
        if len(queue) == self.max_export_batch_size:
            self._wake.set()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export (or spool) everything queued now; True when that finished within the timeout."""
        if self._is_shutdown:
            return True
        timeout = timeout_millis / 1000
        self._set_deadline(time.monotonic() + timeout * 0.8)  # past it, what is left is spooled rather than retried
        done = threading.Event()
        with self._flushes_lock:
            self._flushes.append(done)
        self._wake.set()
        try:
            return done.wait(timeout)
        finally:
            if not self._is_shutdown:
                self._set_deadline(None)

    def shutdown(self) -> None:
        """Deliver what is queued within `shutdown_timeout_millis`; spool the rest; stop."""
        if self._is_shutdown:
            return
        self._is_shutdown = True
        deadline = time.monotonic() + self.shutdown_timeout
        self._set_deadline(deadline - min(0.5, self.shutdown_timeout / 4))  # leave time to spool
        self._wake.set()
        self._worker.join(max(0.0, deadline - time.monotonic()))
        left = [*self._in_flight, *self._drain()] if self._worker.is_alive() else self._drain()
        if left:
            self._spool(left)
        self._report_drops(force=True)
        self.span_exporter.shutdown()

    def _set_deadline(self, deadline: float | None) -> None:
        """Tell an exporter that can spool (`OpikSpanExporter`) when to stop retrying."""
        set_deadline = getattr(self.span_exporter, "set_deadline", None)
        if callable(set_deadline):
            set_deadline(deadline)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.schedule_delay)
            self._wake.clear()
            with self._flushes_lock:
                flushes, self._flushes = self._flushes, []
            self._export_queued()
            for done in flushes:
                done.set()
            self._report_drops()
            if self._is_shutdown:
                return

    def _export_queued(self) -> None:
        while self._queue:
            batch = self._take(self.max_export_batch_size)
            self._in_flight = batch
            try:
                self.span_exporter.export(batch)
            except Exception:  # noqa: BLE001 - the worker must survive any exporter
                logger.debug("opik-otel: export failed", exc_info=True)
            self._in_flight = []

    def _take(self, count: int) -> list[ReadableSpan]:
        queue = self._queue
        batch = []
        while queue and len(batch) < count:
            batch.append(queue.popleft())
        prepare = self.prepare
        if prepare is None:
            return batch
        try:
            return [prepare(span) for span in batch]
        except Exception:  # noqa: BLE001 - the spans go out as they are rather than not at all
            logger.debug("opik-otel: could not prepare spans for export", exc_info=True)
            return batch

    def _drain(self) -> list[ReadableSpan]:
        return self._take(len(self._queue))

    def _spool(self, spans: list[ReadableSpan]) -> None:
        spool_spans = getattr(self.span_exporter, "spool_spans", None)
        if callable(spool_spans):
            try:
                spool_spans(spans)
                return
            except Exception:  # noqa: BLE001
                logger.debug("opik-otel: could not spool spans at shutdown", exc_info=True)
        self.dropped += len(spans)

    def _report_drops(self, force: bool = False) -> None:
        dropped = self.dropped
        if dropped == self._reported_drops:
            return
        now = time.monotonic()
        if not force and now - self._last_drop_warning < DROP_WARNING_INTERVAL_S:
            return
        logger.warning(
            "opik-otel: dropped %d span(s) (%d in all): the export queue was full (max_queue_size=%d, "
            "OTEL_BSP_MAX_QUEUE_SIZE) or already shut down",
            dropped - self._reported_drops, dropped, self.max_queue_size,
        )
        self._reported_drops, self._last_drop_warning = dropped, now
