"""LiteLLM's calls as engine `Operation`s: `completion` / `acompletion` (plain and streamed),
`embedding` / `aembedding`, `text_completion` and `responses`. LiteLLM answers in OpenAI's
shapes, so the OpenAI readers read the replies; the provider is LiteLLM's own resolution of the
model string, and LiteLLM's own `response_cost` goes into metadata beside our price."""

from __future__ import annotations

from typing import Any

from opik_otel import semconv as sc
from opik_otel.instrumentors._adapter import request_attributes, request_content, response_attributes
from opik_otel.instrumentors._engine import Attributes, Operation, StreamState
from opik_otel.instrumentors._read import endpoint, field, integer, put, text
from opik_otel.instrumentors.openai.chat import ChatCompletions, ChatStreamState, _ChoiceDeltas
from opik_otel.instrumentors.openai.common import CHAT_USAGE, PARAMETERS, usage_attributes
from opik_otel.instrumentors.openai.embeddings import PARAMETERS as EMBEDDING_PARAMETERS
from opik_otel.instrumentors.openai.embeddings import Embeddings
from opik_otel.instrumentors.openai.responses import Responses
from opik_otel.semconv.providers import OPENAI_FINISH_REASONS, finish_reason, known_provider

RESPONSE_COST = f"{sc.OPIK_METADATA_PREFIX}litellm.response_cost"


def provider_attributes(kwargs: dict[str, Any]) -> Attributes:
    """`gen_ai.provider.name` (and the server of a given `api_base`) from LiteLLM's own
    resolution of the model string (`anthropic/claude-…` → `anthropic`), in the conventions' names."""
    import litellm

    resolved = litellm.get_llm_provider(
        model=kwargs.get("model"), custom_llm_provider=kwargs.get("custom_llm_provider"), api_base=kwargs.get("api_base")
    )
    name = text(resolved[1]) or sc.GenAiProvider.OPENAI
    known = known_provider(name)
    provider = known.name if known is not None else name
    api_base = text(kwargs.get("api_base")) or text(resolved[3])
    return endpoint(api_base, provider) if api_base else {sc.GEN_AI_PROVIDER_NAME: provider}


def _provider(kwargs: dict[str, Any]) -> Attributes:
    try:
        return provider_attributes(kwargs)
    except Exception:  # an unresolvable model: LiteLLM raises it to the user itself
        return {}


def response_cost(response: Any) -> Attributes:
    """LiteLLM's own `response_cost` for the call, as Opik metadata (ours is computed from usage)."""
    attributes: Attributes = {}
    hidden = getattr(response, "_hidden_params", None)
    cost = hidden.get("response_cost") if isinstance(hidden, dict) else None
    if isinstance(cost, (int, float)) and not isinstance(cost, bool):
        attributes[RESPONSE_COST] = float(cost)
    return attributes


def _with_litellm_provider(attributes: Attributes, kwargs: dict[str, Any]) -> Attributes:
    """An OpenAI reader's request attributes with LiteLLM's provider in place of the openai SDK's."""
    for key in (sc.OPENAI_API_TYPE, sc.GEN_AI_PROVIDER_NAME, sc.SERVER_ADDRESS, sc.SERVER_PORT):
        attributes.pop(key, None)
    attributes.update(_provider(kwargs))
    return attributes


def cache_writes(usage: Any) -> Attributes:
    """The cache-write tokens LiteLLM reports for Anthropic (already counted in its `prompt_tokens`)."""
    attributes: Attributes = {}
    if usage is not None:
        written = integer(field(usage, "cache_creation_input_tokens"))
        if written is None:
            written = integer(field(field(usage, "prompt_tokens_details"), "cache_creation_tokens"))
        put(attributes, sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS, written or None)
    return attributes


class Completion(ChatCompletions):
    """`litellm.completion` / `acompletion`: OpenAI's chat request and reply readers, LiteLLM's provider."""

    positional = ("model", "messages")

    def request(self, instance: Any, kwargs: dict[str, Any], capture_content: bool) -> tuple[str, Attributes]:
        name, attributes = super().request(instance, kwargs, capture_content)
        return name, _with_litellm_provider(attributes, kwargs)

    def response(self, response: Any, capture_content: bool) -> Attributes:
        attributes = super().response(response, capture_content)
        attributes.update(cache_writes(field(response, "usage")))
        attributes.update(response_cost(response))
        return attributes

    def stream_state(self, capture_content: bool) -> StreamState:
        return CompletionStreamState(capture_content)


class CompletionStreamState(ChatStreamState):
    """`ChatStreamState` for LiteLLM's `ModelResponseStream` chunks (only the last carries `usage`)."""

    __slots__ = ()

    def on_chunk(self, chunk: Any) -> None:
        if not self.metadata_done:
            self._read_metadata(chunk)
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage = usage
        for choice in getattr(chunk, "choices", None) or ():
            if choice.finish_reason:
                self.finish[choice.index] = choice.finish_reason
            delta = getattr(choice, "delta", None)
            if self.capture and delta is not None:
                deltas = self.choices.get(choice.index)
                if deltas is None:
                    deltas = self.choices[choice.index] = _ChoiceDeltas()
                deltas.add(delta)

    def attributes(self) -> Attributes:
        attributes = super().attributes()
        attributes.update(cache_writes(self.usage))
        return attributes


class Embedding(Embeddings):
    """`litellm.embedding` / `aembedding`."""

    positional = ("model", "input")

    def request(self, instance: Any, kwargs: dict[str, Any], capture_content: bool) -> tuple[str, Attributes]:
        name, attributes = request_attributes(self.operation_name, kwargs.get("model"), _provider(kwargs), kwargs, EMBEDDING_PARAMETERS)
        value = kwargs.get("input")
        if capture_content and isinstance(value, (str, list)):
            attributes[sc.INPUT_VALUE] = sc.content_json({"input": value})
        return name, attributes

    def response(self, response: Any, capture_content: bool) -> Attributes:
        attributes = super().response(response, capture_content)
        attributes.update(response_cost(response))
        return attributes



class TextCompletion(Operation):
    """`litellm.text_completion` / `atext_completion`: a prompt in, choices of text out.

    A streamed call's span ends when the call returns, with its request attributes only."""

    positional = ("prompt", "model")

    operation_name = sc.GenAiOperation.TEXT_COMPLETION

    def request(self, instance: Any, kwargs: dict[str, Any], capture_content: bool) -> tuple[str, Attributes]:
        name, attributes = request_attributes(self.operation_name, kwargs.get("model"), _provider(kwargs), kwargs, PARAMETERS)
        prompt = kwargs.get("prompt")
        if capture_content and isinstance(prompt, str):
            request_content(attributes, [sc.message("user", [sc.text_part(prompt)])])
        return name, attributes

    def response(self, response: Any, capture_content: bool) -> Attributes:
        if not hasattr(response, "choices"):  # a stream (not read here)
            return {}
        choices = field(response, "choices") or ()
        reasons = [field(choice, "finish_reason") or "" for choice in choices]
        outputs = None
        if capture_content:
            outputs = [
                sc.output_message([sc.text_part(text(field(c, "text")) or "")], finish_reason(field(c, "finish_reason"), OPENAI_FINISH_REASONS)) for c in choices
            ]
        usage = field(response, "usage")
        attributes = response_attributes(field(response, "id"), field(response, "model"), reasons, usage_attributes(usage, *CHAT_USAGE), outputs)
        attributes.update(response_cost(response))
        return attributes


class ResponsesCall(Responses):
    """`litellm.responses` / `aresponses`: OpenAI's Responses API readers, LiteLLM's provider."""

    positional = ("input", "model")

    def request(self, instance: Any, kwargs: dict[str, Any], capture_content: bool) -> tuple[str, Attributes]:
        name, attributes = super().request(instance, kwargs, capture_content)
        return name, _with_litellm_provider(attributes, kwargs)

    def response(self, response: Any, capture_content: bool) -> Attributes:
        attributes = super().response(response, capture_content)
        attributes.update(response_cost(response))
        return attributes
