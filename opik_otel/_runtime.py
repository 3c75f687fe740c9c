"""Process-wide helpers every layer may use: instrumentation suppression and after-fork hooks.

- `instrumentation_suppressed()`: what the SDK's batch processor does around export, so the
  HTTP requests of export, spool replay and upload are not traced (and exported, and traced …).
- `after_fork_in_child(fn)`: run `fn` in a forked child (gunicorn, multiprocessing, Celery
  prefork) to renew locks, queues, worker threads and loaders that another thread of the
  parent may have held at the fork. One `os.register_at_fork` hook runs them all; a bound
  method is held weakly and forgotten once its object is gone, so hooks do not pile up as
  `configure()` builds new pipelines; where `fork()` does not exist (Windows) nothing is
  registered.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import threading
import weakref
from typing import Callable, Iterator

from opentelemetry import context as otel_context
from opentelemetry.context import _SUPPRESS_INSTRUMENTATION_KEY as SUPPRESS_INSTRUMENTATION_KEY

__all__ = ["SUPPRESS_INSTRUMENTATION_KEY", "after_fork_in_child", "instrumentation_suppressed"]

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def instrumentation_suppressed() -> Iterator[None]:
    """Run the block with OpenTelemetry instrumentation suppressed, as the SDK runs export."""
    token = otel_context.attach(otel_context.set_value(SUPPRESS_INSTRUMENTATION_KEY, True))
    try:
        yield
    finally:
        otel_context.detach(token)


_HAS_FORK = hasattr(os, "register_at_fork")
_fork_hooks: list[Callable[[], Callable[[], None] | None]] = []  # each gives the hook, or None once gone
_fork_hooks_lock = threading.Lock()


def after_fork_in_child(hook: Callable[[], None]) -> None:
    """Call `hook` in every forked child: a bound method while its object is alive (held weakly),
    a plain function always. Never raises; a hook that fails is logged at debug."""
    if not _HAS_FORK:
        return
    if inspect.ismethod(hook):
        reference: Callable[[], Callable[[], None] | None] = weakref.WeakMethod(hook)
    else:
        reference = lambda: hook  # noqa: E731 - a module function lives as long as its module
    with _fork_hooks_lock:
        _fork_hooks[:] = [alive for alive in _fork_hooks if alive() is not None]
        _fork_hooks.append(reference)


def _run_fork_hooks() -> None:
    global _fork_hooks_lock
    _fork_hooks_lock = threading.Lock()  # another thread of the parent may have held it
    for reference in list(_fork_hooks):
        hook = reference()
        if hook is None:
            continue
        try:
            hook()
        except Exception:  # noqa: BLE001 - a fork hook must never break the child
            logger.debug("opik-otel: an after-fork hook failed", exc_info=True)


if _HAS_FORK:
    os.register_at_fork(after_in_child=_run_fork_hooks)
