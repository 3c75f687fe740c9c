"""`LiteLLMInstrumentor` and `track_litellm`: which LiteLLM functions are traced, and how.

LiteLLM is a gateway: its span is the inference span. The provider SDK it calls underneath
(the openai SDK for `openai/…` models) runs inside it, so our openai instrumentor adds no second
span there (the engine skips an instrumented call made inside another); `anthropic/…` goes
over plain httpx. One billed call, one priced span, with or without the provider instrumentors.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import wrapt
from opentelemetry import trace

from opik_otel import semconv as sc
from opik_otel.instrumentors._base import GenAiInstrumentor, Patch
from opik_otel.instrumentors.litellm.operations import Completion, Embedding, ResponsesCall, TextCompletion
from opik_otel.instrumentors.litellm.package import _instruments

logger = logging.getLogger(__name__)

_SCOPE = "opik_otel.instrumentors.litellm"
_MODULE = "litellm"


def _patches() -> list[Patch]:
    completion, embedding, text_completion, responses = Completion(), Embedding(), TextCompletion(), ResponsesCall()
    return [
        Patch(_MODULE, "completion", "completion", completion),
        Patch(_MODULE, "acompletion", "acompletion", completion, True),
        Patch(_MODULE, "embedding", "embedding", embedding),
        Patch(_MODULE, "aembedding", "aembedding", embedding, True),
        Patch(_MODULE, "text_completion", "text_completion", text_completion),
        Patch(_MODULE, "atext_completion", "atext_completion", text_completion, True),
        Patch(_MODULE, "responses", "responses", responses),
        Patch(_MODULE, "aresponses", "aresponses", responses, True),
    ]


class LiteLLMInstrumentor(GenAiInstrumentor):
    """Traces LiteLLM: `completion` / `acompletion` (plain and streamed), `embedding` / `aembedding`,
    `text_completion` / `atext_completion` and `responses` / `aresponses` (and so `litellm.Router`'s
    calls, which go through them).

    `LiteLLMInstrumentor().instrument(tracer_provider=None, capture_content=None)`;
    `capture_content` overrides `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT`.
    """

    instruments = _instruments
    scope_name = _SCOPE

    def patches(self) -> list[Patch]:
        return _patches()

    def _instrument(self, **kwargs: Any) -> None:
        super()._instrument(**kwargs)
        self._rebound = _rebind_imported_names(self._applied)

    def _uninstrument(self, **kwargs: Any) -> None:
        for namespace, name, original, traced in getattr(self, "_rebound", ()):
            if namespace.get(name) is traced:
                namespace[name] = original
        self._rebound = []
        super()._uninstrument(**kwargs)


def _rebind_imported_names(applied: list[Patch]) -> list[tuple[dict[str, Any], str, Any, Any]]:
    """Point the names modules bound before we patched (`from litellm import completion` at the top
    of the app) at the traced functions: a module global is looked up on every call. Returns
    (namespace, name, original, traced) for each, to restore. Patches applied on import need none:
    litellm is patched before anyone can import a name from it."""
    module = sys.modules.get(_MODULE)
    traced_of: dict[int, tuple[Any, Any]] = {}
    for patch in applied:
        traced = getattr(module, patch.method, None)
        original = getattr(traced, "__wrapped__", None)
        if isinstance(traced, wrapt.FunctionWrapper) and original is not None:
            traced_of[id(original)] = (original, traced)
    rebound: list[tuple[dict[str, Any], str, Any, Any]] = []
    if not traced_of:
        return rebound
    for loaded in list(sys.modules.values()):
        if loaded is None:
            continue
        try:
            namespace = vars(loaded)
            hits = [(name, traced_of[id(value)]) for name, value in list(namespace.items()) if id(value) in traced_of]
            for name, (original, traced) in hits:
                if namespace.get(name) is original:
                    namespace[name] = traced
                    rebound.append((namespace, name, original, traced))
        except Exception:  # an odd module object: its names stay as they are
            logger.debug("opik-otel: could not rebind names in %r", loaded, exc_info=True)
    return rebound


_tracked: list[str | None] = []  # the project name `track_litellm` traces to, once it has run


def track_litellm(project_name: str | None = None) -> None:
    """Trace every LiteLLM call from now on, its spans carrying `project_name` to the Opik exporter.

    The Opik-SDK-style seed API; once per process (a second call changes nothing). Applied when
    litellm is imported, if it is not yet.
    """
    from opik_otel import __version__
    from opik_otel._configure import ensure_configured
    from opik_otel._content import content_policy

    if _tracked:
        return
    try:
        ensure_configured()
        tracer = trace.get_tracer(_SCOPE, __version__)
        extra = {sc.OPIK_PROJECT_NAME: project_name} if project_name else None
        for patch in _patches():
            wrapper = patch.wrapper(tracer, content_policy, extra)
            if patch.module in sys.modules:
                _wrap(sys.modules[patch.module], patch.method, wrapper)
            else:
                wrapt.register_post_import_hook(lambda module, method=patch.method, wrapper=wrapper: _wrap(module, method, wrapper), patch.module)
        _tracked.append(project_name)
    except Exception:  # pragma: no cover - never break the app
        logger.debug("opik-otel: could not track litellm", exc_info=True)


def _wrap(module: Any, method: str, wrapper: Any) -> None:
    """Trace `module.method`; a function this litellm version lacks (`responses` before 1.63) is skipped."""
    try:
        wrapt.wrap_function_wrapper(module, method, wrapper)
    except (ImportError, AttributeError):
        logger.debug("opik-otel: litellm.%s not found; that call is not traced", method)
