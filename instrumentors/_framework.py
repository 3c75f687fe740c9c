"""What the framework instrumentors (LangChain, LlamaIndex, Haystack) share: activation when
the app imports the framework, and the options of their Opik-SDK-style handlers."""

from __future__ import annotations

import sys
from typing import Any, Callable, Mapping, Sequence

import wrapt

from opik_otel import semconv as sc
from opik_otel.instrumentors._callbacks import Attributes
from opik_otel.semconv import messages as msg


class ImportActivation:
    """Runs an instrumentor's `activate()` once the app imports `module` (at once if it already
    has); `cancel()` (from `uninstrument()`) drops an activation still waiting for the import."""

    def __init__(self, module: str) -> None:
        self.module = module
        self._generation = 0

    def schedule(self, activate: Callable[[], None]) -> None:
        """`activate()` now if `module` is imported, else when it is (unless cancelled before)."""
        self._generation = generation = self._generation + 1

        def on_import(module: Any = None) -> None:
            if generation == self._generation:  # not uninstrumented (or instrumented again) since
                activate()

        if self.module in sys.modules:
            on_import()
        else:
            wrapt.register_post_import_hook(on_import, self.module)

    def cancel(self) -> None:
        """Forget the activation scheduled last (if it has not run yet)."""
        self._generation += 1


def scalar(value: Any) -> Any:
    """An attribute value: str, bool, int, float as they are; anything else as JSON."""
    if isinstance(value, (str, bool, int, float)):
        return value
    return msg.to_json(value)


def handler_attributes(
    project_name: str | None,
    tags: Sequence[str] | None,
    metadata: Mapping[str, Any] | None,
    thread_id: str | None,
) -> Attributes:
    """Set up opik-otel if the app has not, and return the attributes an Opik-SDK-style handler
    puts on every span: its project, tags, metadata and thread."""
    from opik_otel._configure import ensure_configured

    ensure_configured()
    extra: Attributes = {}
    if project_name:
        extra[sc.OPIK_PROJECT_NAME] = project_name
    if tags:
        extra[sc.OPIK_TAGS] = [str(tag) for tag in tags]
    for key, value in (metadata or {}).items():
        extra[sc.OPIK_METADATA_PREFIX + str(key)] = scalar(value)
    if thread_id is not None:
        extra[sc.GEN_AI_CONVERSATION_ID] = str(thread_id)
    return extra
