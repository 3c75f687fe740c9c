"""The plumbing that the local fake API servers share (stdlib only).

A fake is a ``LocalFakeServer`` subclass that names its request handler (a
``FakeRequestHandler`` subclass) and the prefix of its serving thread's name:

    class FakeThingServer(LocalFakeServer):
        handler_class = _Handler      # answer() and bug_reply() give the replies
        thread_name = "fake-thing"    # the thread is "fake-thing-<port>"

    with FakeThingServer() as srv:    # or srv.start() ... srv.stop()
        srv.url       # "http://127.0.0.1:PORT"
        srv.requests  # [{"method", "path" (with query), "headers" (lower-case keys),
                      #   "body" (parsed JSON or None)}, ...]

It serves on 127.0.0.1 (a free port) from a daemon thread. ``stop()`` wakes handlers
sleeping in ``_sleep`` (slow models), ends idle keep-alive connections and joins the
thread; a second ``stop()`` is harmless.

Every reply is a ``JsonReply`` (length-delimited) or a ``StreamReply`` (chunked; its
events are objects with ``.encode() -> bytes``, e.g. ``SseEvent``, and
``DROP_CONNECTION`` closes the socket there, mid-body). Each reply carries a request id
``req_fake_<n>`` (n counts replies) in the handler's ``id_header()``.
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

# --- replies --------------------------------------------------------------------------


@dataclass
class JsonReply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class SseEvent:
    data: Any  # JSON-serialisable, or a str sent verbatim (e.g. "[DONE]")
    event: str | None = None

    def encode(self) -> bytes:
        data = self.data if isinstance(self.data, str) else json.dumps(self.data)
        event_line = f"event: {self.event}\n" if self.event else ""
        return f"{event_line}data: {data}\n\n".encode()


DROP_CONNECTION = object()  # in a stream: close the socket here, mid-body


@dataclass
class StreamReply:
    events: Iterable[Any]  # objects with .encode() -> bytes (e.g. SseEvent), or DROP_CONNECTION
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


# --- HTTP plumbing ----------------------------------------------------------------------


class TrackingHTTPServer(ThreadingHTTPServer):
    """A ``ThreadingHTTPServer`` for one fake (``.fake``) that tracks its open connections,
    so that ``close_open_connections`` can end idle keep-alive handler threads on stop."""

    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], fake: LocalFakeServer, handler_class: type[BaseHTTPRequestHandler]
    ) -> None:
        self.fake = fake
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


class FakeRequestHandler(BaseHTTPRequestHandler):
    """Reads a request (Content-Length or chunked), records it on the fake, and sends the
    reply of ``answer``. A subclass defines ``answer`` and ``bug_reply`` and, when its
    request-id header is not ``x-request-id``, ``request_id_header`` or ``id_header``."""

    protocol_version = "HTTP/1.1"  # keep-alive; every reply is length-delimited or chunked
    disable_nagle_algorithm = True  # headers, body and stream chunks are separate small writes
    request_id_header = "x-request-id"
    server: TrackingHTTPServer

    def answer(self, headers: dict[str, str], body: Any) -> Reply:
        """The reply to this request (``self.command``, ``self.path``, lower-case headers, JSON body)."""
        raise NotImplementedError

    def bug_reply(self, message: str) -> JsonReply:
        """The 500 reply when ``answer`` raised (a bug in the fake): ``message`` says what."""
        raise NotImplementedError

    def id_header(self) -> str:
        """The header that carries the request id of the reply to this request."""
        return self.request_id_header

    def do_POST(self) -> None:
        self._handle()

    do_GET = do_PUT = do_PATCH = do_DELETE = do_POST

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        fake = self.server.fake
        raw_body = self._read_body()
        headers = {name.lower(): value for name, value in self.headers.items()}
        body = parse_json(raw_body)
        fake._record({"method": self.command, "path": self.path, "headers": headers, "body": body})
        try:
            reply = self.answer(headers, body)
        except Exception as exc:  # a bug in the fake: make it visible to the test
            traceback.print_exc()
            reply = self.bug_reply(f"fake server bug: {exc!r}")
        request_id = f"req_fake_{fake._next_id('request')}"
        try:
            if isinstance(reply, StreamReply):
                self._send_stream(reply, request_id)
            else:
                self._send_json(reply, request_id)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up (e.g. a client timeout)

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
        self.send_header(self.id_header(), request_id)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _send_stream(self, reply: StreamReply, request_id: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header(self.id_header(), request_id)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        for event in reply.events:
            if event is DROP_CONNECTION:
                self._drop_connection()
                return
            self._write_chunk(event.encode())
        self._write_chunk(b"")  # last-chunk: the body ends cleanly

    def _write_chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _drop_connection(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


# --- the fake's lifecycle ----------------------------------------------------------------


_Fake = TypeVar("_Fake", bound="LocalFakeServer")


class LocalFakeServer:
    """A fake API on 127.0.0.1 (a free port by default), served from a daemon thread."""

    handler_class: type[FakeRequestHandler]  # set by each fake
    thread_name: str  # set by each fake: the serving thread is "<thread_name>-<port>"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._address = (host, port)
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._counters: dict[str, int] = {}
        self._stopping = threading.Event()
        self._httpd: TrackingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    def start(self: _Fake) -> _Fake:
        if self._httpd is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        self._stopping.clear()
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
        if self._httpd is None:
            return
        self._stopping.set()  # wakes handlers sleeping in _sleep (slow models)
        self._httpd.shutdown()
        self._httpd.close_open_connections()  # ends idle keep-alive handler threads
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self: _Fake) -> _Fake:
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

    # Used by the request handlers.

    def _record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)

    def _next_id(self, kind: str) -> int:
        with self._lock:
            self._counters[kind] = self._counters.get(kind, 0) + 1
            return self._counters[kind]

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)
