"""ReadableSpan → Opik SpanWrite / TraceWrite dicts."""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone

import pytest
from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, Status, StatusCode, TraceFlags, TraceState
from opik.rest_api.types import SpanWrite, TraceWrite

from opik_otel import semconv as sc
from opik_otel._ids import OpikIdMapper, UuidV7IdGenerator, otel_to_opik_id
from opik_otel.exporters.opik.mapping import opik_provider, span_to_opik, span_type

SCOPE = "test-scope"
DEFAULT_PROJECT = "Default Project"
BASE_S = int(time.time()) - 60
BASE_NS = BASE_S * 1_000_000_000
MS = 1_000_000

INPUT_MESSAGES = [{"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"}]}]
OUTPUT_MESSAGES = [
    {"role": "assistant", "parts": [{"type": "text", "content": "Sunny."}], "finish_reason": "stop"}
]
SYSTEM_INSTRUCTIONS = [{"type": "text", "content": "Be brief."}]
TOOL_DEFINITIONS = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]


@pytest.fixture
def tracing():
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        id_generator=UuidV7IdGenerator(), resource=Resource.create({"service.name": "svc"})
    )
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer(SCOPE), exporter
    provider.shutdown()


def iso(offset_ms: int) -> str:
    """Independent ISO-8601 rendering of BASE + offset."""
    seconds, millis = divmod(offset_ms, 1000)
    moment = datetime.fromtimestamp(BASE_S + seconds, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{millis * 1000:06d}Z"


def opik_trace_id(span: ReadableSpan) -> str:
    return str(uuid.UUID(int=span.context.trace_id))


def opik_span_id(otel_span_id: int, trace_id: str) -> str:
    return otel_to_opik_id(otel_span_id.to_bytes(8, "big"), int(uuid.UUID(trace_id).hex[:12], 16))


def by_name(exporter: InMemorySpanExporter) -> dict[str, ReadableSpan]:
    return {span.name: span for span in exporter.get_finished_spans()}


def to_opik(span: ReadableSpan, mapper: OpikIdMapper | None = None) -> tuple[dict, dict | None]:
    """Map and check the dicts against Opik's own REST models (no unknown keys either)."""
    opik_span, opik_trace = span_to_opik(span, mapper or OpikIdMapper(), DEFAULT_PROJECT)
    assert set(opik_span) <= set(SpanWrite.model_fields)
    SpanWrite(**opik_span)
    if opik_trace is not None:
        assert set(opik_trace) <= set(TraceWrite.model_fields)
        TraceWrite(**opik_trace)
    json.dumps([opik_span, opik_trace], allow_nan=False)
    return opik_span, opik_trace


def record_agent_run(tracer: trace.Tracer) -> None:
    with tracer.start_as_current_span(
        "invoke_agent weather",
        start_time=BASE_NS,
        end_on_exit=False,
        attributes={
            sc.GEN_AI_OPERATION_NAME: sc.GenAiOperation.INVOKE_AGENT,
            sc.GEN_AI_AGENT_NAME: "weather",
            sc.GEN_AI_CONVERSATION_ID: "conv-42",
            sc.INPUT_VALUE: json.dumps({"question": "Weather in Paris?"}),
            sc.OUTPUT_VALUE: "Sunny.",
            sc.OPIK_TAGS: ("agent", "prod"),
        },
    ) as root:
        with tracer.start_as_current_span(
            "chat gpt-4o", start_time=BASE_NS + 100 * MS, end_on_exit=False
        ) as chat:
            chat.set_attributes(
                {
                    sc.GEN_AI_OPERATION_NAME: sc.GenAiOperation.CHAT,
                    sc.GEN_AI_PROVIDER_NAME: sc.GenAiProvider.OPENAI,
                    sc.GEN_AI_REQUEST_MODEL: "gpt-4o",
                    sc.GEN_AI_RESPONSE_MODEL: "gpt-4o-2024-08-06",
                    sc.GEN_AI_REQUEST_TEMPERATURE: 0.2,
                    sc.GEN_AI_REQUEST_MAX_TOKENS: 256,
                    sc.GEN_AI_RESPONSE_ID: "chatcmpl-1",
                    sc.GEN_AI_RESPONSE_FINISH_REASONS: ("stop",),
                    sc.GEN_AI_CONVERSATION_ID: "conv-42",
                    sc.SERVER_ADDRESS: "api.openai.com",
                    sc.SERVER_PORT: 443,
                    sc.OPENAI_RESPONSE_SYSTEM_FINGERPRINT: "fp_1",
                    sc.GEN_AI_USAGE_INPUT_TOKENS: 120,
                    sc.GEN_AI_USAGE_OUTPUT_TOKENS: 30,
                    sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: 100,
                    sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: 10,
                    sc.GEN_AI_USAGE_COST: 0.00042,
                    sc.GEN_AI_INPUT_MESSAGES: json.dumps(INPUT_MESSAGES),
                    sc.GEN_AI_OUTPUT_MESSAGES: json.dumps(OUTPUT_MESSAGES),
                    sc.GEN_AI_SYSTEM_INSTRUCTIONS: json.dumps(SYSTEM_INSTRUCTIONS),
                    sc.GEN_AI_TOOL_DEFINITIONS: json.dumps(TOOL_DEFINITIONS),
                    sc.OPIK_TAGS: "llm, openai",
                    sc.OPIK_METADATA_PREFIX + "run_id": "r1",
                    sc.OPIK_METADATA_PREFIX + "config": '{"k": 1}',
                }
            )
            chat.add_event("retry", {"attempt": 1}, timestamp=BASE_NS + 150 * MS)
            chat.end(end_time=BASE_NS + 1100 * MS)
        with tracer.start_as_current_span(
            "execute_tool get_weather",
            start_time=BASE_NS + 1200 * MS,
            end_on_exit=False,
            attributes={
                sc.GEN_AI_OPERATION_NAME: sc.GenAiOperation.EXECUTE_TOOL,
                sc.GEN_AI_TOOL_NAME: "get_weather",
                sc.GEN_AI_TOOL_CALL_ID: "call_1",
                sc.GEN_AI_TOOL_CALL_ARGUMENTS: '{"city": "Paris"}',
                sc.GEN_AI_TOOL_CALL_RESULT: "Sunny, 21C",
            },
        ) as tool:
            tool.end(end_time=BASE_NS + 1250 * MS)
        root.end(end_time=BASE_NS + 2000 * MS)


# -- a trace: root agent, chat child, tool child ---------------------------------------


def test_chat_span_maps_every_field(tracing):
    tracer, exporter = tracing
    record_agent_run(tracer)
    spans = by_name(exporter)
    chat, root = spans["chat gpt-4o"], spans["invoke_agent weather"]
    trace_id = opik_trace_id(chat)

    opik_span, opik_trace = to_opik(chat)

    assert opik_trace is None
    assert opik_span == {
        "id": opik_span_id(chat.context.span_id, trace_id),
        "trace_id": trace_id,
        "parent_span_id": opik_span_id(root.context.span_id, trace_id),
        "project_name": DEFAULT_PROJECT,
        "name": "chat gpt-4o",
        "type": "llm",
        "start_time": iso(100),
        "end_time": iso(1100),
        "input": {
            "messages": INPUT_MESSAGES,
            "system_instructions": SYSTEM_INSTRUCTIONS,
            "tools": TOOL_DEFINITIONS,
        },
        "output": {"messages": OUTPUT_MESSAGES},
        "metadata": {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.temperature": 0.2,
            "gen_ai.request.max_tokens": 256,
            "gen_ai.response.id": "chatcmpl-1",
            "gen_ai.response.finish_reasons": ["stop"],
            "gen_ai.conversation.id": "conv-42",
            "server.address": "api.openai.com",
            "server.port": 443,
            "openai.response.system_fingerprint": "fp_1",
            "run_id": "r1",
            "config": {"k": 1},
            "opentelemetry.events": [{"name": "retry", "attributes": {"attempt": 1}}],
            "otel_scope": SCOPE,
            "created_from": "opik-otel",
        },
        "tags": ["llm", "openai"],
        "model": "gpt-4o-2024-08-06",
        "provider": "openai",
        "usage": {
            "prompt_tokens": 120,
            "completion_tokens": 30,
            "total_tokens": 150,
            "cache_read_input_tokens": 100,
            "reasoning_tokens": 10,
        },
        "total_estimated_cost": 0.00042,
    }


def test_root_span_is_also_the_trace(tracing):
    tracer, exporter = tracing
    record_agent_run(tracer)
    root = by_name(exporter)["invoke_agent weather"]
    trace_id = opik_trace_id(root)

    opik_span, opik_trace = to_opik(root)

    common = {
        "project_name": DEFAULT_PROJECT,
        "name": "invoke_agent weather",
        "start_time": iso(0),
        "end_time": iso(2000),
        "input": {"question": "Weather in Paris?"},
        "output": {"output": "Sunny."},
        "metadata": {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.agent.name": "weather",
            "gen_ai.conversation.id": "conv-42",
            "otel_scope": SCOPE,
            "created_from": "opik-otel",
        },
        "tags": ["agent", "prod"],
    }
    assert opik_span == {
        "id": opik_span_id(root.context.span_id, trace_id),
        "trace_id": trace_id,
        "type": "general",
        **common,
    }
    assert opik_trace == {"id": trace_id, "thread_id": "conv-42", **common}


def test_tool_span(tracing):
    tracer, exporter = tracing
    record_agent_run(tracer)
    spans = by_name(exporter)
    tool, root = spans["execute_tool get_weather"], spans["invoke_agent weather"]
    trace_id = opik_trace_id(tool)

    opik_span, opik_trace = to_opik(tool)

    assert opik_trace is None
    assert opik_span == {
        "id": opik_span_id(tool.context.span_id, trace_id),
        "trace_id": trace_id,
        "parent_span_id": opik_span_id(root.context.span_id, trace_id),
        "project_name": DEFAULT_PROJECT,
        "name": "execute_tool get_weather",
        "type": "tool",
        "start_time": iso(1200),
        "end_time": iso(1250),
        "input": {"city": "Paris"},
        "output": {"output": "Sunny, 21C"},
        "metadata": {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": "get_weather",
            "gen_ai.tool.call.id": "call_1",
            "otel_scope": SCOPE,
            "created_from": "opik-otel",
        },
    }


def test_all_spans_of_a_trace_share_the_trace_id(tracing):
    tracer, exporter = tracing
    record_agent_run(tracer)
    mapper = OpikIdMapper()
    mapped = [to_opik(span, mapper)[0] for span in exporter.get_finished_spans()]
    assert {span["trace_id"] for span in mapped} == {opik_trace_id(exporter.get_finished_spans()[0])}
    assert len({span["id"] for span in mapped}) == 3


# -- errors ---------------------------------------------------------------------------


def test_exception_event_becomes_error_info(tracing):
    tracer, exporter = tracing
    with pytest.raises(ValueError):
        with tracer.start_as_current_span("failing", start_time=BASE_NS) as span:
            span.add_event("before", {"step": "one"})
            raise ValueError("boom")
    failing = by_name(exporter)["failing"]

    opik_span, opik_trace = to_opik(failing)

    error_info = opik_span["error_info"]
    assert error_info["exception_type"] == "ValueError"
    assert error_info["message"] == "boom"
    assert "Traceback" in error_info["traceback"] and 'raise ValueError("boom")' in error_info["traceback"]
    assert opik_trace["error_info"] == error_info
    assert opik_span["metadata"]["opentelemetry.events"] == [{"name": "before", "attributes": {"step": "one"}}]
    assert not any(key.startswith("exception.") for key in opik_span["metadata"])


def test_error_status_without_event_becomes_error_info(tracing):
    tracer, exporter = tracing
    with tracer.start_as_current_span("timed out") as span:
        span.set_attribute(sc.ERROR_TYPE, "TimeoutError")
        span.set_status(Status(StatusCode.ERROR, "request timed out"))

    opik_span, _ = to_opik(by_name(exporter)["timed out"])

    assert opik_span["error_info"] == {
        "exception_type": "TimeoutError",
        "message": "request timed out",
        "traceback": "",
    }


# -- other instrumentations -------------------------------------------------------------


def test_openinference_style_span(tracing):
    tracer, exporter = tracing
    with tracer.start_as_current_span(
        "ChatOpenAI",
        start_time=BASE_NS,
        end_on_exit=False,
        attributes={
            sc.INPUT_VALUE: '{"question": "hi"}',
            sc.OUTPUT_VALUE: "hello",
            sc.LLM_MODEL_NAME: "gpt-4o-mini",
            sc.LLM_PROVIDER: "openai",
            sc.LLM_TOKEN_COUNT_PROMPT: 10,
            sc.LLM_TOKEN_COUNT_COMPLETION: 5,
            sc.LLM_TOKEN_COUNT_TOTAL: 15,
            sc.LLM_TOKEN_COUNT_PROMPT_CACHE_READ: 4,
            "llm.invocation_parameters": '{"temperature": 0}',
        },
    ) as span:
        span.end(end_time=BASE_NS + 5 * MS)
    otel_span = by_name(exporter)["ChatOpenAI"]
    trace_id = opik_trace_id(otel_span)

    opik_span, opik_trace = to_opik(otel_span)

    assert opik_span == {
        "id": opik_span_id(otel_span.context.span_id, trace_id),
        "trace_id": trace_id,
        "project_name": DEFAULT_PROJECT,
        "name": "ChatOpenAI",
        "type": "llm",
        "start_time": iso(0),
        "end_time": iso(5),
        "input": {"question": "hi"},
        "output": {"output": "hello"},
        "metadata": {
            "llm.invocation_parameters": '{"temperature": 0}',
            "otel_scope": SCOPE,
            "created_from": "opik-otel",
        },
        "model": "gpt-4o-mini",
        "provider": "openai",
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "cache_read_input_tokens": 4, "total_tokens": 15},
    }
    assert opik_trace["input"] == {"question": "hi"} and "thread_id" not in opik_trace


def test_openllmetry_total_tokens_wins_over_the_sum(tracing):
    tracer, exporter = tracing
    with tracer.start_as_current_span("chat", attributes={
        sc.GEN_AI_OPERATION_NAME: "chat",
        sc.GEN_AI_USAGE_INPUT_TOKENS: 3,
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 4,
        sc.LLM_USAGE_TOTAL_TOKENS: 9,
    }):
        pass
    opik_span, _ = to_opik(by_name(exporter)["chat"])
    assert opik_span["usage"] == {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 9}


# -- roots and parents ----------------------------------------------------------------


def remote_parent(trace_state: TraceState) -> trace.Context:
    parent = SpanContext(
        trace_id=UuidV7IdGenerator().generate_trace_id(),
        span_id=0x1122334455667788,
        is_remote=True,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
        trace_state=trace_state,
    )
    return trace.set_span_in_context(NonRecordingSpan(parent))


def test_remote_parent_from_an_opik_exporting_process_is_kept(tracing):
    tracer, exporter = tracing
    with tracer.start_as_current_span("server", context=remote_parent(TraceState([("opik", "1")]))):
        pass
    span = by_name(exporter)["server"]
    trace_id = opik_trace_id(span)

    opik_span, opik_trace = to_opik(span)

    assert opik_trace is None
    assert opik_span["parent_span_id"] == opik_span_id(0x1122334455667788, trace_id)


def test_remote_parent_from_elsewhere_makes_a_root(tracing):
    tracer, exporter = tracing
    with tracer.start_as_current_span("server", context=remote_parent(TraceState([("other", "x")]))):
        pass

    opik_span, opik_trace = to_opik(by_name(exporter)["server"])

    assert "parent_span_id" not in opik_span
    assert opik_trace is not None and opik_trace["id"] == opik_span["trace_id"]


# -- small rules ----------------------------------------------------------------------


def test_project_name_from_span_then_resource_then_default():
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({sc.OPIK_PROJECT_NAME: "from-resource"}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer(SCOPE)
    with tracer.start_as_current_span("a", attributes={sc.OPIK_PROJECT_NAME: "from-span"}):
        pass
    with tracer.start_as_current_span("b"):
        pass
    spans = by_name(exporter)

    assert to_opik(spans["a"])[0]["project_name"] == "from-span"
    assert to_opik(spans["b"])[0]["project_name"] == "from-resource"
    assert "from-span" not in json.dumps(to_opik(spans["a"])[0]["metadata"])


def test_explicit_span_type_and_inference_by_model():
    assert span_type({sc.OPIK_SPAN_TYPE: "guardrail", sc.GEN_AI_OPERATION_NAME: "chat"}) == "guardrail"
    assert span_type({sc.OPIK_SPAN_TYPE: "bogus", sc.GEN_AI_OPERATION_NAME: "chat"}) == "llm"
    assert span_type({sc.GEN_AI_OPERATION_NAME: "embeddings"}) == "llm"
    assert span_type({sc.GEN_AI_REQUEST_MODEL: "m"}) == "llm"
    assert span_type({sc.GEN_AI_PROVIDER_NAME: "openai", sc.GEN_AI_OPERATION_NAME: "invoke_agent"}) == "general"
    assert span_type({sc.GEN_AI_OPERATION_NAME: "execute_tool"}) == "tool"
    assert span_type({}) == "general"


@pytest.mark.parametrize(
    ("provider", "server_address", "expected"),
    [
        ("openai", None, "openai"),
        ("azure.ai.openai", None, "azure"),
        ("anthropic", None, "anthropic"),
        ("aws.bedrock", None, "bedrock"),
        ("gcp.gemini", None, "google_ai"),
        ("gcp.vertex_ai", None, "google_vertexai"),
        ("gcp.gen_ai", None, "google_ai"),
        ("gcp.gen_ai", "us-central1-aiplatform.googleapis.com", "google_vertexai"),
        ("mistral_ai", None, "mistral"),
        ("x_ai", None, "xai"),
        ("groq", None, "groq"),
        ("ibm.watsonx.ai", None, "ibm.watsonx.ai"),
    ],
)
def test_opik_provider_names(provider, server_address, expected):
    assert opik_provider(provider, server_address) == expected


def test_legacy_gen_ai_system_is_a_provider_fallback(tracing):
    tracer, exporter = tracing
    with tracer.start_as_current_span("c", attributes={sc.GEN_AI_SYSTEM: "anthropic", sc.GEN_AI_REQUEST_MODEL: "m"}):
        pass
    opik_span, _ = to_opik(by_name(exporter)["c"])
    assert (opik_span["type"], opik_span["provider"], opik_span["model"]) == ("llm", "anthropic", "m")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (("a", "b", "a"), ["a", "b"]),
        ("a, b,,c", ["a", "b", "c"]),
        ('["x", "y"]', ["x", "y"]),
        ("", None),
    ],
)
def test_tags_forms(tracing, value, expected):
    tracer, exporter = tracing
    with tracer.start_as_current_span("t", attributes={sc.OPIK_TAGS: value}):
        pass
    assert to_opik(by_name(exporter)["t"])[0].get("tags") == expected


def test_malformed_attributes_lose_only_their_field(tracing):
    tracer, exporter = tracing
    with tracer.start_as_current_span("bad", attributes={
        sc.GEN_AI_OPERATION_NAME: "chat",
        sc.GEN_AI_INPUT_MESSAGES: "[not json",
        sc.GEN_AI_OUTPUT_MESSAGES: '{"truncated": ',
        sc.GEN_AI_USAGE_INPUT_TOKENS: "12",
        sc.GEN_AI_USAGE_OUTPUT_TOKENS: 1.5,
        sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: True,
        sc.GEN_AI_USAGE_COST: -1.0,
        sc.OPIK_TAGS: 7,
        sc.GEN_AI_REQUEST_TEMPERATURE: float("nan"),
    }):
        pass

    opik_span, _ = to_opik(by_name(exporter)["bad"])

    assert opik_span["input"] == {"messages": "[not json"}
    assert opik_span["output"] == {"messages": '{"truncated": '}
    assert "usage" not in opik_span and "total_estimated_cost" not in opik_span and "tags" not in opik_span
    assert opik_span["metadata"]["gen_ai.request.temperature"] == "nan"
    assert not any(key.startswith("gen_ai.usage") for key in opik_span["metadata"])


def test_unmappable_span_raises_only_for_missing_structure():
    span = ReadableSpan(name="no context", context=None)
    with pytest.raises(ValueError):
        span_to_opik(span, OpikIdMapper(), DEFAULT_PROJECT)
