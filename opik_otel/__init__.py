"""opik-otel: OpenTelemetry-native LLM observability for Opik.

    import opik_otel
    opik_otel.configure()                      # Opik, OTLP or the local store, from the environment
    opik_otel.OpikInstrumentor().instrument()  # every supported library that is installed

    @opik_otel.track                           # your own functions, nesting the calls inside
    def answer(question): ...
"""

from __future__ import annotations

from opik_otel._version import __version__
from opik_otel._configure import configure, flush, shutdown
from opik_otel._context import OpikContextSpanProcessor, tracing_context
from opik_otel._distributed import (
    OpikPropagator,
    continue_distributed_trace,
    extract_distributed_context,
    get_distributed_trace_headers,
)
from opik_otel._instrumentor import OpikInstrumentor
from opik_otel._pricing import ModelPrices
from opik_otel._processor import UsageCostSpanProcessor
from opik_otel._settings import ConfigurationError
from opik_otel._track import track, update_current_span, update_current_trace


def __getattr__(name: str):  # the exporter pulls in the HTTP client: import it on first use
    if name == "OpikSpanExporter":
        from opik_otel.exporters.opik import OpikSpanExporter

        return OpikSpanExporter
    raise AttributeError(f"module 'opik_otel' has no attribute {name!r}")


__all__ = [
    "ConfigurationError",
    "ModelPrices",
    "OpikContextSpanProcessor",
    "OpikInstrumentor",
    "OpikPropagator",
    "OpikSpanExporter",
    "UsageCostSpanProcessor",
    "__version__",
    "configure",
    "continue_distributed_trace",
    "extract_distributed_context",
    "flush",
    "get_distributed_trace_headers",
    "shutdown",
    "track",
    "tracing_context",
    "update_current_span",
    "update_current_trace",
]
