"""Builders for the GenAI conventions' message and part JSON (`gen_ai.input.messages` …).

Each returns a plain dict in the conventions' parts schema; instrumentors assemble them
and serialise the list once with `to_json`.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Callable

Part = dict[str, Any]


def text_part(content: str) -> Part:
    return {"type": "text", "content": content}


def reasoning_part(content: str) -> Part:
    return {"type": "reasoning", "content": content}


def tool_call_part(name: str, arguments: Any = None, id: str | None = None) -> Part:
    part: Part = {"type": "tool_call", "name": name}
    if id is not None:
        part["id"] = id
    if arguments is not None:
        part["arguments"] = arguments
    return part


def tool_call_response_part(response: Any, id: str | None = None) -> Part:
    part: Part = {"type": "tool_call_response", "response": response}
    if id is not None:
        part["id"] = id
    return part


def blob_part(content: str, modality: str, mime_type: str | None = None) -> Part:
    part: Part = {"type": "blob", "modality": modality, "content": content}
    if mime_type:
        part["mime_type"] = mime_type
    return part


def uri_part(uri: str, modality: str, mime_type: str | None = None) -> Part:
    part: Part = {"type": "uri", "modality": modality, "uri": uri}
    if mime_type:
        part["mime_type"] = mime_type
    return part


def message(role: str, parts: list[Part], name: str | None = None) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": role, "parts": parts}
    if name:
        msg["name"] = name
    return msg


def output_message(parts: list[Part], finish_reason: str, role: str = "assistant") -> dict[str, Any]:
    return {"role": role, "parts": parts, "finish_reason": finish_reason}


def tool_definition(
    name: str, description: str | None = None, parameters: Any = None, type: str = "function"
) -> dict[str, Any]:
    definition: dict[str, Any] = {"type": type, "name": name}
    if description:
        definition["description"] = description
    if parameters is not None:
        definition["parameters"] = parameters
    return definition


# One encoder for every call: `json.dumps` with options builds a new encoder each time.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)


def to_json(value: Any) -> str:
    """Compact JSON; anything not serialisable becomes its `str()` rather than an error."""
    return _ENCODER.encode(value)


class _ContentHook:
    redact: Callable[[Any], Any] | None = None
    warned = False
    unencodable_logged = False


def set_content_hook(redact: Callable[[Any], Any] | None) -> None:
    """Install the user's redaction hook: it gets each content value (messages, tool calls,
    inputs, outputs) before it becomes an attribute, and returns what to record instead."""
    _ContentHook.redact = redact


def content_json(value: Any) -> str:
    """`to_json` of content, after the redaction hook; never raises. A hook that fails records a
    placeholder; a value that cannot be encoded (circular, or `str()` raising) records its `repr()`,
    else a placeholder: always of the redacted value, never of the unredacted content."""
    redact = _ContentHook.redact
    if redact is not None:
        try:
            value = redact(value)
        except Exception:
            if not _ContentHook.warned:
                _ContentHook.warned = True
                logging.getLogger(__name__).warning("opik-otel: the redaction hook raised; content replaced by a placeholder", exc_info=True)
            value = "[redaction failed]"
    try:
        return to_json(value)
    except Exception:  # from here on `value` is the redacted value only
        if not _ContentHook.unencodable_logged:
            _ContentHook.unencodable_logged = True
            logging.getLogger(__name__).debug("opik-otel: content not JSON-encodable; recording its repr", exc_info=True)
    try:
        return to_json(repr(value))
    except Exception:
        return to_json(f"<unserialisable {type(value).__name__}>")
