"""CrewAI: `CrewAIInstrumentor` (every crew and flow, zero code), `OpikCrew` (one crew) and
`track_crewai` (every crew, Opik-SDK style)."""

from opik_otel.instrumentors.crewai.instrumentor import CrewAIInstrumentor
from opik_otel.instrumentors.crewai.tracer import OpikCrew, track_crewai

__all__ = ["CrewAIInstrumentor", "OpikCrew", "track_crewai"]
