"""`BedrockInstrumentor` and `track_bedrock`: every `bedrock-runtime` client, however created.

botocore builds each client's class at run time, so there is no Bedrock method to patch on
a class: `BedrockInstrumentor` registers one `Patch`, on `ClientCreator.create_client`, like
the other instrumentors' patches (applied when botocore is imported, undone by
`uninstrument()`). Each `bedrock-runtime` client it creates gets a `_make_api_call` of its
own, which traces while the instrumentor is on, with the latest `instrument()`'s tracer and
content switch; after `uninstrument()` it only forwards, so clients created before it are
untraced too. Other AWS services pay nothing per call.

Being on the client object (not on `BaseClient`, which the official botocore
instrumentation wraps too), our span always starts first, and inside it OTel
instrumentation is suppressed for the botocore call itself: with
`opentelemetry-instrumentation-botocore` also active, whichever was instrumented first, a
Bedrock call has one (priced once) span, and neither instrumentor's `uninstrument()` removes
the other's wrapper.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

from opentelemetry import trace

from opik_otel._content import ContentPolicy
from opik_otel._runtime import instrumentation_suppressed
from opik_otel.instrumentors._engine import Operation, inside_instrumented_call, sync_wrapper
from opik_otel.instrumentors._base import GenAiInstrumentor, Patch, content_policy
from opik_otel.instrumentors.bedrock.converse import Converse, ConverseStream
from opik_otel.instrumentors.bedrock.families import FAMILIES, family_of
from opik_otel.instrumentors.bedrock.invoke import InvokeModel, InvokeModelWithResponseStream
from opik_otel.instrumentors.bedrock.package import _instruments
from opik_otel.semconv import OPIK_PROJECT_NAME

logger = logging.getLogger(__name__)

_SCOPE = "opik_otel.instrumentors.bedrock"
_SERVICE = "bedrock-runtime"
_CONVERSE: dict[str, Operation] = {"Converse": Converse(), "ConverseStream": ConverseStream()}
_INVOKE = {
    name: {family: kind(family) for family in FAMILIES}
    for name, kind in (("InvokeModel", InvokeModel), ("InvokeModelWithResponseStream", InvokeModelWithResponseStream))
}

MakeApiCall = Callable[[str, dict[str, Any]], Any]


def operation_for(operation_name: str, params: dict[str, Any]) -> Operation | None:
    """The operation that reads this API call (InvokeModel: by the model's family), or None."""
    operation = _CONVERSE.get(operation_name)
    if operation is None and operation_name in _INVOKE:
        model = params.get("modelId")
        operation = _INVOKE[operation_name][family_of(model if isinstance(model, str) else "")]
    return operation


def _call_library(make_api_call: MakeApiCall, operation_name: str, params: dict[str, Any]) -> Any:
    """botocore's call; inside our span with OTel instrumentation suppressed (the official
    botocore one, HTTP clients). Without a span of ours (not sampled) nothing is suppressed."""
    if not inside_instrumented_call():
        return make_api_call(operation_name, params)
    with instrumentation_suppressed():
        return make_api_call(operation_name, params)


class ApiCalls:
    """Traces a `bedrock-runtime` client's `_make_api_call` with one tracer and content switch."""

    __slots__ = ("tracer", "content", "extra", "wrappers")

    def __init__(self, tracer: trace.Tracer, content: ContentPolicy, extra: dict[str, Any] | None = None) -> None:
        self.tracer = tracer
        self.content = content
        self.extra = extra
        self.wrappers: dict[Operation, Any] = {}  # one engine wrapper per operation, built on first use

    def call(self, client: Any, make_api_call: MakeApiCall, operation_name: str, api_params: dict[str, Any]) -> Any:
        """`make_api_call(operation_name, api_params)`, in a span when it is a call we read."""
        try:
            operation = operation_for(operation_name, api_params)
            wrapper = self.wrappers.get(operation) if operation is not None else None
            if operation is not None and wrapper is None:
                wrapper = self.wrappers.setdefault(operation, sync_wrapper(operation, self.tracer, self.content, self.extra))
        except Exception:  # never break the call
            logger.debug("opik-otel: could not choose how to read Bedrock's %s; untraced", operation_name, exc_info=True)
            wrapper = None
        if wrapper is None:
            return make_api_call(operation_name, api_params)
        return wrapper(lambda **params: _call_library(make_api_call, operation_name, params), client, (), dict(api_params))


class _Instrumented:
    """The latest `instrument()`'s `ApiCalls`; None while uninstrumented. Read on every call."""

    calls: ApiCalls | None = None


def _below_us(client: Any) -> MakeApiCall:
    """The `_make_api_call` our own goes through: one the client already has of its own, else
    its class's, looked up on each call (another instrumentation may patch or unpatch it later)."""
    own = vars(client).get("_make_api_call")
    if own is not None:
        return own
    cls = type(client)
    return lambda operation_name, api_params: cls._make_api_call(client, operation_name, api_params)


def _forward_to_instrumentor(client: Any) -> None:
    """Give a `bedrock-runtime` client its own `_make_api_call`: traced while instrumented, else botocore's."""
    make_api_call = _below_us(client)

    def api_call(operation_name: str, api_params: dict[str, Any]) -> Any:
        calls = _Instrumented.calls
        if calls is None:
            return make_api_call(operation_name, api_params)
        return calls.call(client, make_api_call, operation_name, api_params)

    client._make_api_call = api_call


def _create_client(wrapped: Any, instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
    """`ClientCreator.create_client`, wrapped: a new `bedrock-runtime` client forwards its calls to us."""
    client = wrapped(*args, **kwargs)
    try:
        if client.meta.service_model.service_name == _SERVICE:
            _forward_to_instrumentor(client)
    except Exception:  # never break client creation
        logger.debug("opik-otel: could not trace a new bedrock-runtime client", exc_info=True)
    return client


@dataclass(frozen=True)
class _ClientCreatorPatch(Patch):
    """The one Bedrock patch: `ClientCreator.create_client`. Its wrapper reads no call itself:
    building it (once per `instrument()`) makes that `instrument()`'s tracer and content switch
    the ones every forwarding client uses."""

    module: str = "botocore.client"
    method: str = "ClientCreator.create_client"
    client_path: str = ""  # not a client method: `track_bedrock` traces one client instead
    operation: Any = None  # the operation is chosen per call, by `operation_for`

    def wrapper(self, tracer: trace.Tracer, content: ContentPolicy, extra: dict[str, Any] | None = None) -> Any:
        _Instrumented.calls = ApiCalls(tracer, content, extra)
        return _create_client


class BedrockInstrumentor(GenAiInstrumentor):
    """Traces every `bedrock-runtime` client created after `instrument()` (before it: `track_bedrock`):
    `converse`, `converse_stream`, `invoke_model`, `invoke_model_with_response_stream`."""

    instruments = _instruments
    scope_name = _SCOPE

    def patches(self) -> list[Patch]:
        return [_ClientCreatorPatch()]

    def _uninstrument(self, **kwargs: Any) -> None:
        _Instrumented.calls = None  # clients created while instrumented now only forward
        super()._uninstrument(**kwargs)


Client = TypeVar("Client")


def track_bedrock(client: Client, project_name: str | None = None) -> Client:
    """Trace every call of this one `bedrock-runtime` client; returns it."""
    from opik_otel import __version__
    from opik_otel._configure import ensure_configured

    ensure_configured()
    if getattr(client, "_opik_otel_tracked", False):
        return client
    extra = {OPIK_PROJECT_NAME: project_name} if project_name else None
    calls = ApiCalls(trace.get_tracer(_SCOPE, __version__), content_policy, extra)
    make_api_call = _below_us(client)

    def api_call(operation_name: str, api_params: dict[str, Any]) -> Any:
        return calls.call(client, make_api_call, operation_name, api_params)

    client._make_api_call = api_call  # type: ignore[attr-defined]
    client._opik_otel_tracked = True  # type: ignore[attr-defined]
    return client
