"""What every OpenAI operation reads the same way: the endpoint, request parameters, usage."""

from __future__ import annotations

from typing import Any, Callable

from opik_otel import semconv as sc
from opik_otel.instrumentors._read import endpoint, field, integer, number, put, strings, text

Attributes = dict[str, Any]


def _endpoint(base_url: str, azure: bool) -> Attributes:
    """Anything speaking the OpenAI wire format on a host the provider table does not know (a
    local server, a proxy) is `openai` (`azure.ai.openai` for an Azure client)."""
    return endpoint(base_url, sc.GenAiProvider.AZURE_OPENAI if azure else sc.GenAiProvider.OPENAI)


_ENDPOINTS: dict[int, tuple[Any, Attributes]] = {}  # id(base URL object) → (that object, attributes)


def endpoint_attributes(resource: Any) -> Attributes:
    """Provider, server address and port of the client a resource (`client.chat.completions`) belongs to."""
    client = getattr(resource, "_client", None)
    base_url = getattr(client, "_base_url", None)  # what the `base_url` property returns, without its cost
    if base_url is None:
        base_url = getattr(client, "base_url", None)
        if base_url is None:
            return {sc.GEN_AI_PROVIDER_NAME: sc.GenAiProvider.OPENAI}
    cached = _ENDPOINTS.get(id(base_url))
    if cached is None or cached[0] is not base_url:  # a new client, or its base URL was replaced
        if len(_ENDPOINTS) >= 256:
            _ENDPOINTS.clear()
        cached = _ENDPOINTS[id(base_url)] = (base_url, _endpoint(str(base_url), "Azure" in type(client).__name__))
    return dict(cached[1])


# Request parameter → (attribute, reader). Only the keys a call passes are looked at.
_PARAMETERS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "temperature": (sc.GEN_AI_REQUEST_TEMPERATURE, number),
    "top_p": (sc.GEN_AI_REQUEST_TOP_P, number),
    "frequency_penalty": (sc.GEN_AI_REQUEST_FREQUENCY_PENALTY, number),
    "presence_penalty": (sc.GEN_AI_REQUEST_PRESENCE_PENALTY, number),
    "stop": (sc.GEN_AI_REQUEST_STOP_SEQUENCES, strings),
    "seed": (sc.GEN_AI_REQUEST_SEED, integer),
    "service_tier": (sc.OPENAI_REQUEST_SERVICE_TIER, text),
}


def parameter_attributes(kwargs: dict[str, Any]) -> Attributes:
    """The request parameters every text-generation call shares."""
    attributes: Attributes = {}
    for key, value in kwargs.items():
        known = _PARAMETERS.get(key)
        if known is not None:
            name, read = known
            value = read(value)
            if value is not None:
                attributes[name] = value
    if "max_tokens" in kwargs or "max_completion_tokens" in kwargs or "max_output_tokens" in kwargs:
        put(attributes, sc.GEN_AI_REQUEST_MAX_TOKENS, integer(kwargs.get("max_tokens")) or integer(kwargs.get("max_completion_tokens")) or integer(kwargs.get("max_output_tokens")))
    count = integer(kwargs.get("n"))
    if count is not None and count != 1:
        attributes[sc.GEN_AI_REQUEST_CHOICE_COUNT] = count
    if kwargs.get("stream") is True:
        attributes[sc.GEN_AI_REQUEST_STREAM] = True
    return attributes


def output_type(response_format: Any) -> str | None:
    """`gen_ai.output.type` from `response_format` / `text.format` (a dict, or a pydantic class for parse)."""
    if response_format is None:
        return None
    if isinstance(response_format, type):
        return "json"
    kind = field(response_format, "type")
    if kind in ("json_schema", "json_object"):
        return "json"
    if kind == "text":
        return "text"
    return None


def usage_attributes(usage: Any, input_key: str, output_key: str, input_details: str, output_details: str) -> Attributes:
    """Token counts; OpenAI's input count already includes cached tokens, as the convention wants."""
    attributes: Attributes = {}
    if usage is None:
        return attributes
    put(attributes, sc.GEN_AI_USAGE_INPUT_TOKENS, integer(field(usage, input_key)))
    put(attributes, sc.GEN_AI_USAGE_OUTPUT_TOKENS, integer(field(usage, output_key)))
    put(attributes, sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS, integer(field(field(usage, input_details), "cached_tokens")))
    put(attributes, sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, integer(field(field(usage, output_details), "reasoning_tokens")))
    return attributes


def response_metadata(response: Any) -> Attributes:
    attributes: Attributes = {}
    put(attributes, sc.GEN_AI_RESPONSE_ID, text(field(response, "id")))
    put(attributes, sc.GEN_AI_RESPONSE_MODEL, text(field(response, "model")))
    put(attributes, sc.OPENAI_RESPONSE_SERVICE_TIER, text(field(response, "service_tier")))
    put(attributes, sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT, text(field(response, "system_fingerprint")))
    return attributes
