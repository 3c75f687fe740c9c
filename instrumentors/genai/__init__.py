"""Google GenAI instrumentation (`from google import genai`): `GenAIInstrumentor` (every client)
and `track_genai` (one client)."""

from opik_otel.instrumentors.genai.instrumentor import GenAIInstrumentor, track_genai

__all__ = ["GenAIInstrumentor", "track_genai"]
