"""A fake Opik back end for tests: the REST batch-write endpoints on loopback.

``FakeOpikBackend`` runs a stdlib ``ThreadingHTTPServer`` on ``127.0.0.1`` (a free
port) in a daemon thread and serves, under the base URL ``http://127.0.0.1:PORT/api/``:

* ``POST v1/private/traces/batch`` with ``{"traces": [TraceWrite, ...]}``
* ``POST v1/private/spans/batch`` with ``{"spans": [SpanWrite, ...]}``
* ``GET is-alive/ping`` answering ``{"healthy": true}``
* anything else: 404.

Bodies may be gzip'd (``Content-Encoding: gzip``) and sent with ``Content-Length`` or
chunked. Each item is validated with the ``opik`` package's own REST models
(``opik.rest_api.types.TraceWrite`` / ``SpanWrite``), plus the checks where the real
(Java) back end is stricter than those lax pydantic models: no unknown keys, UUID v7 ids,
integer-only ``usage``, a known span ``type``, ``total_estimated_cost >= 0``,
time-zone-aware timestamps and 1..1000 items per batch. A batch with any invalid item (or
a body that is not gzip / JSON as declared) is answered 400 ``{"errors": [...]}`` and
nothing of it is stored; every such failure message is appended to ``errors``.

Deliberately stricter than the real back end: ``id`` is required (the fake stores items
by id; the real one would generate a missing id).

Valid items are stored as ``model.model_dump(mode="json", exclude_none=True)`` with the
id strings kept exactly as sent; an id sent again upserts (its fields are merged into
the stored item) and counts in ``duplicates``. A batch answered 204 was stored whole.

Every request is appended to ``requests`` (a ``Recorded``) once the fake has decided its
status. ``status`` is what the fake answers, sent after any ``slow`` delay, even when
the client has gone by then; it is ``NO_RESPONSE`` (0) when the connection was closed
without an answer (``drop_next``, or ``stop()`` during a ``slow`` delay).

Fault injection. The controls below act only on batch requests (``POST`` to one of the
two batch paths; never on the ping or 404s), each control counting those requests in
the order they arrive. A batch request goes through these steps:

1. ``drop_next(times=1, after_bytes=None)``: the connection is closed without any
   response (``socket.shutdown(SHUT_RDWR)`` then ``close``) for the next ``times`` batch
   requests: with ``after_bytes=None`` after reading the whole body, otherwise after
   reading only the first ``after_bytes`` bytes of the body as sent (still compressed;
   without the chunk framing when chunked; the whole body when it is not longer). The
   client sees a connection reset / remote disconnected. Nothing is stored; the request
   is recorded with status 0, and with ``body=None`` when dropped mid-body. A dropped
   request skips the steps below and uses up none of the other controls.
2. The whole body is read (and decompressed / parsed).
3. ``slow(seconds, times=None, store_first=True)``: the next ``times`` batch requests
   (``None``: every one until ``slow(0)``) are answered ``seconds`` late. With
   ``store_first=True`` the batch is checked and stored (and recorded) before the delay,
   like a back end that stored it but answers late: a client that times out and retries
   writes it again, which upserts and counts in ``duplicates``. With
   ``store_first=False`` the delay comes first and the batch is checked and stored after
   it (also when the client has given up meanwhile). A new ``slow`` call replaces the
   previous one. ``stop()`` ends a delay early: the connection is closed unanswered
   (and, with ``store_first=False``, nothing is stored; recorded with status 0).
4. The answer, the first that applies:

   a. ``fail_next(status, times=1, headers=None, store=False, after=0)``: after ``after``
      batch requests answered normally, the next ``times`` batch requests are answered ``status`` with ``{"code": status, "message":
      "injected failure"}`` and ``headers`` (e.g. ``{"Retry-After": "1"}`` or
      ``{"RateLimit-Reset": "1"}``), for any status (500, 502, 503, 504, 429, 401, 403,
      413, 409, ...), storing nothing. With ``store=True`` the batch is first handled as
      usual (b to d below); only when it was stored is the 204 replaced by the injected
      answer (e.g. 409: "stored, but answered conflict", as the real back end answers
      items that already exist); a batch answered 413 / 400 by b / c keeps that answer.
      Queued failures are used one per batch request, in the order they were queued.
   b. ``max_body_bytes`` (constructor keyword and attribute, default ``None``: no
      limit): a batch whose DECOMPRESSED body (the JSON bytes after undoing any gzip;
      the raw bytes when not gzip'd) is longer than ``max_body_bytes`` bytes is answered
      413 ``{"code": 413, "message": "payload too large"}``, storing nothing (not added
      to ``errors``). Checked before the JSON is parsed; a body that is not valid gzip
      is a 400.
   c. 400 for an invalid body or item (see above).
   d. 204: stored.

The server: ``start(port=None)`` listens on ``port``, by default on the port of the
previous run (so ``stop()`` then ``start()`` comes back on the same address; a free port
on the first start; ``start(port=0)`` picks a new free one; ``RuntimeError`` when
already running); the server sets ``allow_reuse_address``. ``stop()`` (a no-op when
stopped) ends any ``slow`` delay and closes the listening socket and every open
(keep-alive) connection, so while stopped clients get "connection refused" (``url``
raises while stopped; ``port`` keeps the last port). Stopping does not forget anything:
``traces``, ``spans``, ``duplicates``, ``requests``, ``errors``, ``max_body_bytes`` and
pending controls survive a restart; only ``reset()`` clears them (all but
``max_body_bytes``).

Helpers: ``wait_for(predicate, timeout)``, ``trace_count`` / ``span_count``,
``stored_trace_ids()`` / ``stored_span_ids()`` (sets), ``stats()`` (recorded requests per
status, e.g. ``{0: 1, 204: 3, 503: 2}``).
"""

from __future__ import annotations

import collections
import dataclasses
import gzip
import json
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import pydantic
from opik.rest_api.types import SpanWrite, TraceWrite

from opik_otel.cli.demo.local_http import TrackingHTTPServer

API_PREFIX = "/api/"
PING_PATH = API_PREFIX + "is-alive/ping"
MAX_BATCH_SIZE = 1000
SPAN_TYPES = frozenset({"general", "tool", "llm", "guardrail"})
TIMESTAMP_FIELDS = ("start_time", "end_time", "last_updated_at")
NO_RESPONSE = 0  # Recorded.status of a request whose connection was closed unanswered


@dataclasses.dataclass(frozen=True)
class Recorded:
    """One HTTP request the fake received, and the status it answered."""

    path: str  # the full request path, e.g. "/api/v1/private/spans/batch"
    headers: dict[str, str]  # lower-case keys
    body: Any  # decoded JSON, or None when empty, undecodable or dropped mid-body
    gzipped: bool
    status: int  # NO_RESPONSE (0): the connection was closed without an answer


@dataclasses.dataclass(frozen=True)
class _Response:
    status: int
    body: Any = None  # JSON-serialisable, or None for an empty body
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class _Failure:
    """One pending ``fail_next`` answer."""

    status: int
    headers: dict[str, str]
    store: bool  # handle (and store) the batch as usual, then answer this instead of 204

    def response(self) -> _Response:
        return _Response(self.status, {"code": self.status, "message": "injected failure"}, self.headers)


@dataclasses.dataclass(frozen=True)
class _Drop:
    """One pending ``drop_next``: close after ``after_bytes`` body bytes (None: all)."""

    after_bytes: int | None


@dataclasses.dataclass
class _Slowness:
    """The ``slow`` setting: delay ``remaining`` (None: unlimited) more batch answers."""

    seconds: float
    remaining: int | None
    store_first: bool


@dataclasses.dataclass(frozen=True)
class _BatchKind:
    """What differs between the trace and the span batch endpoints."""

    key: str  # "traces" / "spans": the list key of the body
    model: type[pydantic.BaseModel]
    id_fields: tuple[str, ...]  # fields that must hold UUID v7 strings when present
    required_ids: tuple[str, ...]


TRACES = _BatchKind("traces", TraceWrite, ("id",), ("id",))
SPANS = _BatchKind("spans", SpanWrite, ("id", "trace_id", "parent_span_id"), ("id", "trace_id"))
BATCH_ENDPOINTS = {
    API_PREFIX + "v1/private/traces/batch": TRACES,
    API_PREFIX + "v1/private/spans/batch": SPANS,
}


class BadRequest(Exception):
    """A request the fake answers 400; ``messages`` lists every failure found."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


# --- validation ---------------------------------------------------------------------


def is_uuid_v7(value: Any) -> bool:
    """True for a canonical (hyphenated, any case) RFC 4122 UUID string of version 7."""
    if not isinstance(value, str):
        return False
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        return False
    return (
        str(parsed) == value.lower()
        and parsed.version == 7
        and parsed.variant == uuid.RFC_4122
    )


def validate_batch(body: Any, kind: _BatchKind) -> list[tuple[dict, pydantic.BaseModel]]:
    """Check a batch body; return its (raw item, model) pairs or raise ``BadRequest``."""
    items = _batch_items(body, kind)
    validated, errors = [], []
    for index, item in enumerate(items):
        model, item_errors = _validate_item(item, kind)
        prefix = f"{kind.key}[{index}]"
        errors.extend(f"{prefix}{message}" for message in item_errors)
        validated.append((item, model))
    if errors:
        raise BadRequest(errors)
    return validated


def _batch_items(body: Any, kind: _BatchKind) -> list:
    if not isinstance(body, dict):
        raise BadRequest([f"body must be a JSON object with a {kind.key!r} list"])
    unknown = sorted(set(body) - {kind.key})
    if unknown:
        raise BadRequest([f"unknown body keys: {unknown}"])
    items = body.get(kind.key)
    if not isinstance(items, list):
        raise BadRequest([f"{kind.key!r} must be a list"])
    if not 1 <= len(items) <= MAX_BATCH_SIZE:
        raise BadRequest([f"{kind.key!r} must hold 1..{MAX_BATCH_SIZE} items, got {len(items)}"])
    return items


def _validate_item(item: Any, kind: _BatchKind) -> tuple[pydantic.BaseModel | None, list[str]]:
    """Validate one item; return the model (None if invalid) and ``.field: message`` errors."""
    if not isinstance(item, dict):
        return None, [": item must be a JSON object"]
    errors = _unknown_key_errors(item, kind) + _id_errors(item, kind) + _raw_value_errors(item)
    try:
        model = kind.model.model_validate(item)
    except pydantic.ValidationError as exc:
        errors.extend(_pydantic_errors(exc))
        return None, errors
    errors.extend(_timezone_errors(model))
    return (None if errors else model), errors


def _unknown_key_errors(item: dict, kind: _BatchKind) -> list[str]:
    unknown = sorted(set(item) - set(kind.model.model_fields))
    return [f".{key}: unknown field" for key in unknown]


def _id_errors(item: dict, kind: _BatchKind) -> list[str]:
    errors = [f".{name}: required" for name in kind.required_ids if item.get(name) is None]
    for name in kind.id_fields:
        value = item.get(name)
        if value is not None and not is_uuid_v7(value):
            errors.append(f".{name}: must be a version 7 UUID, got {value!r}")
    return errors


def _raw_value_errors(item: dict) -> list[str]:
    """Checks on values the pydantic models coerce or let through unchecked."""
    errors = []
    usage = item.get("usage")
    if isinstance(usage, dict):
        errors += [
            f".usage.{key}: must be an integer, got {value!r}"
            for key, value in usage.items()
            if not isinstance(value, int) or isinstance(value, bool)
        ]
    span_type = item.get("type")
    if span_type is not None and not (isinstance(span_type, str) and span_type in SPAN_TYPES):
        errors.append(f".type: must be one of {sorted(SPAN_TYPES)}, got {span_type!r}")
    cost = item.get("total_estimated_cost")
    if isinstance(cost, (int, float)) and not isinstance(cost, bool) and cost < 0:
        errors.append(f".total_estimated_cost: must be >= 0, got {cost!r}")
    return errors


def _timezone_errors(model: pydantic.BaseModel) -> list[str]:
    errors = []
    for name in TIMESTAMP_FIELDS:
        value = getattr(model, name, None)
        if value is not None and value.tzinfo is None:
            errors.append(f".{name}: timestamp must carry a time zone (e.g. 'Z')")
    return errors


def _pydantic_errors(exc: pydantic.ValidationError) -> list[str]:
    return [
        "." + ".".join(str(part) for part in error["loc"]) + f": {error['msg']}"
        for error in exc.errors()
    ]


def to_stored(item: dict, model: pydantic.BaseModel, kind: _BatchKind) -> dict:
    """The dict the fake stores: the JSON-mode dump, with the ids exactly as sent."""
    stored = model.model_dump(mode="json", exclude_none=True)
    for name in kind.id_fields:
        if item.get(name) is not None:
            stored[name] = item[name]
    return stored


# --- HTTP plumbing ------------------------------------------------------------------


def _decompress(raw: bytes, gzipped: bool) -> bytes:
    """The body bytes after undoing gzip (if declared); raise ``BadRequest`` if impossible."""
    if not gzipped:
        return raw
    try:
        return gzip.decompress(raw)
    except (OSError, EOFError) as exc:
        raise BadRequest([f"body is not valid gzip: {exc}"]) from None


def _parse_json(data: bytes) -> Any:
    """Parse a (decompressed) JSON body, None when empty; raise ``BadRequest`` if invalid."""
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError as exc:
        raise BadRequest([f"body is not valid JSON: {exc}"]) from None


def _decode_body(raw: bytes, gzipped: bool) -> Any:
    """Decompress (if needed) and parse a JSON body; raise ``BadRequest`` if impossible."""
    return _parse_json(_decompress(raw, gzipped))


def _read_body(handler: BaseHTTPRequestHandler, limit: int | None = None) -> bytes:
    """Read a request body sent with Content-Length or chunked transfer encoding;
    with ``limit``, read only its first ``limit`` bytes (without chunk framing)."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        return _read_chunked(handler.rfile, limit)
    length = int(handler.headers.get("Content-Length") or 0)
    if limit is not None:
        length = min(length, limit)
    return handler.rfile.read(length) if length > 0 else b""


def _read_chunked(stream, limit: int | None = None) -> bytes:
    chunks, total = [], 0
    while True:
        if limit is not None and total >= limit:
            return b"".join(chunks)  # stopped between chunks (drop_next)
        size = int(stream.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while stream.readline().strip():  # skip trailers up to the blank line
                pass
            return b"".join(chunks)
        wanted = size if limit is None else min(size, limit - total)
        chunks.append(stream.read(wanted))
        total += wanted
        if wanted < size:
            return b"".join(chunks)  # stopped mid-chunk (drop_next)
        stream.readline()  # the CRLF closing the chunk


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to the owning ``FakeOpikBackend``."""

    protocol_version = "HTTP/1.1"  # keep-alive, as HTTP client pools expect
    server: "_Server"

    def _handle(self) -> None:
        backend = self.server.backend
        path = urllib.parse.urlsplit(self.path).path
        headers = {key.lower(): value for key, value in self.headers.items()}
        drop = backend._take_drop(self.command, path)
        if drop is not None:
            raw_body = _read_body(self, drop.after_bytes)
            backend._record_dropped(path, headers, raw_body if drop.after_bytes is None else None)
            self._drop_connection()
            return
        response = backend._dispatch(
            method=self.command, path=path, headers=headers, raw_body=_read_body(self)
        )
        if response is None:
            self._drop_connection()
        else:
            self._send(response)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def _send(self, response: _Response) -> None:
        payload = b"" if response.body is None else json.dumps(response.body).encode()
        try:
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            if payload:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the client has gone (e.g. it timed out during a slow answer)
            self.close_connection = True

    def _drop_connection(self) -> None:
        """Close the connection without an answer: the client sees a reset / disconnect."""
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.connection.close()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        pass  # keep test output quiet


class _Server(TrackingHTTPServer):
    """Serves one ``FakeOpikBackend`` (the package's plumbing: tracked connections, no DNS at bind);
    a restart binds the previous port at once, and a bug in the fake is shown."""

    allow_reuse_address = True  # so that a restart can bind the previous port at once

    def __init__(self, address: tuple[str, int], backend: "FakeOpikBackend") -> None:
        self.backend = backend
        super().__init__(address, backend, _Handler)  # type: ignore[arg-type]

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], OSError):
            return  # clients that hang up, connections ended by drop_next / stop()
        ThreadingHTTPServer.handle_error(self, request, client_address)  # a bug in the fake: show it


# --- the fake -----------------------------------------------------------------------


class FakeOpikBackend:
    """An in-process Opik REST back end; see the module docstring for what it checks."""

    def __init__(self, max_body_bytes: int | None = None) -> None:
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._stopping = threading.Event()  # set by stop(): ends slow delays early
        self._failures: list[_Failure | None] = []
        self._drops: list[_Drop] = []
        self._slowness: _Slowness | None = None
        self.max_body_bytes = max_body_bytes
        self.traces: dict[str, dict] = {}
        self.spans: dict[str, dict] = {}
        self.requests: list[Recorded] = []
        self.errors: list[str] = []
        self.duplicates = 0

    # lifecycle

    def start(self, port: int | None = None) -> "FakeOpikBackend":
        """Listen on ``port`` (None: the previous run's port, or a free one the first time)."""
        if self._server is not None:
            raise RuntimeError("FakeOpikBackend is already running")
        if port is None:
            port = self._port or 0
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", port), self)
        self._port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.01},  # so that stop() returns quickly
            name=f"fake-opik-backend-{self._port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening and end every open connection; stored data is kept. Idempotent."""
        if self._server is None:
            return
        self._stopping.set()  # wakes handlers in a slow delay
        self._server.shutdown()
        self._server.close_open_connections()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> "FakeOpikBackend":
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:PORT/api/``."""
        if self._server is None:
            raise RuntimeError("FakeOpikBackend is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}{API_PREFIX}"

    @property
    def port(self) -> int:
        """The port listened on, or last listened on while stopped."""
        if self._port is None:
            raise RuntimeError("FakeOpikBackend has never been started")
        return self._port

    # test controls

    def wait_for(self, predicate: Callable[["FakeOpikBackend"], bool], timeout: float = 10.0) -> bool:
        """Poll ``predicate(self)`` until it is true (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate(self):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def fail_next(
        self, status: int, times: int = 1, headers: dict[str, str] | None = None, store: bool = False, after: int = 0
    ) -> None:
        """Answer the next ``times`` batch requests with ``status`` (+ headers), storing
        nothing; with ``store=True``, store a valid batch and answer ``status`` for the 204.
        With ``after=n``, the ``n`` batch requests before those are answered normally."""
        with self._lock:
            self._failures.extend([None] * after + [_Failure(status, dict(headers or {}), store)] * times)

    def slow(self, seconds: float, times: int | None = None, store_first: bool = True) -> None:
        """Answer the next ``times`` batch requests (None: all until ``slow(0)``) ``seconds``
        late, storing before (``store_first``) or after the delay; replaces any previous."""
        if seconds < 0 or (times is not None and times < 0):
            raise ValueError("slow() needs seconds >= 0 and times >= 0 or None")
        with self._lock:
            active = seconds > 0 and times != 0
            self._slowness = _Slowness(seconds, times, store_first) if active else None

    def drop_next(self, times: int = 1, after_bytes: int | None = None) -> None:
        """Close the connection unanswered for the next ``times`` batch requests, after
        reading the whole body (None) or its first ``after_bytes`` bytes; store nothing."""
        if after_bytes is not None and after_bytes < 0:
            raise ValueError("after_bytes must be >= 0 or None")
        with self._lock:
            self._drops.extend([_Drop(after_bytes)] * times)

    def reset(self) -> None:
        """Forget everything stored and recorded, and any pending ``fail_next`` /
        ``drop_next`` / ``slow`` (``max_body_bytes`` stays)."""
        with self._lock:
            self.traces.clear()
            self.spans.clear()
            self.requests.clear()
            self.errors.clear()
            self.duplicates = 0
            self._failures.clear()
            self._drops.clear()
            self._slowness = None

    # inspection

    @property
    def trace_count(self) -> int:
        with self._lock:
            return len(self.traces)

    @property
    def span_count(self) -> int:
        with self._lock:
            return len(self.spans)

    def stored_trace_ids(self) -> set[str]:
        with self._lock:
            return set(self.traces)

    def stored_span_ids(self) -> set[str]:
        with self._lock:
            return set(self.spans)

    def stats(self) -> dict[int, int]:
        """How many recorded requests got each status (0: closed unanswered), by status."""
        with self._lock:
            counts = collections.Counter(request.status for request in self.requests)
        return dict(sorted(counts.items()))

    # request handling (called from server threads)

    def _take_drop(self, method: str, path: str) -> _Drop | None:
        if method != "POST" or path not in BATCH_ENDPOINTS:
            return None
        with self._lock:
            return self._drops.pop(0) if self._drops else None

    def _take_slowness(self) -> tuple[float, bool] | None:
        """(seconds, store_first) for this batch request, or None; uses up one of ``times``."""
        with self._lock:
            slowness = self._slowness
            if slowness is None:
                return None
            if slowness.remaining is not None:
                slowness.remaining -= 1
                if slowness.remaining <= 0:
                    self._slowness = None
            return slowness.seconds, slowness.store_first

    def _record(self, path: str, headers: dict[str, str], body: Any, status: int) -> None:
        gzipped = headers.get("content-encoding", "").lower() == "gzip"
        with self._lock:
            self.requests.append(Recorded(path, headers, body, gzipped, status))

    def _record_dropped(self, path: str, headers: dict[str, str], raw_body: bytes | None) -> None:
        body = None
        if raw_body is not None:
            gzipped = headers.get("content-encoding", "").lower() == "gzip"
            try:
                body = _decode_body(raw_body, gzipped)
            except BadRequest:
                pass
        self._record(path, headers, body, NO_RESPONSE)

    def _dispatch(self, method: str, path: str, headers: dict[str, str], raw_body: bytes) -> _Response | None:
        """The answer to a request whose body has been read, after any ``slow`` delay;
        None: close the connection unanswered (``stop()`` during the delay)."""
        gzipped = headers.get("content-encoding", "").lower() == "gzip"
        data, body, decode_error = None, None, None
        try:
            data = _decompress(raw_body, gzipped)
            body = _parse_json(data)
        except BadRequest as exc:
            decode_error = exc
        delay = self._take_slowness() if method == "POST" and path in BATCH_ENDPOINTS else None
        if delay is not None and not delay[1] and self._stopping.wait(delay[0]):
            self._record(path, headers, body, NO_RESPONSE)
            return None
        try:
            response = self._route(method, path, data, body, decode_error)
        except BadRequest as exc:
            response = self._reject(exc)
        self._record(path, headers, body, response.status)
        if delay is not None and delay[1] and self._stopping.wait(delay[0]):
            return None
        return response

    def _route(
        self, method: str, path: str, data: bytes | None, body: Any, decode_error: BadRequest | None
    ) -> _Response:
        kind = BATCH_ENDPOINTS.get(path)
        if method == "POST" and kind is not None:
            failure = self._injected_failure()
            if failure is not None and not failure.store:
                return failure.response()
            response = self._write_checked(data, body, decode_error, kind)
            if failure is not None and response.status == 204:
                return failure.response()  # stored, but answered with the injected status
            return response
        if method == "GET" and path == PING_PATH:
            return _Response(200, {"healthy": True})
        return _Response(404, {"code": 404, "message": f"no route for {method} {path}"})

    def _injected_failure(self) -> _Failure | None:
        with self._lock:
            return self._failures.pop(0) if self._failures else None  # None: answer this one normally

    def _write_checked(
        self, data: bytes | None, body: Any, decode_error: BadRequest | None, kind: _BatchKind
    ) -> _Response:
        """413 for a too large decompressed body, else validate and store (``BadRequest``)."""
        if data is None and decode_error is not None:
            raise decode_error  # not valid gzip
        limit = self.max_body_bytes
        if limit is not None and len(data) > limit:
            return _Response(413, {"code": 413, "message": "payload too large"})
        if decode_error is not None:
            raise decode_error
        return self._write_batch(body, kind)

    def _write_batch(self, body: Any, kind: _BatchKind) -> _Response:
        validated = validate_batch(body, kind)
        store = self.traces if kind is TRACES else self.spans
        with self._lock:
            for item, model in validated:
                self._upsert(store, to_stored(item, model, kind))
        return _Response(204)

    def _upsert(self, store: dict[str, dict], stored: dict) -> None:
        existing = store.get(stored["id"])
        if existing is None:
            store[stored["id"]] = stored
        else:
            self.duplicates += 1
            existing.update(stored)

    def _reject(self, exc: BadRequest) -> _Response:
        with self._lock:
            self.errors.extend(exc.messages)
        return _Response(400, {"errors": exc.messages})
