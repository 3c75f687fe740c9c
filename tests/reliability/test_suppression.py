"""The exporters never trace themselves: with the standard HTTP instrumentations on (what
`opentelemetry-bootstrap` installs), export, spool replay and `opik-otel upload` run with
instrumentation suppressed, so the back end stores exactly the app's spans."""

from __future__ import annotations

import time
import urllib.request

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opik_otel._batch import OpikBatchSpanProcessor
from opik_otel._ids import UuidV7IdGenerator

pytest.importorskip("opik")  # the fake back end validates with the opik package's models
from tests.fakes.opik_backend import FakeOpikBackend  # noqa: E402

URLLIB = "opentelemetry.instrumentation.urllib"
CYCLES = 10  # schedule cycles to wait: a traced export would be exported, traced, exported… by then
DELAY_MS = 50


def urllib_instrumented(provider):
    """The urllib instrumentation (skipped when absent), on `provider`; call the result to undo it."""
    instrumentor = pytest.importorskip(URLLIB).URLLibInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    return instrumentor.uninstrument


@pytest.fixture
def backend():
    with FakeOpikBackend() as backend:
        yield backend


@pytest.fixture
def provider():
    provider = TracerProvider(id_generator=UuidV7IdGenerator(), shutdown_on_exit=False)
    yield provider
    provider.shutdown()


@pytest.fixture
def all_http_instrumented(provider):
    """urllib, requests and httpx instrumented on `provider` (the test is skipped if one is absent)."""
    urllib_module = pytest.importorskip(URLLIB)
    requests_module = pytest.importorskip("opentelemetry.instrumentation.requests")
    httpx_module = pytest.importorskip("opentelemetry.instrumentation.httpx")
    instrumentors = [urllib_module.URLLibInstrumentor(), requests_module.RequestsInstrumentor(),
                     httpx_module.HTTPXClientInstrumentor()]
    for instrumentor in instrumentors:
        instrumentor.instrument(tracer_provider=provider)
    yield
    for instrumentor in instrumentors:
        instrumentor.uninstrument()


def app_calls(url: str) -> None:
    """The app's own HTTP calls: one with each instrumented library (3 client spans)."""
    import httpx
    import requests

    with urllib.request.urlopen(url, timeout=5) as response:
        assert response.status == 200
    assert requests.get(url, timeout=5).status_code == 200
    assert httpx.get(url, timeout=5).status_code == 200


def test_opik_exporter_exports_only_the_app_spans(backend, provider, all_http_instrumented):
    from opik_otel.exporters.opik import OpikSpanExporter

    exporter = OpikSpanExporter(url=backend.url, api_key="k", workspace="ws", project_name="p")
    processor = OpikBatchSpanProcessor(exporter, schedule_delay_millis=DELAY_MS)
    provider.add_span_processor(processor)
    app_calls(backend.url + "is-alive/ping")
    assert backend.wait_for(lambda b: b.span_count >= 3, 10)
    time.sleep(CYCLES * DELAY_MS / 1000)
    assert processor.force_flush(5000), f"{backend.span_count} spans stored of 3"
    assert sorted(s["name"] for s in backend.spans.values()) == ["GET", "GET", "GET"]
    assert backend.span_count == 3 and backend.trace_count == 3


def test_otlp_exporter_exports_only_the_app_spans(backend, provider, all_http_instrumented):
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    from tests.fakes.otlp_receiver import OtlpHttpReceiver

    with OtlpHttpReceiver() as receiver:
        processor = OpikBatchSpanProcessor(OTLPSpanExporter(endpoint=receiver.endpoint + "/v1/traces"),
                                           schedule_delay_millis=DELAY_MS)
        provider.add_span_processor(processor)
        app_calls(backend.url + "is-alive/ping")
        assert receiver.wait_for(lambda r: len(r.spans) >= 3, 10)
        time.sleep(CYCLES * DELAY_MS / 1000)
        assert processor.force_flush(5000), f"{len(receiver.spans)} spans received of 3"
        assert [span["name"] for span in receiver.spans] == ["GET", "GET", "GET"]


def test_spool_replay_at_start_is_not_traced(backend, provider, tmp_path, monkeypatch):
    import opik_otel.exporters.opik.client as client_module
    from opik_otel.exporters.opik import OpikSpanExporter

    monkeypatch.setattr(client_module, "_retry_delay", lambda headers, attempt: 0.01)

    url = backend.url
    backend.stop()  # down: the span is spooled
    stuck = OpikSpanExporter(url=url, workspace="ws", spool_dir=str(tmp_path))
    spooling = TracerProvider(id_generator=UuidV7IdGenerator(), shutdown_on_exit=False)
    spooling.add_span_processor(SimpleSpanProcessor(stuck))
    spooling.get_tracer("t").start_span("kept").end()
    assert stuck.spool.pending() == 2
    backend.start()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    undo = urllib_instrumented(provider)
    try:
        replaying = OpikSpanExporter(url=url, workspace="ws", spool_dir=str(tmp_path))  # replays on a thread of its own
        assert backend.wait_for(lambda b: b.span_count == 1 and b.trace_count == 1, 10)
        assert backend.wait_for(lambda b: replaying.spool.pending() == 0, 5)
    finally:
        undo()
    assert [span.name for span in memory.get_finished_spans()] == []  # its two POSTs were not traced


def test_upload_is_not_traced(backend, provider, tmp_path, monkeypatch):
    from opik_otel.cli import upload as _upload
    from opik_otel.exporters.local import LocalStoreExporter

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("OPIK_URL_OVERRIDE", backend.url)
    monkeypatch.setenv("OPIK_API_KEY", "upload-key")
    store = tmp_path / "store"
    writing = TracerProvider(id_generator=UuidV7IdGenerator(), shutdown_on_exit=False)
    writing.add_span_processor(SimpleSpanProcessor(LocalStoreExporter(store, "stored")))
    writing.get_tracer("t").start_span("stored").end()
    memory = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    undo = urllib_instrumented(provider)
    try:
        assert _upload.run(store, include_spool=True, progress=False) == 0
    finally:
        undo()
    assert backend.span_count == 1 and backend.trace_count == 1
    assert [span.name for span in memory.get_finished_spans()] == []  # the upload's POSTs were not traced
