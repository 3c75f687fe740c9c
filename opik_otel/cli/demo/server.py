"""The demo's built-in OpenAI-compatible server (stdlib only): `POST /v1/chat/completions`.

It serves on 127.0.0.1 (a free port) from a daemon thread, so `opik-otel demo` runs a real
`openai` client without an API key or any network:

    with DemoOpenAIServer() as server:
        client = openai.OpenAI(base_url=server.base_url, api_key="demo")

Its answers are deterministic. With `tools` and no `tool` message yet, the assistant calls
the first tool with `{"city": "Paris"}` (finish_reason `tool_calls`); once a tool result is
in the conversation, it answers in words from that result. Replies are plain JSON, or with
`stream: true` server-sent events (`data: {chunk}` lines, a usage chunk when
`stream_options.include_usage` is set, then `data: [DONE]`). Token counts are estimated from
the text (about 4 characters a token), so the trace shows realistic usage and cost.
Anything else gets an OpenAI-style error.

The chat-completions wire format here (`ChatReply`, `chat_reply`) and the HTTP plumbing
(local_http.py) are the one implementation: the test suite's fake OpenAI server
(tests/fakes/openai_server.py) builds on them and adds what only tests need.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator
from urllib.parse import urlsplit

from opik_otel.cli.demo.local_http import JsonReply, LocalHTTPServer, Reply, RequestHandler, SseEvent, StreamReply

DEFAULT_MODEL = "gpt-4o-mini"
TOOL_ARGUMENTS = {"city": "Paris"}
SYSTEM_FINGERPRINT = "fp_opik_otel_demo"


# --- the OpenAI chat-completions wire format -------------------------------------------------


@dataclass
class ChatReply:
    """The assistant message of a chat reply (every choice repeats it) and its finish reason."""

    content: str | None
    finish_reason: str
    tool_calls: list[dict[str, Any]] = field(default_factory=list)  # [{"id", "type", "function": {"name", "arguments"}}]
    function_call: dict[str, Any] | None = None  # the legacy {"name", "arguments"}
    refusal: str | None = None


def chat_reply(
    header: dict[str, Any], reply: ChatReply, body: dict[str, Any], usage: dict[str, Any], choice_count: int = 1
) -> Reply:
    """The reply to a chat-completions request `body`: a `chat.completion`, or with `stream: true`
    its chunks (`chat_chunks`; the usage only when `stream_options.include_usage` is set).
    `header` holds what every object repeats: id, created, model, system_fingerprint, service_tier."""
    if body.get("stream"):
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        return StreamReply(chat_chunks(header, reply, usage if include_usage else None, choice_count))
    message: dict[str, Any] = {"role": "assistant", "content": reply.content, "refusal": reply.refusal, "annotations": []}
    if reply.tool_calls:
        message["tool_calls"] = reply.tool_calls
    if reply.function_call:
        message["function_call"] = reply.function_call
    choices = [
        {"index": index, "message": message, "logprobs": None, "finish_reason": reply.finish_reason}
        for index in range(choice_count)
    ]
    return JsonReply(200, {**header, "object": "chat.completion", "choices": choices, "usage": usage})


def chat_chunks(
    header: dict[str, Any], reply: ChatReply, usage: dict[str, Any] | None, choice_count: int = 1
) -> Iterator[SseEvent]:
    """A streamed reply as OpenAI sends it: each delta (`chat_deltas`) for every choice, a final
    empty delta with the finish_reason, a `choices: []` chunk with the usage (when given), then
    `data: [DONE]`."""

    def chunk(choices: list[dict[str, Any]], **extra: Any) -> SseEvent:
        return SseEvent({**header, "object": "chat.completion.chunk", "choices": choices, **extra})

    def choice(index: int, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        return {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}

    for delta in chat_deltas(reply):
        for index in range(choice_count):
            yield chunk([choice(index, delta)])
    for index in range(choice_count):
        yield chunk([choice(index, {}, reply.finish_reason)])
    if usage is not None:
        yield chunk([], usage=usage)
    yield SseEvent("[DONE]")


def chat_deltas(reply: ChatReply) -> list[dict[str, Any]]:
    """The deltas of one streamed choice, before its finish_reason, as OpenAI sends them: the
    role delta, the content word by word, the refusal likewise, then each tool call (or the
    legacy function call) opening with its name and empty arguments, then argument fragments.
    With neither content nor refusal, the first opening rides on the role delta."""
    role: dict[str, Any] = {"role": "assistant", "content": None if reply.content is None else ""}
    if reply.refusal is not None:
        role["refusal"] = ""
    deltas = [role]
    deltas += [{"content": piece} for piece in split_words(reply.content or "")]
    deltas += [{"refusal": piece} for piece in split_words(reply.refusal or "")]
    for index, call in enumerate(reply.tool_calls):
        function = call["function"]
        opening = {"index": index, "id": call["id"], "type": "function", "function": {"name": function["name"], "arguments": ""}}
        deltas.append({"tool_calls": [opening]})
        pieces = split_words(function["arguments"])
        deltas += [{"tool_calls": [{"index": index, "function": {"arguments": piece}}]} for piece in pieces]
    if reply.function_call:
        deltas.append({"function_call": {"name": reply.function_call["name"], "arguments": ""}})
        deltas += [{"function_call": {"arguments": piece}} for piece in split_words(reply.function_call["arguments"])]
    if len(deltas) > 1 and not reply.content and not reply.refusal:
        deltas[0:2] = [{**deltas[0], **deltas[1]}]
    return deltas


def split_words(text: str) -> list[str]:
    """Words that keep their trailing whitespace: "".join(split_words(t)) == t."""
    return re.findall(r"\S+\s*|\s+", text)


def openai_error(status: int, message: str, error_type: str, code: str | None) -> JsonReply:
    """An error reply with OpenAI's body: {"error": {"message", "type", "param", "code"}}."""
    return JsonReply(status, {"error": {"message": message, "type": error_type, "param": None, "code": code}})


# --- the answers -----------------------------------------------------------------------------


def count_tokens(text: str) -> int:
    """A rough token count: about 4 characters a token, at least 1 for any text."""
    return max(1, round(len(text) / 4)) if text else 0


def _prompt_tokens(body: dict[str, Any]) -> int:
    tokens = 3  # the reply's priming
    for message in body.get("messages") or []:
        tokens += 4  # per-message framing
        if isinstance(message, dict):
            content = message.get("content")
            tokens += count_tokens(content if isinstance(content, str) else json.dumps(content or ""))
            for call in message.get("tool_calls") or []:
                tokens += count_tokens(json.dumps(call))
    if body.get("tools"):
        tokens += count_tokens(json.dumps(body["tools"]))
    return tokens


def _usage(prompt_tokens: int, completion_tokens: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def _tool_name(tool: Any) -> str:
    if isinstance(tool, dict):
        return str((tool.get("function") or tool).get("name") or "tool")
    return "tool"


def answer_from_tool_result(content: Any) -> str:
    """The assistant's words once a tool has answered (the demo's `get_weather` result)."""
    try:
        result = json.loads(content) if isinstance(content, str) else content
    except ValueError:
        result = None
    if isinstance(result, dict) and {"city", "temperature_c", "conditions"} <= set(result):
        city = result["city"]
        outing = "a fine day for a walk along the Seine" if city == "Paris" else "a fine day to be outside"
        return f"It is {result['temperature_c']} °C and {result['conditions']} in {city}, {outing}."
    return f"Here is what the tool found: {content}"


def plan_reply(body: dict[str, Any]) -> ChatReply:
    """The assistant's reply to this request."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    tool_results = [m for m in messages if m.get("role") == "tool"]
    tools = body.get("tools") or []
    if tools and not tool_results:
        call = {
            "id": "call_demo_1",
            "type": "function",
            "function": {"name": _tool_name(tools[0]), "arguments": json.dumps(TOOL_ARGUMENTS)},
        }
        return ChatReply(None, "tool_calls", tool_calls=[call])
    if tool_results:
        return ChatReply(answer_from_tool_result(tool_results[-1].get("content")), "stop")
    return ChatReply("Hello from the opik-otel demo server. Ask me about the weather!", "stop")


# --- the server ------------------------------------------------------------------------------


class _Handler(RequestHandler):
    def answer(self, headers: dict[str, str], body: Any) -> Reply:
        path = urlsplit(self.path).path.rstrip("/")
        if self.command != "POST" or path != "/v1/chat/completions":
            return openai_error(404, f"Unknown request URL: {self.command} {path or '/'}", "invalid_request_error", "unknown_url")
        if not isinstance(body, dict):
            return openai_error(400, "We could not parse the JSON body of your request.", "invalid_request_error", None)
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            return openai_error(400, "'messages' must be a non-empty array.", "invalid_request_error", None)
        return self.server.owner.chat(body)

    def bug_reply(self, message: str) -> JsonReply:
        return openai_error(500, message, "server_error", None)


class DemoOpenAIServer(LocalHTTPServer):
    """The built-in OpenAI-compatible server on 127.0.0.1 (a free port), in a daemon thread.

    `stream_delay` (seconds) paces the streamed chunks, so the answer appears word by word.
    """

    handler_class = _Handler
    thread_name = "opik-otel-demo-server"
    request_id_prefix = "req_demo_"

    def __init__(self, stream_delay: float = 0.0) -> None:
        super().__init__()
        self.stream_delay = stream_delay

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def chat(self, body: dict[str, Any]) -> Reply:
        """The reply to a chat-completions request (a dict with a non-empty `messages` list)."""
        reply = plan_reply(body)
        completion = reply.content if reply.content is not None else json.dumps(reply.tool_calls)
        usage = _usage(_prompt_tokens(body), count_tokens(completion) + 7 * len(reply.tool_calls))
        header = {
            "id": f"chatcmpl-demo-{self._next_id('chat')}",
            "created": int(time.time()),
            "model": str(body.get("model") or DEFAULT_MODEL),
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "service_tier": "default",
        }
        answer = chat_reply(header, reply, body, usage)
        if isinstance(answer, StreamReply) and self.stream_delay:
            answer.events = _paced(answer.events, self.stream_delay)
        return answer


def _paced(events: Iterable[SseEvent], delay: float) -> Iterator[SseEvent]:
    for event in events:
        yield event
        time.sleep(delay)
