"""`OpikSpanExporter`: finished OTel spans to Opik traces and spans over Opik's REST API."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from opik_otel._ids import OpikIdMapper
from opik_otel.exporters.opik.client import OpikRestClient
from opik_otel.exporters.opik.mapping import span_to_opik

__all__ = ["DEFAULT_PROJECT_NAME", "DEFAULT_URL", "OpikSpanExporter"]

_logger = logging.getLogger(__name__)

DEFAULT_URL = "https://www.comet.com/opik/api/"
DEFAULT_PROJECT_NAME = "Default Project"
DEFAULT_CLOUD_WORKSPACE = "default"
_FALSE_VALUES = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class _OpikConfig:
    url: str
    api_key: str | None
    workspace: str | None
    project_name: str
    check_tls: bool


def _from_env() -> _OpikConfig:
    """Settings from the Opik SDK's environment variables."""
    env = os.environ
    return _OpikConfig(
        url=env.get("OPIK_URL_OVERRIDE") or DEFAULT_URL,
        api_key=env.get("OPIK_API_KEY") or None,
        workspace=env.get("OPIK_WORKSPACE") or None,
        project_name=env.get("OPIK_PROJECT_NAME") or DEFAULT_PROJECT_NAME,
        check_tls=env.get("OPIK_CHECK_TLS_CERTIFICATE", "true").strip().lower() not in _FALSE_VALUES,
    )


def _is_cloud(url: str) -> bool:
    return url.rstrip("/") == DEFAULT_URL.rstrip("/")


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
        env = _from_env()
        url = url or env.url
        workspace = workspace or env.workspace or (DEFAULT_CLOUD_WORKSPACE if _is_cloud(url) else None)
        self._project_name = project_name or env.project_name
        self._client = OpikRestClient(
            url,
            api_key or env.api_key,
            workspace,
            check_tls=env.check_tls if check_tls is None else check_tls,
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
