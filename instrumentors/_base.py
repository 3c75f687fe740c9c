"""What every provider instrumentor shares: a list of patches, applied class-wide or to one client.

A provider instrumentor only lists its `Patch`es; `GenAiInstrumentor` applies them with the
engine's wrappers, tolerating methods a given library version lacks (that one patch is
skipped with a debug log), and `track_client` applies the same patches to a single client
object for the Opik-SDK-style `track_<provider>(client)` helpers.
"""

from __future__ import annotations

import importlib
import logging
import sys
from dataclasses import dataclass
from functools import partial
from typing import Any, Collection

import wrapt
from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor
from opentelemetry.instrumentation.utils import unwrap

from opik_otel._content import ContentPolicy, content_policy, content_policy_for
from opik_otel.instrumentors._engine import Operation, async_wrapper, sync_wrapper
from opik_otel.semconv import OPIK_PROJECT_NAME

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Patch:
    """One library method to trace: where it lives on the class and on a client object."""

    module: str  # e.g. "openai.resources.chat.completions"
    method: str  # "Class.method" inside that module
    client_path: str  # attribute path from a client object, e.g. "chat.completions.create"
    operation: Operation
    is_async: bool = False

    def wrapper(self, tracer: trace.Tracer, content: ContentPolicy, extra: dict[str, Any] | None = None) -> Any:
        build = async_wrapper if self.is_async else sync_wrapper
        return build(self.operation, tracer, content, extra)


class GenAiInstrumentor(BaseInstrumentor):
    """Base of every provider instrumentor: subclasses set `instruments` and `patches()`."""

    instruments: tuple[str, ...] = ()
    scope_name: str = "opik_otel.instrumentors"
    content: ContentPolicy = content_policy  # set by `instrument()`: read `content.enabled` on each call
    _applied: list[Patch]

    def patches(self) -> list[Patch]:  # pragma: no cover - interface
        raise NotImplementedError

    def instrumentation_dependencies(self) -> Collection[str]:
        return self.instruments

    def _instrument(self, **kwargs: Any) -> None:
        from opik_otel import __version__

        tracer = trace.get_tracer(self.scope_name, __version__, kwargs.get("tracer_provider"))
        # explicit capture_content= for this instrumentor; else the process-wide switch, read per call
        self.content = content = content_policy_for(kwargs.get("capture_content"))
        self._applied = []
        self._generation = generation = getattr(self, "_generation", 0) + 1
        for patch in self.patches():
            wrapper = patch.wrapper(tracer, content)
            if patch.module in sys.modules:
                self._apply(patch, wrapper)
            else:  # patch when the app imports the library: start-up never pays for importing it
                wrapt.register_post_import_hook(partial(self._apply_on_import, patch, wrapper, generation), patch.module)

    def _apply_on_import(self, patch: Patch, wrapper: Any, generation: int, module: Any) -> None:
        if generation == self._generation:  # not uninstrumented (or re-instrumented) since
            self._apply(patch, wrapper, module)

    def _apply(self, patch: Patch, wrapper: Any, module: Any = None) -> None:
        try:
            wrapt.wrap_function_wrapper(module or patch.module, patch.method, wrapper)
        except (ImportError, AttributeError):
            logger.debug("opik-otel: %s.%s not found; that call is not traced", patch.module, patch.method)
            return
        self._applied.append(patch)

    def _uninstrument(self, **kwargs: Any) -> None:
        for patch in getattr(self, "_applied", []):
            owner_name, _, method = patch.method.rpartition(".")
            owner = importlib.import_module(patch.module)
            for part in owner_name.split(".") if owner_name else ():
                owner = getattr(owner, part)
            unwrap(owner, method)
        self._applied = []
        self._generation = getattr(self, "_generation", 0) + 1



def track_client(client: Any, patches: list[Patch], scope_name: str, project_name: str | None = None) -> Any:
    """Trace the calls of this one client object only; returns the same client."""
    from opik_otel import __version__
    from opik_otel._configure import ensure_configured

    ensure_configured()
    if getattr(client, "_opik_otel_tracked", False):
        return client
    tracer = trace.get_tracer(scope_name, __version__)
    extra = {OPIK_PROJECT_NAME: project_name} if project_name else None
    content = content_policy
    for patch in patches:
        owner_path, _, method = patch.client_path.rpartition(".")
        try:
            owner = client
            for part in owner_path.split("."):
                owner = getattr(owner, part)
            class_name = patch.method.rpartition(".")[0].rpartition(".")[2]
            if type(owner).__name__ != class_name:
                continue  # a sync patch on an async client, or the other way round
            bound = getattr(owner, method)
        except AttributeError:
            continue
        setattr(owner, method, wrapt.FunctionWrapper(bound, patch.wrapper(tracer, content, extra)))
    _track_copies(client, patches, scope_name, project_name)
    try:
        client._opik_otel_tracked = True
    except AttributeError:  # pragma: no cover - slotted client
        pass
    return client


def _track_copies(client: Any, patches: list[Patch], scope_name: str, project_name: str | None) -> None:
    """`client.with_options(...)` / `client.copy(...)` return new clients: track those too."""
    for name in ("copy", "with_options"):
        method = getattr(client, name, None)
        if not callable(method):
            continue

        def tracked_copy(wrapped: Any, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
            copied = wrapped(*args, **kwargs)
            try:
                return track_client(copied, patches, scope_name, project_name)
            except Exception:  # pragma: no cover - never break the app
                logger.debug("opik-otel: could not track a copied client", exc_info=True)
                return copied

        try:
            setattr(client, name, wrapt.FunctionWrapper(method, tracked_copy))
        except AttributeError:  # pragma: no cover - slotted client
            pass
