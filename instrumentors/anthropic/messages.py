"""Anthropic Messages API: `messages.create` (plain and `stream=True`), `messages.stream()`, `messages.parse`."""

from __future__ import annotations

from typing import Any

from opik_otel import semconv as sc
from opik_otel.instrumentors._adapter import MAX_TOKENS, STOP_SEQUENCES, STREAM, TEMPERATURE, TOP_K, TOP_P, ParameterTable, read_parameters
from opik_otel.instrumentors._adapter import request_attributes, request_content, response_attributes, unknown_part
from opik_otel.instrumentors._engine import Attributes, Operation, StreamState
from opik_otel.instrumentors._read import as_plain, field, integer, maybe_json
from opik_otel.semconv.providers import ANTHROPIC_FINISH_REASONS, finish_reason
from opik_otel.semconv.usage import cache_inclusive_usage


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
        elif kind in ("server_tool_use", "mcp_tool_use"):
            parts.append(_server_tool_call_part(_plain_block(block)))
        elif isinstance(kind, str) and kind.endswith("_tool_result"):  # web_search_tool_result, mcp_tool_result …
            parts.append(_server_tool_call_response_part(_plain_block(block)))
        else:
            parts.append(unknown_part(kind, block))
    return parts


def _plain_block(block: Any) -> dict[str, Any]:
    plain = as_plain(block)
    return dict(plain) if isinstance(plain, dict) else {}


def _server_tool_call_part(block: dict[str, Any]) -> dict[str, Any]:
    """A tool the API runs itself (web search, code execution; an MCP server's tool, typed "mcp")."""
    name = block.pop("name", None) or ""
    kind = block.pop("type", None)
    part: dict[str, Any] = {"type": "server_tool_call"}
    call_id = block.pop("id", None)
    if call_id is not None:
        part["id"] = call_id
    part["name"] = name
    part["server_tool_call"] = {"type": "mcp" if kind == "mcp_tool_use" else name, **block}
    return part


def _server_tool_call_response_part(block: dict[str, Any]) -> dict[str, Any]:
    """What such a tool answered: the block, typed by its own type, under the call's id."""
    part: dict[str, Any] = {"type": "server_tool_call_response"}
    call_id = block.pop("tool_use_id", None)
    if call_id is not None:
        part["id"] = call_id
    part["server_tool_call_response"] = block
    return part


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
    if usage is None:
        return {}
    return cache_inclusive_usage(
        integer(field(usage, "input_tokens")),
        integer(field(usage, "output_tokens")),
        integer(field(usage, "cache_read_input_tokens")),
        integer(field(usage, "cache_creation_input_tokens")),
    )


def message_attributes(message: Any, capture_content: bool) -> Attributes:
    """Attributes of a complete `Message` (a response, or a stream's final snapshot)."""
    stop_reason = field(message, "stop_reason")
    outputs = None
    if capture_content:
        outputs = [sc.output_message(content_parts(field(message, "content")), finish_reason(stop_reason, ANTHROPIC_FINISH_REASONS))]
    usage = usage_attributes(field(message, "usage"))
    return response_attributes(field(message, "id"), field(message, "model"), stop_reason, usage, outputs)


PARAMETERS: ParameterTable = {"max_tokens": MAX_TOKENS, "temperature": TEMPERATURE, "top_p": TOP_P, "top_k": TOP_K, "stop_sequences": STOP_SEQUENCES, "stream": STREAM}


def body_attributes(body: dict[str, Any], capture_content: bool, attributes: Attributes) -> Attributes:
    """What a Messages request body says, into `attributes`: the call's keyword arguments, or
    a Claude `invoke_model` body on Bedrock."""
    read_parameters(body, PARAMETERS, attributes)
    if body.get("output_format") or field(body.get("output_config"), "format"):
        attributes[sc.GEN_AI_OUTPUT_TYPE] = "json"
    if capture_content:
        messages = [sc.message(field(m, "role") or "user", content_parts(field(m, "content"))) for m in body.get("messages") or ()]
        system = body.get("system")
        request_content(attributes, messages, content_parts(system) if system else None, tool_definitions(body.get("tools")))
    return attributes


class Messages(Operation):
    """`messages.create` / `messages.parse` (and their `beta` twins)."""

    operation_name = sc.GenAiOperation.CHAT
    streams = False

    def __init__(self, endpoint: Any) -> None:
        self.endpoint = endpoint  # instance → provider / server attributes

    def request(self, instance: Any, kwargs: dict[str, Any], capture_content: bool) -> tuple[str, Attributes]:
        name, attributes = request_attributes(self.operation_name, kwargs.get("model"), self.endpoint(instance))
        if self.streams:
            attributes[sc.GEN_AI_REQUEST_STREAM] = True
        return name, body_attributes(kwargs, capture_content, attributes)

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


# A content_block_delta's type → (the field of its delta that holds the piece, the block field it extends).
_DELTA_FIELDS = {
    "text_delta": ("text", "text"),
    "thinking_delta": ("thinking", "thinking"),
    "input_json_delta": ("partial_json", "input"),
    "signature_delta": ("signature", "signature"),
}
_USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


class MessageStreamState(StreamState):
    """Raw stream events → the message a non-streamed call would have returned, read by the same
    `message_attributes`. A `MessageStream` (the `.stream()` helper) keeps its own snapshot,
    which is read at the end instead, since its text helpers iterate without us."""

    __slots__ = ("capture", "message", "blocks", "stop_reason", "usage", "snapshot")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.message: Any = None
        self.blocks: dict[int, tuple[Any, dict[str, list[str]]]] = {}  # index → (start block, field → pieces)
        self.stop_reason: Any = None
        self.usage: Any = None
        self.snapshot: Any = None

    def on_chunk(self, event: Any) -> None:
        """One stream event: an SDK event object, or the same event as a dict (Bedrock `invoke_model`)."""
        kind = field(event, "type")
        if kind == "message_start":
            self.message = field(event, "message")
        elif kind == "message_delta":
            self.stop_reason = field(field(event, "delta"), "stop_reason")
            self.usage = field(event, "usage")
        elif self.capture:
            if kind == "content_block_start":
                self.blocks[field(event, "index")] = (field(event, "content_block"), {})
            elif kind == "content_block_delta":
                delta = field(event, "delta")
                known = _DELTA_FIELDS.get(field(delta, "type"))
                piece = field(delta, known[0]) if known else None
                if piece:
                    pieces = self.blocks.setdefault(field(event, "index"), ({}, {}))[1]
                    pieces.setdefault(known[1], []).append(piece)

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
        return message_attributes(self._message(), self.capture)

    def _message(self) -> dict[str, Any]:
        """The streamed message, shaped as a non-streamed response's."""
        started = self.message
        usage = self.usage
        if usage is not None:  # message_delta's counts are final; message_start's fill the gaps
            start_usage = field(started, "usage")
            usage = {k: field(usage, k) if field(usage, k) is not None else field(start_usage, k) for k in _USAGE_FIELDS}
        else:
            usage = field(started, "usage")
        stop_reason = self.stop_reason if self.stop_reason is not None else field(started, "stop_reason")
        return {"id": field(started, "id"), "model": field(started, "model"), "usage": usage, "stop_reason": stop_reason, "content": self._content()}

    def _content(self) -> list[dict[str, Any]]:
        content = []
        for _, (start, pieces) in sorted(self.blocks.items()):
            block = _plain_block(start)
            for name, chunks in pieces.items():
                joined = "".join(chunks)
                if name == "input":
                    block["input"] = maybe_json(joined)
                else:
                    block[name] = (block.get(name) or "") + joined
            content.append(block)
        return content
