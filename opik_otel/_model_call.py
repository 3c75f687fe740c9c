"""A framework model call waiting for the provider call under it (the one-inference-span rule).

A framework's model run (LangChain's `on_chat_model_start` …) opens no span: it puts a
`PendingModelCall` in the context. The provider engine claims it when it starts the billed
call's span and adds the framework's attributes (run name, tags, invocation parameters) to it.
If nobody claims it (a provider we do not instrument), the framework makes the inference span
itself when its run ends. One billed call, one inference span, priced once.
"""

from __future__ import annotations

import sys
import weakref
from typing import Any

from opentelemetry import context as otel_context

PENDING_MODEL_CALL_KEY = otel_context.create_key("opik-otel-pending-model-call")


class PendingModelCall:
    """What a framework knows about a model call before the provider call under it starts, and
    the context of the framework's run (where that call's span belongs)."""

    __slots__ = ("attributes", "claimed", "context")

    def __init__(self, attributes: dict[str, Any]) -> None:
        self.attributes = attributes
        self.claimed = False
        self.context: otel_context.Context | None = None

    def claim(self) -> dict[str, Any] | None:
        """The attributes, the first time only (later calls, retries, get None)."""
        if self.claimed:
            return None
        self.claimed = True
        return self.attributes


def with_pending_model_call(call: PendingModelCall, context: otel_context.Context | None = None) -> otel_context.Context:
    """`context` (default: the current one) carrying `call` for the provider call under it; that
    context is also the call's own (`call.context`)."""
    call.context = otel_context.set_value(PENDING_MODEL_CALL_KEY, call, context)
    return call.context


#: Pending calls of streams a framework returned before their billed call started (LlamaIndex's
#: `stream_chat` makes it on the first chunk read): id(call) -> (the stream's frame, call).
_STREAM_CALLS: dict[int, tuple[Any, PendingModelCall]] = {}


def pend_on_stream(stream: Any, call: PendingModelCall) -> None:
    """`call` waits for the billed call made while `stream` (a generator or async generator) runs."""
    frame = getattr(stream, "gi_frame", None) or getattr(stream, "ag_frame", None)
    if frame is None:
        return
    try:
        weakref.finalize(stream, forget_stream, call)  # holds `call`: its id is not reused meanwhile
    except TypeError:  # pragma: no cover - not weak-referenceable: not tracked
        return
    _STREAM_CALLS[id(call)] = (frame, call)


def forget_stream(call: PendingModelCall) -> None:
    """The stream's run ended (or the stream is gone): its pending call waits no more."""
    entry = _STREAM_CALLS.get(id(call))
    if entry is not None and entry[1] is call:
        _STREAM_CALLS.pop(id(call), None)


def _running_stream_call() -> PendingModelCall | None:
    """The pending call of a registered stream whose frame is on this call stack (it is running)."""
    frames = {id(frame): call for frame, call in list(_STREAM_CALLS.values()) if not call.claimed}
    if not frames:
        return None
    frame = sys._getframe(2)
    while frame is not None:
        call = frames.get(id(frame))
        if call is not None:
            return call
        frame = frame.f_back
    return None


def claim_model_call(context: otel_context.Context | None = None) -> tuple[dict[str, Any], otel_context.Context | None] | None:
    """The pending framework model call above this billed call (in `context`, default the current
    one), at most once per call: its attributes, and the context to start the billed call's span in
    (None: the current one; the framework run's own when the call is made while a stream it
    returned is read, outside it)."""
    call = otel_context.get_value(PENDING_MODEL_CALL_KEY, context)
    if call is not None:
        attributes = call.claim()
        return None if attributes is None else (attributes, None)
    if not _STREAM_CALLS:
        return None
    call = _running_stream_call()
    attributes = call.claim() if call is not None else None
    return None if attributes is None else (attributes, call.context)
