"""What the framework instrumentors (LangChain, LlamaIndex, Haystack, DSPy, CrewAI, ADK) share:
their base class, activation when the app imports the framework, and the options of their
Opik-SDK-style handlers."""

from __future__ import annotations

import sys
from typing import Any, Callable, Collection, Mapping, Sequence

import wrapt
from opentelemetry import trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

from opik_otel import semconv as sc
from opik_otel._content import ContentPolicy, content_policy_for
from opik_otel.instrumentors._callbacks import Attributes, RunSpans
from opik_otel.instrumentors._read import number
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


class FrameworkInstrumentor(BaseInstrumentor):
    """Base of the framework instrumentors: subclasses set `instruments`, `scope_name` and
    `activation` (the framework's module), and say what `activate` and `deactivate` do.

    `instrument(tracer_provider=None, capture_content=None)` makes the run map and resolves the
    content switch at once, and activates when the app imports the framework (now, if it has);
    `uninstrument()` drops an activation still waiting, then deactivates.
    """

    instruments: tuple[str, ...] = ()
    scope_name: str = "opik_otel.instrumentors"
    activation: ImportActivation

    def instrumentation_dependencies(self) -> Collection[str]:
        return self.instruments

    def _instrument(self, **kwargs: Any) -> None:
        from opik_otel import __version__

        runs = RunSpans(trace.get_tracer(self.scope_name, __version__, kwargs.get("tracer_provider")))
        content = content_policy_for(kwargs.get("capture_content"))
        self.activation.schedule(lambda: self.activate(runs, content))

    def _uninstrument(self, **kwargs: Any) -> None:
        self.activation.cancel()
        self.deactivate()

    def activate(self, runs: RunSpans, content: ContentPolicy) -> None:  # pragma: no cover - interface
        """The framework is imported: start tracing its runs into `runs`."""
        raise NotImplementedError

    def deactivate(self) -> None:  # pragma: no cover - interface
        """Stop tracing (the framework may not be imported)."""
        raise NotImplementedError


class GlobalTracer:
    """The global TracerProvider's tracer, looked up per span: a seed handler working without its
    instrumentor follows the provider the app sets, even after the handler was made."""

    def __init__(self, scope_name: str) -> None:
        self.scope_name = scope_name

    def start_span(self, *args: Any, **kwargs: Any) -> Any:
        from opik_otel import __version__

        return trace.get_tracer(self.scope_name, __version__).start_span(*args, **kwargs)


def inference_span_name(operation: str, model: str | None) -> str:
    """The conventions' inference span name: `{operation} {model}`, the operation alone without a model."""
    return f"{operation} {model}" if model else operation


def request_numbers(read: Callable[[str], Any], table: Sequence[tuple[str, str]], attributes: Attributes) -> Attributes:
    """Each `(key, attribute)` of `table` whose `read(key)` is a real number (`_read.number`), into
    `attributes` (a later key of the same attribute wins); returns `attributes`."""
    for key, attribute in table:
        value = number(read(key))
        if value is not None:
            attributes[attribute] = value
    return attributes


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
