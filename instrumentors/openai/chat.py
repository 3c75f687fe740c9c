"""Chat Completions: `chat.completions.create` / `parse`, plain and streamed."""

from __future__ import annotations

from typing import Any

from opik_otel import semconv as sc
from opik_otel.instrumentors._engine import Attributes, Operation, StreamState
from opik_otel.instrumentors._read import as_plain, field, maybe_json, text
from opik_otel.instrumentors.openai.common import (
    endpoint_attributes,
    output_type,
    parameter_attributes,
    response_metadata,
    usage_attributes,
)

_FINISH_REASONS = {"tool_calls": "tool_call", "function_call": "tool_call"}


def _content_parts(content: Any) -> list[dict[str, Any]]:
    """A message's `content` (a string or a list of typed parts) as convention parts."""
    if content is None:
        return []
    if isinstance(content, str):
        return [sc.text_part(content)]
    parts = []
    for item in content:
        kind = field(item, "type")
        if kind == "text":
            parts.append(sc.text_part(field(item, "text") or ""))
        elif kind == "image_url":
            url = field(field(item, "image_url"), "url") or ""
            if url.startswith("data:"):
                mime, _, data = url[5:].partition(";base64,")
                parts.append(sc.blob_part(data, "image", mime or None))
            else:
                parts.append(sc.uri_part(url, "image"))
        elif kind == "input_audio":
            audio = field(item, "input_audio")
            fmt = field(audio, "format")
            parts.append(sc.blob_part(field(audio, "data") or "", "audio", f"audio/{fmt}" if fmt else None))
        elif kind == "refusal":
            parts.append(sc.text_part(field(item, "refusal") or ""))
        else:
            parts.append({"type": kind or "unknown", "content": as_plain(item)})
    return parts


def _tool_call_parts(tool_calls: Any) -> list[dict[str, Any]]:
    parts = []
    for call in tool_calls or ():
        function = field(call, "function")
        parts.append(sc.tool_call_part(field(function, "name") or "", maybe_json(field(function, "arguments")), field(call, "id")))
    return parts


def input_messages(messages: Any) -> list[dict[str, Any]]:
    result = []
    for msg in messages or ():
        role = field(msg, "role") or "user"
        if role == "tool":
            parts = [sc.tool_call_response_part(maybe_json(field(msg, "content")), field(msg, "tool_call_id"))]
        else:
            parts = _content_parts(field(msg, "content")) + _tool_call_parts(field(msg, "tool_calls"))
        result.append(sc.message(role, parts, text(field(msg, "name"))))
    return result


def tool_definitions(tools: Any) -> list[dict[str, Any]]:
    definitions = []
    for tool in tools or ():
        function = field(tool, "function")
        if function is None:
            definitions.append(as_plain(tool))
            continue
        definitions.append(
            sc.tool_definition(field(function, "name") or "", field(function, "description"), field(function, "parameters"), field(tool, "type") or "function")
        )
    return definitions


def _finish_reason(reason: Any) -> str:
    return _FINISH_REASONS.get(reason, reason) if isinstance(reason, str) else "stop"


class ChatCompletions(Operation):
    operation_name = sc.GenAiOperation.CHAT

    def request(self, instance: Any, kwargs: dict[str, Any], capture_content: bool) -> tuple[str, Attributes]:
        model = text(kwargs.get("model")) or ""
        attributes = endpoint_attributes(instance)
        attributes[sc.GEN_AI_OPERATION_NAME] = self.operation_name
        attributes[sc.GEN_AI_REQUEST_MODEL] = model
        attributes[sc.OPENAI_API_TYPE] = "chat_completions"
        attributes.update(parameter_attributes(kwargs))
        kind = output_type(kwargs.get("response_format"))
        if kind:
            attributes[sc.GEN_AI_OUTPUT_TYPE] = kind
        if capture_content:
            attributes[sc.GEN_AI_INPUT_MESSAGES] = sc.content_json(input_messages(kwargs.get("messages")))
            tools = kwargs.get("tools")
            if tools:
                attributes[sc.GEN_AI_TOOL_DEFINITIONS] = sc.content_json(tool_definitions(tools))
        return f"{self.operation_name} {model}".rstrip(), attributes

    def response(self, response: Any, capture_content: bool) -> Attributes:
        attributes = response_metadata(response)
        attributes.update(usage_attributes(field(response, "usage"), "prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details"))
        choices = field(response, "choices") or ()
        attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [field(c, "finish_reason") or "" for c in choices]
        if capture_content:
            outputs = []
            for choice in choices:
                msg = field(choice, "message")
                parts = _content_parts(field(msg, "content")) + _tool_call_parts(field(msg, "tool_calls"))
                refusal = field(msg, "refusal")
                if refusal:
                    parts.append(sc.text_part(refusal))
                outputs.append(sc.output_message(parts, _finish_reason(field(choice, "finish_reason"))))
            attributes[sc.GEN_AI_OUTPUT_MESSAGES] = sc.content_json(outputs)
        return attributes

    def stream_state(self, capture_content: bool) -> StreamState:
        return ChatStreamState(capture_content)


class ChatStreamState(StreamState):
    """Accumulates `chat.completion.chunk`s: text and tool-call deltas only when content is captured."""

    __slots__ = ("capture", "first", "usage", "finish", "texts", "tools")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.first: Any = None
        self.usage: Any = None
        self.finish: dict[int, str] = {}
        self.texts: dict[int, list[str]] = {}
        self.tools: dict[int, dict[int, list[Any]]] = {}  # choice → tool index → [id, name, [argument pieces]]

    def on_chunk(self, chunk: Any) -> None:
        if self.first is None:
            self.first = chunk
        usage = chunk.usage
        if usage is not None:
            self.usage = usage
        for choice in chunk.choices:
            if choice.finish_reason:
                self.finish[choice.index] = choice.finish_reason
            if not self.capture:
                continue
            delta = choice.delta
            if delta.content:
                self.texts.setdefault(choice.index, []).append(delta.content)
            if delta.tool_calls:
                calls = self.tools.setdefault(choice.index, {})
                for call in delta.tool_calls:
                    entry = calls.setdefault(call.index, [None, "", []])
                    if call.id:
                        entry[0] = call.id
                    function = call.function
                    if function is not None:
                        if function.name:
                            entry[1] += function.name
                        if function.arguments:
                            entry[2].append(function.arguments)

    def attributes(self) -> Attributes:
        attributes = response_metadata(self.first) if self.first is not None else {}
        attributes.update(usage_attributes(self.usage, "prompt_tokens", "completion_tokens", "prompt_tokens_details", "completion_tokens_details"))
        indexes = sorted(set(self.finish) | set(self.texts) | set(self.tools))
        attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [self.finish.get(i, "") for i in indexes]
        if self.capture:
            outputs = []
            for i in indexes:
                parts = [sc.text_part("".join(self.texts[i]))] if i in self.texts else []
                for call_id, name, pieces in self.tools.get(i, {}).values():
                    parts.append(sc.tool_call_part(name, maybe_json("".join(pieces)), call_id))
                outputs.append(sc.output_message(parts, _finish_reason(self.finish.get(i))))
            attributes[sc.GEN_AI_OUTPUT_MESSAGES] = sc.content_json(outputs)
        return attributes
