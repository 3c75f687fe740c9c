"""`ADKInstrumentor` and `track_adk`: every Google ADK runner traced through an ADK plugin.

ADK traces itself (`invocation`, `invoke_agent …` / `agent_run […]`, `call_llm` /
`generate_content …`, `execute_tool …` under its tracer `gcp.vertex.agent`). Its model span
would be a second span for the billed call the google-genai instrumentor already traces, and
its spans carry neither usage nor cost. So while instrumented, ADK's tracer objects (the
module-level `tracer` of each `google.adk` module) are replaced by `SilentTracer`: each span
ADK starts is a non-recording span carrying its parent's span context (children still nest
under our spans; what ADK writes on it goes nowhere), and the trace is made of ours:

- `OpikAdkPlugin` (callbacks.py), put first in each runner's plugin manager when the runner
  runs, makes the agent, model (deferred: the google-genai span is the inference span) and tool
  spans from ADK's plugin callbacks (ADK >= 1.9; the same interface in 2.x). Our plugin
  returns None from every callback: the app's plugins and agent callbacks run as before.
- `Runner.run_async` (which `Runner.run` also goes through) is wrapped to close what is still
  open when the run ends: on an exception, the agents it went through fail with it (ADK has no
  agent error callback), and the exception reaches the app unchanged. `Runner.run` is wrapped
  to hand the app's context to the thread ADK 1.x runs it in (2.x copies it itself).

`uninstrument()` puts ADK's tracers and `run_async` back; a runner that already holds our
plugin keeps it, inactive.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from typing import Any

import wrapt
from opentelemetry import context as otel_context
from opentelemetry import trace

from opik_otel import semconv as sc
from opik_otel._content import ContentPolicy
from opik_otel.instrumentors._callbacks import Attributes, RunSpans
from opik_otel.instrumentors._framework import FrameworkInstrumentor, ImportActivation
from opik_otel.instrumentors.adk.package import _instruments

logger = logging.getLogger(__name__)

_SCOPE = "opik_otel.instrumentors.adk"
_RUNNERS = "google.adk.runners"
_ADK = "google.adk"


class SilentTracer(trace.Tracer):
    """Stands in for one of ADK's tracers: its spans are non-recording, with the span context of
    their parent (so ADK's `with tracer.start_as_current_span(...)` keeps our span as the parent
    of what runs inside it). `original` is the tracer it replaced."""

    def __init__(self, original: Any) -> None:
        self.original = original

    def start_span(self, name: str, context: otel_context.Context | None = None, *args: Any, **kwargs: Any) -> trace.Span:
        return _silent_span(context)

    def start_as_current_span(self, name: str, context: otel_context.Context | None = None, *args: Any, **kwargs: Any) -> _SilentSpanScope:
        return _SilentSpanScope(context)


def _silent_span(context: otel_context.Context | None) -> trace.Span:
    """A non-recording span with the span context of the current span in `context`."""
    return trace.NonRecordingSpan(trace.get_current_span(context).get_span_context())


class _SilentSpanScope(contextlib.ContextDecorator):
    """`SilentTracer.start_as_current_span`: a class, not a `contextlib` generator (ADK opens one
    for each of its spans: several a turn); a decorator too, as the API's is."""

    def __init__(self, context: otel_context.Context | None) -> None:
        self.context = context
        self.token: Any = None

    def _recreate_cm(self) -> _SilentSpanScope:
        return _SilentSpanScope(self.context)

    def __enter__(self) -> trace.Span:
        span = _silent_span(self.context)
        self.token = otel_context.attach(trace.set_span_in_context(span))
        return span

    def __exit__(self, *exc_info: Any) -> None:
        try:  # ADK 1.x closes some of its generators in another context: no error log for that
            self.token.var.reset(self.token)
        except Exception:
            pass


class _State:
    """The active plugin (None when not instrumented), the number of modules seen at the last
    scan for ADK's tracers, and whether `Runner.run_async` is wrapped."""

    def __init__(self) -> None:
        self.plugin: Any = None
        self.modules_seen = 0
        self.run_async_wrapped = False


_STATE = _State()
_ON_IMPORT = ImportActivation(_RUNNERS)
_tracked: list[str | None] = []
#: The app's context of each sync `Runner.run` in progress, by (runner, user, session): ADK 1.x runs
#: `run_async` in a thread of its own without it (2.x copies it).
_SYNC_PARENTS: dict[tuple[int, Any, Any], otel_context.Context] = {}
_WRAPPED = ("run_async", "run")


def _silence_adk_tracers() -> None:
    """Replace the module-level `tracer` of every loaded `google.adk` module by a `SilentTracer`."""
    if len(sys.modules) == _STATE.modules_seen:
        return
    _STATE.modules_seen = len(sys.modules)
    for name, module in list(sys.modules.items()):
        if not (name == _ADK or name.startswith(_ADK + ".")) or module is None:
            continue
        try:
            tracer = vars(module).get("tracer")
            if isinstance(tracer, trace.Tracer) and not isinstance(tracer, SilentTracer):
                module.tracer = SilentTracer(tracer)
        except Exception:  # pragma: no cover - defensive
            logger.debug("opik-otel: could not silence ADK's tracer in %s", name, exc_info=True)


def _restore_adk_tracers() -> None:
    """Put ADK's tracers back, also in modules that copied a `SilentTracer` after we set it."""
    for name, module in list(sys.modules.items()):
        if (name == _ADK or name.startswith(_ADK + ".")) and module is not None:
            tracer = vars(module).get("tracer")
            if isinstance(tracer, SilentTracer):
                module.tracer = tracer.original
    _STATE.modules_seen = 0


def _ensure_plugin(runner: Any, plugin: Any) -> None:
    """Put `plugin` first in the runner's plugin manager, unless one of ours is there already."""
    manager = getattr(runner, "plugin_manager", None)
    plugins = getattr(manager, "plugins", None)
    if not isinstance(plugins, list):
        return
    for present in plugins:
        if present is plugin:
            return
        if type(present).__name__ == "OpikAdkPlugin":  # an earlier instrumentation's (inactive) plugin
            plugins.remove(present)
            break
    plugins.insert(0, plugin)


def _sync_key(instance: Any, kwargs: Any) -> tuple[int, Any, Any]:
    return (id(instance), kwargs.get("user_id"), kwargs.get("session_id"))


def _traced_run(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """`Runner.run`: its `run_async` (in ADK's thread) runs in the app's context."""
    key = _sync_key(instance, kwargs)
    _SYNC_PARENTS[key] = otel_context.get_current()
    try:
        yield from wrapped(*args, **kwargs)
    finally:
        _SYNC_PARENTS.pop(key, None)


def _attach_sync_parent(instance: Any, kwargs: Any) -> Any:
    """In ADK's thread of a sync `Runner.run` that lost the app's context: attach it (the token)."""
    parent = _SYNC_PARENTS.pop(_sync_key(instance, kwargs), None) if _SYNC_PARENTS else None
    if parent is None or trace.get_current_span().get_span_context().is_valid:
        return None
    return otel_context.attach(parent)


async def _traced_run_async(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """`Runner.run_async` with our plugin in the runner, and what is left open closed at the end."""
    from opik_otel.instrumentors.adk.callbacks import CURRENT, Invocation

    plugin = _STATE.plugin
    if plugin is None or not plugin.active:
        async for event in wrapped(*args, **kwargs):
            yield event
        return
    try:
        _silence_adk_tracers()
        _ensure_plugin(instance, plugin)
    except Exception:  # pragma: no cover - defensive
        logger.debug("opik-otel: could not add the ADK plugin", exc_info=True)
    events = wrapped(*args, **kwargs)
    parent_token = _attach_sync_parent(instance, kwargs)
    invocation = Invocation(nested=CURRENT.get() is not None)
    token = CURRENT.set(invocation)
    before = otel_context.get_current()
    error: BaseException | None = None
    try:
        async for event in events:
            yield event
    except BaseException as exc:
        error = exc
        raise
    finally:
        try:
            await events.aclose()
        finally:
            plugin.close_invocation(invocation, error if isinstance(error, Exception) else None)
            try:
                CURRENT.reset(token)
            except ValueError:  # closed from another context: nothing of ours is set there
                pass
            if otel_context.get_current() is not before:
                otel_context.attach(before)
            if parent_token is not None:
                with contextlib.suppress(Exception):
                    parent_token.var.reset(parent_token)


def _activate(runs: RunSpans, content: ContentPolicy, extra: Attributes) -> None:
    """ADK's runner module is imported: make our plugin, silence ADK's tracers, wrap `run_async`."""
    try:
        from opik_otel.instrumentors.adk.callbacks import OpikAdkPlugin

        with contextlib.suppress(ImportError):  # 2.x: the tracer lives here; load it before others copy it
            __import__("google.adk.telemetry.tracing")
        _STATE.plugin = OpikAdkPlugin(runs, content, extra)
        _silence_adk_tracers()
        if not _STATE.run_async_wrapped:
            wrapt.wrap_function_wrapper(_RUNNERS, "Runner.run_async", _traced_run_async)
            wrapt.wrap_function_wrapper(_RUNNERS, "Runner.run", _traced_run)
            _STATE.run_async_wrapped = True
    except Exception:
        logger.debug("opik-otel: could not instrument google-adk", exc_info=True)


def _deactivate() -> None:
    plugin, _STATE.plugin = _STATE.plugin, None
    if plugin is not None:
        plugin.active = False
    if _STATE.run_async_wrapped and _RUNNERS in sys.modules:
        runner = sys.modules[_RUNNERS].Runner
        for method in _WRAPPED:
            wrapper = runner.__dict__.get(method)
            if isinstance(wrapper, wrapt.FunctionWrapper):
                setattr(runner, method, wrapper.__wrapped__)
        _STATE.run_async_wrapped = False
    _restore_adk_tracers()


class ADKInstrumentor(FrameworkInstrumentor):
    """Traces every Google ADK runner run: agents (sub-agents, workflow agents, `AgentTool`),
    model calls (one inference span each, with google-genai's instrumentor or without) and tool
    calls; ADK's own spans are replaced by ours while instrumented.

    `ADKInstrumentor().instrument(tracer_provider=None, capture_content=None)`.
    """

    instruments = _instruments
    scope_name = _SCOPE
    activation = _ON_IMPORT

    def activate(self, runs: RunSpans, content: ContentPolicy) -> None:
        extra: Attributes = {sc.OPIK_PROJECT_NAME: _tracked[0]} if _tracked and _tracked[0] else {}
        _activate(runs, content, extra)

    def deactivate(self) -> None:
        _deactivate()


def track_adk(project_name: str | None = None) -> None:
    """Trace every Google ADK runner from now on, its spans carrying `project_name` to the Opik
    exporter. The Opik-SDK-style seed API; once per process (a second call changes nothing).
    Applied when google-adk is imported, if it is not yet; beside `ADKInstrumentor`, the runs
    are traced once, into `project_name`."""
    from opik_otel import __version__
    from opik_otel._configure import ensure_configured
    from opik_otel._content import content_policy

    if _tracked:
        return
    try:
        ensure_configured()
        _tracked.append(project_name)
        extra: Attributes = {sc.OPIK_PROJECT_NAME: project_name} if project_name else {}
        if _STATE.plugin is not None:  # the instrumentor's plugin: route its spans to the project
            _STATE.plugin.extra.update(extra)
            return
        runs = RunSpans(trace.get_tracer(_SCOPE, __version__))
        _ON_IMPORT.schedule(lambda: _activate(runs, content_policy, extra))
    except Exception:  # pragma: no cover - never break the app
        logger.debug("opik-otel: could not track google-adk", exc_info=True)
