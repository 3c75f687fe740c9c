"""Bedrock Runtime `Converse` and `ConverseStream`."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from opik_otel import semconv as sc
from opik_otel.instrumentors._engine import Attributes, Operation, StreamState
from opik_otel.instrumentors._read import as_plain, integer, maybe_json, number, put, strings, text
from opik_otel.instrumentors.bedrock.families import finish_reason

# Cross-region inference profiles (us., eu., apac., global. …) and ARNs → the model's own id.
_PROFILE_PREFIX = re.compile(r"^(?:us|eu|apac|ap|ca|jp|au|us-gov|global)\.")


def model_name(model_id: str) -> str:
    """`arn:aws:bedrock:…:inference-profile/us.anthropic.claude-…` → `anthropic.claude-…`."""
    name = model_id.rsplit("/", 1)[-1] if model_id.startswith("arn:") else model_id
    return _PROFILE_PREFIX.sub("", name)


def content_parts(content: Any) -> list[dict[str, Any]]:
    parts = []
    for block in content or ():
        if "text" in block:
            parts.append(sc.text_part(block["text"]))
        elif "toolUse" in block:
            use = block["toolUse"]
            parts.append(sc.tool_call_part(use.get("name") or "", use.get("input"), use.get("toolUseId")))
        elif "toolResult" in block:
            result = block["toolResult"]
            parts.append(sc.tool_call_response_part(as_plain(result.get("content")), result.get("toolUseId")))
        elif "reasoningContent" in block:
            reasoning = block["reasoningContent"].get("reasoningText") or {}
            parts.append(sc.reasoning_part(reasoning.get("text") or ""))
        elif "image" in block:
            image = block["image"]
            parts.append({"type": "blob", "modality": "image", "mime_type": f"image/{image.get('format')}", "content": "<bytes>"})
        else:
            parts.append({"type": next(iter(block), "unknown"), "content": as_plain(block)})
    return parts


def usage_attributes(usage: Any) -> Attributes:
    """Bedrock reports cache reads and writes apart from `inputTokens`; the conventions sum them."""
    if not isinstance(usage, dict):
        return {}
    cache_read = integer(usage.get("cacheReadInputTokens", usage.get("cacheReadInputTokenCount"))) or 0
    cache_write = integer(usage.get("cacheWriteInputTokens", usage.get("cacheWriteInputTokenCount"))) or 0
    attributes: Attributes = {sc.GEN_AI_USAGE_INPUT_TOKENS: (integer(usage.get("inputTokens")) or 0) + cache_read + cache_write}
    put(attributes, sc.GEN_AI_USAGE_OUTPUT_TOKENS, integer(usage.get("outputTokens")))
    if cache_read:
        attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cache_read
    if cache_write:
        attributes[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = cache_write
    return attributes


def converse_request(kwargs: dict[str, Any], capture_content: bool) -> Attributes:
    """Request attributes of Converse-shaped parameters (Converse, and Nova's `invoke_model` body)."""
    attributes: Attributes = {}
    config = kwargs.get("inferenceConfig") or {}
    put(attributes, sc.GEN_AI_REQUEST_MAX_TOKENS, integer(config.get("maxTokens")))
    put(attributes, sc.GEN_AI_REQUEST_TEMPERATURE, number(config.get("temperature")))
    put(attributes, sc.GEN_AI_REQUEST_TOP_P, number(config.get("topP")))
    put(attributes, sc.GEN_AI_REQUEST_STOP_SEQUENCES, strings(config.get("stopSequences")))
    if capture_content:
        attributes[sc.GEN_AI_INPUT_MESSAGES] = sc.content_json(
            [sc.message(m.get("role") or "user", content_parts(m.get("content"))) for m in kwargs.get("messages") or ()]
        )
        system = kwargs.get("system")
        if system:
            attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = sc.content_json(content_parts(system))
        tools = (kwargs.get("toolConfig") or {}).get("tools")
        if tools:
            specs = [t.get("toolSpec") or t for t in tools]
            attributes[sc.GEN_AI_TOOL_DEFINITIONS] = sc.content_json(
                [sc.tool_definition(s.get("name") or "", s.get("description"), (s.get("inputSchema") or {}).get("json")) for s in specs]
            )
    return attributes


def converse_response(response: Any, capture_content: bool) -> Attributes:
    """Attributes of a Converse-shaped response (`output.message`, `stopReason`, `usage`)."""
    attributes = usage_attributes(response.get("usage"))
    reason = response.get("stopReason")
    if isinstance(reason, str):
        attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [reason]
    if capture_content:
        message = (response.get("output") or {}).get("message") or {}
        attributes[sc.GEN_AI_OUTPUT_MESSAGES] = sc.content_json([sc.output_message(content_parts(message.get("content")), finish_reason(reason))])
    return attributes


def request_start(instance: Any, kwargs: dict[str, Any], operation_name: str, streams: bool) -> tuple[str, Attributes]:
    """Span name and the attributes every Bedrock Runtime call has: provider, endpoint, model, guardrail."""
    model = model_name(text(kwargs.get("modelId")) or "")
    attributes = endpoint_attributes(instance)
    attributes[sc.GEN_AI_OPERATION_NAME] = operation_name
    attributes[sc.GEN_AI_REQUEST_MODEL] = model
    guardrail = kwargs.get("guardrailConfig") or {}
    put(attributes, sc.AWS_BEDROCK_GUARDRAIL_ID, text(guardrail.get("guardrailIdentifier") or kwargs.get("guardrailIdentifier")))
    if streams:
        attributes[sc.GEN_AI_REQUEST_STREAM] = True
    return f"{operation_name} {model}".rstrip(), attributes


def request_id(response: Any) -> str | None:
    return text((response.get("ResponseMetadata") or {}).get("RequestId"))


class StreamInResponse(Operation):
    """botocore answers a dict holding the stream under `stream_key`: the same dict is handed
    back with its stream wrapped. `streams` says whether this operation streams."""

    streams = False
    stream_key = "stream"

    def is_stream(self, kwargs: dict[str, Any], result: Any) -> bool:
        return self.streams

    def stream_of(self, result: Any) -> Any:
        return result[self.stream_key]

    def with_stream(self, result: Any, stream: Any) -> Any:
        result[self.stream_key] = stream
        return result

    def stream_start(self, result: Any) -> Attributes:
        request = request_id(result)
        return {sc.GEN_AI_RESPONSE_ID: request} if request else {}


class Converse(StreamInResponse):
    """`converse(modelId=…, messages=…)`; `streams` for `converse_stream`."""

    operation_name = sc.GenAiOperation.CHAT

    def request(self, instance: Any, kwargs: dict[str, Any], capture_content: bool) -> tuple[str, Attributes]:
        name, attributes = request_start(instance, kwargs, self.operation_name, self.streams)
        attributes.update(converse_request(kwargs, capture_content))
        return name, attributes

    def response(self, response: Any, capture_content: bool) -> Attributes:
        attributes = converse_response(response, capture_content)
        put(attributes, sc.GEN_AI_RESPONSE_ID, request_id(response))
        return attributes

    def stream_state(self, capture_content: bool) -> StreamState:
        return ConverseStreamState(capture_content)


class ConverseStream(Converse):
    streams = True


class ConverseStreamState(StreamState):
    """ConverseStream events: text and tool-use deltas, `messageStop`, `metadata` with usage."""

    __slots__ = ("capture", "blocks", "stop_reason", "usage")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.blocks: dict[int, list[Any]] = {}  # index → [tool use start or None, pieces]
        self.stop_reason: Any = None
        self.usage: Any = None

    def on_chunk(self, event: Any) -> None:
        if "contentBlockDelta" in event:
            if self.capture:
                body = event["contentBlockDelta"]
                delta = body.get("delta") or {}
                piece = delta.get("text") or (delta.get("toolUse") or {}).get("input") or (delta.get("reasoningContent") or {}).get("text")
                if piece:
                    self.blocks.setdefault(body.get("contentBlockIndex", 0), [None, []])[1].append(piece)
        elif "contentBlockStart" in event:
            body = event["contentBlockStart"]
            self.blocks.setdefault(body.get("contentBlockIndex", 0), [None, []])[0] = (body.get("start") or {}).get("toolUse")
        elif "messageStop" in event:
            self.stop_reason = event["messageStop"].get("stopReason")
        elif "metadata" in event:
            self.usage = event["metadata"].get("usage")

    def attributes(self) -> Attributes:
        attributes = usage_attributes(self.usage)
        if isinstance(self.stop_reason, str):
            attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [self.stop_reason]
        if self.capture:
            parts = []
            for _, (tool_use, pieces) in sorted(self.blocks.items()):
                joined = "".join(pieces)
                if tool_use:
                    parts.append(sc.tool_call_part(tool_use.get("name") or "", maybe_json(joined) if joined else None, tool_use.get("toolUseId")))
                else:
                    parts.append(sc.text_part(joined))
            attributes[sc.GEN_AI_OUTPUT_MESSAGES] = sc.content_json([sc.output_message(parts, finish_reason(self.stop_reason))])
        return attributes


def endpoint_attributes(client: Any) -> Attributes:
    """`aws.bedrock`, the endpoint's host (the region's `bedrock-runtime` host) and port."""
    return dict(_endpoint(getattr(getattr(client, "meta", None), "endpoint_url", "") or ""))


@lru_cache(maxsize=64)
def _endpoint(url: str) -> tuple[tuple[str, Any], ...]:
    parts = urlsplit(url)
    return ((sc.GEN_AI_PROVIDER_NAME, sc.GenAiProvider.AWS_BEDROCK), (sc.SERVER_ADDRESS, parts.hostname or ""), (sc.SERVER_PORT, parts.port or 443))
