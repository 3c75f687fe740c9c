"""Opik exporter: span → Opik mapping (pure functions), REST client, `OpikSpanExporter`."""

from opik_otel._ids import OpikIdMapper, UuidV7IdGenerator, otel_to_opik_id
from opik_otel.exporters.opik.client import OpikRestClient
from opik_otel.exporters.opik.exporter import OpikSpanExporter
from opik_otel.exporters.opik.mapping import (
    OPIK_TRACE_STATE_KEY,
    is_root,
    opik_provider,
    span_to_opik,
    span_type,
)

__all__ = [
    "OPIK_TRACE_STATE_KEY",
    "OpikIdMapper",
    "OpikRestClient",
    "OpikSpanExporter",
    "UuidV7IdGenerator",
    "is_root",
    "opik_provider",
    "otel_to_opik_id",
    "span_to_opik",
    "span_type",
]
