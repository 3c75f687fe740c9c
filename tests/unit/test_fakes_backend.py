"""Tests of the test fakes: the fake Opik back end and the OTLP receivers."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import threading
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

from tests.fakes.opik_backend import NO_RESPONSE, FakeOpikBackend
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


# --- fake Opik back end: fault injection -------------------------------------------

TRACES_PATH = "/api/v1/private/traces/batch"
SPANS_PATH = "/api/v1/private/spans/batch"


def raw_post(backend, path: str, body, headers: dict | None = None, timeout: float = 5):
    """POST with http.client (``body``: bytes, or a list of byte chunks sent chunked);
    return (status, headers, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", backend.port, timeout=timeout)
    headers = {"Content-Type": "application/json", **(headers or {})}
    try:
        if isinstance(body, list):
            headers["Transfer-Encoding"] = "chunked"
            connection.request("POST", path, body, headers, encode_chunked=True)
        else:
            connection.request("POST", path, body, headers)
        response = connection.getresponse()
        return response.status, dict(response.headers), response.read()
    finally:
        connection.close()


def traces_body(*traces) -> bytes:
    return json.dumps({"traces": list(traces)}).encode()


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429, 401, 403, 413, 409])
def test_fail_next_any_status_with_headers(backend, status):
    backend.fail_next(status, headers={"Retry-After": "1", "RateLimit-Reset": "1"})
    trace = a_trace()

    code, headers, body = post(backend.url + "v1/private/traces/batch", {"traces": [trace]})
    assert (code, headers["Retry-After"], headers["RateLimit-Reset"]) == (status, "1", "1")
    assert json.loads(body) == {"code": status, "message": "injected failure"}
    assert backend.traces == {} and backend.errors == []

    assert post(backend.url + "v1/private/traces/batch", {"traces": [trace]})[0] == 204
    assert backend.stats() == {204: 1, status: 1}


def test_fail_next_409_with_store_stores_the_batch(backend):
    backend.fail_next(409, store=True)
    trace = a_trace()

    assert post(backend.url + "v1/private/traces/batch", {"traces": [trace]})[0] == 409
    assert backend.stored_trace_ids() == {trace["id"]}  # stored, but answered conflict
    assert post(backend.url + "v1/private/traces/batch", {"traces": [trace]})[0] == 204
    assert backend.duplicates == 1  # the retry upserted

    backend.fail_next(409, store=True)  # an invalid batch keeps its 400 (and uses the 409 up)
    assert post(backend.url + "v1/private/traces/batch", {"traces": [a_trace(usage={})]})[0] == 400
    assert post(backend.url + "v1/private/traces/batch", {"traces": [a_trace()]})[0] == 204
    assert backend.trace_count == 2


def test_max_body_bytes_compares_the_decompressed_body():
    small, big = a_trace(), a_trace(input={"text": "x" * 2000})
    with FakeOpikBackend(max_body_bytes=1000) as fake:
        assert fake.max_body_bytes == 1000
        url = fake.url + "v1/private/traces/batch"
        assert len(gzip.compress(traces_body(big))) < 1000 < len(traces_body(big))
        for gzipped in (False, True):
            status, _, body = post(url, {"traces": [big]}, gzipped)
            assert status == 413
            assert json.loads(body) == {"code": 413, "message": "payload too large"}
        assert post(url, {"traces": [small]})[0] == 204
        assert fake.stored_trace_ids() == {small["id"]} and fake.errors == []

        fake.max_body_bytes = None  # an attribute: can be changed at run time
        assert post(url, {"traces": [big]})[0] == 204
        assert fake.stats() == {204: 2, 413: 2}


def test_slow_stores_first_then_answers_late(backend):
    backend.slow(2, times=1)
    trace = a_trace()
    started = time.monotonic()
    with pytest.raises(TimeoutError):  # the client gives up before the answer ...
        raw_post(backend, TRACES_PATH, traces_body(trace), timeout=0.15)
    assert time.monotonic() - started < 2
    assert backend.stored_trace_ids() == {trace["id"]}  # ... but the batch is stored

    assert raw_post(backend, TRACES_PATH, traces_body(trace))[0] == 204  # times=1: fast again
    assert backend.duplicates == 1  # the retry is an idempotent upsert
    assert backend.stats() == {204: 2}


def test_slow_until_cancelled(backend):
    backend.slow(0.1)  # times=None: every batch request
    for _ in range(2):
        started = time.monotonic()
        assert raw_post(backend, TRACES_PATH, traces_body(a_trace()))[0] == 204
        assert time.monotonic() - started >= 0.1
    backend.slow(5)  # replaces the previous setting ...
    backend.slow(0)  # ... and this ends it
    assert raw_post(backend, TRACES_PATH, traces_body(a_trace()), timeout=2)[0] == 204
    assert backend.trace_count == 3


def test_slow_without_store_first_stores_after_the_delay(backend):
    backend.slow(0.4, times=1, store_first=False)
    trace = a_trace()
    with pytest.raises(TimeoutError):
        raw_post(backend, TRACES_PATH, traces_body(trace), timeout=0.1)
    assert backend.traces == {} and backend.requests == []  # still in the delay
    assert backend.wait_for(lambda b: b.span_count == 0 and b.trace_count == 1, timeout=2)
    assert backend.requests[-1].status == 204


@pytest.mark.parametrize("store_first", [True, False])
def test_stop_ends_a_slow_delay_unanswered(store_first):
    fake = FakeOpikBackend().start()
    fake.slow(10, times=1, store_first=store_first)
    outcome = []

    def client():
        try:
            outcome.append(raw_post(fake, TRACES_PATH, traces_body(a_trace()), timeout=5))
        except OSError as exc:
            outcome.append(exc)

    thread = threading.Thread(target=client)
    thread.start()
    assert fake.wait_for(lambda b: b._slowness is None, timeout=2)  # times=1 taken: in the delay
    time.sleep(0.05)  # let the handler reach the delay
    started = time.monotonic()
    fake.stop()
    thread.join(timeout=2)
    assert time.monotonic() - started < 1
    assert isinstance(outcome[0], ConnectionError)
    if store_first:
        assert fake.trace_count == 1 and fake.stats() == {204: 1}
    else:
        assert fake.trace_count == 0 and fake.stats() == {NO_RESPONSE: 1}


def test_drop_next_after_the_whole_body(backend):
    backend.drop_next()
    trace = a_trace()
    with pytest.raises(ConnectionError):  # http.client.RemoteDisconnected
        raw_post(backend, TRACES_PATH, traces_body(trace))
    assert backend.traces == {}
    assert backend.requests[-1].status == NO_RESPONSE
    assert backend.requests[-1].body == {"traces": [trace]}
    assert raw_post(backend, TRACES_PATH, traces_body(trace))[0] == 204
    assert backend.duplicates == 0


@pytest.mark.parametrize("chunked", [False, True])
def test_drop_next_mid_body(backend, chunked):
    backend.drop_next(times=2, after_bytes=100)
    body = traces_body(*(a_trace(input={"text": "x" * 1000}) for _ in range(1000)))  # ~1 MB
    for _ in range(2):
        with pytest.raises(ConnectionError):  # reset / broken pipe / remote disconnected
            raw_post(backend, TRACES_PATH, [body[:5000], body[5000:]] if chunked else body)
    assert backend.traces == {}
    assert [(r.status, r.body) for r in backend.requests] == [(NO_RESPONSE, None)] * 2
    assert raw_post(backend, TRACES_PATH, traces_body(a_trace()))[0] == 204  # times=2 used up
    assert backend.stats() == {NO_RESPONSE: 2, 204: 1}


def test_controls_act_on_batches_only(backend):
    backend.drop_next()
    backend.fail_next(503)
    backend.slow(5, times=1)
    with urllib.request.urlopen(backend.url + "is-alive/ping", timeout=1) as response:
        assert response.status == 200
    assert post(backend.url + "v1/private/nothing", {})[0] == 404
    backend.reset()  # forgets the pending drop, failure and delay
    assert raw_post(backend, SPANS_PATH, json.dumps({"spans": [a_span(uuid7())]}).encode(), timeout=1)[0] == 204
    assert backend.span_count == 1 and len(backend.stored_span_ids()) == 1


def test_restart_on_the_same_port_keeps_the_data(backend):
    url, port = backend.url, backend.port
    first = a_trace()
    assert post(url + "v1/private/traces/batch", {"traces": [first]})[0] == 204
    keep_alive = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    keep_alive.request("GET", "/api/is-alive/ping")
    keep_alive.getresponse().read()

    backend.stop()
    with pytest.raises(RuntimeError):
        backend.url
    with pytest.raises(urllib.error.URLError) as refused:
        post(url + "v1/private/traces/batch", {"traces": [a_trace()]})
    assert isinstance(refused.value.reason, ConnectionRefusedError)
    with pytest.raises(ConnectionError):  # an open keep-alive connection was ended too
        keep_alive.request("GET", "/api/is-alive/ping")
        keep_alive.getresponse()
    keep_alive.close()
    backend.stop()  # harmless

    backend.start()
    assert (backend.url, backend.port) == (url, port)
    with pytest.raises(RuntimeError):
        backend.start()  # already running
    second = a_trace()
    assert post(url + "v1/private/traces/batch", {"traces": [second]})[0] == 204
    assert backend.stored_trace_ids() == {first["id"], second["id"]}
    assert backend.stats() == {200: 1, 204: 2}  # the ping, and the batches


def test_start_on_an_explicit_port():
    fake = FakeOpikBackend()
    with pytest.raises(RuntimeError):
        fake.port  # never started
    fake.start()
    fake.stop()
    fake.start(port=0)  # port=0: a new free port (the default would reuse the last one)
    try:
        assert fake.port != 0 and fake.url == f"http://127.0.0.1:{fake.port}/api/"
        assert post(fake.url + "v1/private/traces/batch", {"traces": [a_trace()]})[0] == 204
    finally:
        fake.stop()


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
