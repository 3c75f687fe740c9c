"""`AISuiteInstrumentor` and `track_aisuite`: which aisuite methods are traced, and how (calls.py)."""

from __future__ import annotations

import logging
import sys
from typing import Any, Collection, TypeVar

import wrapt
from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import unwrap

from opik_otel._content import content_policy, content_policy_for
from opik_otel.instrumentors.aisuite.calls import async_create_wrapper, create_wrapper
from opik_otel.instrumentors.aisuite.package import _instruments
from opik_otel.semconv import OPIK_PROJECT_NAME

logger = logging.getLogger(__name__)

_SCOPE = "opik_otel.instrumentors.aisuite"
_MODULE = "aisuite.client"
# Completions method → its wrapper factory; `acreate` exists from aisuite 0.2.
_METHODS = (("create", create_wrapper), ("acreate", async_create_wrapper))


class AISuiteInstrumentor(BaseInstrumentor):
    """Traces aisuite: `client.chat.completions.create(model="provider:model", …)` (and `acreate`).

    Each model round trip is one inference span: the provider SDK's span when its instrumentor
    is on (openai, anthropic …), else one made from AISuite's response. A tool loop
    (`tools=[functions]`, `max_turns`) is an `invoke_agent {model}` span with an `execute_tool`
    span per function run. `instrument(tracer_provider=None, capture_content=None)`.
    """

    def instrumentation_dependencies(self) -> Collection[str]:
        return _instruments

    def _instrument(self, **kwargs: Any) -> None:
        from opik_otel import __version__

        tracer = trace.get_tracer(_SCOPE, __version__, kwargs.get("tracer_provider"))
        content = content_policy_for(kwargs.get("capture_content"))
        self._generation = generation = getattr(self, "_generation", 0) + 1
        self._applied: list[str] = []

        def apply(module: Any) -> None:
            if generation != self._generation:  # uninstrumented (or re-instrumented) since
                return
            for method, build in _METHODS:
                if not hasattr(getattr(module, "Completions", None), method):
                    logger.debug("opik-otel: aisuite.client.Completions.%s not found; that call is not traced", method)
                    continue
                try:
                    wrapt.wrap_function_wrapper(module, f"Completions.{method}", build(tracer, content))
                except Exception:  # pragma: no cover - never break the app's import
                    logger.debug("opik-otel: could not trace aisuite's Completions.%s", method, exc_info=True)
                    continue
                self._applied.append(method)

        wrapt.register_post_import_hook(apply, _MODULE)  # runs now if aisuite is imported already

    def _uninstrument(self, **kwargs: Any) -> None:
        """Unwraps `create` / `acreate`; the provider and tool hooks stay, passive outside a traced call."""
        self._generation = getattr(self, "_generation", 0) + 1
        module = sys.modules.get(_MODULE)
        for method in getattr(self, "_applied", []):
            if module is not None:
                unwrap(module.Completions, method)
        self._applied = []


Client = TypeVar("Client")


def track_aisuite(client: Client, project_name: str | None = None) -> Client:
    """Trace every chat completion of this one `aisuite.Client`; returns it.

    Spans carry `project_name` to the Opik exporter. Other clients are not affected.
    """
    from opik_otel import __version__
    from opik_otel._configure import ensure_configured

    ensure_configured()
    if getattr(client, "_opik_otel_tracked", False):
        return client
    tracer = trace.get_tracer(_SCOPE, __version__)
    extra = {OPIK_PROJECT_NAME: project_name} if project_name else None
    completions = client.chat.completions  # type: ignore[attr-defined]
    for method, build in _METHODS:
        bound = getattr(completions, method, None)
        if bound is not None:
            setattr(completions, method, wrapt.FunctionWrapper(bound, build(tracer, content_policy, extra)))
    client._opik_otel_tracked = True  # type: ignore[attr-defined]
    return client


__all__ = ["AISuiteInstrumentor", "track_aisuite"]
