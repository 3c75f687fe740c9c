"""`OpikBatchSpanProcessor`: the app's thread only queues; a worker exports in batches.

Like the SDK's `BatchSpanProcessor`, with what delivery that loses nothing needs:

- a bounded queue: past `max_queue_size` a span is dropped and counted, never buffered, and
  the drops are reported in one warning with counts at most once a minute;
- export with instrumentation suppressed (as the SDK does), so the exporter's own HTTP
  requests are never traced (else every export is traced, exported, traced…);
- `force_flush(timeout)` / `shutdown()` use their whole deadline: the exporter gets it (no
  retry starts after it), and an exporter that spools (`OpikSpanExporter`) probes a back end
  that was down and re-sends what it spooled while the deadline allows (its `force_flush`);
  whatever is still queued or in flight when the time is up is handed to the exporter's
  spool (`spool_spans`), so a dead back end never holds exit longer than
  `shutdown_timeout_millis` and nothing is lost. Spans are in flight from the moment they
  leave the queue (while `prepare` prices them too);
- safe after `fork()`: the child starts with an empty queue and a worker of its own (the
  parent's queued spans are the parent's to send).
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any, Callable

from opentelemetry import context as otel_context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter

from opik_otel._runtime import SUPPRESS_INSTRUMENTATION_KEY, after_fork_in_child

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
        self._deadline: float | None = None  # of the flush or shutdown under way (time.monotonic())
        self._start_worker()
        after_fork_in_child(self._at_fork_reinit)

    def _start_worker(self) -> None:
        self._queue: collections.deque[ReadableSpan] = collections.deque()
        self._in_flight: list[ReadableSpan] = []  # left the queue, not yet exported
        self._in_flight_prepared = False
        self._taken_over = False  # shutdown ran out of time: it spools what is left, the worker takes no more
        self._flight_lock = threading.Lock()
        self._wake = threading.Event()
        self._flushes: list[threading.Event] = []
        self._flushes_lock = threading.Lock()
        self._worker = threading.Thread(target=self._run, name="opik-otel-export", daemon=True)
        if not self._is_shutdown:
            self._worker.start()

    def _at_fork_reinit(self) -> None:
        """In a forked child: an empty queue, fresh locks and a worker of its own; the parent's
        queued and in-flight spans stay the parent's to send."""
        self.dropped = self._reported_drops = 0
        self._last_drop_warning = float("-inf")
        self._deadline = None
        self._start_worker()

    def on_start(self, span: Span, parent_context: Any = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if not span.context.trace_flags.sampled:
            return
        queue = self._queue
        if self._is_shutdown or len(queue) >= self.max_queue_size:
            self.dropped += 1
            return
        queue.append(span)
        if len(queue) == self.max_export_batch_size:
            self._wake.set()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Export everything queued now, and let the exporter deliver what it spooled, within the
        timeout (what it cannot deliver stays spooled); True when that finished within the timeout."""
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
        """Deliver what is queued (and spooled) within `shutdown_timeout_millis`; spool the rest; stop."""
        if self._is_shutdown:
            return
        self._is_shutdown = True
        deadline = time.monotonic() + self.shutdown_timeout
        self._set_deadline(deadline - min(0.5, self.shutdown_timeout / 4))  # leave time to spool
        self._wake.set()
        self._worker.join(max(0.0, deadline - time.monotonic()))
        left = self._take_over(deadline)
        if left:
            self._spool(left)
        self._report_drops(force=True)
        self.span_exporter.shutdown()

    def _set_deadline(self, deadline: float | None) -> None:
        """Tell an exporter that can spool (`OpikSpanExporter`) when to stop retrying."""
        self._deadline = deadline
        set_deadline = getattr(self.span_exporter, "set_deadline", None)
        if callable(set_deadline):
            set_deadline(deadline)

    def _run(self) -> None:
        # The worker's own context: no app span, and instrumentation suppressed for everything
        # it runs, so that the exporter's HTTP requests are not traced.
        otel_context.attach(otel_context.set_value(SUPPRESS_INSTRUMENTATION_KEY, True, otel_context.Context()))
        while True:
            self._wake.wait(self.schedule_delay)
            self._wake.clear()
            with self._flushes_lock:
                flushes, self._flushes = self._flushes, []
            self._export_queued()
            if flushes or self._is_shutdown:
                self._deliver_spooled()
            for done in flushes:
                done.set()
            self._report_drops()
            if self._is_shutdown:
                return

    def _export_queued(self) -> None:
        while self._queue:
            batch = self._take(self.max_export_batch_size)
            if not batch:
                return  # shutdown took over
            try:
                self.span_exporter.export(batch)
            except Exception:  # noqa: BLE001 - the worker must survive any exporter
                logger.debug("opik-otel: export failed", exc_info=True)
            with self._flight_lock:
                if self._in_flight is batch:
                    self._in_flight = []

    def _take(self, count: int) -> list[ReadableSpan]:
        """Up to `count` queued spans, prepared. They are in flight from the moment they leave
        the queue; [] when shutdown took them (or takes over) meanwhile."""
        with self._flight_lock:
            if self._taken_over:
                return []
            queue = self._queue
            batch = [queue.popleft() for _ in range(min(count, len(queue)))]
            self._in_flight, self._in_flight_prepared = batch, False
        prepared = self._prepared(batch)
        with self._flight_lock:
            if self._in_flight is not batch:
                return []  # shutdown spooled them while they were being prepared
            self._in_flight, self._in_flight_prepared = prepared, True
        return prepared

    def _take_over(self, deadline: float) -> list[ReadableSpan]:
        """At shutdown: the spans the worker has not exported (in flight, then queued); from now
        on it takes no more. Those not prepared yet are prepared while `deadline` allows."""
        with self._flight_lock:
            self._taken_over = True
            in_flight, self._in_flight = self._in_flight, []
            prepared = self._in_flight_prepared
            queued = list(self._queue)
            self._queue.clear()
        if not prepared:
            in_flight = self._prepared(in_flight, deadline)
        return in_flight + self._prepared(queued, deadline)

    def _prepared(self, spans: list[ReadableSpan], until: float | None = None) -> list[ReadableSpan]:
        """`prepare` applied to each span (past `until`, spans go as they are rather than late);
        a span that `prepare` fails on goes out as it is rather than not at all."""
        prepare = self.prepare
        if prepare is None or not spans:
            return spans
        result = []
        for span in spans:
            if until is not None and time.monotonic() >= until:
                result.append(span)
                continue
            try:
                result.append(prepare(span))
            except Exception:  # noqa: BLE001
                logger.debug("opik-otel: could not prepare span %r for export", getattr(span, "name", None), exc_info=True)
                result.append(span)
        return result

    def _deliver_spooled(self) -> None:
        """On flush or shutdown: the exporter's `force_flush` gets the time left before the
        deadline (`OpikSpanExporter` probes a back end that was down and re-sends its spool)."""
        deadline = self._deadline
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is None or remaining <= 0:
            return
        try:
            self.span_exporter.force_flush(max(1, int(remaining * 1000)))
        except Exception:  # noqa: BLE001 - the worker must survive any exporter
            logger.debug("opik-otel: the exporter's flush failed", exc_info=True)

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
