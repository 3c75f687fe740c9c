"""`OpikSpanExporter`: finished OTel spans to Opik traces and spans over Opik's REST API."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from opik_otel._ids import OpikIdMapper
from opik_otel._settings import resolve_settings
from opik_otel.exporters.opik.client import OpikRestClient
from opik_otel.exporters.opik.mapping import span_to_opik

__all__ = ["OpikSpanExporter"]

_logger = logging.getLogger(__name__)


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
    ) -> None:
        settings = resolve_settings(url=url, api_key=api_key, workspace=workspace, project_name=project_name)
        self._project_name = settings.project_name
        self._client = OpikRestClient(
            settings.opik_url,
            settings.api_key.get_secret_value() if settings.api_key else None,
            settings.opik_workspace,
            check_tls=settings.check_tls_certificate if check_tls is None else check_tls,
            timeout=timeout,
        )
        self._ids = OpikIdMapper()
        self._shutdown = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Send the traces, then the spans; SUCCESS when both were delivered."""
        if self._shutdown:
            return SpanExportResult.FAILURE
        try:
            traces, opik_spans = self._to_opik(spans)
            traces_delivered = self._client.send_traces(traces)
            spans_delivered = self._client.send_spans(opik_spans)
        except Exception:  # noqa: BLE001 - an exporter never raises into the SDK
            _logger.debug("Opik export failed", exc_info=True)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS if traces_delivered and spans_delivered else SpanExportResult.FAILURE

    def shutdown(self) -> None:
        self._shutdown = True
        self._client.close()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True  # nothing is buffered here; the span processor holds the queue

    def _to_opik(self, spans: Sequence[ReadableSpan]) -> tuple[list[dict], list[dict]]:
        """(traces, spans) as Opik dicts; a span that cannot be mapped is skipped."""
        traces: list[dict] = []
        opik_spans: list[dict] = []
        failures: list[Exception] = []
        for span in spans:
            try:
                opik_span, trace = span_to_opik(span, self._ids, self._project_name)
            except Exception as error:  # noqa: BLE001 - one bad span must not lose the batch
                failures.append(error)
                continue
            opik_spans.append(opik_span)
            if trace is not None:
                traces.append(trace)
        if failures:
            _logger.debug("Opik export skipped %d unmappable span(s)", len(failures), exc_info=failures[0])
        return traces, opik_spans
