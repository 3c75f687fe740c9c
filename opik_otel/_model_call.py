"""A framework model call waiting for the provider call under it (the one-inference-span rule).

A framework's model run (LangChain's `on_chat_model_start` …) opens no span: it puts a
`PendingModelCall` in the context. The provider engine claims it when it starts the billed
call's span and adds the framework's attributes (run name, tags, invocation parameters) to it.
If nobody claims it (a provider we do not instrument), the framework makes the inference span
itself when its run ends. One billed call, one inference span, priced once.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import context as otel_context

PENDING_MODEL_CALL_KEY = otel_context.create_key("opik-otel-pending-model-call")


class PendingModelCall:
    """What a framework knows about a model call before the provider call under it starts."""

    __slots__ = ("attributes", "claimed")

    def __init__(self, attributes: dict[str, Any]) -> None:
        self.attributes = attributes
        self.claimed = False

    def claim(self) -> dict[str, Any] | None:
        """The attributes, the first time only (later calls, retries, get None)."""
        if self.claimed:
            return None
        self.claimed = True
        return self.attributes


def with_pending_model_call(call: PendingModelCall, context: otel_context.Context | None = None) -> otel_context.Context:
    """`context` (default: the current one) carrying `call` for the provider call under it."""
    return otel_context.set_value(PENDING_MODEL_CALL_KEY, call, context)


def claim_model_call() -> dict[str, Any] | None:
    """The pending framework model call's attributes, at most once per call; None when there is none."""
    call = otel_context.get_value(PENDING_MODEL_CALL_KEY)
    return call.claim() if call is not None else None
