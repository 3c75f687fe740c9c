"""Chat Completions: `chat.completions.create` / `parse`, plain and streamed."""

from __future__ import annotations

from typing import Any

from opik_otel import semconv as sc
from opik_otel.instrumentors._adapter import request_content, response_attributes, unknown_part, url_part
from opik_otel.instrumentors._engine import Attributes, Operation, StreamState
from opik_otel.instrumentors._read import as_plain, field, maybe_json, put, text
from opik_otel.instrumentors.openai.common import CHAT_USAGE, output_type, request_start, usage_attributes
from opik_otel.semconv.providers import OPENAI_FINISH_REASONS, finish_reason


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
            parts.append(url_part(field(field(item, "image_url"), "url") or "", "image"))
        elif kind == "input_audio":
            audio = field(item, "input_audio")
            fmt = field(audio, "format")
            parts.append(sc.blob_part(field(audio, "data") or "", "audio", f"audio/{fmt}" if fmt else None))
        elif kind == "refusal":
            parts.append(sc.text_part(field(item, "refusal") or ""))
        else:
            parts.append(unknown_part(kind, item))
    return parts


def _tool_call_parts(tool_calls: Any) -> list[dict[str, Any]]:
    parts = []
    for call in tool_calls or ():
        function = field(call, "function")
        parts.append(sc.tool_call_part(field(function, "name") or "", maybe_json(field(function, "arguments")), field(call, "id")))
    return parts


def _function_call_parts(function_call: Any) -> list[dict[str, Any]]:
    """The legacy `function_call` of an assistant message, as a tool call (it has no id)."""
    if function_call is None:
        return []
    return [sc.tool_call_part(field(function_call, "name") or "", maybe_json(field(function_call, "arguments")))]


def input_messages(messages: Any) -> list[dict[str, Any]]:
    result = []
    for msg in messages or ():
        role = field(msg, "role") or "user"
        if role == "tool":
            parts = [sc.tool_call_response_part(maybe_json(field(msg, "content")), field(msg, "tool_call_id"))]
        elif role == "function":  # the legacy function result: named, without an id
            role, parts = "tool", [sc.tool_call_response_part(maybe_json(field(msg, "content")))]
        else:
            parts = _content_parts(field(msg, "content")) + _tool_call_parts(field(msg, "tool_calls")) + _function_call_parts(field(msg, "function_call"))
        result.append(sc.message(role, parts, text(field(msg, "name"))))
    return result


def tool_definitions(tools: Any, functions: Any = None) -> list[dict[str, Any]]:
    """`tools`, then the legacy `functions`, as tool definitions."""
    definitions = []
    for tool in tools or ():
        function = field(tool, "function")
        if function is None:
            definitions.append(as_plain(tool))
            continue
        definitions.append(
            sc.tool_definition(field(function, "name") or "", field(function, "description"), field(function, "parameters"), field(tool, "type") or "function")
        )
    for function in functions or ():
        definitions.append(sc.tool_definition(field(function, "name") or "", field(function, "description"), field(function, "parameters")))
    return definitions


def output_message(message: Any, reason: Any) -> dict[str, Any]:
    """One choice's assistant message as an output message: a response's `message`, or the one
    `ChatStreamState` rebuilds from a stream's deltas (the one builder both paths share)."""
    content = field(message, "content")
    parts = [] if content == "" else _content_parts(content)
    refusal = field(message, "refusal")
    if refusal:
        parts.append(sc.text_part(refusal))
    parts += _tool_call_parts(field(message, "tool_calls")) + _function_call_parts(field(message, "function_call"))
    return sc.output_message(parts, finish_reason(reason, OPENAI_FINISH_REASONS))


def completion_attributes(metadata: Any, usage: Any, finish_reasons: list[str], outputs: list[dict[str, Any]] | None) -> Attributes:
    """The response attributes of a completion, whole or streamed (then `metadata` holds the
    fields its chunks carried): the one builder both paths share."""
    attributes = response_attributes(field(metadata, "id"), field(metadata, "model"), finish_reasons, usage_attributes(usage, *CHAT_USAGE), outputs)
    put(attributes, sc.OPENAI_RESPONSE_SERVICE_TIER, text(field(metadata, "service_tier")))
    put(attributes, sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT, text(field(metadata, "system_fingerprint")))
    return attributes


class ChatCompletions(Operation):
    operation_name = sc.GenAiOperation.CHAT

    def request(self, instance: Any, kwargs: dict[str, Any], capture_content: bool) -> tuple[str, Attributes]:
        name, attributes = request_start(self.operation_name, instance, kwargs, "chat_completions")
        put(attributes, sc.GEN_AI_OUTPUT_TYPE, output_type(kwargs.get("response_format")))
        if capture_content:
            tools = tool_definitions(_listed(kwargs.get("tools")), _listed(kwargs.get("functions")))
            request_content(attributes, input_messages(kwargs.get("messages")), tools=tools)
        return name, attributes

    def response(self, response: Any, capture_content: bool) -> Attributes:
        choices = field(response, "choices") or ()
        reasons = [field(choice, "finish_reason") or "" for choice in choices]
        outputs = [output_message(field(c, "message"), field(c, "finish_reason")) for c in choices] if capture_content else None
        return completion_attributes(response, field(response, "usage"), reasons, outputs)

    def stream_state(self, capture_content: bool) -> StreamState:
        return ChatStreamState(capture_content)


def _listed(value: Any) -> Any:
    """A list or tuple as given; anything else (the SDK's NOT_GIVEN sentinel) as None."""
    return value if isinstance(value, (list, tuple)) else None


# The response metadata a chunk carries, taken from the first chunk where each is not empty:
# Azure OpenAI's first chunk (prompt filter results) has an empty id and model.
_METADATA_FIELDS = ("id", "model", "service_tier", "system_fingerprint")


class _ChoiceDeltas:
    """One streamed choice's deltas, kept as pieces and joined once into a message at the end."""

    __slots__ = ("content", "refusal", "tool_calls", "function_call")

    def __init__(self) -> None:
        self.content: list[str] | None = None
        self.refusal: list[str] | None = None
        self.tool_calls: dict[int, list[Any]] = {}  # tool index → [id, name, [argument pieces]]
        self.function_call: list[Any] | None = None  # legacy: [name, [argument pieces]]

    def add(self, delta: Any) -> None:
        content = delta.content
        if content:
            if self.content is None:
                self.content = []
            self.content.append(content)
        refusal = getattr(delta, "refusal", None)
        if refusal:
            if self.refusal is None:
                self.refusal = []
            self.refusal.append(refusal)
        if delta.tool_calls:
            for call in delta.tool_calls:
                entry = self.tool_calls.setdefault(call.index, [None, "", []])
                if call.id:
                    entry[0] = call.id
                function = call.function
                if function is not None:
                    if function.name:
                        entry[1] += function.name
                    if function.arguments:
                        entry[2].append(function.arguments)
        function_call = getattr(delta, "function_call", None)
        if function_call is not None:
            if self.function_call is None:
                self.function_call = ["", []]
            if function_call.name:
                self.function_call[0] += function_call.name
            if function_call.arguments:
                self.function_call[1].append(function_call.arguments)

    def message(self) -> dict[str, Any]:
        """The assistant message these deltas make, shaped as a non-streamed response's."""
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if self.content is None else "".join(self.content),
            "refusal": None if self.refusal is None else "".join(self.refusal),
        }
        if self.tool_calls:
            message["tool_calls"] = [
                {"id": call_id, "type": "function", "function": {"name": name, "arguments": "".join(pieces)}}
                for call_id, name, pieces in self.tool_calls.values()
            ]
        if self.function_call is not None:
            message["function_call"] = {"name": self.function_call[0], "arguments": "".join(self.function_call[1])}
        return message


class ChatStreamState(StreamState):
    """Accumulates `chat.completion.chunk`s: each choice's deltas only when content is captured."""

    __slots__ = ("capture", "metadata", "metadata_done", "usage", "finish", "choices")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.metadata: dict[str, str] = {}
        self.metadata_done = False
        self.usage: Any = None
        self.finish: dict[int, str] = {}
        self.choices: dict[int, _ChoiceDeltas] = {}

    def on_chunk(self, chunk: Any) -> None:
        if not self.metadata_done:
            self._read_metadata(chunk)
        usage = chunk.usage
        if usage is not None:
            self.usage = usage
        for choice in chunk.choices or ():
            if choice.finish_reason:
                self.finish[choice.index] = choice.finish_reason
            if self.capture and choice.delta is not None:
                deltas = self.choices.get(choice.index)
                if deltas is None:
                    deltas = self.choices[choice.index] = _ChoiceDeltas()
                deltas.add(choice.delta)

    def _read_metadata(self, chunk: Any) -> None:
        metadata = self.metadata
        for name in _METADATA_FIELDS:
            if name not in metadata:
                value = getattr(chunk, name, None)
                if isinstance(value, str) and value:
                    metadata[name] = value
        self.metadata_done = "id" in metadata and "model" in metadata

    def attributes(self) -> Attributes:
        indexes = sorted(set(self.finish) | set(self.choices))
        outputs = None
        if self.capture:
            empty = _ChoiceDeltas()
            outputs = [output_message(self.choices.get(i, empty).message(), self.finish.get(i)) for i in indexes]
        return completion_attributes(self.metadata, self.usage, [self.finish.get(i, "") for i in indexes], outputs)
