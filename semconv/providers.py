"""The one table of GenAI providers, and what each calls things.

A row per provider: its `gen_ai.provider.name`, the names other instrumentations give it
(`gen_ai.system`, OpenInference's `llm.provider` …, in any case), the API hosts that identify
it, its genai-prices id and its Opik name. The instrumentors (provider by host), the
usage/cost processor (genai-prices id) and the Opik mapping (Opik name) all read this table.
Also each provider's one finish-reason table, and how a Bedrock model id names its model.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, NamedTuple

from opik_otel.semconv.attributes import GenAiProvider as _P


class Provider(NamedTuple):
    """One GenAI provider: its names, the hosts that identify it, and what pricing and Opik call it."""

    name: str  # `gen_ai.provider.name`
    prices_id: str  # genai-prices' provider id
    opik_name: str  # Opik's provider name
    aliases: tuple[str, ...] = ()  # other instrumentations' names for it (matched in any case)
    hosts: tuple[str, ...] = ()  # API host names (suffixes) that identify it
    by_host: tuple[str, ...] = ()  # a name that says only the vendor: the providers its host tells apart


PROVIDERS: tuple[Provider, ...] = (
    Provider(_P.OPENAI, "openai", "openai"),
    Provider(_P.AZURE_OPENAI, "azure", "azure", ("az.ai.openai", "azure"), (".openai.azure.com", ".cognitiveservices.azure.com")),
    Provider(_P.AZURE_INFERENCE, "azure", "azure", (), (".services.ai.azure.com",)),
    Provider(_P.ANTHROPIC, "anthropic", "anthropic"),
    Provider(_P.AWS_BEDROCK, "aws", "bedrock", ("aws", "aws_bedrock", "bedrock"), (".amazonaws.com",)),
    Provider(_P.GCP_GEMINI, "google", "google_ai", ("gemini",), ("generativelanguage.googleapis.com",)),
    Provider(_P.GCP_VERTEX_AI, "google", "google_vertexai", ("vertex_ai", "vertexai"), ("aiplatform.googleapis.com",)),
    Provider(_P.GCP_GEN_AI, "google", "google_ai", ("google",), by_host=(_P.GCP_VERTEX_AI, _P.GCP_GEMINI)),
    Provider(_P.MISTRAL_AI, "mistral", "mistral", ("mistralai", "mistral"), ("api.mistral.ai",)),
    Provider(_P.X_AI, "x-ai", "xai", ("xai",), ("api.x.ai",)),
    Provider(_P.DEEPSEEK, "deepseek", "deepseek", (), ("api.deepseek.com",)),
    Provider(_P.GROQ, "groq", "groq", (), ("api.groq.com",)),
    Provider(_P.COHERE, "cohere", "cohere", (), ("api.cohere.ai", "api.cohere.com")),
    Provider(_P.PERPLEXITY, "perplexity", "perplexity", (), ("api.perplexity.ai",)),
    Provider("together", "together", "together_ai"),
    Provider("fireworks", "fireworks", "fireworks_ai"),
    Provider("openrouter", "openrouter", "openrouter"),
)

_BY_NAME: dict[str, Provider] = {
    name.lower(): provider for provider in PROVIDERS for name in (provider.name, *provider.aliases)
}
_HOST_SUFFIXES: tuple[tuple[str, str], ...] = tuple(
    (suffix, provider.name) for provider in PROVIDERS for suffix in provider.hosts
)


def known_provider(name: Any) -> Provider | None:
    """The provider a `gen_ai.provider.name` (or another instrumentation's name for it) names."""
    if not isinstance(name, str):
        return None
    return _BY_NAME.get(name) or _BY_NAME.get(name.lower())


def prices_id(name: Any) -> str | None:
    """genai-prices' id of a provider; None for one it does not know."""
    provider = known_provider(name)
    return provider.prices_id if provider is not None else None


def provider_of_host(host: str) -> str | None:
    """The `gen_ai.provider.name` an API host identifies (`api.deepseek.com` → `deepseek`); None for others."""
    for suffix, name in _HOST_SUFFIXES:
        if host.endswith(suffix):
            return name
    return None


def opik_provider(provider: str, server_address: str | None = None) -> str:
    """Opik's name of a GenAI provider (a name that says only the vendor, by the server's host);
    an unknown one passes through."""
    known = known_provider(provider)
    if known is None:
        return provider
    if known.by_host and server_address:
        hosted = known_provider(provider_of_host(server_address))
        if hosted is not None and hosted.name in known.by_host:
            return hosted.opik_name
    return known.opik_name


# -- finish reasons: each provider's stop reasons → the conventions' finish_reason ----------

OPENAI_FINISH_REASONS: Mapping[str, str] = {
    "tool_calls": "tool_call",
    "function_call": "tool_call",
    # a Responses API reply's `incomplete_details.reason`
    "max_output_tokens": "length",
    "content_filter": "content_filter",
}
ANTHROPIC_FINISH_REASONS: Mapping[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "tool_use": "tool_call",
    "refusal": "content_filter",
}
# Converse's stop reasons and every model family's own (Claude's are Anthropic's), any case.
BEDROCK_FINISH_REASONS: Mapping[str, str] = {
    **ANTHROPIC_FINISH_REASONS,
    "stop": "stop", "finish": "stop", "complete": "stop", "endoftext": "stop",
    "length": "length", "model_length": "length",
    "tool_calls": "tool_call", "tool_call": "tool_call",
    "content_filtered": "content_filter", "error_toxic": "content_filter", "guardrail_intervened": "content_filter",
}
# Gemini's `FinishReason` (google-genai, Gemini API and Vertex AI), any case.
GEMINI_FINISH_REASONS: Mapping[str, str] = {
    "stop": "stop",
    "max_tokens": "length",
    "safety": "content_filter", "recitation": "content_filter", "blocklist": "content_filter",
    "prohibited_content": "content_filter", "spii": "content_filter", "image_safety": "content_filter",
    "image_prohibited_content": "content_filter", "image_recitation": "content_filter",
    "malformed_function_call": "error", "unexpected_tool_call": "error",
}


def finish_reason(reason: Any, table: Mapping[str, str], missing: str = "stop") -> str:
    """The conventions' finish_reason of a provider's stop reason, by that provider's table (in
    any case); a reason the table does not know as it is, `missing` when there is none."""
    if not isinstance(reason, str):
        return missing
    return table.get(reason) or table.get(reason.lower(), reason)


# -- Bedrock model ids ------------------------------------------------------------------

# A Bedrock model id as sent: an ARN (of a foundation model, an inference profile, a provisioned
# model …), a geographic inference profile (`us.anthropic.claude-…`, `global.…`) or a model id.
_BEDROCK_GEOGRAPHY = re.compile(r"^(?:us|us-gov|eu|apac|ap|ca|jp|au|global)\.")


def bedrock_base_model(model_id: str) -> str:
    """The foundation model a Bedrock model id names: the ARN's resource id without its
    geographic prefix (`arn:…:inference-profile/us.anthropic.claude-…` → `anthropic.claude-…`).
    An application profile's or a provisioned model's ARN names no model: its own id is returned."""
    name = model_id.rsplit("/", 1)[-1] if model_id.startswith("arn:") else model_id
    return _BEDROCK_GEOGRAPHY.sub("", name, count=1)
