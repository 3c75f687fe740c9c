"""LlamaIndex: `LlamaIndexInstrumentor` (every span, zero code) and `OpikCallbackHandler` (the components it is added to)."""

from __future__ import annotations

from typing import Any

from opik_otel.instrumentors.llama_index.instrumentor import LlamaIndexInstrumentor

__all__ = ["LlamaIndexInstrumentor", "OpikCallbackHandler"]


def __getattr__(name: str) -> Any:  # OpikCallbackHandler is a LlamaIndex handler: import llama-index only when asked
    if name == "OpikCallbackHandler":
        from opik_otel.instrumentors.llama_index.tracer import OpikCallbackHandler

        return OpikCallbackHandler
    raise AttributeError(name)
