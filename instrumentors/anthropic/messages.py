"""Anthropic Messages API: `messages.create` (plain and `stream=True`), `messages.stream()`, `messages.parse`."""

from __future__ import annotations

from typing import Any

from opik_otel import semconv as sc
from opik_otel.instrumentors._engine import Attributes, Operation, StreamState
from opik_otel.instrumentors._read import as_plain, field, integer, number, put, strings, text

# stop_reason → the conventions' finish_reason
_FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_call", "refusal": "content_filter", "pause_turn": "stop"}


def _image_part(source: Any) -> dict[str, Any]:
    kind = field(source, "type")
    if kind == "base64":
        return sc.blob_part(field(source, "data") or "", "image", field(source, "media_type"))
    if kind == "url":
        return sc.uri_part(field(source, "url") or "", "image")
    return {"type": "file", "modality": "image", "file_id": field(source, "file_id")}


def content_parts(content: Any) -> list[dict[str, Any]]:
    """A message's `content` (a string or content blocks) as convention parts."""
    if isinstance(content, str):
        return [sc.text_part(content)]
    parts = []
    for block in content or ():
        kind = field(block, "type")
        if kind == "text":
            parts.append(sc.text_part(field(block, "text") or ""))
        elif kind == "image":
            parts.append(_image_part(field(block, "source")))
        elif kind == "tool_use":
            parts.append(sc.tool_call_part(field(block, "name") or "", as_plain(field(block, "input")), field(block, "id")))
        elif kind == "tool_result":
            result = field(block, "content")
            if not isinstance(result, str):
                result = [as_plain(item) for item in result or ()]
            parts.append(sc.tool_call_response_part(result, field(block, "tool_use_id")))
        elif kind in ("thinking", "redacted_thinking"):
            parts.append(sc.reasoning_part(field(block, "thinking") or ""))
        else:
            parts.append({"type": kind or "unknown", "content": as_plain(block)})
    return parts


def tool_definitions(tools: Any) -> list[dict[str, Any]]:
    definitions = []
    for tool in tools or ():
        if field(tool, "input_schema") is not None:
            definitions.append(sc.tool_definition(field(tool, "name") or "", field(tool, "description"), field(tool, "input_schema")))
        else:  # server tools (web search, code execution …)
            definitions.append(as_plain(tool))
    return definitions


def usage_attributes(usage: Any) -> Attributes:
    """The conventions count every input token: input + cache reads + cache writes."""
    attributes: Attributes = {}
    if usage is None:
        return attributes
    uncached = integer(field(usage, "input_tokens")) or 0
    cache_read = integer(field(usage, "cache_read_input_tokens")) or 0
    cache_write = integer(field(usage, "cache_creation_input_tokens")) or 0
    attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] = uncached + cache_read + cache_write
    put(attributes, sc.GEN_AI_USAGE_OUTPUT_TOKENS, integer(field(usage, "output_tokens")))
    if cache_read:
        attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cache_read
    if cache_write:
        attributes[sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = cache_write
    return attributes


def message_attributes(message: Any, capture_content: bool) -> Attributes:
    """Attributes of a complete `Message` (a response, or a stream's final snapshot)."""
    attributes: Attributes = {}
    put(attributes, sc.GEN_AI_RESPONSE_ID, text(field(message, "id")))
    put(attributes, sc.GEN_AI_RESPONSE_MODEL, text(field(message, "model")))
    attributes.update(usage_attributes(field(message, "usage")))
    stop_reason = field(message, "stop_reason")
    if isinstance(stop_reason, str):
        attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [stop_reason]
    if capture_content:
        finish = _FINISH_REASONS.get(stop_reason, stop_reason) if isinstance(stop_reason, str) else "stop"
        attributes[sc.GEN_AI_OUTPUT_MESSAGES] = sc.content_json([sc.output_message(content_parts(field(message, "content")), finish)])
    return attributes


class Messages(Operation):
    """`messages.create` / `messages.parse` (and their `beta` twins)."""

    operation_name = sc.GenAiOperation.CHAT

    def __init__(self, endpoint: Any) -> None:
        self.endpoint = endpoint  # instance → provider / server attributes

    def request(self, instance: Any, kwargs: dict[str, Any], capture_content: bool) -> tuple[str, Attributes]:
        model = text(kwargs.get("model")) or ""
        attributes = self.endpoint(instance)
        attributes[sc.GEN_AI_OPERATION_NAME] = self.operation_name
        attributes[sc.GEN_AI_REQUEST_MODEL] = model
        get = kwargs.get
        put(attributes, sc.GEN_AI_REQUEST_MAX_TOKENS, integer(get("max_tokens")))
        put(attributes, sc.GEN_AI_REQUEST_TEMPERATURE, number(get("temperature")))
        put(attributes, sc.GEN_AI_REQUEST_TOP_P, number(get("top_p")))
        put(attributes, sc.GEN_AI_REQUEST_TOP_K, integer(get("top_k")))
        put(attributes, sc.GEN_AI_REQUEST_STOP_SEQUENCES, strings(get("stop_sequences")))
        if get("stream") is True or self.streams:
            attributes[sc.GEN_AI_REQUEST_STREAM] = True
        if get("output_format") or field(get("output_config"), "format"):
            attributes[sc.GEN_AI_OUTPUT_TYPE] = "json"
        if capture_content:
            attributes[sc.GEN_AI_INPUT_MESSAGES] = sc.content_json(
                [sc.message(field(m, "role") or "user", content_parts(field(m, "content"))) for m in get("messages") or ()]
            )
            system = get("system")
            if system:
                attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = sc.content_json(content_parts(system))
            tools = get("tools")
            if tools:
                attributes[sc.GEN_AI_TOOL_DEFINITIONS] = sc.content_json(tool_definitions(tools))
        return f"{self.operation_name} {model}".rstrip(), attributes

    streams = False

    def response(self, response: Any, capture_content: bool) -> Attributes:
        return message_attributes(response, capture_content)

    def stream_state(self, capture_content: bool) -> StreamState:
        return MessageStreamState(capture_content)


class MessagesStream(Messages):
    """`messages.stream(...)`: returns a manager; the stream comes from its `with`."""

    streams = True
    returns_stream_manager = True

    def is_stream(self, kwargs: dict[str, Any], result: Any) -> bool:
        return True


class MessageStreamState(StreamState):
    """Raw stream events → one message. A `MessageStream` (the `.stream()` helper) keeps its own
    snapshot, which is read at the end instead, since its text helpers iterate without us."""

    __slots__ = ("capture", "message", "blocks", "stop_reason", "output_tokens", "snapshot")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.message: Any = None
        self.blocks: dict[int, list[Any]] = {}  # index → [block, text pieces]
        self.stop_reason: Any = None
        self.output_tokens: Any = None
        self.snapshot: Any = None

    def on_chunk(self, event: Any) -> None:
        """One stream event: an SDK event object, or the same event as a dict (Bedrock `invoke_model`)."""
        kind = field(event, "type")
        if kind == "message_start":
            self.message = field(event, "message")
        elif kind == "message_delta":
            self.stop_reason = field(field(event, "delta"), "stop_reason")
            self.output_tokens = field(event, "usage")
        elif self.capture:
            if kind == "content_block_start":
                self.blocks[field(event, "index")] = [field(event, "content_block"), []]
            elif kind == "content_block_delta":
                delta = field(event, "delta")
                pieces = self.blocks.setdefault(field(event, "index"), [None, []])[1]
                piece = field(delta, "text") or field(delta, "partial_json") or field(delta, "thinking")
                if piece:
                    pieces.append(piece)

    def on_end(self, stream: Any) -> None:
        """The `.stream()` helper's own snapshot of the message (its text helpers bypass our proxy)."""
        snapshot = getattr(stream, "_current_snapshot_or_none", None)
        if callable(snapshot):
            self.snapshot = snapshot()
        elif hasattr(type(stream), "current_message_snapshot"):  # anthropic < 2
            try:
                self.snapshot = stream.current_message_snapshot
            except Exception:  # no message_start seen yet
                self.snapshot = None

    def attributes(self) -> Attributes:
        if self.snapshot is not None:
            return message_attributes(self.snapshot, self.capture)
        if self.message is None:
            return {}
        attributes = message_attributes(self.message, False)
        usage = self.output_tokens
        if usage is not None:
            merged = {k: field(usage, k) if field(usage, k) is not None else field(field(self.message, "usage"), k)
                      for k in ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")}
            attributes.update(usage_attributes(merged))
        if isinstance(self.stop_reason, str):
            attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [self.stop_reason]
        if self.capture:
            attributes[sc.GEN_AI_OUTPUT_MESSAGES] = sc.content_json([sc.output_message(self._parts(), _FINISH_REASONS.get(self.stop_reason, "stop"))])
        return attributes

    def _parts(self) -> list[dict[str, Any]]:
        parts = []
        for _, (block, pieces) in sorted(self.blocks.items()):
            kind = field(block, "type")
            joined = "".join(pieces)
            if kind == "tool_use":
                from opik_otel.instrumentors._read import maybe_json

                parts.append(sc.tool_call_part(field(block, "name") or "", maybe_json(joined) if joined else as_plain(field(block, "input")), field(block, "id")))
            elif kind == "thinking":
                parts.append(sc.reasoning_part(joined))
            else:
                parts.append(sc.text_part(joined))
        return parts
