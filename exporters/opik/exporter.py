"""`OpikSpanExporter`: finished OTel spans to Opik traces and spans over Opik's REST API.

Nothing is lost when the back end hiccups: a batch the client could not deliver within its
retry budget (outage, timeouts, 5xx, 429, rejected credentials) goes to the on-disk spool
(a subfolder per back end URL and workspace, so it is only ever sent where it was meant to go),
and while the back end is known to be down, batches go straight there. Spooled batches are
re-sent, oldest first, once the back end answers again — by this process (on a flush or at
shutdown it probes the back end again and re-sends for as long as the deadline allows), or
by the next one that starts with the same spool folder. Ids are deterministic, so a re-sent
batch only upserts what may already be stored. Export and replay run with instrumentation
suppressed: the exporter's own requests are never traced.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from opik_otel._runtime import after_fork_in_child, instrumentation_suppressed
from opik_otel._ids import OpikIdMapper
from opik_otel._settings import resolve_settings
from opik_otel.exporters.opik.client import OpikRestClient, Outcome, encode
from opik_otel.exporters.opik.mapping import span_to_opik
from opik_otel.exporters.opik.payload import fit, json_size
from opik_otel.exporters.opik.spool import Spool, destination_folder, send_spooled

__all__ = ["OpikSpanExporter"]

_logger = logging.getLogger(__name__)

PROBE_INTERVAL_S = 5.0  # while the back end is down, try it again at most this often
REPLAY_BUDGET_S = 2.0  # spool replay time per export call, so fresh spans are not held up


class OpikSpanExporter(SpanExporter):
    """Exports spans to Opik: root spans also become traces. Arguments left None come from the env."""

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        workspace: str | None = None,
        project_name: str | None = None,
        *,
        check_tls: bool | None = None,
        timeout: float = 10.0,
        spool_dir: str | None = None,
        spool_max_mb: float | None = None,
        max_payload_size_mb: float | None = None,
    ) -> None:
        settings = resolve_settings(
            url=url, api_key=api_key, workspace=workspace, project_name=project_name,
            spool_dir=spool_dir, spool_max_mb=spool_max_mb, max_payload_size_mb=max_payload_size_mb,
        )
        self._project_name = settings.project_name
        self._max_field_bytes = settings.max_field_bytes
        self.spool = (
            Spool(destination_folder(settings.spool_dir, settings.opik_url, settings.opik_workspace), int(settings.spool_max_mb * 1_000_000))
            if settings.spool_max_mb > 0 else None
        )
        self._client = OpikRestClient(
            settings.opik_url,
            settings.api_key.get_secret_value() if settings.api_key else None,
            settings.opik_workspace,
            check_tls=settings.check_tls_certificate if check_tls is None else check_tls,
            timeout=timeout,
            shrink=_shrink_item,
            spool_folder=self.spool.folder if self.spool is not None else None,  # the warnings say where batches wait
        )
        self._ids = OpikIdMapper()
        self._shutdown = False
        self._down_until = 0.0
        self._lock = threading.Lock()  # one export at a time
        self._wake = threading.Event()  # a new deadline, or shutdown: re-check while waiting to probe
        self.dropped_items = 0  # refused by the back end (invalid content) or not spoolable
        after_fork_in_child(self._at_fork_reinit)
        if self.spool is not None and self.spool.pending():
            threading.Thread(target=self._replay, name="opik-otel-spool-replay", daemon=True).start()

    def _at_fork_reinit(self) -> None:
        """In a forked child: a lock of its own, no deadline, and no knowledge of the back end
        being down (the child probes it itself)."""
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._down_until = 0.0
        self._client.deadline = None

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Send the traces, then the spans; what cannot be delivered now is spooled.
        SUCCESS when every item was delivered or spooled."""
        try:
            with instrumentation_suppressed():
                traces, opik_spans = self._to_opik(spans)
                with self._lock:
                    kept = self._deliver("traces", traces) & self._deliver("spans", opik_spans)
                if kept and not self._down() and not self._shutdown and self.spool is not None:
                    self._replay(time.monotonic() + REPLAY_BUDGET_S, wait=False)
        except Exception:  # noqa: BLE001 - an exporter never raises into the SDK
            _logger.debug("Opik export failed", exc_info=True)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS if kept else SpanExportResult.FAILURE

    def set_deadline(self, deadline: float | None) -> None:
        """From `deadline` (time.monotonic()) on, no retry starts and requests time out by then:
        what is left is spooled (used on flush / shutdown with a timeout)."""
        self._client.deadline = deadline
        self._wake.set()

    def spool_spans(self, spans: Sequence[ReadableSpan]) -> None:
        """Map spans and write them to the spool, with no network (what shutdown could not send)."""
        traces, opik_spans = self._to_opik(spans)
        for kind, items in (("traces", traces), ("spans", opik_spans)):
            if items:
                self._spool(kind, items, encode(kind, items))

    def shutdown(self) -> None:
        self._shutdown = True
        self._wake.set()
        self._client.close()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Re-send the spooled batches within the timeout (and the deadline, if one is set):
        a back end found down is probed again every `PROBE_INTERVAL_S` meanwhile; what the time
        does not allow stays spooled. True when the spool is empty, or after shutdown (nothing
        more is sent). (Spans are queued by the span processor, which calls this on its own
        flush and shutdown.)"""
        spool = self.spool
        if spool is None or self._shutdown:
            return True
        until = time.monotonic() + timeout_millis / 1000
        while not self._shutdown:
            self._wake.clear()
            deadline = self._client.deadline
            end = until if deadline is None else min(until, deadline)
            if not spool.pending():
                return True
            now = time.monotonic()
            if now >= end:
                return False
            if self._down():
                self._wake.wait(min(self._down_until, end) - now)  # the next probe, or the end
                continue
            if self._replay(end) == 0 and not self._down():
                # No progress with the back end up: batches claimed by another process (not
                # pending here), or a file this process cannot read or rename; waiting cannot help.
                return not spool.pending()
        return True

    def _deliver(self, kind: str, items: list[dict]) -> bool:
        """Send one kind of items (or spool them while the back end is down); False if any was lost."""
        if not items:
            return True
        if self._down() or self._shutdown:  # straight to the spool: no network now
            return self._spool(kind, items, encode(kind, items))
        kept = True
        for batch, body, outcome in self._client.send(kind, items):
            if outcome is Outcome.UNDELIVERED:
                self._down_until = time.monotonic() + PROBE_INTERVAL_S
                kept &= self._spool(kind, batch, body)
            elif outcome is Outcome.REJECTED:
                self.dropped_items += len(batch)
                kept = False
        return kept

    def _spool(self, kind: str, items: list[dict], body: bytes) -> bool:
        if self.spool is not None and self.spool.put(kind, len(items), body):
            return True
        self.dropped_items += len(items)
        return False

    def _down(self) -> bool:
        return time.monotonic() < self._down_until

    def _replay(self, deadline: float | None = None, wait: bool = True) -> int:
        """Re-send spooled batches oldest first, until one fails or `deadline`; a failure marks
        the back end down. Returns how many batches left the spool."""
        spool = self.spool
        if spool is None:
            return 0
        try:
            sent, failed = send_spooled(spool, self._client, deadline, wait)
        except Exception:  # noqa: BLE001 - replay must never break an export
            _logger.debug("opik-otel: spool replay failed", exc_info=True)
            return 0
        if failed:
            self._down_until = time.monotonic() + PROBE_INTERVAL_S
        return sent

    def _to_opik(self, spans: Sequence[ReadableSpan]) -> tuple[list[dict], list[dict]]:
        """(traces, spans) as Opik dicts; a span that cannot be mapped is skipped."""
        traces: list[dict] = []
        opik_spans: list[dict] = []
        failures: list[Exception] = []
        for span in spans:
            try:
                opik_span, trace = span_to_opik(span, self._ids, self._project_name, self._max_field_bytes, raw_json=True)
            except Exception as error:  # noqa: BLE001 - one bad span must not lose the batch
                failures.append(error)
                continue
            opik_spans.append(opik_span)
            if trace is not None:
                traces.append(trace)
        if failures:
            _logger.debug("Opik export skipped %d unmappable span(s)", len(failures), exc_info=failures[0])
        return traces, opik_spans


def _shrink_item(item: dict[str, Any], factor: int) -> bool:
    """Cut an item's input and output to 1/`factor` of their JSON size (a 413 for one item)."""
    changed = False
    for field_name in ("input", "output", "metadata"):
        value = item.get(field_name)
        if value is None:
            continue
        size = json_size(value)
        fitted, cut = fit(value, max(256, size // factor))
        if cut:
            item[field_name] = fitted if isinstance(fitted, dict) else {field_name: fitted}
            changed = True
    return changed
