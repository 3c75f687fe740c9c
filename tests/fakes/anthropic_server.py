"""A local fake Anthropic server that speaks Anthropic's real wire format (stdlib only).

The unmodified ``anthropic`` SDK (2.x on httpx2, 0.x on httpx) works against it, and so
do its Bedrock and Vertex clients:

    from tests.fakes.anthropic_server import FakeAnthropicServer

    with FakeAnthropicServer() as srv:       # or srv.start() ... srv.stop()
        client = anthropic.Anthropic(base_url=srv.url, api_key="sk-ant-test-fake", max_retries=0)
        client.messages.create(model="claude-haiku-4-5", max_tokens=64, messages=[...])
        anthropic.AnthropicBedrock(base_url=srv.bedrock_url, aws_region="us-east-1",
                                   aws_access_key="AKIDFAKE", aws_secret_key="fake")
        anthropic.AnthropicVertex(base_url=srv.vertex_url, region="us-east5",
                                  project_id="p", access_token="fake")
        srv.url         # "http://127.0.0.1:PORT" (the SDK adds /v1/... itself)
        srv.base_url    # the same as url: Anthropic's base URL has no /v1
        srv.bedrock_url # url + "/bedrock"
        srv.vertex_url  # url + "/vertex"
        srv.requests    # [{"method", "path" (with query), "headers" (lower-case keys),
                        #   "body" (parsed JSON or None)}, ...]

Every answer is deterministic, so tests can assert exact values.

Routes (any path prefix before them is ignored, and so is the query, e.g. ``?beta=true``)
    POST /v1/messages                   Messages API; ``client.beta.messages`` sends
                                        ``/v1/messages?beta=true``: the same answer.
    POST /v1/messages/count_tokens      {"input_tokens": 10} (COUNT_TOKENS).
    Bedrock  POST /model/{model}/invoke, /model/{model}/invoke-with-response-stream
             (the model is in the path, the body has no ``model`` and no ``stream``;
             the stream is AWS event-stream binary framing, see below).
    Vertex   POST /projects/{p}/locations/{r}/publishers/anthropic/models/{model}:rawPredict,
             ...:streamRawPredict (SSE as first-party), and
             .../models/count-tokens:rawPredict (count_tokens, model in the body).
    Anything else: 404 with an Anthropic error body (type "not_found_error").

Messages (ids "msg_fake_<n>", n counts Messages replies on this server, every route)
    {"id", "type": "message", "role": "assistant", "model": the request's model (Bedrock
    and Vertex: the model in the path), "content": [...], "stop_reason", "stop_sequence":
    null, "usage": USAGE}. USAGE is input 10, output 6, cache read 4, cache creation 2.
    Content, in this order:
      * ``thinking`` {"type": "enabled", "budget_tokens": N} (or "adaptive"): first a
        {"type": "thinking", "thinking": "Let me think.", "signature": "sig_fake"} block.
      * ``tools`` given (and ``tool_choice`` not {"type": "none"}) and the last message is
        not a user message with a ``tool_result`` block: {"type": "tool_use", "id":
        "toolu_fake_1", "name": the first tool's (or tool_choice {"type": "tool"}'s) name,
        "input": {"city": "Paris"}}, stop_reason "tool_use".
      * otherwise one text block: ``output_config.format`` (or the older ``output_format``)
        {"type": "json_schema", "schema": ...}: JSON of ``sample_from_schema`` (from the
        OpenAI fake); after a tool_result: "The weather is sunny." (TOOL_RESULT_TEXT);
        else "Hello from the fake Anthropic server." (TEXT). stop_reason "end_turn".
    ``max_tokens`` == 1: stop_reason "max_tokens" (the content is unchanged).

Streams (``"stream": true``; Vertex streamRawPredict; Bedrock invoke-with-response-stream)
    The real event sequence, each as ``event: <type>`` + ``data: <json>``, chunked:
    message_start (the message with empty content, stop_reason null, usage
    STREAM_START_USAGE: output_tokens 1), then per block content_block_start (text "",
    thinking "" with signature "", tool_use with input {}), ``ping`` (once, after the
    first content_block_start), content_block_delta (text_delta per word, each word
    keeps its trailing space; thinking_delta per word then one signature_delta;
    input_json_delta with partial_json "" then '{"city": ' and '"Paris"}'),
    content_block_stop; then message_delta {"delta": {"stop_reason", "stop_sequence":
    null}, "usage": {"output_tokens": 6}} and message_stop.

Bedrock streams
    The same events, each one AWS event-stream frame (prelude, headers, payload, both
    CRC32s): headers ``:event-type: chunk``, ``:content-type: application/json``,
    ``:message-type: event``; payload {"bytes": base64 of the event's JSON}. The
    message_stop event carries "amazon-bedrock-invocationMetrics" (BEDROCK_METRICS),
    as Bedrock's does; there is no ``ping``. Content type
    ``application/vnd.amazon.eventstream``.

Request headers
    x-fake-chunks: N   a streamed text block is exactly N text deltas "tok0 ", "tok1 ", ...,
                       so its text is "".join(f"tok{i} " for i in range(N)).
    x-fake-content: J  the reply's content is the blocks J (a JSON list), whatever the body
                       says; stop_reason "tool_use" when one is a tool_use block, else
                       "end_turn". Streamed as Anthropic streams them: text, thinking and
                       tool_use as above, server_tool_use / mcp_tool_use like tool_use,
                       any other block (redacted_thinking, web_search_tool_result …)
                       whole in its content_block_start, with no delta.

Model-name conventions (every route; Bedrock and Vertex: the model in the path)
    error-<status>  e.g. error-400/401/403/404/429/500/529: that HTTP status before any
                    streaming. Body {"type": "error", "error": {"type": ..., "message":
                    "fake error <status>"}} with Anthropic's type for the status
                    (400 invalid_request_error, 401 authentication_error, 402
                    billing_error, 403 permission_error, 404 not_found_error, 413
                    request_too_large, 429 rate_limit_error, 500 api_error, 504
                    timeout_error, 529 overloaded_error; other 4xx invalid_request_error,
                    other 5xx api_error). 429 also sends ``retry-after: 0``. Bedrock
                    answers as Bedrock does instead: body {"message": "fake error
                    <status>"} and header ``x-amzn-errortype: <Exception>:...``
                    (ValidationException, AccessDeniedException, ThrottlingException, ...).
    slow-<ms>       sleep <ms> milliseconds, then answer normally (client timeouts).
    stream-error    streaming only: the events up to and including the 2nd
                    content_block_delta, then ``event: error`` with {"type": "error",
                    "error": {"type": "overloaded_error", "message": "fake mid-stream
                    error"}}; the body then ends cleanly (the SDK raises an APIStatusError
                    whose .type is "overloaded_error"). Bedrock: an exception frame
                    (``:message-type: exception``, ``:exception-type:
                    modelStreamErrorException``, payload {"message": ...}).
    stream-drop     streaming only: the same events up to the 2nd content_block_delta,
                    then the socket is closed mid-body.

Response headers
    ``request-id: req_fake_<n>`` (Bedrock: ``x-amzn-requestid``, plus
    ``x-amzn-bedrock-input-token-count`` / ``-output-token-count`` on invoke).
"""

from __future__ import annotations

import base64
import json
import re
import struct
import zlib
from dataclasses import dataclass
from typing import Any, Iterator, Union
from urllib.parse import unquote, urlsplit

from tests.fakes import _server
from tests.fakes._server import DROP_CONNECTION, FakeRequestHandler, JsonReply, LocalFakeServer, SseEvent
from tests.fakes.openai_server import sample_from_schema, split_words, stream_pieces

TEXT = "Hello from the fake Anthropic server."
TOOL_RESULT_TEXT = "The weather is sunny."
THINKING_TEXT = "Let me think."
SIGNATURE = "sig_fake"
TOOL_USE_ID = "toolu_fake_1"
TOOL_INPUT: dict[str, Any] = {"city": "Paris"}
TOOL_INPUT_JSON = '{"city": "Paris"}'
MID_STREAM_ERROR_MESSAGE = "fake mid-stream error"
MID_STREAM_ERROR_TYPE = "overloaded_error"
BEDROCK_STREAM_ERROR_TYPE = "modelStreamErrorException"
FAILING_STREAM_DELTAS = 2  # stream-error / stream-drop send this many content_block_deltas
CONTENT_HEADER = "x-fake-content"

USAGE: dict[str, Any] = {
    "input_tokens": 10,
    "output_tokens": 6,
    "cache_read_input_tokens": 4,
    "cache_creation_input_tokens": 2,
}
STREAM_START_USAGE: dict[str, Any] = {**USAGE, "output_tokens": 1}
COUNT_TOKENS: dict[str, Any] = {"input_tokens": 10}
BEDROCK_METRICS: dict[str, Any] = {
    "inputTokenCount": USAGE["input_tokens"],
    "outputTokenCount": USAGE["output_tokens"],
    "invocationLatency": 100,
    "firstByteLatency": 50,
}

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
BEDROCK_ERROR_TYPES: dict[int, str] = {
    400: "ValidationException",
    403: "AccessDeniedException",
    404: "ResourceNotFoundException",
    408: "ModelTimeoutException",
    424: "ModelErrorException",
    429: "ThrottlingException",
    500: "InternalServerException",
    503: "ServiceUnavailableException",
}


# --- the server -----------------------------------------------------------------------


@dataclass
class StreamReply(_server.StreamReply):
    """A chunked reply (see tests/fakes/_server.py); SSE streams name their charset, as Anthropic's do."""

    content_type: str = "text/event-stream; charset=utf-8"


Reply = Union[JsonReply, StreamReply]


class _Handler(FakeRequestHandler):
    def answer(self, headers: dict[str, str], body: Any) -> Reply:
        return route(self.server.owner, self.command, parse_target(self.path), headers, body)

    def bug_reply(self, message: str) -> JsonReply:
        return error_reply(500, message, parse_target(self.path).platform)

    def id_header(self) -> str:
        return "x-amzn-requestid" if parse_target(self.path).platform == "bedrock" else "request-id"


class FakeAnthropicServer(LocalFakeServer):
    """A fake Anthropic API (with Bedrock and Vertex routes) on 127.0.0.1, from a daemon thread."""

    handler_class = _Handler
    thread_name = "fake-anthropic"

    @property
    def base_url(self) -> str:
        """What ``anthropic.Anthropic(base_url=...)`` takes: the SDK's paths start with /v1."""
        return self.url

    @property
    def bedrock_url(self) -> str:
        return f"{self.url}/bedrock"

    @property
    def vertex_url(self) -> str:
        return f"{self.url}/vertex"


# --- AWS event-stream framing (Bedrock's invoke-with-response-stream) -------------------


_STRING_HEADER = 7  # the event-stream header value type of a UTF-8 string


def encode_event_stream_frame(headers: dict[str, str], payload: bytes) -> bytes:
    """One AWS event-stream message: prelude (total and header lengths, CRC32), string
    headers, payload, and the CRC32 of everything before it (big-endian throughout)."""
    header_bytes = b""
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        header_bytes += struct.pack(">B", len(raw_name)) + raw_name
        header_bytes += struct.pack(">BH", _STRING_HEADER, len(raw_value)) + raw_value
    total_length = 12 + len(header_bytes) + len(payload) + 4
    prelude = struct.pack(">II", total_length, len(header_bytes))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + header_bytes + payload
    return message + struct.pack(">I", zlib.crc32(message))


@dataclass
class EventStreamFrame:
    headers: dict[str, str]
    payload: bytes

    def encode(self) -> bytes:
        return encode_event_stream_frame(self.headers, self.payload)


def bedrock_chunk(event: dict[str, Any]) -> EventStreamFrame:
    """A Bedrock ``chunk`` event whose payload carries one Messages stream event."""
    data = base64.b64encode(json.dumps(event).encode()).decode()
    headers = {":event-type": "chunk", ":content-type": "application/json", ":message-type": "event"}
    return EventStreamFrame(headers, json.dumps({"bytes": data}).encode())


def bedrock_exception(exception_type: str, message: str) -> EventStreamFrame:
    headers = {":exception-type": exception_type, ":content-type": "application/json", ":message-type": "exception"}
    return EventStreamFrame(headers, json.dumps({"message": message}).encode())


# --- routing and shared behaviour ------------------------------------------------------


@dataclass
class Target:
    """What a request path asks for."""

    endpoint: str | None  # "messages", "count_tokens", or None (unknown route)
    platform: str = "anthropic"  # "anthropic", "bedrock" or "vertex"
    model: str | None = None  # the model in a Bedrock or Vertex path
    stream: bool | None = None  # what a Bedrock or Vertex path says; None: the body's "stream"


_BEDROCK_PATH = re.compile(r"(?:.*?)/model/(?P<model>[^/]+)/(?P<action>invoke|invoke-with-response-stream)")
_VERTEX_PATH = re.compile(
    r"(?:.*?)/projects/[^/]+/locations/[^/]+/publishers/anthropic/models/"
    r"(?P<model>[^/]+):(?P<action>streamRawPredict|rawPredict)"
)


def parse_target(request_target: str) -> Target:
    path = urlsplit(request_target).path.rstrip("/")
    bedrock = _BEDROCK_PATH.fullmatch(path)
    if bedrock:
        stream = bedrock.group("action") == "invoke-with-response-stream"
        return Target("messages", "bedrock", unquote(bedrock.group("model")), stream)
    vertex = _VERTEX_PATH.fullmatch(path)
    if vertex:
        model = unquote(vertex.group("model"))
        if model == "count-tokens" and vertex.group("action") == "rawPredict":
            return Target("count_tokens", "vertex")
        return Target("messages", "vertex", model, vertex.group("action") == "streamRawPredict")
    if path.endswith("/v1/messages"):
        return Target("messages")
    if path.endswith("/v1/messages/count_tokens"):
        return Target("count_tokens")
    platform = "bedrock" if "/model/" in path else "vertex" if "/projects/" in path else "anthropic"
    return Target(None, platform)


def route(fake: FakeAnthropicServer, method: str, target: Target, headers: dict[str, str], body: Any) -> Reply:
    if target.endpoint is None or method != "POST":
        return error_reply(404, "Not found", target.platform, "not_found_error")
    if not isinstance(body, dict):
        return error_reply(400, "There was an issue with the request body: invalid JSON", target.platform)
    model = target.model or body.get("model")
    if not isinstance(model, str) or not model:
        return error_reply(400, "model: Field required", target.platform)
    failure = model_error(model, target.platform)
    if failure is not None:
        return failure
    delay_ms = _slow_delay_ms(model)
    if delay_ms:
        fake._sleep(delay_ms / 1000)
    if target.endpoint == "count_tokens":
        return JsonReply(200, dict(COUNT_TOKENS))
    return messages(fake, target, headers, body, model)


def error_reply(status: int, message: str, platform: str = "anthropic", error_type: str | None = None) -> JsonReply:
    headers = {"retry-after": "0"} if status == 429 else {}
    if platform == "bedrock":
        exception = BEDROCK_ERROR_TYPES.get(status) or (
            "ValidationException" if status < 500 else "InternalServerException"
        )
        headers["x-amzn-errortype"] = f"{exception}:http://internal.amazon.com/coral/com.amazon.bedrock/"
        return JsonReply(status, {"message": message}, headers)
    error_type = error_type or anthropic_error_type(status)
    return JsonReply(status, {"type": "error", "error": {"type": error_type, "message": message}}, headers)


def anthropic_error_type(status: int) -> str:
    return ERROR_TYPES.get(status) or ("invalid_request_error" if status < 500 else "api_error")


def model_error(model: str, platform: str = "anthropic") -> JsonReply | None:
    """The error reply that an ``error-<status>`` model asks for, else None."""
    match = re.fullmatch(r"error-([45]\d\d)", model)
    if not match:
        return None
    status = int(match.group(1))
    return error_reply(status, f"fake error {status}", platform)


def _slow_delay_ms(model: str) -> int:
    match = re.fullmatch(r"slow-(\d+)", model)
    return int(match.group(1)) if match else 0


# --- POST /v1/messages ------------------------------------------------------------------


@dataclass
class MessagePlan:
    content: list[dict[str, Any]]  # the final content blocks
    stop_reason: str


def plan_message(body: dict[str, Any], headers: dict[str, str] | None = None) -> MessagePlan:
    """The content and stop reason of the reply to a Messages request body (and its headers)."""
    scripted = (headers or {}).get(CONTENT_HEADER)
    if scripted is not None:
        blocks = json.loads(scripted)
        stop_reason = "tool_use" if any(block.get("type") == "tool_use" for block in blocks) else "end_turn"
        return MessagePlan(blocks, "max_tokens" if body.get("max_tokens") == 1 else stop_reason)
    content: list[dict[str, Any]] = []
    if (body.get("thinking") or {}).get("type") in ("enabled", "adaptive"):
        content.append({"type": "thinking", "thinking": THINKING_TEXT, "signature": SIGNATURE})
    tool_name = _tool_to_call(body)
    if tool_name is not None:
        content.append({"type": "tool_use", "id": TOOL_USE_ID, "name": tool_name, "input": dict(TOOL_INPUT)})
        stop_reason = "tool_use"
    else:
        content.append({"type": "text", "text": _reply_text(body)})
        stop_reason = "end_turn"
    if body.get("max_tokens") == 1:
        stop_reason = "max_tokens"
    return MessagePlan(content, stop_reason)


def _tool_to_call(body: dict[str, Any]) -> str | None:
    tools = [tool for tool in body.get("tools") or [] if isinstance(tool, dict)]
    tool_choice = body.get("tool_choice") or {}
    if not tools or tool_choice.get("type") == "none" or _answers_tool_use(body):
        return None
    if tool_choice.get("type") == "tool" and tool_choice.get("name"):
        return str(tool_choice["name"])
    return str(tools[0].get("name", "tool"))


def _answers_tool_use(body: dict[str, Any]) -> bool:
    """Whether the last message is a user message with a tool_result block."""
    messages = body.get("messages") or []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    blocks = last.get("content") if last.get("role") == "user" else None
    return isinstance(blocks, list) and any(
        isinstance(block, dict) and block.get("type") == "tool_result" for block in blocks
    )


def _json_schema(body: dict[str, Any]) -> dict[str, Any] | None:
    """The schema of a structured-output request: output_config.format, else output_format."""
    for output_format in ((body.get("output_config") or {}).get("format"), body.get("output_format")):
        if isinstance(output_format, dict) and output_format.get("type") == "json_schema":
            schema = output_format.get("schema")
            return schema if isinstance(schema, dict) else {}
    return None


def _reply_text(body: dict[str, Any]) -> str:
    schema = _json_schema(body)
    if schema is not None:
        return json.dumps(sample_from_schema(schema))
    return TOOL_RESULT_TEXT if _answers_tool_use(body) else TEXT


def message_object(message_id: str, model: str, content: list[Any], stop_reason: str | None, usage: Any) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage,
    }


def messages(fake: FakeAnthropicServer, target: Target, headers: dict[str, str], body: dict, model: str) -> Reply:
    plan = plan_message(body, headers)
    message_id = f"msg_fake_{fake._next_id('message')}"
    stream = target.stream if target.stream is not None else bool(body.get("stream"))
    if not stream:
        reply_headers: dict[str, str] = {}
        if target.platform == "bedrock":
            reply_headers["x-amzn-bedrock-input-token-count"] = str(USAGE["input_tokens"])
            reply_headers["x-amzn-bedrock-output-token-count"] = str(USAGE["output_tokens"])
        return JsonReply(200, message_object(message_id, model, plan.content, plan.stop_reason, dict(USAGE)), reply_headers)
    events = stream_events(message_id, model, plan, headers)
    if target.platform == "bedrock":
        return StreamReply(_bedrock_frames(events, model), "application/vnd.amazon.eventstream")
    return StreamReply(_sse_events(events, model))


def stream_events(message_id: str, model: str, plan: MessagePlan, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The Messages stream events (as dicts with "type") of a reply, in order."""
    start = message_object(message_id, model, [], None, dict(STREAM_START_USAGE))
    events: list[dict[str, Any]] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(plan.content):
        opening, deltas = _block_events(block, headers)
        events.append({"type": "content_block_start", "index": index, "content_block": opening})
        if index == 0:
            events.append({"type": "ping"})
        events.extend({"type": "content_block_delta", "index": index, "delta": delta} for delta in deltas)
        events.append({"type": "content_block_stop", "index": index})
    delta = {"stop_reason": plan.stop_reason, "stop_sequence": None}
    events.append({"type": "message_delta", "delta": delta, "usage": {"output_tokens": USAGE["output_tokens"]}})
    events.append({"type": "message_stop"})
    return events


def _block_events(block: dict[str, Any], headers: dict[str, str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The content_block_start block and the deltas of one content block."""
    if block["type"] == "thinking":
        deltas = [{"type": "thinking_delta", "thinking": piece} for piece in split_words(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
        return {"type": "thinking", "thinking": "", "signature": ""}, deltas
    if block["type"] in ("tool_use", "server_tool_use", "mcp_tool_use"):
        pieces = ["", *split_words(json.dumps(block["input"]))]
        deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in pieces]
        return {**block, "input": {}}, deltas
    if block["type"] == "text":
        deltas = [{"type": "text_delta", "text": piece} for piece in stream_pieces(block["text"], headers)]
        return {"type": "text", "text": ""}, deltas
    return dict(block), []  # redacted_thinking, web_search_tool_result …: whole in content_block_start


def _failing_prefix(events: list[dict[str, Any]], model: str) -> tuple[list[dict[str, Any]], bool]:
    """(the events to send, whether a stream-error / stream-drop failure follows them)."""
    if model not in ("stream-error", "stream-drop"):
        return events, False
    deltas_seen = 0
    for position, event in enumerate(events):
        if event["type"] == "content_block_delta":
            deltas_seen += 1
            if deltas_seen == FAILING_STREAM_DELTAS:
                return events[: position + 1], True
    return events, True


def _sse_events(events: list[dict[str, Any]], model: str) -> Iterator[Any]:
    sent, fails = _failing_prefix(events, model)
    for event in sent:
        yield SseEvent(event, event=event["type"])
    if not fails:
        return
    if model == "stream-drop":
        yield DROP_CONNECTION
        return
    error = {"type": "error", "error": {"type": MID_STREAM_ERROR_TYPE, "message": MID_STREAM_ERROR_MESSAGE}}
    yield SseEvent(error, event="error")


def _bedrock_frames(events: list[dict[str, Any]], model: str) -> Iterator[Any]:
    # Bedrock's chunks carry no ping (anthropic 0.x would hand one to the application).
    sent, fails = _failing_prefix([event for event in events if event["type"] != "ping"], model)
    for event in sent:
        if event["type"] == "message_stop":
            event = {**event, "amazon-bedrock-invocationMetrics": dict(BEDROCK_METRICS)}
        yield bedrock_chunk(event)
    if not fails:
        return
    if model == "stream-drop":
        yield DROP_CONNECTION
        return
    yield bedrock_exception(BEDROCK_STREAM_ERROR_TYPE, MID_STREAM_ERROR_MESSAGE)
