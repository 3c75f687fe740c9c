"""`CrewAIInstrumentor`: every CrewAI crew, task, agent, tool, LLM call and flow traced, with no code in the app.

The hook is CrewAI's event bus (`crewai.events` in crewai >= 1.0, `crewai.utilities.events`
before). Its registered handlers cannot carry context: crewai >= 1.x runs them on a thread pool,
in no particular order, after the step went on. So we read each event where it is emitted:
`CrewAIEventsBus.emit` is wrapped, and after the bus has stamped the event (its id, its parent's
id) and dispatched it to its own handlers, `CrewAIEvents.handle` reads it in the emitting thread.
A run's span is then current while the run works, so the openai / LiteLLM call an agent makes
claims its LLM call and nests under the agent, and tasks run in threads (`async_execution`) keep
their parents. `uninstrument()` puts the bus's `emit` back (unless `track_crewai` still needs it).

CrewAI's own telemetry (anonymous usage spans to telemetry.crewai.com, on a TracerProvider of its
own) is left on, and out of the app's traces: crewai >= 1.0 keeps it so; before 1.0 it took the
global TracerProvider and the global tracer, so while instrumented its module is pointed at its own
provider (`_OwnProviderTrace`). `CREWAI_DISABLE_TELEMETRY=true` is the app's opt-out.
"""

from __future__ import annotations

import contextvars
import sys
from typing import Any

import wrapt
from opentelemetry import trace

from opik_otel._content import ContentPolicy, content_policy
from opik_otel.instrumentors._callbacks import Attributes, RunSpans
from opik_otel.instrumentors._framework import FrameworkInstrumentor, GlobalTracer, ImportActivation
from opik_otel.instrumentors.crewai.package import _instruments

_SCOPE = "opik_otel.instrumentors.crewai"
_MODULE = "crewai"
#: Where the event bus lives: crewai >= 1.0, then the older versions.
_BUS_MODULES = ("crewai.events.event_bus", "crewai.utilities.events.crewai_event_bus")

#: The attributes of the `OpikCrew` whose kickoff is running in this context (its runs are traced
#: even without the instrumentor).
SEED_ATTRIBUTES: contextvars.ContextVar[Attributes | None] = contextvars.ContextVar("opik_crewai_seed", default=None)


class _Hook:
    """The wrapped `emit` (one, shared), the reader behind it, and who wants runs traced."""

    def __init__(self) -> None:
        self.bus_class: Any = None
        self.original_emit: Any = None
        self.events: Any = None  # CrewAIEvents
        self.instrumented = False
        self.tracked: Attributes | None = None  # track_crewai's attributes: every crew traced


_HOOK = _Hook()
_ON_IMPORT = ImportActivation(_MODULE)


def _emit_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, Any]:
    source = args[0] if args else kwargs.get("source")
    event = args[1] if len(args) > 1 else kwargs.get("event")
    return source, event


def _traced_emit(wrapped: Any, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """`CrewAIEventsBus.emit`: the bus's own dispatch, then our reading of the event, in this thread."""
    result = wrapped(*args, **kwargs)
    events = _HOOK.events
    if events is not None:
        try:
            extra = SEED_ATTRIBUTES.get()
            if extra is None:
                extra = _HOOK.tracked
            source, event = _emit_arguments(args, kwargs)
            events.handle(source, event, extra, _HOOK.instrumented or extra is not None)
        except Exception:  # pragma: no cover - handle() catches its own
            pass
    return result


def _bus_class() -> Any:
    import importlib

    for module in _BUS_MODULES:
        try:
            return importlib.import_module(module).CrewAIEventsBus
        except Exception:
            continue
    return None


def _install(runs: RunSpans, content: ContentPolicy) -> None:
    """Read events with `runs` and `content` (wrapping `emit` on first use)."""
    from opik_otel.instrumentors.crewai.callbacks import CrewAIEvents

    _HOOK.events = CrewAIEvents(runs, content)
    if _HOOK.bus_class is not None:
        return
    _isolate_crewai_telemetry()
    bus = _bus_class()
    if bus is None:
        return
    _HOOK.original_emit = bus.__dict__["emit"]
    wrapt.wrap_function_wrapper(bus, "emit", _traced_emit)
    _HOOK.bus_class = bus


def _remove() -> None:
    bus, _HOOK.bus_class = _HOOK.bus_class, None
    _HOOK.events = None
    _restore_crewai_telemetry()
    if bus is not None:
        bus.emit = _HOOK.original_emit
    _HOOK.original_emit = None


def ensure_hook() -> None:
    """Make sure events are read (the seed API without the instrumentor: on the global provider)."""
    if _HOOK.events is None:
        _install(RunSpans(GlobalTracer(_SCOPE)), content_policy)  # type: ignore[arg-type]


def active_runs() -> RunSpans | None:
    """The run map behind the hook (None before anything asked for CrewAI tracing)."""
    return _HOOK.events.runs if _HOOK.events is not None else None


def track_every_crew(attributes: Attributes) -> None:
    """`track_crewai`: trace every crew from now on, with `attributes` on its spans."""
    _HOOK.tracked = attributes
    ensure_hook()


_TELEMETRY_MODULE = "crewai.telemetry.telemetry"


class _OwnProviderTrace:
    """Stands for `opentelemetry.trace` in crewai < 1.0's telemetry module: its spans are made on its
    own TracerProvider (the one exporting to CrewAI), and it no longer takes the global one, so its
    "Crew Created" / "Task Created" … spans never land in the app's traces (what crewai >= 1.0 does itself)."""

    def __init__(self, telemetry_class: Any) -> None:
        self._telemetry_class = telemetry_class

    def get_tracer(self, name: str, *args: Any, **kwargs: Any) -> Any:
        provider = getattr(self._telemetry_class._instance, "provider", None)
        if provider is None:
            return trace.NoOpTracer()
        return provider.get_tracer(name, *args, **kwargs)

    def set_tracer_provider(self, provider: Any) -> None:
        """Not the global provider: crewai's telemetry keeps its own."""

    def __getattr__(self, name: str) -> Any:
        return getattr(trace, name)


def _isolate_crewai_telemetry() -> None:
    """crewai < 1.0's telemetry sets its TracerProvider as the global one and makes its spans with the
    global tracer: on its own provider instead (it still reports to CrewAI unless the app opts out)."""
    try:
        import crewai

        if int(str(crewai.__version__).split(".")[0]) >= 1:
            return
        import importlib

        module = importlib.import_module(_TELEMETRY_MODULE)
        if module.__dict__.get("trace") is trace:
            module.trace = _OwnProviderTrace(module.Telemetry)
    except Exception:
        pass


def _restore_crewai_telemetry() -> None:
    module = sys.modules.get(_TELEMETRY_MODULE)
    if module is not None and isinstance(module.__dict__.get("trace"), _OwnProviderTrace):
        module.trace = trace


class CrewAIInstrumentor(FrameworkInstrumentor):
    """Traces every CrewAI crew kickoff, task, agent, tool use, LLM call and flow.

    `CrewAIInstrumentor().instrument(tracer_provider=None, capture_content=None)`.
    """

    instruments = _instruments
    scope_name = _SCOPE
    activation = _ON_IMPORT

    def activate(self, runs: RunSpans, content: ContentPolicy) -> None:
        _install(runs, content)
        _HOOK.instrumented = True

    def deactivate(self) -> None:
        _HOOK.instrumented = False
        if _MODULE not in sys.modules or _HOOK.events is None:
            return
        if _HOOK.tracked is not None:  # track_crewai still traces every crew, on the global provider
            _install(RunSpans(GlobalTracer(_SCOPE)), content_policy)  # type: ignore[arg-type]
        else:
            _remove()
