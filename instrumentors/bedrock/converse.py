"""Bedrock Runtime `Converse` and `ConverseStream`.

One output builder, `converse_output`, reads Converse content blocks for both: a complete
reply's `output.message.content`, and the blocks a stream's deltas add up to
(`ConverseStreamState` joins them back into the same block shapes), so a streamed reply is
recorded exactly as the same reply not streamed. Nova's `invoke_model` bodies are
Converse-shaped and use the same readers.
"""

from __future__ import annotations

from typing import Any

from opik_otel import semconv as sc
from opik_otel.instrumentors._adapter import MAX_TOKENS, STOP_SEQUENCES, TEMPERATURE, TOP_P, ParameterTable, read_parameters, request_attributes
from opik_otel.instrumentors._adapter import request_content, response_attributes, unknown_part
from opik_otel.instrumentors._engine import Attributes, Operation, StreamState
from opik_otel.instrumentors._read import as_plain, endpoint, integer, maybe_json, put, text
from opik_otel.semconv.providers import BEDROCK_FINISH_REASONS, finish_reason
from opik_otel.semconv.usage import cache_inclusive_usage

# The AWS request id (`ResponseMetadata.RequestId`), named as the official botocore instrumentation names it.
AWS_REQUEST_ID = "aws.request_id"
# What botocore puts in place of a union member its service model lacks (reasoning in botocore < 1.36).
_UNKNOWN_TO_BOTOCORE = "SDK_UNKNOWN_MEMBER"


def content_parts(content: Any) -> list[dict[str, Any]]:
    """Converse content blocks (a message's, a reply's, or a stream's joined deltas) as convention parts."""
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
        elif _UNKNOWN_TO_BOTOCORE in block:
            continue  # a block type this botocore has no model for: it dropped the content (streams drop it too)
        else:
            parts.append(unknown_part(next(iter(block), None), block))
    return parts


def usage_attributes(usage: Any) -> Attributes:
    """Bedrock reports cache reads and writes apart from `inputTokens`; the conventions sum them."""
    if not isinstance(usage, dict):
        return {}
    return cache_inclusive_usage(
        integer(usage.get("inputTokens")),
        integer(usage.get("outputTokens")),
        integer(usage.get("cacheReadInputTokens", usage.get("cacheReadInputTokenCount"))),
        integer(usage.get("cacheWriteInputTokens", usage.get("cacheWriteInputTokenCount"))),
    )


# `inferenceConfig` key → (attribute, reader)
PARAMETERS: ParameterTable = {"maxTokens": MAX_TOKENS, "temperature": TEMPERATURE, "topP": TOP_P, "stopSequences": STOP_SEQUENCES}


def tool_definitions(tool_config: Any) -> list[dict[str, Any]] | None:
    """The tools of a `toolConfig` as tool definitions (None without tools)."""
    tools = tool_config.get("tools") if isinstance(tool_config, dict) else None
    if not tools:
        return None
    specs = [tool.get("toolSpec") or tool for tool in tools]
    return [sc.tool_definition(s.get("name") or "", s.get("description"), (s.get("inputSchema") or {}).get("json")) for s in specs]


def converse_request(kwargs: dict[str, Any], capture_content: bool, attributes: Attributes, parameters: ParameterTable = PARAMETERS) -> Attributes:
    """Request attributes of Converse-shaped parameters (Converse, and Nova's `invoke_model` body), into `attributes`."""
    read_parameters(kwargs.get("inferenceConfig"), parameters, attributes)
    if capture_content:
        messages = [sc.message(m.get("role") or "user", content_parts(m.get("content"))) for m in kwargs.get("messages") or ()]
        system = kwargs.get("system")
        request_content(attributes, messages, content_parts(system) if system else None, tool_definitions(kwargs.get("toolConfig")))
    return attributes


def converse_output(content: Any, stop_reason: Any, usage: Any, capture_content: bool) -> Attributes:
    """The response attributes of a Converse-shaped reply: its content blocks, stop reason and usage.

    The one builder of both paths: `converse_response` passes the reply's blocks, the stream
    state the blocks its deltas joined into."""
    outputs = [sc.output_message(content_parts(content), finish_reason(stop_reason, BEDROCK_FINISH_REASONS))] if capture_content else None
    return response_attributes(None, None, stop_reason, usage_attributes(usage), outputs)


def converse_response(response: Any, capture_content: bool) -> Attributes:
    """Attributes of a Converse-shaped response (`output.message`, `stopReason`, `usage`)."""
    message = (response.get("output") or {}).get("message") or {}
    return converse_output(message.get("content"), response.get("stopReason"), response.get("usage"), capture_content)


def request_start(instance: Any, kwargs: dict[str, Any], operation_name: str, streams: bool) -> tuple[str, Attributes]:
    """Span name and the attributes every Bedrock Runtime call has: provider, endpoint, the
    model id exactly as sent (a profile's or a model's id, or an ARN), guardrail."""
    name, attributes = request_attributes(operation_name, kwargs.get("modelId"), endpoint_attributes(instance))
    guardrail = kwargs.get("guardrailConfig") or {}
    put(attributes, sc.AWS_BEDROCK_GUARDRAIL_ID, text(guardrail.get("guardrailIdentifier") or kwargs.get("guardrailIdentifier")))
    if streams:
        attributes[sc.GEN_AI_REQUEST_STREAM] = True
    return name, attributes


def request_id(response: Any, attributes: Attributes | None = None) -> Attributes:
    """`aws.request_id`: AWS's id of the call (not the model's response id), into `attributes` (else a new dict)."""
    if attributes is None:
        attributes = {}
    put(attributes, AWS_REQUEST_ID, text((response.get("ResponseMetadata") or {}).get("RequestId")))
    return attributes


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
        return request_id(result)


class Converse(StreamInResponse):
    """`converse(modelId=…, messages=…)`; `streams` for `converse_stream`."""

    operation_name = sc.GenAiOperation.CHAT

    def request(self, instance: Any, kwargs: dict[str, Any], capture_content: bool) -> tuple[str, Attributes]:
        name, attributes = request_start(instance, kwargs, self.operation_name, self.streams)
        return name, converse_request(kwargs, capture_content, attributes)

    def response(self, response: Any, capture_content: bool) -> Attributes:
        return request_id(response, converse_response(response, capture_content))

    def stream_state(self, capture_content: bool) -> StreamState:
        return ConverseStreamState(capture_content)


class ConverseStream(Converse):
    streams = True


class _Block:
    """One content block of a stream, as its deltas arrive: a tool use's start, text or reasoning pieces."""

    __slots__ = ("tool_use", "kind", "pieces")

    def __init__(self) -> None:
        self.tool_use: dict[str, Any] | None = None
        self.kind = "text"  # "text", "toolUse" or "reasoningContent": the kind of its deltas
        self.pieces: list[str] = []

    def as_converse_block(self) -> dict[str, Any]:
        """The block as a complete Converse reply would have it."""
        joined = "".join(self.pieces)
        if self.tool_use is not None or self.kind == "toolUse":
            use = self.tool_use or {}
            return {"toolUse": {"toolUseId": use.get("toolUseId"), "name": use.get("name"), "input": maybe_json(joined) if joined else None}}
        if self.kind == "reasoningContent":
            return {"reasoningContent": {"reasoningText": {"text": joined}}}
        return {"text": joined}


class ConverseStreamState(StreamState):
    """ConverseStream events (and Nova's `invoke_model` stream chunks): content deltas joined
    per block, `messageStop`, `metadata` with usage; read by `converse_output` at the end."""

    __slots__ = ("capture", "blocks", "stop_reason", "usage")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.blocks: dict[int, _Block] = {}
        self.stop_reason: Any = None
        self.usage: Any = None

    def _block(self, body: dict[str, Any]) -> _Block:
        index = body.get("contentBlockIndex", 0)
        block = self.blocks.get(index)
        if block is None:
            block = self.blocks[index] = _Block()
        return block

    def on_chunk(self, event: Any) -> None:
        if "contentBlockDelta" in event:
            if self.capture:
                body = event["contentBlockDelta"]
                delta = body.get("delta") or {}
                for kind, key in (("text", None), ("toolUse", "input"), ("reasoningContent", "text")):
                    if kind in delta:
                        piece = delta[kind] if key is None else (delta[kind] or {}).get(key)
                        block = self._block(body)
                        block.kind = kind
                        if isinstance(piece, str) and piece:
                            block.pieces.append(piece)
                        break
        elif "contentBlockStart" in event:
            body = event["contentBlockStart"]
            self._block(body).tool_use = (body.get("start") or {}).get("toolUse")
        elif "messageStop" in event:
            self.stop_reason = event["messageStop"].get("stopReason")
        elif "metadata" in event:
            self.usage = event["metadata"].get("usage")

    def attributes(self) -> Attributes:
        content = [block.as_converse_block() for _, block in sorted(self.blocks.items())]
        return converse_output(content, self.stop_reason, self.usage, self.capture)


def endpoint_attributes(client: Any) -> Attributes:
    """`aws.bedrock`, the endpoint's host (the region's `bedrock-runtime` host) and port."""
    return endpoint(getattr(getattr(client, "meta", None), "endpoint_url", "") or "", sc.GenAiProvider.AWS_BEDROCK)
