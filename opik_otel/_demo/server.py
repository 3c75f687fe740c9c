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
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any, Iterator

DEFAULT_MODEL = "gpt-4o-mini"
TOOL_ARGUMENTS = {"city": "Paris"}
SYSTEM_FINGERPRINT = "fp_opik_otel_demo"


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


def plan_reply(body: dict[str, Any]) -> tuple[str | None, dict[str, Any] | None, str]:
    """(text, tool call, finish_reason) of the assistant's reply to this request."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    tool_results = [m for m in messages if m.get("role") == "tool"]
    tools = body.get("tools") or []
    if tools and not tool_results:
        call = {
            "id": "call_demo_1",
            "type": "function",
            "function": {"name": _tool_name(tools[0]), "arguments": json.dumps(TOOL_ARGUMENTS)},
        }
        return None, call, "tool_calls"
    if tool_results:
        return answer_from_tool_result(tool_results[-1].get("content")), None, "stop"
    return "Hello from the opik-otel demo server. Ask me about the weather!", None, "stop"


def words(text: str) -> list[str]:
    """The text's words, each keeping its trailing whitespace ("".join(words(t)) == t)."""
    return re.findall(r"\S+\s*|\s+", text)


# --- the server ------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, demo: DemoOpenAIServer) -> None:
        self.demo = demo
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the host name up (socket.getfqdn): no lookups here.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request: Any, client_address: Any) -> None:
        with self.connections_lock:
            self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self.connections_lock:
            self.connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that hangs up is not the demo's problem


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: every reply is length-delimited or chunked
    disable_nagle_algorithm = True  # stream chunks go out as they are written
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length > 0 else b""
        path = self.path.split("?", 1)[0].rstrip("/")
        if path != "/v1/chat/completions":
            self._error(404, f"Unknown request URL: POST {path or '/'}", "invalid_request_error", "unknown_url")
            return
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self._error(400, "We could not parse the JSON body of your request.", "invalid_request_error", None)
            return
        if not isinstance(body.get("messages"), list) or not body["messages"]:
            self._error(400, "'messages' must be a non-empty array.", "invalid_request_error", None)
            return
        self._chat(body)

    def _other(self) -> None:
        self._error(404, f"Unknown request URL: {self.command} {self.path}", "invalid_request_error", "unknown_url")

    do_GET = do_PUT = do_PATCH = do_DELETE = _other

    # --- chat completions

    def _chat(self, body: dict[str, Any]) -> None:
        text, tool_call, finish_reason = plan_reply(body)
        completion = text if text is not None else json.dumps(tool_call)
        usage = _usage(_prompt_tokens(body), count_tokens(completion) + (7 if tool_call else 0))
        header = {
            "id": f"chatcmpl-demo-{self.server.demo.next_id('chat')}",
            "created": int(time.time()),
            "model": str(body.get("model") or DEFAULT_MODEL),
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "service_tier": "default",
        }
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            self._stream(_chunks(header, text, tool_call, finish_reason, usage if include_usage else None))
            return
        message: dict[str, Any] = {"role": "assistant", "content": text, "refusal": None, "annotations": []}
        if tool_call:
            message["tool_calls"] = [tool_call]
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        self._json(200, {**header, "object": "chat.completion", "choices": [choice], "usage": usage})

    # --- replies

    def _error(self, status: int, message: str, error_type: str, code: str | None) -> None:
        self._json(status, {"error": {"message": message, "type": error_type, "param": None, "code": code}})

    def _json(self, status: int, body: dict[str, Any]) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-request-id", f"req_demo_{self.server.demo.next_id('request')}")
        self.end_headers()
        self.wfile.write(payload)

    def _stream(self, chunks: Iterator[str]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("x-request-id", f"req_demo_{self.server.demo.next_id('request')}")
        self.end_headers()
        try:
            for data in chunks:
                self._write_chunk(f"data: {data}\n\n".encode())
                if self.server.demo.stream_delay:
                    time.sleep(self.server.demo.stream_delay)
            self._write_chunk(b"")  # the last chunk: the body ends cleanly
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()


def _chunks(
    header: dict[str, Any], text: str | None, tool_call: dict[str, Any] | None, finish_reason: str, usage: dict[str, Any] | None
) -> Iterator[str]:
    """The SSE data of a streamed reply: a role delta, the content word by word (or the tool
    call, then its arguments), the finish reason, the usage when asked, then [DONE]."""

    def chunk(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> str:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]
        return json.dumps({**header, "object": "chat.completion.chunk", "choices": choices, **extra})

    if tool_call:
        function = tool_call["function"]
        opening = {"index": 0, "id": tool_call["id"], "type": "function", "function": {"name": function["name"], "arguments": ""}}
        yield chunk({"role": "assistant", "content": None, "tool_calls": [opening]})
        for piece in words(function["arguments"]):
            yield chunk({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]})
    else:
        yield chunk({"role": "assistant", "content": ""})
        for piece in words(text or ""):
            yield chunk({"content": piece})
    yield chunk({}, finish_reason)
    if usage is not None:
        yield chunk(None, usage=usage)
    yield "[DONE]"


class DemoOpenAIServer:
    """The built-in OpenAI-compatible server on 127.0.0.1 (a free port), in a daemon thread.

    `stream_delay` (seconds) paces the streamed chunks, so the answer appears word by word.
    """

    def __init__(self, stream_delay: float = 0.0) -> None:
        self.stream_delay = stream_delay
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._ids: dict[str, int] = {}
        self._lock = threading.Lock()

    def start(self) -> DemoOpenAIServer:
        if self._httpd is None:
            self._httpd = _HTTPServer(self)
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="opik-otel-demo-server", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_connections()  # ends idle keep-alive connections
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> DemoOpenAIServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the demo server is not running")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def next_id(self, kind: str) -> int:
        """1, 2, 3… for each kind of id ("chat": chatcmpl-demo-N, "request": req_demo_N)."""
        with self._lock:
            self._ids[kind] = self._ids.get(kind, 0) + 1
            return self._ids[kind]
