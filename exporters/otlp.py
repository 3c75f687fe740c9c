"""OTLP exporters: to any collector (standard `OTEL_EXPORTER_OTLP_*` variables) or to Opik's OTLP endpoint."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from opentelemetry.sdk.trace.export import SpanExporter

if TYPE_CHECKING:
    from opik_otel._settings import Settings

_PROTOCOL_VARS = ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")


def otlp_protocol() -> str:
    """`grpc`, `http/protobuf` (default) or `http/json`, from the standard variables."""
    for var in _PROTOCOL_VARS:
        value = os.environ.get(var)
        if value:
            return value.strip().lower()
    return "http/protobuf"


def collector_exporter() -> SpanExporter:
    """An OTLP exporter configured entirely by the standard `OTEL_EXPORTER_OTLP_*` variables."""
    if otlp_protocol() == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    return HttpExporter()


def opik_otlp_endpoint(settings: Settings) -> tuple[str, dict[str, str]]:
    """Opik's OTLP/HTTP traces endpoint and headers, derived from the `OPIK_*` settings."""
    endpoint = f"{settings.opik_url}v1/private/otel/v1/traces"
    headers = {"projectName": settings.project_name}
    if settings.api_key is not None:
        headers["Authorization"] = settings.api_key.get_secret_value()
    if settings.opik_workspace:
        headers["Comet-Workspace"] = settings.opik_workspace
    return endpoint, headers


def opik_otlp_exporter(settings: Settings) -> SpanExporter:
    """An OTLP/HTTP exporter to Opik's own OTLP ingestion (Opik does not accept gRPC)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    endpoint, headers = opik_otlp_endpoint(settings)
    return HttpExporter(endpoint=endpoint, headers=headers)
