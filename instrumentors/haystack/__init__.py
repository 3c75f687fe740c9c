"""Haystack: `HaystackInstrumentor` (every pipeline, zero code) and `OpikConnector` (one pipeline)."""

from __future__ import annotations

from typing import Any

from opik_otel.instrumentors.haystack.instrumentor import HaystackInstrumentor

__all__ = ["HaystackInstrumentor", "OpikConnector"]


def __getattr__(name: str) -> Any:  # OpikConnector is a Haystack component: import haystack only when asked
    if name == "OpikConnector":
        from opik_otel.instrumentors.haystack.connector import OpikConnector

        return OpikConnector
    raise AttributeError(name)
