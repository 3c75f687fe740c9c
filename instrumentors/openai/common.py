"""What every OpenAI operation reads the same way: the endpoint, the request parameters, usage."""

from __future__ import annotations

from typing import Any

from opik_otel import semconv as sc
from opik_otel.instrumentors._adapter import CHOICE_COUNT, FREQUENCY_PENALTY, MAX_TOKENS, PRESENCE_PENALTY, SEED, STOP_SEQUENCES, STREAM, TEMPERATURE, TOP_P
from opik_otel.instrumentors._adapter import Attributes, ParameterTable, request_attributes
from opik_otel.instrumentors._read import endpoint, field, integer, put, text


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


# Request parameter → (attribute, reader), for every OpenAI text-generation call.
PARAMETERS: ParameterTable = {
    "temperature": TEMPERATURE,
    "top_p": TOP_P,
    "frequency_penalty": FREQUENCY_PENALTY,
    "presence_penalty": PRESENCE_PENALTY,
    "stop": STOP_SEQUENCES,
    "seed": SEED,
    "service_tier": (sc.OPENAI_REQUEST_SERVICE_TIER, text),
    "max_tokens": MAX_TOKENS,
    "max_completion_tokens": MAX_TOKENS,
    "max_output_tokens": MAX_TOKENS,
    "n": CHOICE_COUNT,
    "stream": STREAM,
}


def request_start(
    operation_name: str, instance: Any, kwargs: dict[str, Any], api_type: str | None = None, parameters: ParameterTable = PARAMETERS
) -> tuple[str, Attributes]:
    """Span name and the attributes every OpenAI call starts with: endpoint, operation, model,
    parameters, and which API it is (`openai.api.type`) when given."""
    name, attributes = request_attributes(operation_name, kwargs.get("model"), endpoint_attributes(instance), kwargs, parameters)
    if api_type is not None:
        attributes[sc.OPENAI_API_TYPE] = api_type
    return name, attributes


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


# Where each API puts its token counts: input, output, and the details of each.
CHAT_USAGE = ("prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details")
RESPONSES_USAGE = ("input_tokens", "output_tokens", "input_tokens_details", "output_tokens_details")


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
