"""AISuite instrumentation: `AISuiteInstrumentor` (every client) and `track_aisuite` (one client)."""

from opik_otel.instrumentors.aisuite.instrumentor import AISuiteInstrumentor, track_aisuite

__all__ = ["AISuiteInstrumentor", "track_aisuite"]
