"""Google ADK (Agent Development Kit): `ADKInstrumentor` (every runner, zero code) and
`track_adk` (the seed API: every runner from now on, into a project)."""

from opik_otel.instrumentors.adk.instrumentor import ADKInstrumentor, track_adk

__all__ = ["ADKInstrumentor", "track_adk"]
