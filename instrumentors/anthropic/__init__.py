"""Anthropic instrumentation: `AnthropicInstrumentor` (every client) and `track_anthropic` (one client)."""

from opik_otel.instrumentors.anthropic.instrumentor import AnthropicInstrumentor, track_anthropic

__all__ = ["AnthropicInstrumentor", "track_anthropic"]
