"""A fake Opik back end for tests: the REST batch-write endpoints on loopback.

``FakeOpikBackend`` runs a stdlib ``ThreadingHTTPServer`` on ``127.0.0.1`` (a free
port) in a daemon thread and serves, under the base URL ``http://127.0.0.1:PORT/api/``:

* ``POST v1/private/traces/batch`` with ``{"traces": [TraceWrite, ...]}``
* ``POST v1/private/spans/batch`` with ``{"spans": [SpanWrite, ...]}``
* ``GET is-alive/ping`` answering ``{"healthy": true}``
* anything else: 404.

Bodies may be gzip'd (``Content-Encoding: gzip``). Each item is validated with the
``opik`` package's own REST models (``opik.rest_api.types.TraceWrite`` / ``SpanWrite``),
plus the checks where the real (Java) back end is stricter than those lax pydantic
models: no unknown keys, UUID v7 ids, integer-only ``usage``, a known span ``type``,
``total_estimated_cost >= 0``, time-zone-aware timestamps and 1..1000 items per batch.
A batch with any invalid item is answered 400 and nothing of it is stored; every
failure message is appended to ``errors``.

Deliberately stricter than the real back end: ``id`` is required (the fake stores items
by id; the real one would generate a missing id).

Valid items are stored as ``model.model_dump(mode="json", exclude_none=True)`` with the
id strings kept exactly as sent; an id sent again upserts (its fields are merged into
the stored item) and counts in ``duplicates``.
"""

from __future__ import annotations

import dataclasses
import gzip
import json
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import pydantic
from opik.rest_api.types import SpanWrite, TraceWrite

API_PREFIX = "/api/"
PING_PATH = API_PREFIX + "is-alive/ping"
MAX_BATCH_SIZE = 1000
SPAN_TYPES = frozenset({"general", "tool", "llm", "guardrail"})
TIMESTAMP_FIELDS = ("start_time", "end_time", "last_updated_at")


@dataclasses.dataclass(frozen=True)
class Recorded:
    """One HTTP request the fake received, and the status it answered."""

    path: str  # the full request path, e.g. "/api/v1/private/spans/batch"
    headers: dict[str, str]  # lower-case keys
    body: Any  # decoded JSON, or None when empty or undecodable
    gzipped: bool
    status: int


@dataclasses.dataclass(frozen=True)
class _Response:
    status: int
    body: Any = None  # JSON-serialisable, or None for an empty body
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


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


def _decode_body(raw: bytes, gzipped: bool) -> Any:
    """Decompress (if needed) and parse a JSON body; raise ``BadRequest`` if impossible."""
    try:
        data = gzip.decompress(raw) if gzipped else raw
    except (OSError, EOFError) as exc:
        raise BadRequest([f"body is not valid gzip: {exc}"]) from None
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError as exc:
        raise BadRequest([f"body is not valid JSON: {exc}"]) from None


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    """Read a request body sent with Content-Length or chunked transfer encoding."""
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        return _read_chunked(handler.rfile)
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length) if length else b""


def _read_chunked(stream) -> bytes:
    chunks = []
    while True:
        size = int(stream.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while stream.readline().strip():  # skip trailers up to the blank line
                pass
            return b"".join(chunks)
        chunks.append(stream.read(size))
        stream.readline()  # the CRLF closing the chunk


class _Handler(BaseHTTPRequestHandler):
    """Hands every request to the owning ``FakeOpikBackend``."""

    protocol_version = "HTTP/1.1"  # keep-alive, as HTTP client pools expect
    server: "_Server"

    def _handle(self) -> None:
        response = self.server.backend._dispatch(
            method=self.command,
            path=urllib.parse.urlsplit(self.path).path,
            headers={key.lower(): value for key, value in self.headers.items()},
            raw_body=_read_body(self),
        )
        self._send(response)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    def _send(self, response: _Response) -> None:
        payload = b"" if response.body is None else json.dumps(response.body).encode()
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if payload:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        pass  # keep test output quiet


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    backend: "FakeOpikBackend"


# --- the fake -----------------------------------------------------------------------


class FakeOpikBackend:
    """An in-process Opik REST back end; see the module docstring for what it checks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._failures: list[tuple[int, dict[str, str]]] = []
        self.traces: dict[str, dict] = {}
        self.spans: dict[str, dict] = {}
        self.requests: list[Recorded] = []
        self.errors: list[str] = []
        self.duplicates = 0

    # lifecycle

    def start(self) -> "FakeOpikBackend":
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.backend = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # so that stop() returns quickly
            name="fake-opik-backend",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
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

    def fail_next(self, status: int, times: int = 1, headers: dict[str, str] | None = None) -> None:
        """Answer the next ``times`` batch requests with ``status`` (+ headers), storing nothing."""
        with self._lock:
            self._failures.extend([(status, dict(headers or {}))] * times)

    def reset(self) -> None:
        """Forget everything stored and recorded, and any pending ``fail_next``."""
        with self._lock:
            self.traces.clear()
            self.spans.clear()
            self.requests.clear()
            self.errors.clear()
            self.duplicates = 0
            self._failures.clear()

    # request handling (called from server threads)

    def _dispatch(self, method: str, path: str, headers: dict[str, str], raw_body: bytes) -> _Response:
        gzipped = headers.get("content-encoding", "").lower() == "gzip"
        body, decode_error = None, None
        try:
            body = _decode_body(raw_body, gzipped)
        except BadRequest as exc:
            decode_error = exc
        try:
            response = self._route(method, path, body, decode_error)
        except BadRequest as exc:
            response = self._reject(exc)
        with self._lock:
            self.requests.append(Recorded(path, headers, body, gzipped, response.status))
        return response

    def _route(self, method: str, path: str, body: Any, decode_error: BadRequest | None) -> _Response:
        kind = BATCH_ENDPOINTS.get(path)
        if method == "POST" and kind is not None:
            failure = self._injected_failure()
            if failure is not None:
                return failure
            if decode_error is not None:
                raise decode_error
            return self._write_batch(body, kind)
        if method == "GET" and path == PING_PATH:
            return _Response(200, {"healthy": True})
        return _Response(404, {"code": 404, "message": f"no route for {method} {path}"})

    def _injected_failure(self) -> _Response | None:
        with self._lock:
            if not self._failures:
                return None
            status, headers = self._failures.pop(0)
        return _Response(status, {"code": status, "message": "injected failure"}, headers)

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
