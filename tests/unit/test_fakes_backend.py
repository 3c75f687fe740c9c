"""Tests of the test fakes: the fake Opik back end and the OTLP receivers."""

from __future__ import annotations

import gzip
import json
import os
import time
import urllib.error
import urllib.request
import uuid

import pytest
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GrpcSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HttpSpanExporter,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, StatusCode

from tests.fakes.opik_backend import FakeOpikBackend
from tests.fakes.otlp_receiver import OtlpGrpcReceiver, OtlpHttpReceiver

START = "2024-05-01T12:00:00.123456Z"
END = "2024-05-01T12:00:01Z"


# --- helpers ------------------------------------------------------------------------


def uuid7() -> str:
    """A UUID version 7 string (48-bit ms timestamp, random rest)."""
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def post(url: str, body: object, gzipped: bool = False) -> tuple[int, dict, bytes]:
    """POST ``body`` as JSON with urllib; return (status, headers, response body)."""
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "Authorization": "test-key"}
    if gzipped:
        data = gzip.compress(data)
        headers["Content-Encoding"] = "gzip"
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def a_trace(**fields) -> dict:
    return {"id": uuid7(), "project_name": "fakes", "name": "t", "start_time": START, **fields}


def a_span(trace_id: str, **fields) -> dict:
    return {
        "id": uuid7(),
        "trace_id": trace_id,
        "project_name": "fakes",
        "name": "s",
        "type": "llm",
        "start_time": START,
        **fields,
    }


@pytest.fixture
def backend():
    with FakeOpikBackend() as fake:
        yield fake


# --- fake Opik back end -------------------------------------------------------------


def test_url_and_ping(backend):
    assert backend.url.startswith("http://127.0.0.1:") and backend.url.endswith("/api/")
    with urllib.request.urlopen(backend.url + "is-alive/ping", timeout=5) as response:
        assert response.status == 200
        assert json.loads(response.read()) == {"healthy": True}


def test_unknown_route_is_404(backend):
    status, _, _ = post(backend.url + "v1/private/nothing", {})
    assert status == 404
    assert backend.requests[-1].status == 404


@pytest.mark.parametrize("gzipped", [False, True])
def test_valid_batches_are_stored(backend, gzipped):
    trace = a_trace(end_time=END, input={"q": "hi"}, tags=["a"])
    parent = a_span(trace["id"], usage={"prompt_tokens": 3}, total_estimated_cost=0.5)
    child = a_span(trace["id"], parent_span_id=parent["id"], type="tool", model=None)

    assert post(backend.url + "v1/private/traces/batch", {"traces": [trace]}, gzipped)[0] == 204
    assert post(backend.url + "v1/private/spans/batch", {"spans": [parent, child]}, gzipped)[0] == 204

    stored = backend.traces[trace["id"]]
    assert stored["id"] == trace["id"]
    assert stored["project_name"] == "fakes"
    assert stored["input"] == {"q": "hi"}
    assert stored["start_time"] == START
    assert backend.spans[parent["id"]]["usage"] == {"prompt_tokens": 3}
    assert backend.spans[child["id"]]["parent_span_id"] == parent["id"]
    assert "model" not in backend.spans[child["id"]]  # None fields dropped
    assert [r.gzipped for r in backend.requests] == [gzipped, gzipped]
    assert backend.requests[0].path == "/api/v1/private/traces/batch"
    assert backend.requests[0].headers["authorization"] == "test-key"
    assert backend.requests[1].body == {"spans": [parent, child]}
    assert backend.errors == [] and backend.duplicates == 0


def test_ids_are_kept_as_sent(backend):
    trace = a_trace(id=uuid7().upper())
    assert post(backend.url + "v1/private/traces/batch", {"traces": [trace]})[0] == 204
    assert backend.traces[trace["id"]]["id"] == trace["id"]


@pytest.mark.parametrize(
    "bad_fields, message",
    [
        ({"id": str(uuid.uuid4())}, "version 7"),
        ({"trace_id": str(uuid.uuid1())}, "trace_id"),
        ({"parent_span_id": "not-a-uuid"}, "parent_span_id"),
        ({"usage": {"prompt_tokens": 3.0}}, "usage.prompt_tokens"),
        ({"unexpected": 1}, "unexpected: unknown field"),
        ({"type": "chain"}, "type"),
        ({"total_estimated_cost": -1}, "total_estimated_cost"),
        ({"start_time": None}, "start_time"),
        ({"start_time": "2024-05-01T12:00:00"}, "time zone"),
    ],
)
def test_invalid_span_is_rejected(backend, bad_fields, message):
    good = a_span(uuid7())
    bad = a_span(**{"trace_id": uuid7(), **bad_fields})
    status, _, body = post(backend.url + "v1/private/spans/batch", {"spans": [good, bad]})

    assert status == 400
    assert any(message in error and error.startswith("spans[1]") for error in backend.errors)
    assert json.loads(body)["errors"] == backend.errors
    assert backend.spans == {}  # nothing of a rejected batch is stored
    assert backend.requests[-1].status == 400


def test_invalid_trace_is_rejected(backend):
    status, _, _ = post(backend.url + "v1/private/traces/batch", {"traces": [a_trace(usage={})]})
    assert status == 400
    assert backend.errors == ["traces[0].usage: unknown field"]


@pytest.mark.parametrize("count", [0, 1001])
def test_batch_size_limits(backend, count):
    traces = [a_trace() for _ in range(count)]
    assert post(backend.url + "v1/private/traces/batch", {"traces": traces})[0] == 400
    assert "1..1000" in backend.errors[0]


def test_bad_gzip_is_rejected(backend):
    request = urllib.request.Request(
        backend.url + "v1/private/traces/batch",
        data=b"not gzip",
        headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=5)
    assert error.value.code == 400
    assert "gzip" in backend.errors[0]


def test_fail_next_answers_then_recovers(backend):
    backend.fail_next(503, headers={"Retry-After": "1"})
    trace = a_trace()

    status, headers, _ = post(backend.url + "v1/private/traces/batch", {"traces": [trace]})
    assert status == 503
    assert headers["Retry-After"] == "1"
    assert backend.traces == {}

    assert post(backend.url + "v1/private/traces/batch", {"traces": [trace]})[0] == 204
    assert list(backend.traces) == [trace["id"]]
    assert [r.status for r in backend.requests] == [503, 204]
    assert backend.errors == []


def test_fail_next_times(backend):
    backend.fail_next(429, times=2)
    statuses = [
        post(backend.url + "v1/private/traces/batch", {"traces": [a_trace()]})[0] for _ in range(3)
    ]
    assert statuses == [429, 429, 204]


def test_resent_id_upserts_and_counts_duplicates(backend):
    trace = a_trace()
    post(backend.url + "v1/private/traces/batch", {"traces": [trace]})
    update = {"id": trace["id"], "start_time": START, "end_time": END, "output": {"a": 1}}
    assert post(backend.url + "v1/private/traces/batch", {"traces": [update]})[0] == 204

    assert backend.duplicates == 1
    stored = backend.traces[trace["id"]]
    assert stored["name"] == "t" and stored["end_time"] == END and stored["output"] == {"a": 1}


def test_wait_for_and_reset(backend):
    assert backend.wait_for(lambda b: not b.traces, timeout=0.1)
    assert not backend.wait_for(lambda b: b.traces, timeout=0.1)
    post(backend.url + "v1/private/traces/batch", {"traces": [a_trace()]})
    backend.fail_next(500)
    backend.reset()
    assert (backend.traces, backend.requests, backend.duplicates) == ({}, [], 0)
    assert post(backend.url + "v1/private/traces/batch", {"traces": [a_trace()]})[0] == 204


# --- OTLP receivers -----------------------------------------------------------------

ATTRIBUTES = {"s": "text", "i": 7, "f": 1.5, "b": True, "arr": ["x", "y"]}


def emit_parent_and_child(exporter) -> None:
    """Emit a parent and a child span through a real SDK pipeline and shut it down."""
    provider = TracerProvider(resource=Resource.create({"service.name": "fakes-test"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("tests.fakes")
    with tracer.start_as_current_span("parent", kind=SpanKind.CLIENT, attributes=ATTRIBUTES):
        with tracer.start_as_current_span("child") as child:
            child.add_event("something", {"n": 1})
            child.set_status(StatusCode.ERROR, "boom")
    provider.shutdown()


def assert_received(receiver) -> None:
    assert receiver.wait_for(lambda r: len(r.spans) == 2)
    spans = {span["name"]: span for span in receiver.spans}
    parent, child = spans["parent"], spans["child"]

    assert parent["attributes"] == ATTRIBUTES
    assert parent["parent_span_id"] is None
    assert parent["kind"] == SpanKind.CLIENT.value + 1  # proto enum counts UNSPECIFIED as 0
    assert parent["scope"] == "tests.fakes"
    assert parent["resource"]["service.name"] == "fakes-test"
    assert len(parent["trace_id"]) == 32 and len(parent["span_id"]) == 16
    assert parent["end_time_unix_nano"] >= parent["start_time_unix_nano"] > 0

    assert child["trace_id"] == parent["trace_id"]
    assert child["parent_span_id"] == parent["span_id"]
    assert child["events"] == [{"name": "something", "attributes": {"n": 1}}]
    assert child["status_code"] == 2 and child["status_message"] == "boom"

    assert receiver.headers and all(h.get("authorization") == "k" for h in receiver.headers)


@pytest.mark.parametrize("compression", [Compression.NoCompression, Compression.Gzip])
def test_otlp_http_receiver(compression):
    with OtlpHttpReceiver() as receiver:
        exporter = HttpSpanExporter(
            endpoint=receiver.endpoint + "/v1/traces",
            headers={"authorization": "k"},
            compression=compression,
        )
        emit_parent_and_child(exporter)
        assert_received(receiver)
        assert receiver.headers[0]["content-type"] == "application/x-protobuf"


def test_otlp_grpc_receiver():
    with OtlpGrpcReceiver() as receiver:
        exporter = GrpcSpanExporter(
            endpoint=receiver.endpoint, insecure=True, headers={"authorization": "k"}
        )
        emit_parent_and_child(exporter)
        assert_received(receiver)
