"""`DSPyInstrumentor` and `track_dspy`: every DSPy call traced through DSPy's callbacks.

DSPy calls the callbacks in `dspy.settings.callbacks` (and a component's own) around every
module, LM, adapter, tool, evaluation and optimizer call. `instrument()` appends one
`OpikDSPyCallback` there (when the app imports dspy), keeping the app's callbacks;
`uninstrument()` removes it only. At most one callback of ours is in that list: `track_dspy(...)`
installs its own in place of the instrumentor's (its project then holds the whole trace), and
both share one run map, so a call is traced once. A later `dspy.configure(callbacks=[...])` or
`dspy.context(callbacks=[...])` keeps ours (it is added to the list the app passes). DSPy's
`ParallelExecutor` (`Evaluate`, `dspy.Parallel`, `Module.batch`, optimizers) runs its items in
worker threads: each runs in its caller's OpenTelemetry context, so an evaluation's or a module's
parallel runs nest under it.
"""

from __future__ import annotations

import contextvars
import importlib
import inspect
import logging
import sys
import threading
import uuid
from typing import Any, Mapping, Sequence

import wrapt
from opentelemetry import context as otel_context
from opentelemetry import trace

from opik_otel._content import ContentPolicy, content_policy
from opik_otel.instrumentors._callbacks import RunSpans
from opik_otel.instrumentors._framework import FrameworkInstrumentor, ImportActivation, handler_attributes
from opik_otel.instrumentors.dspy.package import _instruments

logger = logging.getLogger(__name__)

_SCOPE = "opik_otel.instrumentors.dspy"
_MODULE = "dspy"
_SETTINGS_METHODS = ("configure", "context")


class _Active:
    """The instrumentor's callback and run map, and the callback of ours in DSPy's global list."""

    def __init__(self) -> None:
        self.callback: Any = None  # the instrumentor's OpikDSPyCallback
        self.runs: RunSpans | None = None
        self.installed: Any = None  # the OpikDSPyCallback in dspy.settings.callbacks (the instrumentor's or a seed's)
        self.patched = False
        self.workflows: list[tuple[type, str]] = []  # the Evaluate / compile methods wrapped for older DSPy


_ACTIVE = _Active()
_ON_IMPORT = ImportActivation(_MODULE)


def active_runs() -> RunSpans | None:
    """The instrumentor's run map while DSPy is instrumented (`track_dspy` shares it), else None."""
    return _ACTIVE.runs if _ACTIVE.callback is not None else None


def settings_module() -> Any:
    """DSPy's settings module (`dspy.dsp.utils.settings`; the package exports its `settings` object by that name)."""
    return importlib.import_module("dspy.dsp.utils.settings")


def _config() -> Any:
    return settings_module().main_thread_config


def _with_ours(callbacks: Any) -> Any:
    """The app's callback list, with ours appended (when one is installed and the list lacks it)."""
    ours = _ACTIVE.installed
    if ours is None or not isinstance(callbacks, (list, tuple)) or any(c is ours for c in callbacks):
        return callbacks
    return [*callbacks, ours]


def _keep_ours(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """`dspy.configure` / `dspy.context` with `callbacks=[...]`: ours stays in the list."""
    if "callbacks" in kwargs:
        try:
            kwargs = {**kwargs, "callbacks": _with_ours(kwargs["callbacks"])}
        except Exception:  # pragma: no cover - defensive
            logger.debug("opik-otel: could not keep the DSPy callback", exc_info=True)
    return wrapped(*args, **kwargs)


def _in_callers_context(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    """`ParallelExecutor.execute(function, data)`: each item's run (in a worker thread) in the
    OpenTelemetry context of the caller, so the calls it makes nest under the caller's span."""
    if not args or not callable(args[0]):
        return wrapped(*args, **kwargs)
    context = otel_context.get_current()
    function = args[0]

    def in_context(item: Any) -> Any:
        token = otel_context.attach(context)
        try:
            return function(item)
        finally:
            otel_context.detach(token)

    return wrapped(in_context, *args[1:], **kwargs)


def _as_workflow(start: str, end: str) -> Any:
    """A wrapper reporting a call (`Evaluate.__call__`, an optimizer's `compile`) to our callback's
    `start` / `end` handlers, as DSPy 3 does itself (for DSPy versions that do not: < 2.6.9 for
    evaluations, < 3.3.1 for optimizers). A nested call on the same object (`super().compile`) is
    part of the outer one."""

    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        callback = _ACTIVE.installed
        key = (id(instance), threading.get_ident())
        active = _IN_WORKFLOW.get()
        if callback is None or key in active:
            return wrapped(*args, **kwargs)
        call_id = uuid.uuid4().hex
        try:
            inputs = dict(inspect.signature(wrapped).bind_partial(*args, **kwargs).arguments)
        except Exception:
            inputs = dict(kwargs)
        getattr(callback, start)(call_id=call_id, instance=instance, inputs=inputs)
        token = _IN_WORKFLOW.set(active | {key})
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as error:
            _IN_WORKFLOW.reset(token)
            getattr(callback, end)(call_id=call_id, outputs=None, exception=error)
            raise
        _IN_WORKFLOW.reset(token)
        getattr(callback, end)(call_id=call_id, outputs=result, exception=None)
        return result

    return wrapper


_IN_WORKFLOW: contextvars.ContextVar[frozenset] = contextvars.ContextVar("opik_otel_dspy_workflow", default=frozenset())


def _optimizer_classes() -> list[type]:
    """Every optimizer class loaded that defines its own `compile` (DSPy's and the app's so far)."""
    from dspy.teleprompt.teleprompt import Teleprompter

    found, pending = [], [Teleprompter]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "compile" in cls.__dict__ and cls not in found:
            found.append(cls)
    return found


def _workflow_patches() -> list[tuple[type, str, Any]]:
    """(class, method, wrapper) for the workflows this DSPy does not report to its callbacks itself."""
    from dspy.utils.callback import BaseCallback

    patches: list[tuple[type, str, Any]] = []
    if not hasattr(BaseCallback, "on_evaluate_start"):
        from dspy.evaluate.evaluate import Evaluate

        patches.append((Evaluate, "__call__", _as_workflow("on_evaluate_start", "on_evaluate_end")))
    if not hasattr(BaseCallback, "on_compile_start"):
        compile_wrapper = _as_workflow("on_compile_start", "on_compile_end")
        patches.extend((cls, "compile", compile_wrapper) for cls in _optimizer_classes())
    return patches


def _patch_dspy() -> None:
    """Keep ours in the list `configure` / `context` set: on the settings class (`dspy.settings.configure`)
    and on the names the dspy package bound to its methods at import (`dspy.configure`, `dspy.context`);
    and run `ParallelExecutor`'s items in their caller's context."""
    if _ACTIVE.patched:
        return
    import dspy
    from dspy.utils.parallelizer import ParallelExecutor

    settings_class = type(settings_module().settings)
    for name in _SETTINGS_METHODS:
        wrapt.wrap_function_wrapper(settings_class, name, _keep_ours)
        bound = getattr(dspy, name, None)
        if bound is not None and not isinstance(bound, wrapt.FunctionWrapper):
            setattr(dspy, name, wrapt.FunctionWrapper(bound, _keep_ours))
    wrapt.wrap_function_wrapper(ParallelExecutor, "execute", _in_callers_context)
    _ACTIVE.workflows = []
    for owner, name, wrapper in _workflow_patches():
        try:
            wrapt.wrap_function_wrapper(owner, name, wrapper)
            _ACTIVE.workflows.append((owner, name))
        except Exception:  # pragma: no cover - an odd optimizer class: its compile is not a workflow span
            logger.debug("opik-otel: could not wrap %s.%s", owner, name, exc_info=True)
    _ACTIVE.patched = True


def _unpatch_dspy() -> None:
    if not _ACTIVE.patched:
        return
    import dspy
    from dspy.utils.parallelizer import ParallelExecutor

    settings_class = type(settings_module().settings)
    for owner, name in [(settings_class, name) for name in _SETTINGS_METHODS] + [(ParallelExecutor, "execute"), *_ACTIVE.workflows]:
        method = owner.__dict__.get(name)
        if isinstance(method, wrapt.FunctionWrapper):
            setattr(owner, name, method.__wrapped__)
    for name in _SETTINGS_METHODS:
        bound = getattr(dspy, name, None)
        if isinstance(bound, wrapt.FunctionWrapper):
            setattr(dspy, name, bound.__wrapped__)
    _ACTIVE.workflows = []
    _ACTIVE.patched = False


def _install(callback: Any, replace: bool) -> None:
    """Put `callback` in DSPy's global callbacks: in place of the one of ours there when `replace`
    (else not at all when one of ours is there), after the app's own."""
    from opik_otel.instrumentors.dspy.callbacks import OpikDSPyCallback

    config = _config()
    callbacks = list(config.get("callbacks") or [])
    present = [c for c in callbacks if isinstance(c, OpikDSPyCallback)]
    if present and not replace:
        _ACTIVE.installed = present[0]
        return
    config["callbacks"] = [c for c in callbacks if not isinstance(c, OpikDSPyCallback)] + [callback]
    _ACTIVE.installed = callback
    _patch_dspy()


def _uninstall(callback: Any) -> None:
    """Remove `callback` from DSPy's global callbacks (the app's stay)."""
    config = _config()
    callbacks = list(config.get("callbacks") or [])
    if any(c is callback for c in callbacks):
        config["callbacks"] = [c for c in callbacks if c is not callback]
    if _ACTIVE.installed is callback:
        _ACTIVE.installed = None
        _unpatch_dspy()


class DSPyInstrumentor(FrameworkInstrumentor):
    """Traces every DSPy call: modules, LMs, tools, `Evaluate` and optimizers' `compile`.

    `DSPyInstrumentor().instrument(tracer_provider=None, capture_content=None)`.
    """

    instruments = _instruments
    scope_name = _SCOPE
    activation = _ON_IMPORT

    def activate(self, runs: RunSpans, content: ContentPolicy) -> None:
        try:
            from opik_otel.instrumentors.dspy.callbacks import OpikDSPyCallback

            _ACTIVE.runs = runs
            _ACTIVE.callback = OpikDSPyCallback(runs, content)
            _install(_ACTIVE.callback, replace=False)
        except Exception:  # an unexpected dspy: not traced, never broken
            logger.debug("opik-otel: could not add the DSPy callback", exc_info=True)

    def deactivate(self) -> None:
        callback, _ACTIVE.callback, _ACTIVE.runs = _ACTIVE.callback, None, None
        if callback is not None and _MODULE in sys.modules:
            try:
                _uninstall(callback)
            except Exception:  # pragma: no cover - defensive
                logger.debug("opik-otel: could not remove the DSPy callback", exc_info=True)


_SEED_ON_IMPORT = ImportActivation(_MODULE)


def track_dspy(
    project_name: str | None = None,
    tags: Sequence[str] | None = None,
    metadata: Mapping[str, Any] | None = None,
    thread_id: str | None = None,
) -> Any:
    """Trace every DSPy call from now on, Opik-SDK style: returns the DSPy callback it adds to
    `dspy.settings.callbacks` (applied when dspy is imported, if it is not yet).

    `project_name` routes the traces to that Opik project, `tags` and `metadata` go on every span,
    `thread_id` groups them into an Opik thread. With `DSPyInstrumentor` on as well, this callback
    takes the instrumentor's place in the list and shares its run map: each call is traced once.
    The callback can also be given to one component (`dspy.Predict(..., callbacks=[cb])`).
    """
    from opik_otel import __version__
    from opik_otel.instrumentors.dspy.callbacks import OpikDSPyCallback

    extra = handler_attributes(project_name, tags, metadata, thread_id)
    runs = active_runs() or RunSpans(trace.get_tracer(_SCOPE, __version__))
    callback = OpikDSPyCallback(runs, content_policy, extra)

    def activate() -> None:
        try:
            _install(callback, replace=True)
        except Exception:  # pragma: no cover - never break the app
            logger.debug("opik-otel: could not add the DSPy callback", exc_info=True)

    _SEED_ON_IMPORT.schedule(activate)
    return callback


def untrack_dspy(callback: Any) -> None:
    """Remove a callback `track_dspy` added (the instrumentor's, if on, is put back)."""
    if _MODULE not in sys.modules:
        _SEED_ON_IMPORT.cancel()
        return
    try:
        _uninstall(callback)
        if _ACTIVE.callback is not None and _ACTIVE.installed is None:
            _install(_ACTIVE.callback, replace=False)
    except Exception:  # pragma: no cover - never break the app
        logger.debug("opik-otel: could not remove the DSPy callback", exc_info=True)
