"""Real OTLP trace receivers on loopback for tests: OTLP/HTTP (protobuf) and OTLP/gRPC.

Both decode ``ExportTraceServiceRequest`` messages with ``opentelemetry.proto`` and
flatten every span into a plain dict:

    {"name", "trace_id" (32 lower hex), "span_id" (16 hex), "parent_span_id" (16 hex or
     None), "kind" (int enum), "start_time_unix_nano", "end_time_unix_nano",
     "attributes": {key: value}, "resource": {key: value}, "scope": scope name,
     "status_code": int, "status_message": str, "events": [{"name", "attributes"}]}

Attribute values (AnyValue) become Python values: str, bool, int, float, bytes, list
(array) or dict (kvlist); an unset value becomes None.

    with OtlpHttpReceiver() as r:   # POST {r.endpoint}/v1/traces
        ...
        assert r.wait_for(lambda r: len(r.spans) == 2)
    with OtlpGrpcReceiver() as r:   # insecure gRPC at r.endpoint
        ...
"""

from __future__ import annotations

import gzip
import threading
import time
import urllib.parse
import zlib
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import grpc
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc import (
    TraceServiceServicer,
    add_TraceServiceServicer_to_server,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

TRACES_PATH = "/v1/traces"
PROTOBUF_CONTENT_TYPE = "application/x-protobuf"


# --- decoding -----------------------------------------------------------------------


def decode_any_value(value: AnyValue) -> Any:
    """An OTLP ``AnyValue`` as a Python value (None when unset)."""
    which = value.WhichOneof("value")
    if which == "array_value":
        return [decode_any_value(item) for item in value.array_value.values]
    if which == "kvlist_value":
        return decode_attributes(value.kvlist_value.values)
    if which is None:
        return None
    return getattr(value, which)  # string/bool/int/double/bytes_value


def decode_attributes(attributes: "list[KeyValue]") -> dict[str, Any]:
    """Repeated ``KeyValue`` as a dict."""
    return {attribute.key: decode_any_value(attribute.value) for attribute in attributes}


def decode_request(request: ExportTraceServiceRequest) -> list[dict]:
    """Every span of an export request, flattened (see the module docstring)."""
    spans = []
    for resource_spans in request.resource_spans:
        resource = decode_attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            spans.extend(
                _decode_span(span, resource, scope_spans.scope.name) for span in scope_spans.spans
            )
    return spans


def _decode_span(span, resource: dict[str, Any], scope: str) -> dict:
    return {
        "name": span.name,
        "trace_id": span.trace_id.hex(),
        "span_id": span.span_id.hex(),
        "parent_span_id": span.parent_span_id.hex() or None,
        "kind": span.kind,
        "start_time_unix_nano": span.start_time_unix_nano,
        "end_time_unix_nano": span.end_time_unix_nano,
        "attributes": decode_attributes(span.attributes),
        "resource": dict(resource),
        "scope": scope,
        "status_code": span.status.code,
        "status_message": span.status.message,
        "events": [
            {"name": event.name, "attributes": decode_attributes(event.attributes)}
            for event in span.events
        ],
    }


# --- shared collecting --------------------------------------------------------------


class _Collector:
    """What both receivers share: the recorded spans and headers, and ``wait_for``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.spans: list[dict] = []
        self.headers: list[dict[str, str]] = []

    def _record(self, headers: dict[str, str], request: ExportTraceServiceRequest) -> None:
        spans = decode_request(request)
        with self._lock:
            self.headers.append(headers)
            self.spans.extend(spans)

    def wait_for(self, predicate: Callable[[Any], bool], timeout: float = 10.0) -> bool:
        """Poll ``predicate(self)`` until it is true (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while True:
            if predicate(self):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)

    def start(self):
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


# --- OTLP/HTTP ----------------------------------------------------------------------


def _decompress(data: bytes, encoding: str) -> bytes:
    if encoding == "gzip":
        return gzip.decompress(data)
    if encoding == "deflate":
        return zlib.decompress(data)
    return data


class _OtlpHttpHandler(BaseHTTPRequestHandler):
    """``POST /v1/traces`` with a protobuf body; everything else 404 / 415 / 400."""

    protocol_version = "HTTP/1.1"
    server: "_OtlpHttpServer"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if urllib.parse.urlsplit(self.path).path != TRACES_PATH:
            return self._send(404, b"", "text/plain")
        if not self.headers.get("Content-Type", "").startswith(PROTOBUF_CONTENT_TYPE):
            return self._send(415, b"only application/x-protobuf is supported", "text/plain")
        try:
            data = _decompress(body, self.headers.get("Content-Encoding", "").lower())
            request = ExportTraceServiceRequest.FromString(data)
        except (OSError, EOFError, zlib.error, DecodeError) as exc:
            return self._send(400, str(exc).encode(), "text/plain")
        headers = {key.lower(): value for key, value in self.headers.items()}
        self.server.receiver._record(headers, request)
        self._send(200, ExportTraceServiceResponse().SerializeToString(), PROTOBUF_CONTENT_TYPE)

    def do_GET(self) -> None:
        self._send(404, b"", "text/plain")

    def _send(self, status: int, payload: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
        pass  # keep test output quiet


class _OtlpHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    receiver: "OtlpHttpReceiver"


class OtlpHttpReceiver(_Collector):
    """An OTLP/HTTP protobuf trace receiver; traces go to ``endpoint + "/v1/traces"``."""

    def __init__(self) -> None:
        super().__init__()
        self._server: _OtlpHttpServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> "OtlpHttpReceiver":
        self._server = _OtlpHttpServer(("127.0.0.1", 0), _OtlpHttpHandler)
        self._server.receiver = self
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},  # so that stop() returns quickly
            name="otlp-http-receiver",
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

    @property
    def endpoint(self) -> str:
        if self._server is None:
            raise RuntimeError("OtlpHttpReceiver is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"


# --- OTLP/gRPC ----------------------------------------------------------------------


class _TraceService(TraceServiceServicer):
    def __init__(self, receiver: "OtlpGrpcReceiver") -> None:
        self._receiver = receiver

    def Export(self, request: ExportTraceServiceRequest, context: grpc.ServicerContext):  # noqa: N802
        headers = {key.lower(): value for key, value in context.invocation_metadata()}
        self._receiver._record(headers, request)
        return ExportTraceServiceResponse()


class OtlpGrpcReceiver(_Collector):
    """An insecure OTLP/gRPC trace receiver on ``127.0.0.1``; ``headers`` hold the metadata."""

    def __init__(self) -> None:
        super().__init__()
        self._server: grpc.Server | None = None
        self._port: int | None = None

    def start(self) -> "OtlpGrpcReceiver":
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        add_TraceServiceServicer_to_server(_TraceService(self), self._server)
        self._port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.stop(grace=None).wait(timeout=5)
        self._server = self._port = None

    @property
    def endpoint(self) -> str:
        if self._server is None:
            raise RuntimeError("OtlpGrpcReceiver is not started")
        return f"http://127.0.0.1:{self._port}"
