"""Readers of Haystack's values (component inputs and outputs) into span attributes.

Haystack hands its tracer the component inputs and outputs as they are (`ChatMessage`,
`Document`, dicts of them); these turn them into the conventions' attributes. They read by
attribute (`getattr`), never by `isinstance` on Haystack's classes, and never raise into
Haystack: the callers run them through `RunSpans`, which drops a failing reader's attributes.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from opik_otel import semconv as sc
from opik_otel.instrumentors._callbacks import Attributes
from opik_otel.instrumentors._read import document_row, field, plain_data
from opik_otel.semconv import messages as msg
from opik_otel.semconv.providers import OPENAI_FINISH_REASONS, finish_reason

#: A component class name's prefix → `gen_ai.provider.name` (an unclaimed model run's provider).
_PROVIDER_PREFIXES = (
    ("AzureOpenAI", sc.GenAiProvider.AZURE_OPENAI),
    ("OpenAI", sc.GenAiProvider.OPENAI),
    ("Anthropic", sc.GenAiProvider.ANTHROPIC),
    ("AmazonBedrock", sc.GenAiProvider.AWS_BEDROCK),
    ("GoogleGenAI", sc.GenAiProvider.GCP_GEN_AI),
    ("VertexAI", sc.GenAiProvider.GCP_VERTEX_AI),
    ("Mistral", sc.GenAiProvider.MISTRAL_AI),
    ("Cohere", sc.GenAiProvider.COHERE),
)
_ROLES = {"user": "user", "assistant": "assistant", "system": "system", "tool": "tool"}


def provider_of(component_type: str) -> str:
    """The provider a generator or embedder class talks to, by its name ("haystack" when unknown)."""
    for prefix, provider in _PROVIDER_PREFIXES:
        if component_type.startswith(prefix):
            return provider
    return "haystack"


def plain(value: Any, depth: int = 0) -> Any:
    """A Haystack value as plain JSON data: `ChatMessage`, `Document` … through their trace or dict form."""
    return plain_data(value, _leaf, depth)


def _leaf(value: Any, depth: int) -> Any:
    for method in ("_to_trace_dict", "to_dict"):
        convert = getattr(value, method, None)
        if callable(convert):
            try:
                return plain(convert(), depth + 1)
            except Exception:
                continue
    role = getattr(value, "value", None)  # an enum (ChatRole …)
    if isinstance(role, str):
        return role
    return str(value)


def content_value(key: str, value: Any) -> Attributes:
    """`{key: JSON of value}` (through `configure(redact=…)`)."""
    return {key: msg.content_json(plain(value))}


def _role(message: Any) -> str:
    role = getattr(message, "role", None)
    role = getattr(role, "value", role)
    return _ROLES.get(str(role), str(role or "user"))


def _parts(message: Any) -> list[dict[str, Any]]:
    parts: list[dict[str, Any]] = []
    for result in getattr(message, "tool_call_results", None) or _one(getattr(message, "tool_call_result", None)):
        origin = getattr(result, "origin", None)
        parts.append(msg.tool_call_response_part(plain(getattr(result, "result", None)), getattr(origin, "id", None)))
    texts = getattr(message, "texts", None)
    if texts is None:
        texts = _one(getattr(message, "text", None))
    for text in texts or ():
        if text:
            parts.append(msg.text_part(str(text)))
    for call in getattr(message, "tool_calls", None) or ():
        parts.append(msg.tool_call_part(str(getattr(call, "tool_name", "")), getattr(call, "arguments", None), getattr(call, "id", None)))
    return parts


def _one(value: Any) -> list[Any]:
    return [] if value is None else [value]


def input_messages(inputs: Any) -> Attributes:
    """`gen_ai.input.messages` and `gen_ai.system_instructions` from a generator's inputs
    (`messages`: `ChatMessage`s; or `prompt` and `system_prompt`: strings)."""
    if not isinstance(inputs, Mapping):
        return {}
    system: list[dict[str, Any]] = []
    rest: list[dict[str, Any]] = []
    prompt = inputs.get("system_prompt")
    if isinstance(prompt, str) and prompt:
        system.append(msg.text_part(prompt))
    for message in inputs.get("messages") or ():
        if isinstance(message, str):
            rest.append(msg.message("user", [msg.text_part(message)]))
            continue
        role = _role(message)
        if role == "system":
            system.extend(_parts(message))
        else:
            rest.append(msg.message(role, _parts(message)))
    prompt = inputs.get("prompt")
    if isinstance(prompt, str):
        rest.append(msg.message("user", [msg.text_part(prompt)]))
    attributes: Attributes = {}
    if system:
        attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = msg.content_json(system)
    if rest:
        attributes[sc.GEN_AI_INPUT_MESSAGES] = msg.content_json(rest)
    return attributes


def _usage(usage: Any) -> Attributes:
    """OpenAI-style usage (`prompt_tokens` includes cached tokens, as the conventions count them)."""
    attributes: Attributes = {}
    if not isinstance(usage, Mapping):
        return attributes
    for keys, attribute in (
        (("prompt_tokens", "input_tokens"), sc.GEN_AI_USAGE_INPUT_TOKENS),
        (("completion_tokens", "output_tokens"), sc.GEN_AI_USAGE_OUTPUT_TOKENS),
    ):
        for key in keys:
            value = usage.get(key)
            if isinstance(value, int) and not isinstance(value, bool):
                attributes[attribute] = value
                break
    # dicts in newer Haystack versions, the openai SDK's objects in older ones (2.13)
    cached = field(usage.get("prompt_tokens_details"), "cached_tokens")
    if isinstance(cached, int) and cached:
        attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cached
    reasoning = field(usage.get("completion_tokens_details"), "reasoning_tokens")
    if isinstance(reasoning, int) and reasoning:
        attributes[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = reasoning
    return attributes


def generator_model(outputs: Any) -> str | None:
    """The model a generator's output `meta` reports."""
    for meta in _reply_metas(outputs):
        model = meta.get("model")
        if model:
            return str(model)
    return None


def _reply_metas(outputs: Any) -> list[Mapping[str, Any]]:
    if not isinstance(outputs, Mapping):
        return []
    metas = outputs.get("meta")
    if isinstance(metas, list):  # OpenAIGenerator: replies are strings, one meta each
        return [m for m in metas if isinstance(m, Mapping)]
    if isinstance(metas, Mapping):  # an embedder: one meta
        return [metas]
    return [m for m in (getattr(r, "meta", None) for r in outputs.get("replies") or ()) if isinstance(m, Mapping)]


def generator_attributes(outputs: Any, inputs: Any, capture_content: bool) -> Attributes:
    """An unclaimed generator run's response attributes: model, usage, finish reasons, messages."""
    metas = _reply_metas(outputs)
    attributes: Attributes = {}
    model = generator_model(outputs)
    if model:
        attributes[sc.GEN_AI_RESPONSE_MODEL] = model
        attributes[sc.GEN_AI_REQUEST_MODEL] = model
    for meta in metas:
        response_id = meta.get("id")
        if response_id:
            attributes[sc.GEN_AI_RESPONSE_ID] = str(response_id)
        usage = _usage(meta.get("usage"))
        if usage:
            attributes.update(usage)
            break
    replies = outputs.get("replies") if isinstance(outputs, Mapping) else None
    # as the provider reports them (Haystack passes OpenAI's on), as the openai instrumentor writes them;
    # the output messages' finish_reason in the conventions' terms
    reported = [str(meta.get("finish_reason") or "stop") for meta in metas]
    if reported:
        attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] = reported
    reasons = [finish_reason(reason, OPENAI_FINISH_REASONS) for reason in reported]
    if capture_content:
        attributes.update(input_messages(inputs))
        outputs_json = []
        for index, reply in enumerate(replies or ()):
            parts = [msg.text_part(reply)] if isinstance(reply, str) else _parts(reply)
            outputs_json.append(msg.output_message(parts, reasons[index] if index < len(reasons) else "stop"))
        if outputs_json:
            attributes[sc.GEN_AI_OUTPUT_MESSAGES] = msg.content_json(outputs_json)
    return attributes


def embedder_attributes(outputs: Any) -> Attributes:
    """An unclaimed embedder run's response attributes: model, token usage, dimension."""
    attributes: Attributes = {}
    for meta in _reply_metas(outputs):
        model = meta.get("model")
        if model:
            attributes[sc.GEN_AI_RESPONSE_MODEL] = attributes[sc.GEN_AI_REQUEST_MODEL] = str(model)
        usage = _usage(meta.get("usage"))
        usage.pop(sc.GEN_AI_USAGE_OUTPUT_TOKENS, None)
        attributes.update(usage)
    embedding = outputs.get("embedding") if isinstance(outputs, Mapping) else None
    if isinstance(embedding, list) and embedding:
        attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = len(embedding)
    return attributes


def documents_rows(documents: Sequence[Any] | None) -> list[dict[str, Any]]:
    """Retrieved documents as `{"id", "score", "content"}` rows."""
    return [document_row(getattr(d, "id", None), getattr(d, "score", None), getattr(d, "content", None)) for d in documents or ()]


def tool_results(outputs: Any) -> list[Any]:
    """The `ToolCallResult`s of a `ToolInvoker`'s output (`tool_messages`)."""
    if not isinstance(outputs, Mapping):
        return []
    results = []
    for message in outputs.get("tool_messages") or ():
        results.extend(getattr(message, "tool_call_results", None) or _one(getattr(message, "tool_call_result", None)))
    return results
