"""A small HTTP server on 127.0.0.1 that answers JSON and streams (stdlib only).

The demo's OpenAI-compatible server (server.py) is one; the test suite's fake APIs
(tests/fakes/) are others. A server is a ``LocalHTTPServer`` subclass that names its request
handler (a ``RequestHandler`` subclass) and its serving thread:

    class ThingServer(LocalHTTPServer):
        handler_class = _Handler      # answer() gives each reply, bug_reply() the 500 of a bug
        thread_name = "thing"         # the serving thread is "thing-<port>"

    with ThingServer() as server:     # or server.start() ... server.stop()
        server.url                    # "http://127.0.0.1:PORT"

It serves from a daemon thread on a free port (by default). Connections are kept alive: every
reply is a ``JsonReply`` (length-delimited) or a ``StreamReply`` (chunked; its events are
objects with ``.encode() -> bytes``, e.g. ``SseEvent``; an event whose ``encode()`` raises
``ConnectionError`` closes the connection there, mid-body). Each reply carries a request id
``<request_id_prefix><n>`` (n counts replies) in the handler's ``id_header()``. ``stop()``
ends idle keep-alive connections and joins the thread; a second ``stop()`` is harmless.
"""

from __future__ import annotations

import json
import socket
import threading
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any, Iterable, TypeVar, Union

# --- replies ---------------------------------------------------------------------------------


@dataclass
class JsonReply:
    """A JSON reply, length-delimited."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SseEvent:
    """One server-sent event: ``event:`` (when named) and ``data:`` lines."""

    data: Any  # JSON-serialisable, or a str sent verbatim (e.g. "[DONE]")
    event: str | None = None

    def encode(self) -> bytes:
        data = self.data if isinstance(self.data, str) else json.dumps(self.data)
        event_line = f"event: {self.event}\n" if self.event else ""
        return f"{event_line}data: {data}\n\n".encode()


@dataclass
class StreamReply:
    """A 200 reply whose events are sent as they come, one HTTP chunk each."""

    events: Iterable[Any]  # objects with .encode() -> bytes, e.g. SseEvent
    content_type: str = "text/event-stream"
    headers: dict[str, str] = field(default_factory=dict)


Reply = Union[JsonReply, StreamReply]


def parse_json(raw: bytes) -> Any:
    """A request body as JSON; None when it is empty or not JSON."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


# --- HTTP plumbing ---------------------------------------------------------------------------


class TrackingHTTPServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` for one ``LocalHTTPServer`` (``.owner``) that tracks its open
    connections, so that ``close_open_connections`` can end idle keep-alive handler threads."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], owner: LocalHTTPServer, handler_class: type[BaseHTTPRequestHandler]
    ) -> None:
        self.owner = owner
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, handler_class)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), which can stall without DNS.
        TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # clients that hang up (timeouts, dropped streams) are expected


class RequestHandler(BaseHTTPRequestHandler):
    """Reads a request (Content-Length or chunked) and sends the reply of ``answer``. A subclass
    defines ``answer`` and ``bug_reply`` and, when its request-id header is not
    ``x-request-id``, ``request_id_header`` or ``id_header``."""

    protocol_version = "HTTP/1.1"  # keep-alive; every reply is length-delimited or chunked
    disable_nagle_algorithm = True  # headers, body and stream chunks are separate small writes
    request_id_header = "x-request-id"
    server: TrackingHTTPServer

    def answer(self, headers: dict[str, str], body: Any) -> Reply:
        """The reply to this request (``self.command``, ``self.path``, lower-case headers, JSON body)."""
        raise NotImplementedError

    def bug_reply(self, message: str) -> JsonReply:
        """The 500 reply when ``answer`` raised (a bug in the server): ``message`` says what."""
        raise NotImplementedError

    def id_header(self) -> str:
        """The header that carries the request id of the reply to this request."""
        return self.request_id_header

    def read_request(self) -> tuple[dict[str, str], Any]:
        """The request's headers (lower-case names) and its body as JSON (None when it is not)."""
        headers = {name.lower(): value for name, value in self.headers.items()}
        return headers, parse_json(self._read_body())

    def do_POST(self) -> None:
        self._handle()

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        owner = self.server.owner
        headers, body = self.read_request()
        try:
            reply = self.answer(headers, body)
        except Exception as exc:  # a bug in the server: make it visible
            traceback.print_exc()
            reply = self.bug_reply(f"{type(owner).__name__} bug: {exc!r}")
        request_id = f"{owner.request_id_prefix}{owner._next_id('request')}"
        try:
            if isinstance(reply, StreamReply):
                self._send_stream(reply, request_id)
            else:
                self._send_json(reply, request_id)
        except ConnectionError:  # the client gave up (e.g. a timeout), or the stream drops it
            self.close_connection = True

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked_body()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked_body(self) -> bytes:
        parts = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _send_json(self, reply: JsonReply, request_id: str) -> None:
        payload = json.dumps(reply.body).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self._send_headers(reply.headers, request_id)
        self.wfile.write(payload)

    def _send_stream(self, reply: StreamReply, request_id: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self._send_headers(reply.headers, request_id)
        for event in reply.events:
            self._write_chunk(event.encode())
        self._write_chunk(b"")  # last-chunk: the body ends cleanly

    def _send_headers(self, headers: dict[str, str], request_id: str) -> None:
        self.send_header(self.id_header(), request_id)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()


# --- the server's lifecycle ------------------------------------------------------------------


_Server = TypeVar("_Server", bound="LocalHTTPServer")


class LocalHTTPServer:
    """An HTTP server on 127.0.0.1 (a free port by default), served from a daemon thread."""

    handler_class: type[RequestHandler]  # set by each server
    thread_name: str  # set by each server: the serving thread is "<thread_name>-<port>"
    request_id_prefix = "req_"  # the replies' request ids are "<prefix><n>"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._address = (host, port)
        self._lock = threading.Lock()
        self._counters: dict[str, int] = {}
        self._httpd: TrackingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    def start(self: _Server) -> _Server:
        """Listen and serve (in a daemon thread); raises OSError when the port cannot be bound."""
        if self._httpd is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        self._httpd = TrackingHTTPServer(self._address, self, self.handler_class)
        self._port = self._httpd.server_address[1]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{self.thread_name}-{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, end idle keep-alive connections and join the thread (harmless twice)."""
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.close_open_connections()  # ends idle keep-alive handler threads
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self: _Server) -> _Server:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError(f"{type(self).__name__} has not been started")
        return self._port

    @property
    def url(self) -> str:
        return f"http://{self._address[0]}:{self.port}"

    def _next_id(self, kind: str) -> int:
        """1, 2, 3… for each kind of id (used by the request handlers)."""
        with self._lock:
            self._counters[kind] = self._counters.get(kind, 0) + 1
            return self._counters[kind]
