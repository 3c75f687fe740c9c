"""LangChain and LangGraph: `LangChainInstrumentor` (every run, zero code) and `OpikTracer` (one invocation)."""

from __future__ import annotations

from typing import Any

from opik_otel.instrumentors.langchain.instrumentor import LangChainInstrumentor

__all__ = ["LangChainInstrumentor", "OpikTracer"]


def __getattr__(name: str) -> Any:  # OpikTracer is a LangChain handler: import langchain-core only when asked
    if name == "OpikTracer":
        from opik_otel.instrumentors.langchain.tracer import OpikTracer

        return OpikTracer
    raise AttributeError(name)
