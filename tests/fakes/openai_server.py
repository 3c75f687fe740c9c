"""A local fake OpenAI server that speaks OpenAI's real wire format (stdlib only).

The unmodified ``openai`` SDK (1.x on httpx, 3.x on httpx2) works against it:

    from tests.fakes.openai_server import FakeOpenAIServer

    with FakeOpenAIServer() as srv:          # or srv.start() ... srv.stop()
        client = openai.OpenAI(base_url=srv.base_url, api_key="sk-test-fake", max_retries=0)
        client.chat.completions.create(model="gpt-4o-mini", messages=[...])
        srv.url        # "http://127.0.0.1:PORT"
        srv.base_url   # "http://127.0.0.1:PORT/v1"
        srv.requests   # [{"method", "path" (with query), "headers" (lower-case keys),
                       #   "body" (parsed JSON or None)}, ...]

Every answer is deterministic, so tests can assert exact values. The HTTP plumbing and the
chat-completions wire format (JSON and SSE chunks: ``ChatReply``, ``chat_reply``) are the
demo server's (opik_otel/cli/demo/), which ships in the package; this fake adds what only tests
need: its routes and answers, errors, slow and failing models, Azure, the Responses API,
embeddings and the ``x-fake-*`` headers.

Routes
    POST {prefix}/chat/completions, {prefix}/responses, {prefix}/embeddings, where
    {prefix} is ``/v1``, ``/openai`` or Azure's ``/openai/deployments/{deployment}``
    (the query, e.g. ``?api-version=...``, is ignored). The response's model is the
    body's ``model``, else the Azure deployment name. Anything else: 404 with an
    OpenAI-style error body.

Model-name conventions (every endpoint; also as an Azure deployment name)
    error-<status>  e.g. error-400/401/404/429/500/503: that HTTP status with body
                    {"error": {"message": "fake error <status>", "type":
                    "invalid_request_error" (4xx) or "server_error" (5xx), "param": null,
                    "code": "fake_<status>"}}; 429 also sends ``retry-after: 0``.
    slow-<ms>       sleep <ms> milliseconds, then answer normally (client timeouts).
    stream-error    streaming only: role chunk, 2 content chunks, then the SSE error
                    ``data: {"error": {"message": "fake mid-stream error", ...}}``; the
                    stream then ends cleanly (the SDK raises ``openai.APIError``).
                    Responses API: 2 text deltas, then ``event: error`` with the same
                    nested error object.
    stream-drop     streaming only: role chunk and 2 content chunks (Responses API: up
                    to 2 text deltas), then the socket is closed mid-body.

Request headers
    x-fake-chunks: N   a streamed text reply is exactly N pieces "tok0 ", "tok1 ", ...,
                       so the streamed text is "".join(f"tok{i} " for i in range(N)).
    x-fake-message: J  chat completions answer with the assistant message J (JSON with any
                       of "content", "refusal", "tool_calls" [{"id", "function": {"name",
                       "arguments"}}] and the legacy "function_call" {"name", "arguments"}),
                       finish "tool_calls" / "function_call" / "stop"; streamed as below.

Scripted answers (for frameworks that parse the model's text: agents, DSPy's adapters)
    srv.script_replies(M1, M2, ...)  the next chat completions answer with these assistant
                       messages, in order (each a dict like the x-fake-message JSON, or a
                       string: the content), then as usual again.
    srv.reply_with(F)  every chat completion asks F(body) for its message (a dict, a string,
                       or None for the usual answer) after the script is used up;
                       srv.reply_with(None) removes it.

Chat completions (ids "chatcmpl-fake-<n>", n counts chat completions on this server)
    created 1700000000, system_fingerprint "fp_fake", service_tier "default",
    usage CHAT_USAGE. Text "Hello from the fake OpenAI server." (CHAT_TEXT), finish
    "stop"; ``n`` > 1 repeats the choice. With ``tools`` and a last message whose role
    is not "tool": one tool call "call_fake_1" to the first tool with arguments
    '{"city": "Paris"}' (content null, finish "tool_calls"); when the last message is a
    tool result: "The weather is sunny." (TOOL_RESULT_TEXT). The legacy ``functions``
    likewise: a ``function_call`` to the first function with the same arguments (finish
    "function_call"), and TOOL_RESULT_TEXT after a ``role: function`` message.
    response_format json_schema: a JSON sample of the schema (string "x", integer 1,
    number 1.5, boolean true, array [], object by its properties, enum/const its first
    value, $ref/$defs and anyOf followed); json_object: "{}". max_tokens or
    max_completion_tokens == 1: finish "length".
    Streams: a {"role": "assistant", "content": ""} delta, the text word by word (each
    word keeps its trailing space), a final empty delta with the finish_reason, a
    ``choices: []`` usage chunk when stream_options.include_usage, then ``data:
    [DONE]``. A refusal streams as ``delta.refusal`` pieces; tool calls as
    index/id/type/name with empty arguments, then argument fragments, and the legacy
    function_call likewise (name with empty arguments, then fragments). On Azure's
    deployment paths a stream starts, as Azure's do, with AZURE_PROMPT_FILTER_CHUNK
    (``prompt_filter_results``; empty ``id``, ``model`` and ``object``; no choices).

Responses API (ids "resp_fake_<n>", message "msg_fake_1", function call "fc_fake_1")
    Text "Hello from the fake Responses API." (RESPONSES_TEXT), usage RESPONSES_USAGE;
    with function ``tools`` and no function_call_output item in ``input``: a
    function_call item (call_id "call_fake_1", first function tool, arguments
    '{"city": "Paris"}'); after a function_call_output: "The weather is sunny.";
    text.format json_schema: a JSON sample as for chat. Streams send the real event
    sequence (``event:`` and ``data:`` lines, consecutive ``sequence_number`` from 0):
    response.created, response.in_progress, response.output_item.added, then
    content_part.added, output_text.delta per word, output_text.done,
    content_part.done (function calls: function_call_arguments.delta/.done instead),
    response.output_item.done, response.completed.

Embeddings
    One vector per input (a string, a token list, or a list of either); dimension
    ``dimensions`` or 8; vector i is [i + j / 8 for j in range(dimension)] (exact in
    float32); ``encoding_format`` "base64" gives little-endian float32 base64, otherwise
    floats; usage {"prompt_tokens": 5 * inputs, "total_tokens": 5 * inputs}.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import struct
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator
from urllib.parse import unquote, urlsplit

from opik_otel.cli.demo.server import ChatReply, chat_reply, openai_error, split_words
from tests.fakes._server import (
    DROP_CONNECTION,
    FakeRequestHandler,
    JsonReply,
    LocalFakeServer,
    Reply,
    SseEvent,
    StreamReply,
)

CREATED = 1700000000
SYSTEM_FINGERPRINT = "fp_fake"
CHAT_TEXT = "Hello from the fake OpenAI server."
RESPONSES_TEXT = "Hello from the fake Responses API."
TOOL_RESULT_TEXT = "The weather is sunny."
TOOL_CALL_ID = "call_fake_1"
TOOL_ARGUMENTS = '{"city": "Paris"}'
MESSAGE_ITEM_ID = "msg_fake_1"
FUNCTION_CALL_ITEM_ID = "fc_fake_1"
MID_STREAM_ERROR_MESSAGE = "fake mid-stream error"
DEFAULT_EMBEDDING_DIMENSIONS = 8
EMBEDDING_TOKENS_PER_INPUT = 5
CHUNKS_HEADER = "x-fake-chunks"
MESSAGE_HEADER = "x-fake-message"

_SAFE = {"filtered": False, "severity": "safe"}
# What Azure OpenAI sends first in every chat stream: the prompt's filter results, with an
# empty id, model and object and no choices (recorded from Azure's real traffic).
AZURE_PROMPT_FILTER_CHUNK: dict[str, Any] = {
    "choices": [],
    "created": 0,
    "id": "",
    "model": "",
    "object": "",
    "prompt_filter_results": [
        {
            "prompt_index": 0,
            "content_filter_results": {"hate": _SAFE, "self_harm": _SAFE, "sexual": _SAFE, "violence": _SAFE},
        }
    ],
}

CHAT_USAGE: dict[str, Any] = {
    "prompt_tokens": 12,
    "completion_tokens": 7,
    "total_tokens": 19,
    "prompt_tokens_details": {"cached_tokens": 4, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 2,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}
RESPONSES_USAGE: dict[str, Any] = {
    "input_tokens": 15,
    "output_tokens": 9,
    "total_tokens": 24,
    "input_tokens_details": {"cached_tokens": 5, "cache_write_tokens": 0},
    "output_tokens_details": {"reasoning_tokens": 3},
}

_MAX_SCHEMA_DEPTH = 12


# --- the server -----------------------------------------------------------------------


class _Handler(FakeRequestHandler):
    def answer(self, headers: dict[str, str], body: Any) -> Reply:
        endpoint, deployment = _split_path(self.path)
        return route(self.server.owner, _Request(self.command, endpoint, deployment, headers, body))

    def bug_reply(self, message: str) -> JsonReply:
        return error_reply(500, message, "server_error", "fake_bug")


class FakeOpenAIServer(LocalFakeServer):
    """A fake OpenAI API on 127.0.0.1 (a free port), served from a daemon thread."""

    handler_class = _Handler
    thread_name = "fake-openai"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self._script: list[dict[str, Any] | str] = []
        self._replier: Callable[[dict[str, Any]], dict[str, Any] | str | None] | None = None

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def script_replies(self, *messages: dict[str, Any] | str) -> None:
        """The next chat completions answer with these assistant messages, in order."""
        with self._lock:
            self._script.extend(messages)

    def reply_with(self, replier: Callable[[dict[str, Any]], dict[str, Any] | str | None] | None) -> None:
        """Chat completions ask `replier(body)` for their message once the script is used up."""
        self._replier = replier

    def _scripted(self, body: dict[str, Any]) -> dict[str, Any] | str | None:
        with self._lock:
            if self._script:
                return self._script.pop(0)
        return self._replier(body) if self._replier is not None else None


# --- HTTP plumbing (tests/fakes/_server.py) and the request path ------------------------


@dataclass
class _Request:
    method: str
    endpoint: str  # e.g. "chat/completions", without any prefix or query
    deployment: str | None  # Azure deployment name from the path
    headers: dict[str, str]  # lower-case keys
    body: Any  # parsed JSON or None


def _split_path(target: str) -> tuple[str, str | None]:
    """("chat/completions", deployment or None) from a request target."""
    path = urlsplit(target).path
    azure = re.fullmatch(r"/openai/deployments/([^/]+)/(.+)", path)
    if azure:
        return azure.group(2).strip("/"), unquote(azure.group(1))
    for prefix in ("/v1/", "/openai/"):
        if path.startswith(prefix):
            return path[len(prefix) :].strip("/"), None
    return path.strip("/"), None


# --- routing and shared behaviour ------------------------------------------------------


Route = Callable[[FakeOpenAIServer, _Request, dict, str], Reply]


def route(fake: FakeOpenAIServer, request: _Request) -> Reply:
    handler = _ROUTES.get(request.endpoint)
    if handler is None or request.method != "POST":
        return error_reply(
            404, f"Unknown request URL: {request.method} /{request.endpoint}", "invalid_request_error", "unknown_url"
        )
    body = request.body
    if not isinstance(body, dict):
        return error_reply(400, "We could not parse the JSON body of your request.", "invalid_request_error", None)
    model = body.get("model") or request.deployment
    if not model:
        return error_reply(400, "you must provide a model parameter", "invalid_request_error", None)
    failure = model_error(model)
    if failure is not None:
        return failure
    delay_ms = _slow_delay_ms(model)
    if delay_ms:
        fake._sleep(delay_ms / 1000)
    return handler(fake, request, body, model)


def error_reply(status: int, message: str, error_type: str, code: str | None) -> JsonReply:
    reply = openai_error(status, message, error_type, code)
    if status == 429:
        reply.headers["retry-after"] = "0"
    return reply


def model_error(model: str) -> JsonReply | None:
    """The error reply that an ``error-<status>`` model asks for, else None."""
    match = re.fullmatch(r"error-([45]\d\d)", model)
    if not match:
        return None
    status = int(match.group(1))
    error_type = "invalid_request_error" if status < 500 else "server_error"
    return error_reply(status, f"fake error {status}", error_type, f"fake_{status}")


def _slow_delay_ms(model: str) -> int:
    match = re.fullmatch(r"slow-(\d+)", model)
    return int(match.group(1)) if match else 0


def forced_chunk_count(headers: dict[str, str]) -> int | None:
    value = headers.get(CHUNKS_HEADER)
    return int(value) if value is not None and value.strip().isdigit() else None


def stream_pieces(text: str, headers: dict[str, str]) -> list[str]:
    count = forced_chunk_count(headers)
    if count is not None:
        return [f"tok{i} " for i in range(count)]
    return split_words(text)


def sample_from_schema(schema: Any, defs: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """A small value that satisfies a JSON schema (enough for structured-output tests)."""
    if not isinstance(schema, dict) or depth > _MAX_SCHEMA_DEPTH:
        return None
    if defs is None:
        defs = {**schema.get("definitions", {}), **schema.get("$defs", {})}
    if "$ref" in schema:
        target = defs.get(schema["$ref"].rsplit("/", 1)[-1], {})
        return sample_from_schema(target, defs, depth + 1)
    if schema.get("enum"):
        return schema["enum"][0]
    if "const" in schema:
        return schema["const"]
    for combinator in ("anyOf", "oneOf", "allOf"):
        options = schema.get(combinator)
        if options:
            non_null = [option for option in options if option.get("type") != "null"]
            return sample_from_schema((non_null or options)[0], defs, depth + 1)
    schema_type = schema.get("type")
    if isinstance(schema_type, list):
        schema_type = next((name for name in schema_type if name != "null"), "null")
    if schema_type == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {name: sample_from_schema(sub, defs, depth + 1) for name, sub in properties.items()}
    return {"string": "x", "integer": 1, "number": 1.5, "boolean": True, "array": []}.get(schema_type)


def _sse_failure(model: str, error_event: Callable[[], SseEvent]) -> list[Any] | None:
    """What a stream-error / stream-drop model sends after its first content pieces."""
    if model == "stream-error":
        return [error_event()]
    if model == "stream-drop":
        return [DROP_CONNECTION]
    return None


# --- POST /chat/completions ------------------------------------------------------------


def plan_chat_reply(
    body: dict[str, Any], headers: dict[str, str] | None = None, scripted: dict[str, Any] | str | None = None
) -> ChatReply:
    messages = body.get("messages") or []
    last_role = messages[-1].get("role") if messages and isinstance(messages[-1], dict) else None
    tools = body.get("tools") or []
    functions = body.get("functions") or []
    header = (headers or {}).get(MESSAGE_HEADER)
    if header is None and scripted is not None:
        header = json.dumps({"content": scripted} if isinstance(scripted, str) else scripted)
    plan = _scripted_message(header)
    if plan is None and tools and last_role != "tool":
        plan = ChatReply(None, "tool_calls", tool_calls=[_tool_call(_chat_tool_name(tools[0]))])
    elif plan is None and functions and last_role != "function":
        plan = ChatReply(None, "function_call", function_call={"name": functions[0].get("name", "function"), "arguments": TOOL_ARGUMENTS})
    elif plan is None:
        plan = ChatReply(_chat_text(body, last_role), "stop")
    if 1 in (body.get("max_tokens"), body.get("max_completion_tokens")):
        plan.finish_reason = "length"
    return plan


def _scripted_message(header: str | None) -> ChatReply | None:
    """The assistant message an ``x-fake-message`` header asks for (None without the header)."""
    if header is None:
        return None
    message = json.loads(header)
    tool_calls = [{"type": "function", **call} for call in message.get("tool_calls") or []]
    function_call = message.get("function_call")
    finish = "tool_calls" if tool_calls else "function_call" if function_call else "stop"
    return ChatReply(message.get("content"), finish, tool_calls, function_call, message.get("refusal"))


def _chat_tool_name(tool: dict[str, Any]) -> str:
    return (tool.get("function") or tool).get("name", "tool")


def _chat_text(body: dict[str, Any], last_role: str | None) -> str:
    response_format = body.get("response_format") or {}
    if response_format.get("type") == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema", {})
        return json.dumps(sample_from_schema(schema))
    if response_format.get("type") == "json_object":
        return "{}"
    if last_role in ("tool", "function"):
        return TOOL_RESULT_TEXT
    return CHAT_TEXT


def _tool_call(name: str) -> dict[str, Any]:
    return {"id": TOOL_CALL_ID, "type": "function", "function": {"name": name, "arguments": TOOL_ARGUMENTS}}


def chat_completions(fake: FakeOpenAIServer, request: _Request, body: dict, model: str) -> Reply:
    plan = plan_chat_reply(body, request.headers, fake._scripted(body))
    if body.get("stream") and plan.content:
        plan.content = "".join(stream_pieces(plan.content, request.headers))  # x-fake-chunks
    header = {
        "id": f"chatcmpl-fake-{fake._next_id('chat')}",
        "created": CREATED,
        "model": model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "service_tier": "default",
    }
    choice_count = max(int(body.get("n") or 1), 1)
    reply = chat_reply(header, plan, body, CHAT_USAGE, choice_count)
    if isinstance(reply, StreamReply):
        reply.events = _fake_chat_stream(reply.events, model, choice_count, azure=request.deployment is not None)
    return reply


def _fake_chat_stream(events: Iterable[SseEvent], model: str, choice_count: int, azure: bool) -> Iterator[Any]:
    """A chat stream as the fake sends it: on Azure's paths after AZURE_PROMPT_FILTER_CHUNK; for
    stream-error / stream-drop, the role delta and 2 content pieces of each choice, then the failure."""
    if azure:
        yield SseEvent(AZURE_PROMPT_FILTER_CHUNK)
    error = {"message": MID_STREAM_ERROR_MESSAGE, "type": "server_error"}
    failure = _sse_failure(model, lambda: SseEvent({"error": error}))
    if failure is None:
        yield from events
        return
    yield from itertools.islice(events, 3 * choice_count)
    yield from failure


# --- POST /responses ---------------------------------------------------------------------


def responses(fake: FakeOpenAIServer, request: _Request, body: dict, model: str) -> Reply:
    response_id = f"resp_fake_{fake._next_id('response')}"
    item = _response_output_item(body)
    final = _response_object(response_id, model, body, "completed", [item], RESPONSES_USAGE)
    if body.get("stream"):
        return StreamReply(_response_stream(final, request.headers))
    return JsonReply(200, final)


def _response_output_item(body: dict[str, Any]) -> dict[str, Any]:
    items = body.get("input") if isinstance(body.get("input"), list) else []
    answered = any(isinstance(item, dict) and item.get("type") == "function_call_output" for item in items)
    function_tools = [tool for tool in body.get("tools") or [] if tool.get("type") == "function"]
    if function_tools and not answered:
        return _function_call_item(function_tools[0].get("name", "tool"), TOOL_ARGUMENTS, "completed")
    return _message_item(_responses_text(body, answered), "completed")


def _responses_text(body: dict[str, Any], answered: bool) -> str:
    text_format = (body.get("text") or {}).get("format") or {}
    if text_format.get("type") == "json_schema":
        return json.dumps(sample_from_schema(text_format.get("schema", {})))
    if text_format.get("type") == "json_object":
        return "{}"
    return TOOL_RESULT_TEXT if answered else RESPONSES_TEXT


def _output_text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def _message_item(text: str | None, status: str) -> dict[str, Any]:
    content = [] if text is None else [_output_text_part(text)]
    return {"type": "message", "id": MESSAGE_ITEM_ID, "status": status, "role": "assistant", "content": content}


def _function_call_item(name: str, arguments: str, status: str) -> dict[str, Any]:
    return {
        "type": "function_call",
        "id": FUNCTION_CALL_ITEM_ID,
        "call_id": TOOL_CALL_ID,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


def _response_object(
    response_id: str, model: str, body: dict[str, Any], status: str, output: list[Any], usage: Any
) -> dict[str, Any]:
    return {
        "id": response_id,
        "object": "response",
        "created_at": CREATED,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "metadata": body.get("metadata") or {},
        "model": model,
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "reasoning": body.get("reasoning") or {"effort": None, "summary": None},
        "service_tier": "default",
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "usage": usage,
        "user": body.get("user"),
    }


def _response_stream(final: dict[str, Any], headers: dict[str, str]) -> Iterator[Any]:
    sequence = itertools.count()

    def event(event_type: str, **fields: Any) -> SseEvent:
        return SseEvent({"type": event_type, "sequence_number": next(sequence), **fields}, event=event_type)

    in_progress = {**final, "status": "in_progress", "output": [], "usage": None}
    yield event("response.created", response=in_progress)
    yield event("response.in_progress", response=in_progress)
    item = final["output"][0]
    if item["type"] == "function_call":
        body_events = _function_call_events(event, item)
    else:
        pieces = stream_pieces(item["content"][0]["text"], headers)
        item = _message_item("".join(pieces), "completed")
        final = {**final, "output": [item]}
        body_events = _message_events(event, pieces, final["model"])
    for body_event in body_events:
        yield body_event
        if body_event is DROP_CONNECTION or body_event.event == "error":
            return  # stream-drop / stream-error: nothing follows
    yield event("response.output_item.done", output_index=0, item=item)
    yield event("response.completed", response=final)


def _message_events(event: Callable[..., SseEvent], pieces: list[str], model: str) -> Iterator[Any]:
    location = {"item_id": MESSAGE_ITEM_ID, "output_index": 0, "content_index": 0}
    text = "".join(pieces)
    yield event("response.output_item.added", output_index=0, item=_message_item(None, "in_progress"))
    yield event("response.content_part.added", **location, part=_output_text_part(""))
    error = {"type": "server_error", "code": "server_error", "message": MID_STREAM_ERROR_MESSAGE, "param": None}
    failure = _sse_failure(model, lambda: event("error", error=error))
    for piece in pieces[:2] if failure else pieces:
        yield event("response.output_text.delta", **location, delta=piece, logprobs=[])
    if failure:
        yield from failure
        return
    yield event("response.output_text.done", **location, text=text, logprobs=[])
    yield event("response.content_part.done", **location, part=_output_text_part(text))


def _function_call_events(event: Callable[..., SseEvent], item: dict[str, Any]) -> Iterator[SseEvent]:
    location = {"item_id": item["id"], "output_index": 0}
    yield event("response.output_item.added", output_index=0, item={**item, "arguments": "", "status": "in_progress"})
    for piece in split_words(item["arguments"]):
        yield event("response.function_call_arguments.delta", **location, delta=piece)
    yield event("response.function_call_arguments.done", **location, name=item["name"], arguments=item["arguments"])


# --- POST /embeddings --------------------------------------------------------------------


def embeddings(fake: FakeOpenAIServer, request: _Request, body: dict, model: str) -> Reply:
    inputs = _embedding_inputs(body.get("input"))
    dimensions = body.get("dimensions", DEFAULT_EMBEDDING_DIMENSIONS)
    encoding = body.get("encoding_format", "float")
    if not inputs:
        return error_reply(400, "'input' must be a non-empty string or list", "invalid_request_error", None)
    if not isinstance(dimensions, int) or dimensions < 1:
        return error_reply(400, "'dimensions' must be a positive integer", "invalid_request_error", None)
    if encoding not in ("float", "base64"):
        return error_reply(400, "'encoding_format' must be 'float' or 'base64'", "invalid_request_error", None)
    vectors = [embedding_vector(index, dimensions) for index in range(len(inputs))]
    data = [
        {"object": "embedding", "index": index, "embedding": _encode_vector(vector, encoding)}
        for index, vector in enumerate(vectors)
    ]
    tokens = EMBEDDING_TOKENS_PER_INPUT * len(inputs)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return JsonReply(200, {"object": "list", "data": data, "model": model, "usage": usage})


def embedding_vector(index: int, dimensions: int) -> list[float]:
    """The embedding of the index-th input (every value is exact in float32)."""
    return [index + j / 8 for j in range(dimensions)]


def _embedding_inputs(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(token, int) for token in value):
        return [value]  # one tokenised input
    return list(value) if isinstance(value, list) else []


def _encode_vector(vector: list[float], encoding: str) -> Any:
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


_ROUTES: dict[str, Route] = {
    "chat/completions": chat_completions,
    "responses": responses,
    "embeddings": embeddings,
}
