"""What the local fake API servers share (stdlib only).

The HTTP plumbing is the package's, which the demo's OpenAI-compatible server uses too
(opik_otel/cli/demo/local_http.py: the replies, keep-alive, the serving thread). A fake is a
``LocalFakeServer`` subclass that names its request handler (a ``FakeRequestHandler``
subclass) and the prefix of its serving thread's name:

    class FakeThingServer(LocalFakeServer):
        handler_class = _Handler      # answer() and bug_reply() give the replies
        thread_name = "fake-thing"    # the thread is "fake-thing-<port>"

    with FakeThingServer() as srv:    # or srv.start() ... srv.stop()
        srv.url       # "http://127.0.0.1:PORT"
        srv.requests  # [{"method", "path" (with query), "headers" (lower-case keys),
                      #   "body" (parsed JSON or None)}, ...]

What a fake adds to the plumbing: the recorded ``requests``; ``_sleep`` (slow models), which
``stop()`` wakes; ``DROP_CONNECTION``, an event of a ``StreamReply`` that closes the socket
there, mid-body; and request ids ``req_fake_<n>`` (n counts replies).
"""

from __future__ import annotations

import threading
from typing import Any, TypeVar

from opik_otel.cli.demo.local_http import (  # noqa: F401 (re-exported for the fakes)
    JsonReply,
    LocalHTTPServer,
    Reply,
    RequestHandler,
    SseEvent,
    StreamReply,
    parse_json,
)


class _DropConnection:
    def encode(self) -> bytes:
        # The plumbing ends the connection where an event raises ConnectionError.
        raise ConnectionAbortedError("DROP_CONNECTION: the fake closes the socket mid-body")


DROP_CONNECTION = _DropConnection()  # in a stream: close the socket here, mid-body


class FakeRequestHandler(RequestHandler):
    """A ``RequestHandler`` that records each request on its fake before answering it."""

    def read_request(self) -> tuple[dict[str, str], Any]:
        headers, body = super().read_request()
        self.server.owner._record({"method": self.command, "path": self.path, "headers": headers, "body": body})
        return headers, body


_Fake = TypeVar("_Fake", bound="LocalFakeServer")


class LocalFakeServer(LocalHTTPServer):
    """A fake API on 127.0.0.1 (a free port by default), served from a daemon thread."""

    handler_class: type[FakeRequestHandler]  # set by each fake
    request_id_prefix = "req_fake_"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__(host, port)
        self.requests: list[dict[str, Any]] = []
        self._stopping = threading.Event()

    def start(self: _Fake) -> _Fake:
        self._stopping.clear()
        return super().start()

    def stop(self) -> None:
        self._stopping.set()  # wakes handlers sleeping in _sleep (slow models)
        super().stop()

    # Used by the request handlers.

    def _record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)
