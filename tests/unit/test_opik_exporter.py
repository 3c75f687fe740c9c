"""OpikSpanExporter and its REST client against the fake Opik back end."""

from __future__ import annotations

import logging
import time
import uuid

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opik_otel import semconv as sc
from opik_otel._ids import UuidV7IdGenerator
from opik_otel.exporters.opik import OpikSpanExporter
from opik_otel.exporters.opik import client as client_module
from opik_otel.exporters.opik.client import OpikRestClient, _retry_delay
from tests.fakes.opik_backend import FakeOpikBackend

API_KEY = "opik-test-key"
TRACES_PATH = "/api/v1/private/traces/batch"
SPANS_PATH = "/api/v1/private/spans/batch"
OPIK_ENV = ("OPIK_URL_OVERRIDE", "OPIK_API_KEY", "OPIK_WORKSPACE", "OPIK_PROJECT_NAME", "OPIK_CHECK_TLS_CERTIFICATE")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in OPIK_ENV:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def backend():
    with FakeOpikBackend() as fake:
        yield fake


def make_exporter(backend: FakeOpikBackend, **kwargs) -> OpikSpanExporter:
    return OpikSpanExporter(url=backend.url, api_key=API_KEY, workspace="ws", project_name="proj", **kwargs)


def record_spans(count: int = 2) -> list[ReadableSpan]:
    """A root span with `count` children, finished, in export order (children first)."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(id_generator=UuidV7IdGenerator())
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("root", attributes={sc.INPUT_VALUE: '{"q": "why?"}'}):
        for index in range(count):
            with tracer.start_as_current_span(f"child {index}"):
                pass
    provider.shutdown()
    return list(memory.get_finished_spans())


def paths(backend: FakeOpikBackend) -> list[str]:
    return [request.path for request in backend.requests]


# -- the happy path -------------------------------------------------------------------


def test_batch_processor_exports_a_trace_of_three_spans(backend):
    provider = TracerProvider(id_generator=UuidV7IdGenerator())
    provider.add_span_processor(BatchSpanProcessor(make_exporter(backend)))
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("agent", attributes={sc.INPUT_VALUE: '{"question": "Weather?"}'}) as root:
        with tracer.start_as_current_span("chat gpt-4o", attributes={
            sc.GEN_AI_OPERATION_NAME: "chat",
            sc.GEN_AI_PROVIDER_NAME: "openai",
            sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
            sc.GEN_AI_USAGE_INPUT_TOKENS: 12,
            sc.GEN_AI_USAGE_OUTPUT_TOKENS: 3,
        }) as chat:
            pass
        with tracer.start_as_current_span("execute_tool lookup", attributes={
            sc.GEN_AI_OPERATION_NAME: "execute_tool",
            sc.GEN_AI_TOOL_CALL_ARGUMENTS: '{"city": "Paris"}',
        }):
            pass

    assert provider.force_flush()
    provider.shutdown()

    trace_id = str(uuid.UUID(int=root.get_span_context().trace_id))
    assert backend.errors == []
    assert list(backend.traces) == [trace_id]
    assert backend.traces[trace_id]["name"] == "agent"
    assert backend.traces[trace_id]["project_name"] == "proj"
    assert backend.traces[trace_id]["input"] == {"question": "Weather?"}
    assert len(backend.spans) == 3
    by_name = {span["name"]: span for span in backend.spans.values()}
    root_id = by_name["agent"]["id"]
    assert "parent_span_id" not in by_name["agent"]
    assert by_name["chat gpt-4o"]["parent_span_id"] == root_id
    assert by_name["execute_tool lookup"]["parent_span_id"] == root_id
    assert {span["trace_id"] for span in backend.spans.values()} == {trace_id}
    assert by_name["chat gpt-4o"]["usage"] == {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15}
    assert by_name["chat gpt-4o"]["type"] == "llm" and by_name["execute_tool lookup"]["type"] == "tool"
    assert chat.get_span_context().trace_id == root.get_span_context().trace_id

    assert paths(backend) == [TRACES_PATH, SPANS_PATH]
    for request in backend.requests:
        assert request.status == 204
        assert request.headers["authorization"] == API_KEY
        assert request.headers["comet-workspace"] == "ws"
        assert request.headers["content-type"] == "application/json"
    spans_request = backend.requests[1]
    assert spans_request.gzipped and spans_request.headers["content-encoding"] == "gzip"


def test_small_bodies_are_not_gzipped_and_headers_are_optional(backend):
    client = OpikRestClient(backend.url.rstrip("/"), api_key=None, workspace=None)
    assert client.send_traces([{"id": str(uuid.UUID(int=UuidV7IdGenerator().generate_trace_id())),
                                "start_time": "2024-01-01T00:00:00.000000Z"}])
    (request,) = backend.requests
    assert request.path == TRACES_PATH and not request.gzipped
    assert "authorization" not in request.headers and "comet-workspace" not in request.headers


def test_large_exports_are_split_into_batches_of_at_most_1000(backend):
    spans = record_spans(count=2499)
    result = make_exporter(backend).export(spans)

    assert result is SpanExportResult.SUCCESS
    span_batches = [len(request.body["spans"]) for request in backend.requests if request.path == SPANS_PATH]
    assert span_batches == [1000, 1000, 500]
    assert len(backend.spans) == 2500 and len(backend.traces) == 1
    assert backend.errors == []


def test_empty_export_sends_nothing(backend):
    assert make_exporter(backend).export([]) is SpanExportResult.SUCCESS
    assert backend.requests == []


# -- retries and failures -------------------------------------------------------------


def test_503_is_retried_without_duplicates(backend):
    backend.fail_next(503)
    result = make_exporter(backend).export(record_spans())

    assert result is SpanExportResult.SUCCESS
    assert [request.status for request in backend.requests] == [503, 204, 204]
    assert paths(backend) == [TRACES_PATH, TRACES_PATH, SPANS_PATH]
    assert len(backend.traces) == 1 and len(backend.spans) == 3
    assert backend.duplicates == 0 and backend.errors == []


def test_429_honours_retry_after(backend):
    backend.fail_next(429, headers={"Retry-After": "0"})
    assert make_exporter(backend).export(record_spans()) is SpanExportResult.SUCCESS
    assert [request.status for request in backend.requests] == [429, 204, 204]


def test_409_counts_as_delivered(backend):
    backend.fail_next(409)
    assert make_exporter(backend).export(record_spans()) is SpanExportResult.SUCCESS


def test_retrying_the_same_spans_reuses_the_ids(backend):
    exporter = make_exporter(backend)
    spans = record_spans()
    exporter.export(spans)
    first = dict(backend.spans)
    exporter.export(spans)
    assert backend.spans.keys() == first.keys() and len(backend.traces) == 1


def test_401_gives_up_at_once_warns_once_without_the_key_and_keeps_the_batches(backend, caplog):
    backend.fail_next(401, times=4)
    exporter = make_exporter(backend)

    with caplog.at_level(logging.DEBUG, logger="opik_otel"):
        result = exporter.export(record_spans())

    assert result is SpanExportResult.SUCCESS  # nothing lost: spooled
    assert [request.status for request in backend.requests] == [401]  # no retries; spans spooled at once
    assert [(batch.kind, batch.items) for batch in exporter.spool.batches()] == [("traces", 1), ("spans", 3)]
    warnings = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "OPIK_API_KEY" in warnings[0].getMessage() and "api_key" in warnings[0].getMessage()
    assert API_KEY not in caplog.text


def test_other_4xx_gives_up_with_the_server_detail(backend, caplog):
    backend.fail_next(422)
    with caplog.at_level(logging.WARNING, logger="opik_otel"):
        result = make_exporter(backend).export(record_spans())
    assert result is SpanExportResult.FAILURE
    assert [request.status for request in backend.requests] == [422, 204]  # spans still sent
    assert "422" in caplog.text and "injected failure" in caplog.text


def unreachable_exporter() -> OpikSpanExporter:
    with FakeOpikBackend() as gone:
        url = gone.url  # nothing listens there once the fake has stopped
    return OpikSpanExporter(url=url, api_key=API_KEY, timeout=1.0)


def test_unreachable_back_end_spools_after_the_retry_budget(monkeypatch, caplog):
    monkeypatch.setattr(client_module, "_retry_delay", lambda headers, attempt: 0.0)
    exporter = unreachable_exporter()
    attempts = []
    request = exporter._client._request
    monkeypatch.setattr(exporter._client, "_request", lambda *args: attempts.append(args[0]) or request(*args))

    with caplog.at_level(logging.DEBUG, logger="opik_otel"):
        assert exporter.export(record_spans()) is SpanExportResult.SUCCESS

    # the traces batch used the whole budget; the back end is then known down: spans go straight to the spool
    assert [url.rsplit("/", 2)[-2] for url in attempts] == ["traces"] * client_module.MAX_ATTEMPTS
    assert "after 4 attempt(s)" in caplog.text
    assert [batch.kind for batch in exporter.spool.batches()] == ["traces", "spans"]
    assert API_KEY not in caplog.text


def test_closed_client_does_not_wait_to_retry():
    exporter = unreachable_exporter()
    exporter.shutdown()
    started = time.monotonic()
    assert exporter._client.send_spans([{"id": "x"}]) is False
    assert time.monotonic() - started < 0.2


def test_retry_delay_prefers_server_headers_then_backs_off():
    assert _retry_delay({"Retry-After": "7"}, 1) == 7
    assert _retry_delay({"Retry-After": "3600"}, 1) == 60
    assert _retry_delay({"RateLimit-Reset": "2"}, 1) == 2
    assert _retry_delay({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT", "RateLimit-Reset": "5"}, 1) == 5
    assert 0.25 <= _retry_delay({}, 1) <= 0.5
    assert 0.5 <= _retry_delay({}, 2) <= 1.0
    assert 5.0 <= _retry_delay({}, 10) <= 10.0


# -- robustness and configuration -------------------------------------------------------


def test_an_unmappable_span_is_skipped(backend):
    spans = [ReadableSpan(name="broken", context=None), *record_spans(count=1)]
    assert make_exporter(backend).export(spans) is SpanExportResult.SUCCESS
    assert len(backend.spans) == 2 and backend.errors == []


def test_export_after_shutdown_spools_without_sending(backend):
    exporter = make_exporter(backend)
    exporter.shutdown()
    assert exporter.export(record_spans()) is SpanExportResult.SUCCESS
    assert backend.requests == []
    assert len(exporter.spool.batches()) == 2
    assert exporter.force_flush()


def test_defaults_come_from_the_environment(monkeypatch, backend):
    monkeypatch.setenv("OPIK_URL_OVERRIDE", backend.url)
    monkeypatch.setenv("OPIK_API_KEY", API_KEY)
    monkeypatch.setenv("OPIK_WORKSPACE", "env-ws")
    monkeypatch.setenv("OPIK_PROJECT_NAME", "env-project")

    assert OpikSpanExporter().export(record_spans(count=1)) is SpanExportResult.SUCCESS

    assert {span["project_name"] for span in backend.spans.values()} == {"env-project"}
    assert backend.requests[0].headers["authorization"] == API_KEY
    assert backend.requests[0].headers["comet-workspace"] == "env-ws"


def test_no_argument_exporter_targets_opik_cloud_default_workspace():
    exporter = OpikSpanExporter()  # what the `opentelemetry_traces_exporter = opik` entry point does
    assert exporter._client.url == "https://www.comet.com/opik/api/"
    assert exporter._client._headers["Comet-Workspace"] == "default"
    assert "Authorization" not in exporter._client._headers
    assert exporter._project_name == "Default Project"


def test_local_url_gets_no_default_workspace(monkeypatch):
    monkeypatch.setenv("OPIK_URL_OVERRIDE", "http://localhost:5173/api")
    monkeypatch.setenv("OPIK_CHECK_TLS_CERTIFICATE", "false")
    exporter = OpikSpanExporter()
    assert exporter._client.url == "http://localhost:5173/api/"
    assert "Comet-Workspace" not in exporter._client._headers


def test_encoded_bodies_are_valid_json_whatever_the_values():
    import gzip
    import json

    from opik_otel.exporters.opik.client import GZIP_MIN_BYTES, encode

    # non-finite floats become null (Opik rejects NaN); unknown objects their str()
    body = encode("spans", [{"name": "é", "cost": float("nan"), "extra": uuid.UUID(int=1)}])
    assert json.loads(body) == {"spans": [{"name": "é", "cost": None, "extra": "00000000-0000-0000-0000-000000000001"}]}
    # a lone surrogate cannot be UTF-8: the standard library's path replaces it, the batch still goes
    body = encode("spans", [{"name": "a\ud800b"}])
    assert json.loads(body) == {"spans": [{"name": "a?b"}]}
    # large bodies are gzip'd
    big = encode("spans", [{"name": "x" * GZIP_MIN_BYTES}])
    assert big[:2] == b"\x1f\x8b" and json.loads(gzip.decompress(big)) == {"spans": [{"name": "x" * GZIP_MIN_BYTES}]}


# -- refused items: 400/422 ----------------------------------------------------------------


def valid_span_items(count: int) -> list[dict]:
    """`count` SpanWrite dicts the back end accepts (one trace)."""
    generator = UuidV7IdGenerator()
    trace_id = str(uuid.UUID(int=generator.generate_trace_id()))
    return [{"id": str(uuid.UUID(int=generator.generate_trace_id())), "trace_id": trace_id, "name": f"span {index}",
             "start_time": "2024-01-01T00:00:00.000000Z"} for index in range(count)]


def test_one_invalid_item_among_1000_drops_only_that_item(backend):
    items = valid_span_items(1000)
    bad_id = str(uuid.UUID(int=0x0AF7651916CD43DD8448EB211C80319C))  # not a UUID v7
    items[0]["id"] = bad_id
    client = OpikRestClient(backend.url, API_KEY, "ws")

    results = client.send("spans", items)

    refused = [batch for batch, _, outcome in results if outcome is client_module.Outcome.REJECTED]
    assert refused == [[items[0]]]
    assert sum(len(batch) for batch, _, outcome in results if outcome is client_module.Outcome.DELIVERED) == 999
    assert backend.stored_span_ids() == {item["id"] for item in items[1:]}
    assert client.refused_items == 1
    # halving down to the bad item: the batch, then both halves at each of 9 levels (500 … 1)
    assert len(backend.requests) == 1 + 2 * 9
    assert set(backend.errors) == {f"spans[0].id: must be a version 7 UUID, got {bad_id!r}"}


def test_a_spooled_body_with_one_invalid_item_drops_only_that_item(backend):
    items = valid_span_items(10)
    items[7]["trace_id"] = "not-a-uuid"
    client = OpikRestClient(backend.url, API_KEY, "ws")

    outcome = client.send_body("spans", client_module.encode("spans", items))

    assert outcome is client_module.Outcome.REJECTED  # part of it was refused: it leaves the spool
    assert backend.stored_span_ids() == {item["id"] for index, item in enumerate(items) if index != 7}
    assert client.refused_items == 1
    # 10 → 5 + 5 → 2 + 3 → 1 (the bad item) + 2: the body itself is not sent twice
    assert [len(request.body["spans"]) for request in backend.requests] == [10, 5, 5, 2, 3, 1, 2]


def test_a_batch_of_only_invalid_items_costs_a_bounded_number_of_requests(backend):
    items = valid_span_items(1000)
    for item in items:
        item["type"] = "bogus"
    client = OpikRestClient(backend.url, API_KEY, "ws")

    results = client.send("spans", items)

    assert [outcome for _, _, outcome in results] == [client_module.Outcome.REJECTED] * 16  # the sixteenths
    assert sorted(item["name"] for batch, _, _ in results for item in batch) == sorted(item["name"] for item in items)
    assert client.refused_items == 1000 and backend.span_count == 0
    # the batch, its halves, quarters, eighths and sixteenths: all refused, so it is bad throughout: stop
    assert len(backend.requests) == 1 + 2 + 4 + 8 + 16


def test_many_invalid_items_spread_through_a_batch_stay_within_the_request_budget(backend):
    items = valid_span_items(1000)
    bad = {3, 170, 333, 512, 690, 871}  # six bad items: isolating each costs about 20 requests
    for index in bad:
        items[index]["usage"] = {"prompt_tokens": 1.5}
    client = OpikRestClient(backend.url, API_KEY, "ws")

    results = client.send("spans", items)

    assert len(backend.requests) == 1 + client_module.MAX_SPLIT_REQUESTS
    # the budget is spent on the largest refused parts first: six small parts left, one bad item in each
    refused = {(items.index(batch[0]), len(batch)) for batch, _, outcome in results if outcome is client_module.Outcome.REJECTED}
    assert refused == {(0, 7), (163, 8), (327, 8), (507, 8), (687, 7), (871, 4)}
    refused_ids = {item["id"] for start, size in refused for item in items[start:start + size]}
    assert backend.stored_span_ids() == {item["id"] for item in items} - refused_ids
    assert client.refused_items == 42 and backend.span_count == 958


def test_a_refused_single_trace_still_warns_with_the_server_detail(backend, caplog):
    backend.fail_next(400, times=2)
    client = OpikRestClient(backend.url, API_KEY, "ws")
    with caplog.at_level(logging.WARNING, logger="opik_otel"):
        results = client.send("spans", valid_span_items(2))
    assert [(len(batch), outcome) for batch, _, outcome in results] == [(1, client_module.Outcome.REJECTED),
                                                                        (1, client_module.Outcome.DELIVERED)]
    assert [request.status for request in backend.requests] == [400, 400, 204]
    assert "400" in caplog.text and "injected failure" in caplog.text and API_KEY not in caplog.text
