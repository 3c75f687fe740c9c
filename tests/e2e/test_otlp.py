"""OTLP export end to end: `configure(exporter="otlp")` (HTTP/protobuf and gRPC), the automatic
choice of OTLP, and the Opik OTLP preset, each against a real OTLP receiver on loopback."""

from __future__ import annotations

import pytest

from opik_otel._settings import resolve_settings
from opik_otel.exporters.otlp import opik_otlp_endpoint
from tests.e2e._helpers import expected_chat_cost, run_snippet
from tests.fakes import otlp_receiver
from tests.fakes.otlp_receiver import OtlpGrpcReceiver, OtlpHttpReceiver

SPAN_KIND_CLIENT = 3  # opentelemetry.proto.trace.v1.Span.SpanKind.SPAN_KIND_CLIENT
OPIK_OTLP_PATH = "/api/v1/private/otel/v1/traces"

CALL = """
import opik_otel
opik_otel.configure({args})
opik_otel.OpikInstrumentor().instrument()
chat(openai_client(), "hello otlp")
report(flushed=opik_otel.flush(), exporter=type(opik_otel._configure._State.pipeline.inner.span_exporter).__module__)
"""


def assert_chat_span(receiver) -> dict:
    assert receiver.wait_for(lambda r: len(r.spans) >= 1, timeout=5)
    assert len(receiver.spans) == 1, receiver.spans
    (span,) = receiver.spans
    attributes = span["attributes"]
    assert span["name"] == "chat gpt-4o-mini"
    assert span["kind"] == SPAN_KIND_CLIENT
    assert span["parent_span_id"] is None
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == "openai"
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert attributes["gen_ai.response.model"] == "gpt-4o-mini"
    assert attributes["gen_ai.usage.input_tokens"] == 12
    assert attributes["gen_ai.usage.output_tokens"] == 7
    assert attributes["gen_ai.usage.cache_read.input_tokens"] == 4
    assert attributes["gen_ai.usage.reasoning.output_tokens"] == 2
    assert isinstance(attributes["gen_ai.usage.cost"], float)
    assert attributes["gen_ai.usage.cost"] == pytest.approx(expected_chat_cost(), rel=1e-6)
    assert attributes["server.address"] == "127.0.0.1"
    assert "hello otlp" in attributes["gen_ai.input.messages"]
    assert span["resource"].get("service.name")
    return span


def test_otlp_http_protobuf_to_a_collector(env):
    with OtlpHttpReceiver() as receiver:
        env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] = receiver.endpoint + "/v1/traces"
        values, _ = run_snippet(CALL.format(args='exporter="otlp"'), env)
        assert values["flushed"] is True
        assert values["exporter"].startswith("opentelemetry.exporter.otlp.proto.http")
        assert_chat_span(receiver)
        assert receiver.headers[0]["content-type"].startswith("application/x-protobuf")


def test_otlp_grpc_to_a_collector(env):
    with OtlpGrpcReceiver() as receiver:
        env.update(
            OTEL_EXPORTER_OTLP_PROTOCOL="grpc",
            OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
            OTEL_EXPORTER_OTLP_INSECURE="true",
        )
        values, _ = run_snippet(CALL.format(args='exporter="otlp"'), env)
        assert values["exporter"].startswith("opentelemetry.exporter.otlp.proto.grpc")
        assert_chat_span(receiver)


def test_otlp_headers_from_the_standard_variable(env):
    with OtlpHttpReceiver() as receiver:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint
        env["OTEL_EXPORTER_OTLP_HEADERS"] = "x-tenant=acme"
        run_snippet(CALL.format(args='exporter="otlp"'), env)
        assert_chat_span(receiver)
        assert receiver.headers[0]["x-tenant"] == "acme"


def test_otlp_is_chosen_when_only_an_otlp_endpoint_is_set(env):
    with OtlpHttpReceiver() as receiver:
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = receiver.endpoint  # the exporter appends /v1/traces
        values, _ = run_snippet(CALL.format(args=""), env)
        assert values["exporter"].startswith("opentelemetry.exporter.otlp.proto.http")
        assert_chat_span(receiver)


def test_opik_otlp_endpoint_and_headers():
    settings = resolve_settings(url="http://127.0.0.1:5173/api", api_key="k", workspace="ws", project_name="p")
    endpoint, headers = opik_otlp_endpoint(settings)
    assert endpoint == "http://127.0.0.1:5173/api/v1/private/otel/v1/traces"
    assert headers == {"projectName": "p", "Authorization": "k", "Comet-Workspace": "ws"}


def test_opik_otlp_endpoint_for_the_cloud_defaults_the_workspace():
    endpoint, headers = opik_otlp_endpoint(resolve_settings(api_key="k", project_name="p"))
    assert endpoint == "https://www.comet.com/opik/api/v1/private/otel/v1/traces"
    assert headers["Comet-Workspace"] == "default"


def test_opik_otlp_endpoint_without_a_key_sends_no_authorization():
    _, headers = opik_otlp_endpoint(resolve_settings(url="http://localhost:5173/api/"))
    assert "Authorization" not in headers
    assert headers["projectName"] == "Default Project"


def test_opik_otlp_preset_posts_to_opiks_otlp_path(env, monkeypatch):
    # The fake receiver accepts only its module's TRACES_PATH ("/v1/traces"); point it at Opik's path.
    monkeypatch.setattr(otlp_receiver, "TRACES_PATH", OPIK_OTLP_PATH)
    with OtlpHttpReceiver() as receiver:
        args = f'exporter="opik-otlp", url={receiver.endpoint + "/api/"!r}, api_key="k", workspace="ws", project_name="p"'
        values, _ = run_snippet(CALL.format(args=args), env)
        assert values["flushed"] is True
        assert values["exporter"].startswith("opentelemetry.exporter.otlp.proto.http")
        assert_chat_span(receiver)
        for headers in receiver.headers:
            assert headers["authorization"] == "k"
            assert headers["projectname"] == "p"
            assert headers["comet-workspace"] == "ws"
