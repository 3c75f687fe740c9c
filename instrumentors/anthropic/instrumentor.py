"""`AnthropicInstrumentor` and `track_anthropic`: which anthropic methods are traced, and how.

anthropic ≥ 2 traces itself (scope `com.anthropic.sdk.python`, span `anthropic.messages.create`).
While one of our spans is current, the SDK's own span is skipped, so each call has exactly
one inference span; without our instrumentor the SDK's spans are left alone (the
processor prices them like any other GenAI span).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, TypeVar

import wrapt

from opik_otel import semconv as sc
from opik_otel.instrumentors._engine import inside_instrumented_call
from opik_otel.instrumentors._base import GenAiInstrumentor, Patch, track_client
from opik_otel.instrumentors._read import endpoint
from opik_otel.instrumentors.anthropic.messages import Messages, MessagesStream
from opik_otel.instrumentors.anthropic.package import _instruments

_SCOPE = "opik_otel.instrumentors.anthropic"
_MESSAGES = "anthropic.resources.messages"
_BETA_MESSAGES = "anthropic.resources.beta.messages"
_PROVIDER_BY_CLIENT = {"AnthropicBedrock": sc.GenAiProvider.AWS_BEDROCK, "AnthropicVertex": sc.GenAiProvider.GCP_VERTEX_AI}


@lru_cache(maxsize=32)
def _provider(client_class: str) -> str:
    return next((p for name, p in _PROVIDER_BY_CLIENT.items() if client_class.startswith(("Async" + name, name))), sc.GenAiProvider.ANTHROPIC)


def endpoint_attributes(resource: Any) -> dict[str, Any]:
    """Provider (Anthropic, Bedrock / Vertex for those clients, or the one the host names), server address and port."""
    client = getattr(resource, "_client", None)
    base_url = getattr(client, "base_url", None)
    if base_url is None:
        return {sc.GEN_AI_PROVIDER_NAME: sc.GenAiProvider.ANTHROPIC}
    return endpoint(str(base_url), _provider(type(client).__name__))


def _patches() -> list[Patch]:
    messages, stream = Messages(endpoint_attributes), MessagesStream(endpoint_attributes)
    patches = []
    for module, path in ((_MESSAGES, "messages"), (_BETA_MESSAGES, "beta.messages")):
        for prefix, is_async in (("", False), ("Async", True)):
            patches += [
                Patch(module, f"{prefix}Messages.create", f"{path}.create", messages, is_async),
                Patch(module, f"{prefix}Messages.parse", f"{path}.parse", messages, is_async),
                # `stream()` is a plain method on both clients: it returns a (sync or async) manager.
                Patch(module, f"{prefix}Messages.stream", f"{path}.stream", stream, False),
            ]
    return patches


_SDK_TRACER_OWNER = ("anthropic._base_client", "BaseClient")


class AnthropicInstrumentor(GenAiInstrumentor):
    """Traces the anthropic SDK: `messages.create` / `stream` / `parse`, sync and async, and `beta.messages`.

    `AnthropicInstrumentor().instrument(tracer_provider=None, capture_content=None)`.
    """

    instruments = _instruments
    scope_name = _SCOPE

    def patches(self) -> list[Patch]:
        return _patches()

    def _instrument(self, **kwargs: Any) -> None:
        super()._instrument(**kwargs)
        _silence_sdk_spans_inside_ours()

    def _uninstrument(self, **kwargs: Any) -> None:
        super()._uninstrument(**kwargs)
        _restore_sdk_spans()


def _silence_sdk_spans_inside_ours() -> None:
    """anthropic ≥ 2: its client has no tracer (so no span of its own) while our span is current.

    Applied when `anthropic._base_client` is imported (at once if it already is).
    """
    wrapt.register_post_import_hook(_silence, _SDK_TRACER_OWNER[0])


def _silence(module: Any) -> None:
    owner = getattr(module, _SDK_TRACER_OWNER[1], None)
    if owner is None:
        return
    original = owner.__dict__.get("_tracer")
    if not isinstance(original, property) or getattr(original.fget, "_opik_otel_original", None):
        return

    def tracer(self: Any) -> Any:
        return None if inside_instrumented_call() else original.fget(self)

    tracer._opik_otel_original = original  # type: ignore[attr-defined]
    owner._tracer = property(tracer)


def _restore_sdk_spans() -> None:
    import sys

    module = sys.modules.get(_SDK_TRACER_OWNER[0])
    owner = getattr(module, _SDK_TRACER_OWNER[1], None) if module else None
    current = owner.__dict__.get("_tracer") if owner is not None else None
    original = getattr(getattr(current, "fget", None), "_opik_otel_original", None)
    if original is not None:
        owner._tracer = original


Client = TypeVar("Client")


def track_anthropic(client: Client, project_name: str | None = None) -> Client:
    """Trace every call of this one `Anthropic` / `AsyncAnthropic` (or Bedrock / Vertex) client; returns it."""
    _silence_sdk_spans_inside_ours()
    return track_client(client, _patches(), _SCOPE, project_name)
