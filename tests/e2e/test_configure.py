"""`opik_otel.configure()` + `OpikInstrumentor().instrument()` end to end, each scenario in a fresh
interpreter, against the fake OpenAI server and the fake Opik back end."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest

from tests.e2e._helpers import expected_chat_cost, run_snippet
from tests.fakes.openai_server import CHAT_TEXT
from tests.fakes.opik_backend import FakeOpikBackend, is_uuid_v7

API_KEY = "opik-test-api-key-123"
WORKSPACE = "e2e-ws"


def batch_requests(backend: FakeOpikBackend):
    return [r for r in backend.requests if r.path.endswith("/batch")]


def configure_call(project: str = "e2e-project", **extra: str) -> str:
    args = ", ".join(["url=url", f"api_key={API_KEY!r}", f"workspace={WORKSPACE!r}", f"project_name={project!r}"] + [f"{k}={v}" for k, v in extra.items()])
    return f"opik_otel.configure({args})"


def test_configure_exports_one_trace_and_one_llm_span(backend, env):
    values, process = run_snippet(
        f"""
        import opik_otel
        url = {backend.url!r}
        provider = {configure_call()}
        opik_otel.OpikInstrumentor().instrument()
        response = chat(openai_client(), "What is OpenTelemetry?")
        report(text=response.choices[0].message.content, flushed=opik_otel.flush())
        """,
        env,
    )
    assert values == {"text": CHAT_TEXT, "flushed": True}
    assert backend.errors == []

    assert len(backend.traces) == 1
    assert len(backend.spans) == 1
    (span,) = backend.spans.values()
    (trace,) = backend.traces.values()

    assert span["type"] == "llm"
    assert span["name"] == "chat gpt-4o-mini"
    assert span["project_name"] == "e2e-project"
    assert trace["project_name"] == "e2e-project"
    assert span["trace_id"] == trace["id"]
    assert "parent_span_id" not in span
    assert is_uuid_v7(span["id"]) and is_uuid_v7(trace["id"])
    assert span["model"] == "gpt-4o-mini"
    assert span["provider"] == "openai"
    assert span["usage"] == {
        "prompt_tokens": 12,
        "completion_tokens": 7,
        "total_tokens": 19,
        "cache_read_input_tokens": 4,
        "reasoning_tokens": 2,
    }
    assert all(type(v) is int for v in span["usage"].values())
    assert span["total_estimated_cost"] > 0
    assert span["total_estimated_cost"] == pytest.approx(expected_chat_cost(), rel=1e-6)

    # content is captured by default after configure()
    assert "What is OpenTelemetry?" in json.dumps(span["input"])
    assert CHAT_TEXT in json.dumps(span["output"])
    assert span["input"]["messages"][0]["role"] == "user"
    assert span["output"]["messages"][0]["role"] == "assistant"

    requests = batch_requests(backend)
    assert {r.path for r in requests} == {"/api/v1/private/traces/batch", "/api/v1/private/spans/batch"}
    for request in requests:
        assert request.status == 204
        assert request.headers["authorization"] == API_KEY
        assert request.headers["comet-workspace"] == WORKSPACE
    assert API_KEY not in process.stdout + process.stderr


def test_configure_twice_with_the_same_arguments_is_idempotent(backend, env):
    values, _ = run_snippet(
        f"""
        import opik_otel
        from opentelemetry import trace
        url = {backend.url!r}
        first = {configure_call()}
        second = {configure_call()}
        opik_otel.OpikInstrumentor().instrument()
        chat(openai_client())
        opik_otel.flush()
        processors = trace.get_tracer_provider()._active_span_processor._span_processors
        report(same=first is second, is_global=first is trace.get_tracer_provider(), processors=len(processors))
        """,
        env,
    )
    assert values == {"same": True, "is_global": True, "processors": 1}
    assert len(backend.spans) == 1
    assert len(backend.traces) == 1
    assert backend.duplicates == 0


def test_reconfigure_with_another_project_sends_later_spans_there_only(backend, env):
    values, _ = run_snippet(
        f"""
        import opik_otel
        from opentelemetry import trace
        url = {backend.url!r}
        {configure_call("first-project")}
        opik_otel.OpikInstrumentor().instrument()
        client = openai_client()
        chat(client, "one")
        opik_otel.flush()
        {configure_call("second-project")}
        chat(client, "two")
        opik_otel.flush()
        processors = trace.get_tracer_provider()._active_span_processor._span_processors
        report(processors=len(processors))
        """,
        env,
    )
    assert values["processors"] == 1
    assert backend.errors == []
    assert len(backend.spans) == 2, "a span was duplicated or lost"
    assert backend.duplicates == 0
    by_text = {("one" if '"one"' in json.dumps(s["input"]) else "two"): s for s in backend.spans.values()}
    assert by_text["one"]["project_name"] == "first-project"
    assert by_text["two"]["project_name"] == "second-project"
    projects = {t["id"]: t["project_name"] for t in backend.traces.values()}
    assert projects[by_text["one"]["trace_id"]] == "first-project"
    assert projects[by_text["two"]["trace_id"]] == "second-project"


def test_configure_adds_to_the_apps_own_tracer_provider(backend, env):
    values, _ = run_snippet(
        f"""
        import opik_otel
        from opentelemetry import trace
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

        memory = InMemorySpanExporter()
        app_provider = TracerProvider()
        app_provider.add_span_processor(SimpleSpanProcessor(memory))
        trace.set_tracer_provider(app_provider)

        url = {backend.url!r}
        returned = {configure_call()}
        opik_otel.OpikInstrumentor().instrument()
        chat(openai_client())
        opik_otel.flush()
        report(
            returned_is_app=returned is app_provider,
            global_is_app=trace.get_tracer_provider() is app_provider,
            app_saw=[s.name for s in memory.get_finished_spans()],
            processors=len(app_provider._active_span_processor._span_processors),
        )
        """,
        env,
    )
    assert values == {"returned_is_app": True, "global_is_app": True, "app_saw": ["chat gpt-4o-mini"], "processors": 2}
    assert backend.errors == []
    assert len(backend.spans) == 1 and len(backend.traces) == 1
    (span,) = backend.spans.values()
    assert span["total_estimated_cost"] > 0  # priced, though the app's provider has random trace ids
    assert is_uuid_v7(span["trace_id"])


@pytest.mark.parametrize("value", ["true", "1"])
def test_opik_track_disable_exports_nothing(backend, env, value):
    env["OPIK_TRACK_DISABLE"] = value
    values, process = run_snippet(
        f"""
        import opik_otel
        url = {backend.url!r}
        provider = {configure_call()}
        opik_otel.OpikInstrumentor().instrument()
        response = chat(openai_client())
        opik_otel.flush()
        opik_otel.shutdown()
        report(provider=repr(provider), text=response.choices[0].message.content)
        """,
        env,
    )
    assert values == {"provider": "None", "text": CHAT_TEXT}  # the app still works
    assert backend.requests == []


def test_track_disable_after_configure_stops_exporting(backend, env):
    run_snippet(
        f"""
        import opik_otel
        url = {backend.url!r}
        {configure_call()}
        opik_otel.OpikInstrumentor().instrument()
        client = openai_client()
        chat(client, "one")
        opik_otel.flush()
        os.environ["OPIK_TRACK_DISABLE"] = "true"
        {configure_call()}
        chat(client, "two")
        opik_otel.flush()
        """,
        env,
    )
    assert len(backend.spans) == 1
    assert '"one"' in json.dumps(next(iter(backend.spans.values()))["input"])


def test_capture_content_off_keeps_prompts_out(backend, env):
    run_snippet(
        f"""
        import opik_otel
        url = {backend.url!r}
        {configure_call(capture_content="False")}
        opik_otel.OpikInstrumentor().instrument()
        chat(openai_client(), "a secret prompt")
        opik_otel.flush()
        """,
        env,
    )
    (span,) = backend.spans.values()
    assert "a secret prompt" not in json.dumps(span)
    assert CHAT_TEXT not in json.dumps(span)
    assert span["usage"]["prompt_tokens"] == 12  # everything else is still there


CONTENT_SWITCH_APP = """
import opik_otel
from opik_otel.instrumentors.openai import OpenAIInstrumentor
url = {url!r}
if {instrument_first}:
    OpenAIInstrumentor().instrument()  # before configure(): configure()'s decision still applies
{configure}
OpenAIInstrumentor().instrument()

@opik_otel.track
def ask(question):
    return chat(openai_client(), question).choices[0].message.content

ask("a secret prompt")
opik_otel.flush()
"""


@pytest.mark.parametrize(
    "variable, capture_content, instrument_first, expected",
    [
        ("SPAN_ONLY", "False", False, False),
        ("SPAN_ONLY", "False", True, False),
        ("NO_CONTENT", "True", True, True),
        ("NO_CONTENT", None, True, False),
        (None, None, True, True),
    ],
)
def test_content_switch_explicit_argument_then_variable_then_on(backend, env, variable, capture_content, instrument_first, expected):
    """`configure(capture_content=...)` beats the variable, which beats the default (on), for the
    instrumentor and `@track` alike, whether `instrument()` ran before `configure()` or after."""
    if variable:
        env["OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"] = variable
    extra = {"capture_content": capture_content} if capture_content else {}
    run_snippet(CONTENT_SWITCH_APP.format(url=backend.url, instrument_first=instrument_first, configure=configure_call(**extra)), env)

    assert backend.errors == []
    spans = {span["name"]: span for span in backend.spans.values()}
    assert sorted(spans) == ["ask", "chat gpt-4o-mini"]
    recorded = json.dumps(list(backend.spans.values()) + list(backend.traces.values()))
    assert ("a secret prompt" in recorded) is expected
    assert (CHAT_TEXT in recorded) is expected
    if expected:
        assert spans["ask"]["input"] == {"question": "a secret prompt"}
        assert spans["chat gpt-4o-mini"]["input"]["messages"][0]["parts"][0]["content"] == "a secret prompt"
    else:
        assert "input" not in spans["ask"]
        assert spans["chat gpt-4o-mini"]["usage"]["prompt_tokens"] == 12  # the span is there, without content


def test_instrument_and_uninstrument_restore_openai(env):
    values, _ = run_snippet(
        """
        import opik_otel
        import openai.resources.chat.completions as module
        original = module.Completions.create
        instrumentor = opik_otel.OpikInstrumentor()
        instrumentor.instrument()
        patched = module.Completions.create
        libraries = instrumentor.instrumented_libraries
        instrumentor.uninstrument()
        report(
            patched=patched is not original,
            wrapped=getattr(patched, "__wrapped__", None) is original,
            libraries=libraries,
            restored=module.Completions.create is original,
            instrumented_after=instrumentor.is_instrumented_by_opentelemetry,
        )
        """,
        env,
    )
    from opik_otel._registry import installed_integrations

    expected = list(dict.fromkeys(i.instrumentor for i in installed_integrations()))  # openai first, as in the registry
    assert values == {
        "patched": True,
        "wrapped": True,
        "libraries": expected,
        "restored": True,
        "instrumented_after": False,
    }


def test_uninstrument_through_a_new_instance_restores_openai(env):
    """Instrumentors are singletons: `OpikInstrumentor().uninstrument()` must undo an earlier
    `OpikInstrumentor().instrument()` (the usual OTel idiom), and instrument() again must work."""
    values, _ = run_snippet(
        """
        import opik_otel
        import openai.resources.chat.completions as module
        original = module.Completions.create
        opik_otel.OpikInstrumentor().instrument()
        patched = module.Completions.create is not original
        opik_otel.OpikInstrumentor().uninstrument()
        restored = module.Completions.create is original
        opik_otel.OpikInstrumentor().instrument()
        patched_again = module.Completions.create is not original
        report(patched=patched, restored=restored, patched_again=patched_again)
        """,
        env,
    )
    assert values == {"patched": True, "restored": True, "patched_again": True}


def test_uninstrumented_calls_are_not_traced(backend, env):
    run_snippet(
        f"""
        import opik_otel
        url = {backend.url!r}
        {configure_call()}
        instrumentor = opik_otel.OpikInstrumentor()
        instrumentor.instrument()
        client = openai_client()
        chat(client, "traced")
        instrumentor.uninstrument()
        chat(client, "not traced")
        opik_otel.flush()
        """,
        env,
    )
    assert len(backend.spans) == 1
    assert '"traced"' in json.dumps(next(iter(backend.spans.values()))["input"])


def test_no_configuration_stores_spans_locally(env, srv, tmp_path):
    values, process = run_snippet(
        """
        import socket
        connections = []
        _connect = socket.socket.connect
        def connect(self, address):
            connections.append(list(address) if isinstance(address, tuple) else address)
            return _connect(self, address)
        socket.socket.connect = connect

        import opik_otel
        provider = opik_otel.configure()
        opik_otel.OpikInstrumentor().instrument()
        client = openai_client()
        chat(client, "first")
        opik_otel.flush()
        chat(client, "second")
        opik_otel.flush()
        from opik_otel._configure import current_settings
        report(connections=connections, exporter=current_settings().resolved_exporter)
        """,
        env,
    )
    assert values["exporter"] == "local"
    # the only connections are the app's own calls to the (fake) OpenAI server
    assert values["connections"], "the socket spy saw nothing"
    assert all(address[:2] == ["127.0.0.1", srv.port] for address in values["connections"]), values["connections"]
    assert len(srv.requests) == 2

    store = tmp_path / "xdg" / "opik-otel"
    files = sorted(store.glob("traces-*.jsonl"))
    assert [f.name for f in files] == [f"traces-{datetime.now(timezone.utc):%Y-%m-%d}.jsonl"]
    assert re.fullmatch(r"traces-\d{4}-\d{2}-\d{2}\.jsonl", files[0].name)
    records = [json.loads(line) for line in files[0].read_text().splitlines()]
    traces = [r["record"] for r in records if r["kind"] == "trace"]
    spans = [r["record"] for r in records if r["kind"] == "span"]
    assert len(traces) == 2 and len(spans) == 2
    assert {s["trace_id"] for s in spans} == {t["id"] for t in traces}
    for span in spans:
        assert span["type"] == "llm"
        assert span["project_name"] == "Default Project"
        assert span["usage"]["prompt_tokens"] == 12
        assert span["total_estimated_cost"] > 0
        assert is_uuid_v7(span["id"]) and is_uuid_v7(span["trace_id"])

    notices = [line for line in process.stderr.splitlines() if "stored locally" in line]
    assert len(notices) == 1, process.stderr  # once, though two exports happened
    assert f"\n  {store}\n" in process.stderr  # the store folder, on a line of its own
