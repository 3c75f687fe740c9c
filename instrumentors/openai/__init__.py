"""OpenAI instrumentation: `OpenAIInstrumentor` (every client) and `track_openai` (one client)."""

from opik_otel.instrumentors.openai.instrumentor import OpenAIInstrumentor, track_openai

__all__ = ["OpenAIInstrumentor", "track_openai"]
