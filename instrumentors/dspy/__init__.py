"""DSPy: `DSPyInstrumentor` (every call, zero code) and `track_dspy` (the seed API: a DSPy callback
routing the traces to a project)."""

from __future__ import annotations

from typing import Any

from opik_otel.instrumentors.dspy.instrumentor import DSPyInstrumentor, track_dspy, untrack_dspy

__all__ = ["DSPyInstrumentor", "OpikDSPyCallback", "track_dspy", "untrack_dspy"]


def __getattr__(name: str) -> Any:  # OpikDSPyCallback is a DSPy callback: import dspy only when asked
    if name == "OpikDSPyCallback":
        from opik_otel.instrumentors.dspy.callbacks import OpikDSPyCallback

        return OpikDSPyCallback
    raise AttributeError(name)
