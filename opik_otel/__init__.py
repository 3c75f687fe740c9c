"""opik-otel: OpenTelemetry-native LLM observability for Opik.

    import opik_otel
    opik_otel.configure()                      # Opik, OTLP or the local store, from the environment
    opik_otel.OpikInstrumentor().instrument()  # every supported library that is installed

    @opik_otel.track                           # your own functions, nesting the calls inside
    def answer(question): ...
"""

from __future__ import annotations


def _find_subpackages_in_the_source_tree() -> None:
    """Inside a clone, the repository's `opik_otel/` folder shadows an installed (non-editable)
    package, the current directory being first on sys.path; unlike the install, it has no
    semconv/, instrumentors/ or exporters/ inside it. Find them beside it, where pyproject.toml's
    package-dir maps them from (an editable install maps them itself)."""
    import importlib.util
    import os

    package_dir = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(package_dir)
    if os.path.isdir(os.path.join(package_dir, "semconv")):
        return  # the installed package: its sub-packages are inside it
    if os.path.isfile(os.path.join(root, "semconv", "__init__.py")) and importlib.util.find_spec("opik_otel.semconv") is None:
        __path__.append(root)


_find_subpackages_in_the_source_tree()

from opik_otel._version import __version__
from opik_otel._configure import configure, flush, shutdown
from opik_otel._context import OpikContextSpanProcessor, tracing_context
from opik_otel._distributed import (
    OpikPropagator,
    continue_distributed_trace,
    extract_distributed_context,
    get_distributed_trace_headers,
)
from opik_otel._pricing import ModelPrices
from opik_otel._processor import UsageCostSpanProcessor
from opik_otel._settings import ConfigurationError
from opik_otel._track import track, update_current_span, update_current_trace


def __getattr__(name: str):  # imported on first use: the exporter's HTTP client, and the instrumentor base
    if name == "OpikSpanExporter":  # class (opentelemetry-instrumentation and wrapt), which configure() never needs
        from opik_otel.exporters.opik import OpikSpanExporter

        return OpikSpanExporter
    if name == "OpikInstrumentor":
        from opik_otel._registry import OpikInstrumentor

        return OpikInstrumentor
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
