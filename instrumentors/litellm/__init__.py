"""LiteLLM instrumentation: `LiteLLMInstrumentor` (every call) and `track_litellm` (the seed API)."""

from opik_otel.instrumentors.litellm.instrumentor import LiteLLMInstrumentor, track_litellm

__all__ = ["LiteLLMInstrumentor", "track_litellm"]
