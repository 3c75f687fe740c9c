"""The Responses API: `responses.create` / `parse`, plain and streamed."""

from __future__ import annotations

from typing import Any

from opik_otel import semconv as sc
from opik_otel.instrumentors import _adapter
from opik_otel.instrumentors._adapter import unknown_part, url_part
from opik_otel.instrumentors._engine import Attributes, Operation, StreamState
from opik_otel.instrumentors._read import as_plain, field, maybe_json, put, text
from opik_otel.instrumentors.openai.common import RESPONSES_USAGE, output_type, request_start, usage_attributes
from opik_otel.semconv.providers import OPENAI_FINISH_REASONS, finish_reason

_FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


def _content_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [sc.text_part(content)]
    parts = []
    for item in content or ():
        kind = field(item, "type")
        if kind in ("input_text", "output_text", "text"):
            parts.append(sc.text_part(field(item, "text") or ""))
        elif kind == "refusal":
            parts.append(sc.text_part(field(item, "refusal") or ""))
        elif kind == "input_image":
            url = field(item, "image_url")
            parts.append(url_part(url, "image") if isinstance(url, str) else {"type": "file", "modality": "image", "file_id": field(item, "file_id")})
        else:
            parts.append(unknown_part(kind, item))
    return parts


def input_messages(value: Any) -> list[dict[str, Any]]:
    """`input` (a string or a list of items) as convention messages."""
    if isinstance(value, str):
        return [sc.message("user", [sc.text_part(value)])]
    messages = []
    for item in value or ():
        kind = field(item, "type")
        if kind == "function_call":
            part = sc.tool_call_part(field(item, "name") or "", maybe_json(field(item, "arguments")), field(item, "call_id"))
            messages.append(sc.message("assistant", [part]))
        elif kind == "function_call_output":
            messages.append(sc.message("tool", [sc.tool_call_response_part(maybe_json(field(item, "output")), field(item, "call_id"))]))
        elif kind in (None, "message"):
            messages.append(sc.message(field(item, "role") or "user", _content_parts(field(item, "content"))))
        else:
            messages.append(sc.message("user", [{"type": kind, "content": as_plain(item)}]))
    return messages


def tool_definitions(tools: Any) -> list[dict[str, Any]]:
    definitions = []
    for tool in tools or ():
        if field(tool, "type") == "function":
            definitions.append(sc.tool_definition(field(tool, "name") or "", field(tool, "description"), field(tool, "parameters")))
        else:
            definitions.append(as_plain(tool))
    return definitions


def _finish_reason(response: Any, has_tool_call: bool) -> str:
    if has_tool_call:
        return "tool_call"
    status = field(response, "status")
    if status == "incomplete":
        return finish_reason(field(field(response, "incomplete_details"), "reason"), OPENAI_FINISH_REASONS, "length")
    return "error" if status == "failed" else "stop"


def output_parts(output: Any) -> list[dict[str, Any]]:
    """The output items of a response as the parts of one output message."""
    parts = []
    for item in output:
        kind = field(item, "type")
        if kind == "message":
            parts.extend(_content_parts(field(item, "content")))
        elif kind == "function_call":
            parts.append(sc.tool_call_part(field(item, "name") or "", maybe_json(field(item, "arguments")), field(item, "call_id")))
        elif kind == "reasoning":
            summary = " ".join(field(s, "text") or "" for s in field(item, "summary") or ())
            if summary:
                parts.append(sc.reasoning_part(summary))
        else:
            parts.append({"type": "server_tool_call", "name": kind, "content": as_plain(item)})
    return parts


def response_attributes(response: Any, capture_content: bool) -> Attributes:
    """Attributes of a `Response`: a whole one, or the one a stream's final event carries."""
    output = field(response, "output") or ()
    reason = _finish_reason(response, any(field(item, "type") == "function_call" for item in output))
    usage = usage_attributes(field(response, "usage"), *RESPONSES_USAGE)
    outputs = [sc.output_message(output_parts(output), reason)] if capture_content else None
    attributes = _adapter.response_attributes(field(response, "id"), field(response, "model"), reason, usage, outputs)
    put(attributes, sc.OPENAI_RESPONSE_SERVICE_TIER, text(field(response, "service_tier")))
    return attributes


class Responses(Operation):
    operation_name = sc.GenAiOperation.CHAT

    def request(self, instance: Any, kwargs: dict[str, Any], capture_content: bool) -> tuple[str, Attributes]:
        name, attributes = request_start(self.operation_name, instance, kwargs, "responses")
        put(attributes, sc.GEN_AI_OUTPUT_TYPE, output_type(kwargs.get("text_format")) or output_type(field(kwargs.get("text"), "format")))
        conversation = kwargs.get("conversation")
        put(attributes, sc.GEN_AI_CONVERSATION_ID, conversation if isinstance(conversation, str) else text(field(conversation, "id")))
        if capture_content:
            instructions = text(kwargs.get("instructions"))
            system = [sc.text_part(instructions)] if instructions else None
            _adapter.request_content(attributes, input_messages(kwargs.get("input")), system, tool_definitions(kwargs.get("tools")))
        return name, attributes

    def response(self, response: Any, capture_content: bool) -> Attributes:
        return response_attributes(response, capture_content)

    def stream_state(self, capture_content: bool) -> StreamState:
        return ResponsesStreamState(capture_content)


class ResponsesStreamState(StreamState):
    """The final event carries the whole response: read that, skip the deltas."""

    __slots__ = ("capture", "final")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.final: Any = None

    def on_chunk(self, chunk: Any) -> None:
        if chunk.type in _FINAL_EVENTS:
            self.final = chunk.response

    def attributes(self) -> Attributes:
        return response_attributes(self.final, self.capture) if self.final is not None else {}
