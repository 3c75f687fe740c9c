"""`LlamaIndexInstrumentor`: every LlamaIndex span traced, with no code in the app.

LlamaIndex reports its work to the root dispatcher of its instrumentation module
(`llama_index.core.instrumentation.get_dispatcher()`). `instrument()` adds one span handler and
one event handler there (when the app imports llama_index.core), `uninstrument()` removes them.
They share one `LlamaIndexRuns` with every `OpikCallbackHandler`: each span is traced once.
`VectorStoreIndex.from_documents` (and every index's) is not a dispatcher span: it gets one, so an
ingestion is one span tree.
"""

from __future__ import annotations

import sys
from typing import Any

import wrapt

from opik_otel._content import ContentPolicy, content_policy
from opik_otel.instrumentors._callbacks import RunSpans
from opik_otel.instrumentors._framework import FrameworkInstrumentor, GlobalTracer, ImportActivation
from opik_otel.instrumentors.llama_index.package import _instruments

_SCOPE = "opik_otel.instrumentors.llama_index"
_MODULE = "llama_index.core"


class _Active:
    """The handlers on the root dispatcher (one pair, shared), and whether the instrumentor is on."""

    def __init__(self) -> None:
        self.runs: Any = None  # LlamaIndexRuns
        self.handlers: tuple[Any, Any] | None = None
        self.from_documents: Any = None


_ACTIVE = _Active()
_ON_IMPORT = ImportActivation(_MODULE)


def _root_dispatcher() -> Any:
    from llama_index.core.instrumentation import get_dispatcher

    return get_dispatcher()


def _add_handlers(runs: Any) -> None:
    from opik_otel.instrumentors.llama_index.callbacks import OpikEventHandler, OpikSpanHandler

    dispatcher = _root_dispatcher()
    handlers = (OpikSpanHandler(runs), OpikEventHandler(runs))
    dispatcher.add_span_handler(handlers[0])
    dispatcher.add_event_handler(handlers[1])
    _ACTIVE.handlers = handlers


def _remove_handlers() -> None:
    handlers, _ACTIVE.handlers = _ACTIVE.handlers, None
    if handlers is None:
        return
    dispatcher = _root_dispatcher()
    dispatcher.span_handlers = [h for h in dispatcher.span_handlers if h is not handlers[0]]
    dispatcher.event_handlers = [h for h in dispatcher.event_handlers if h is not handlers[1]]


def _install(runs: Any) -> Any:
    """Make `runs` the one behind the dispatcher handlers (adding the handlers on first use)."""
    _ACTIVE.runs = runs
    if _ACTIVE.handlers is not None:
        for handler in _ACTIVE.handlers:
            object.__setattr__(handler, "_opik_runs", runs)
    else:
        _add_handlers(runs)
    return runs


def _callback_handler_runs() -> Any:
    from opik_otel.instrumentors.llama_index.callbacks import LlamaIndexRuns

    return LlamaIndexRuns(RunSpans(GlobalTracer(_SCOPE)), content_policy, trace_all=False)  # type: ignore[arg-type]


def ensure_handlers() -> Any:
    """The shared `LlamaIndexRuns`: the instrumentor's, else (made on first use, handlers added) one
    tracing only the components that hold an `OpikCallbackHandler`, on the global TracerProvider."""
    runs = _ACTIVE.runs
    return runs if runs is not None else _install(_callback_handler_runs())


def active_runs() -> Any:
    """The shared `LlamaIndexRuns` (None before any handler was added)."""
    return _ACTIVE.runs


def _traced_from_documents(wrapped: Any, cls: Any, args: Any, kwargs: Any) -> Any:
    """`Index.from_documents(...)` as one run, so the node parsing and embeddings under it are one tree."""
    runs = _ACTIVE.runs
    if runs is None:
        return wrapped(*args, **kwargs)
    import uuid

    from llama_index.core.instrumentation.span import active_span_id

    name = f"{getattr(cls, '__name__', 'Index')}.from_documents"
    span_id = f"{name}-{uuid.uuid4()}"
    token = active_span_id.set(span_id)
    parent_id = token.old_value if isinstance(token.old_value, str) else None
    bound = _Bound({"documents": args[0] if args else kwargs.get("documents")})
    runs.enter(span_id, bound, _IngestionMarker(cls, kwargs), parent_id)
    try:
        result = wrapped(*args, **kwargs)
    except BaseException as error:
        runs.drop(span_id, error)
        raise
    finally:
        active_span_id.reset(token)
    runs.exit(span_id, None)
    return result


class _Bound:
    __slots__ = ("arguments",)

    def __init__(self, arguments: dict[str, Any]) -> None:
        self.arguments = arguments


class _IngestionMarker:
    """Stands for the index class in a `from_documents` run (traced like an ingestion pipeline run):
    the callback manager passed in, or the global one, tells whether an `OpikCallbackHandler` wants it."""

    def __init__(self, cls: Any, kwargs: dict[str, Any]) -> None:
        self.opik_class_name = getattr(cls, "__name__", "Index")
        manager = kwargs.get("callback_manager")
        if manager is None:
            try:
                from llama_index.core import Settings

                manager = Settings.callback_manager
            except Exception:
                manager = None
        self.callback_manager = manager


def _patch_from_documents() -> None:
    if _ACTIVE.from_documents is not None:
        return
    from llama_index.core.indices.base import BaseIndex

    original = BaseIndex.__dict__["from_documents"]
    wrapt.wrap_function_wrapper(BaseIndex, "from_documents", _traced_from_documents)
    _ACTIVE.from_documents = original


def _unpatch_from_documents() -> None:
    original, _ACTIVE.from_documents = _ACTIVE.from_documents, None
    if original is not None:
        from llama_index.core.indices.base import BaseIndex

        BaseIndex.from_documents = original


class LlamaIndexInstrumentor(FrameworkInstrumentor):
    """Traces every LlamaIndex span: query and chat engines, retrievers, synthesizers, LLMs,
    embeddings, tools, agents, workflows and ingestion.

    `LlamaIndexInstrumentor().instrument(tracer_provider=None, capture_content=None)`.
    """

    instruments = _instruments
    scope_name = _SCOPE
    activation = _ON_IMPORT

    def activate(self, runs: RunSpans, content: ContentPolicy) -> None:
        from opik_otel.instrumentors.llama_index.callbacks import LlamaIndexRuns

        _install(LlamaIndexRuns(runs, content, trace_all=True))
        _patch_from_documents()

    def deactivate(self) -> None:
        if _MODULE not in sys.modules:
            return
        _unpatch_from_documents()
        if _ACTIVE.runs is None:
            return
        from opik_otel.instrumentors.llama_index.tracer import seeds_made

        if seeds_made():  # OpikCallbackHandlers still trace the components that hold them
            _install(_callback_handler_runs())
        else:
            _remove_handlers()
            _ACTIVE.runs = None
