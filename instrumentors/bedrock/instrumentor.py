"""`BedrockInstrumentor` and `track_bedrock`: every `bedrock-runtime` client, however created.

botocore creates each client through `ClientCreator.create_client`; for `bedrock-runtime`
clients we wrap that client's `_make_api_call`, so other AWS services pay nothing per call.
Inside our span, OTel instrumentation is suppressed for the botocore call itself, so the
official botocore instrumentation, when also active, adds no second (and twice-priced)
Bedrock span.
"""

from __future__ import annotations

from typing import Any, TypeVar

import wrapt
from opentelemetry import trace

from opentelemetry import context as otel_context

from opik_otel.instrumentors._engine import SUPPRESS_INSTRUMENTATION_KEY, ContentPolicy, Operation, sync_wrapper
from opik_otel.instrumentors._instrumentor import GenAiInstrumentor, Patch, content_policy
from opik_otel.instrumentors.bedrock.converse import Converse, ConverseStream, model_name
from opik_otel.instrumentors.bedrock.families import _FAMILIES, UNKNOWN, family_of
from opik_otel.instrumentors.bedrock.invoke import InvokeModel, InvokeModelWithResponseStream
from opik_otel.instrumentors.bedrock.package import _instruments
from opik_otel.semconv import OPIK_PROJECT_NAME

_SCOPE = "opik_otel.instrumentors.bedrock"
_SERVICE = "bedrock-runtime"
_CONVERSE: dict[str, Operation] = {"Converse": Converse(), "ConverseStream": ConverseStream()}
_INVOKE = {
    name: {family: kind(family) for family in (UNKNOWN, *(f for _, f in _FAMILIES))}
    for name, kind in (("InvokeModel", InvokeModel), ("InvokeModelWithResponseStream", InvokeModelWithResponseStream))
}


def operation_for(operation_name: str, params: dict[str, Any]) -> Operation | None:
    """The operation that reads this API call (InvokeModel: by the model's family), or None."""
    operation = _CONVERSE.get(operation_name)
    if operation is None and operation_name in _INVOKE:
        model = params.get("modelId")
        operation = _INVOKE[operation_name][family_of(model_name(model) if isinstance(model, str) else "")]
    return operation


def _trace_client(client: Any, tracer: trace.Tracer, content: ContentPolicy, extra: dict[str, Any] | None = None) -> Any:
    """Wrap one bedrock-runtime client's `_make_api_call`; returns the client."""
    if getattr(client, "_opik_otel_tracked", False):
        return client
    wrappers: dict[Operation, Any] = {}
    make_api_call = client._make_api_call

    def call_library(operation_name: str, params: dict[str, Any]) -> Any:
        token = otel_context.attach(otel_context.set_value(SUPPRESS_INSTRUMENTATION_KEY, True))
        try:
            return make_api_call(operation_name, params)
        finally:
            otel_context.detach(token)

    def api_call(operation_name: str, api_params: dict[str, Any]) -> Any:
        operation = operation_for(operation_name, api_params)
        if operation is None:
            return make_api_call(operation_name, api_params)
        wrapper = wrappers.get(operation)
        if wrapper is None:
            wrapper = wrappers[operation] = sync_wrapper(operation, tracer, content, extra)
        return wrapper(lambda **params: call_library(operation_name, params), client, (), dict(api_params))

    client._make_api_call = api_call
    client._opik_otel_tracked = True
    return client


class BedrockInstrumentor(GenAiInstrumentor):
    """Traces every `bedrock-runtime` client created after `instrument()`: `converse`, `converse_stream`."""

    instruments = _instruments
    scope_name = _SCOPE

    def patches(self) -> list[Patch]:
        return []

    def _instrument(self, **kwargs: Any) -> None:
        from opik_otel import __version__

        super()._instrument(**kwargs)
        tracer = trace.get_tracer(_SCOPE, __version__, kwargs.get("tracer_provider"))
        capture = kwargs.get("capture_content")
        content = ContentPolicy(capture) if capture is not None else content_policy

        def create_client(wrapped: Any, instance: Any, args: tuple, kw: dict[str, Any]) -> Any:
            client = wrapped(*args, **kw)
            service = kw.get("service_name", args[0] if args else None)
            if service == _SERVICE:
                try:
                    _trace_client(client, tracer, content)
                except Exception:  # pragma: no cover - never break client creation
                    pass
            return client

        wrapt.register_post_import_hook(
            lambda module: wrapt.wrap_function_wrapper(module, "ClientCreator.create_client", create_client), "botocore.client"
        )

    def _uninstrument(self, **kwargs: Any) -> None:
        super()._uninstrument(**kwargs)
        import sys

        module = sys.modules.get("botocore.client")
        if module is not None:
            from opentelemetry.instrumentation.utils import unwrap

            unwrap(module.ClientCreator, "create_client")


Client = TypeVar("Client")


def track_bedrock(client: Client, project_name: str | None = None) -> Client:
    """Trace every call of this one `bedrock-runtime` client; returns it."""
    from opik_otel import __version__
    from opik_otel._configure import ensure_configured

    ensure_configured()
    extra = {OPIK_PROJECT_NAME: project_name} if project_name else None
    return _trace_client(client, trace.get_tracer(_SCOPE, __version__), content_policy, extra)
