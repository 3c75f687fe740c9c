"""`LangChainInstrumentor`: every LangChain and LangGraph run traced, with no callback passed.

LangChain builds a callback manager for every run and asks its registered configure hooks
for handlers to add (`langchain_core.tracers.context.register_configure_hook`). We register
one hook, once, whose "variable" answers our handler while instrumented and None after
`uninstrument()`. A manager that already holds one of our handlers (an `OpikTracer` passed in
`config={"callbacks": [...]}`, or ours inherited from the parent run) gets no second one.
langchain-core is imported only when the app imports it.
"""

from __future__ import annotations

from typing import Any

from opik_otel._content import ContentPolicy
from opik_otel.instrumentors._callbacks import RunSpans
from opik_otel.instrumentors._framework import FrameworkInstrumentor, ImportActivation
from opik_otel.instrumentors.langchain.package import _instruments

_SCOPE = "opik_otel.instrumentors.langchain"
_HOOKS_MODULE = "langchain_core.tracers.context"


class _ActiveHandler:
    """Stands in for the ContextVar a LangChain configure hook reads: `get()` is our handler while instrumented."""

    def __init__(self) -> None:
        self.handler: Any = None
        self.runs: RunSpans | None = None
        self.registered = False

    def get(self) -> Any:
        return self.handler


_ACTIVE = _ActiveHandler()
_ON_IMPORT = ImportActivation(_HOOKS_MODULE)


def active_runs() -> RunSpans | None:
    """The instrumentor's run map while LangChain is instrumented (an `OpikTracer` shares it), else None."""
    return _ACTIVE.runs if _ACTIVE.handler is not None else None


class LangChainInstrumentor(FrameworkInstrumentor):
    """Traces every LangChain / LangGraph run: chains, graphs, agents, models, tools, retrievers.

    `LangChainInstrumentor().instrument(tracer_provider=None, capture_content=None)`.
    """

    instruments = _instruments
    scope_name = _SCOPE
    activation = _ON_IMPORT

    def activate(self, runs: RunSpans, content: ContentPolicy) -> None:
        from langchain_core.tracers.context import register_configure_hook

        from opik_otel.instrumentors.langchain.callbacks import OpikCallbackHandler

        _ACTIVE.runs = runs
        _ACTIVE.handler = OpikCallbackHandler(runs, content)
        if not _ACTIVE.registered:
            register_configure_hook(_ACTIVE, True, OpikCallbackHandler)  # type: ignore[arg-type]
            _ACTIVE.registered = True

    def deactivate(self) -> None:
        _ACTIVE.handler = None
        _ACTIVE.runs = None
