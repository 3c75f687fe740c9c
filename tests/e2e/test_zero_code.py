"""The zero-code path: `opentelemetry-instrument python app.py` on an unmodified app, our distro and
configurator loaded through their entry points, spans delivered to the (fake) Opik back end at exit."""

from __future__ import annotations

import shutil
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from tests.e2e._helpers import clean_env, results, run
from tests.fakes.openai_server import CHAT_TEXT, FakeOpenAIServer
from tests.fakes.opik_backend import FakeOpikBackend, is_uuid_v7

API_KEY = "zero-code-api-key"
PROJECT = "zero-code"

PLAIN_APP = '''
import openai

client = openai.OpenAI(max_retries=0)  # OPENAI_BASE_URL / OPENAI_API_KEY from the environment
reply = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "plain call"}])
print("plain:", reply.choices[0].message.content)
stream = client.chat.completions.create(
    model="gpt-4o-mini",
    messages=[{"role": "user", "content": "streamed call"}],
    stream=True,
    stream_options={"include_usage": True},
)
text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
print("streamed:", text)
'''

PARENT_APP = '''
import json
import openai
from opentelemetry import trace

client = openai.OpenAI(max_retries=0)
with trace.get_tracer("app").start_as_current_span("handle_request") as span:
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "plain call"}])
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "streamed call"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    for _ in stream:
        pass
    context = span.get_span_context()
    print("RESULT " + json.dumps({"trace_id": format(context.trace_id, "032x"), "provider": type(trace.get_tracer_provider()).__name__}))
'''


def instrument_command() -> str:
    found = shutil.which("opentelemetry-instrument", path=str(Path(sys.executable).parent))
    command = found or str(Path(sys.executable).parent / "opentelemetry-instrument")
    if not Path(command).exists():
        pytest.skip("opentelemetry-instrument is not installed next to this interpreter")
    return command


def run_app(source: str, tmp_path: Path, backend: FakeOpikBackend, srv: FakeOpenAIServer, **extra: str | None):
    """Run `source` under `opentelemetry-instrument`; `extra` adds variables (None removes one)."""
    app = tmp_path / "app.py"
    app.write_text(textwrap.dedent(source))
    variables: dict[str, str | None] = {
        "OPENAI_BASE_URL": srv.base_url,
        "OPENAI_API_KEY": "sk-test-fake",
        "OPIK_URL_OVERRIDE": backend.url,
        "OPIK_API_KEY": API_KEY,
        "OPIK_PROJECT_NAME": PROJECT,
        "OTEL_SERVICE_NAME": "app",
        # opentelemetry-distro is installed too: pick ours explicitly
        "OTEL_PYTHON_DISTRO": "opik_otel",
        "OTEL_PYTHON_CONFIGURATOR": "opik_otel",
        # HTTP client instrumentations may be installed too (their spans under ours are tested elsewhere)
        "OTEL_PYTHON_DISABLED_INSTRUMENTATIONS": "httpx,httpx2,requests,urllib,urllib3,botocore,aiobotocore",
        **extra,
    }
    env = clean_env(tmp_path, **{name: value for name, value in variables.items() if value is not None})
    # The app exits on its own (the timeout would fail the test); nothing calls flush():
    # what the back end holds afterwards was delivered by the SDK's shutdown at exit.
    # 90 s: a framework app (DSPy, CrewAI import LiteLLM and more) compiles its modules on a fresh machine
    process = run([instrument_command(), sys.executable, str(app)], env, cwd=tmp_path, timeout=90)
    assert process.returncode == 0, f"{process.stdout}\n{process.stderr}"
    return process


def ours(stderr: str) -> list[str]:
    """opik-otel's lines on stderr (with opentelemetry-distro installed, opentelemetry-instrument
    also warns that one of the two configurators was not loaded)."""
    return [line for line in stderr.splitlines() if line.startswith("opik-otel")]


def assert_llm_span(span: dict, trace_id: str) -> None:
    assert span["type"] == "llm"
    assert span["name"] == "chat gpt-4o-mini"
    assert span["project_name"] == PROJECT
    assert span["trace_id"] == trace_id
    assert is_uuid_v7(span["id"])
    assert span["provider"] == "openai"
    assert span["model"] == "gpt-4o-mini"
    assert span["usage"]["prompt_tokens"] == 12
    assert span["usage"]["completion_tokens"] == 7
    assert span["usage"]["total_tokens"] == 19
    assert all(type(v) is int for v in span["usage"].values())
    assert span["total_estimated_cost"] > 0


def test_plain_app_two_calls_two_traces(tmp_path, backend, srv):
    process = run_app(PLAIN_APP, tmp_path, backend, srv)
    assert f"plain: {CHAT_TEXT}" in process.stdout
    assert f"streamed: {CHAT_TEXT}" in process.stdout
    assert len(srv.requests) == 2

    assert backend.errors == []
    assert len(backend.spans) == 2, backend.spans
    assert len(backend.traces) == 2
    for span in backend.spans.values():
        assert "parent_span_id" not in span  # each call is a root
        assert span["trace_id"] in backend.traces
        assert_llm_span(span, span["trace_id"])
    for trace in backend.traces.values():
        assert is_uuid_v7(trace["id"])
        assert trace["project_name"] == PROJECT
    names = sorted(s["input"]["messages"][0]["parts"][0]["content"] for s in backend.spans.values())
    assert names == ["plain call", "streamed call"]
    streamed = next(s for s in backend.spans.values() if "streamed call" in str(s["input"]))
    assert CHAT_TEXT in str(streamed["output"])

    batches = [r for r in backend.requests if r.path.endswith("/batch")]
    assert batches and all(r.headers["authorization"] == API_KEY for r in batches)
    assert API_KEY not in process.stdout + process.stderr


def test_app_with_a_parent_span_one_trace_three_spans(tmp_path, backend, srv):
    process = run_app(PARENT_APP, tmp_path, backend, srv)
    values = results(process.stdout)
    assert values["provider"] == "TracerProvider"  # our configurator set the SDK's provider

    assert backend.errors == []
    assert len(backend.traces) == 1
    assert len(backend.spans) == 3
    (trace,) = backend.traces.values()
    # UUID v7 trace ids: the Opik trace id is the OTel trace id verbatim
    assert uuid.UUID(trace["id"]).hex == values["trace_id"]
    assert trace["name"] == "handle_request"
    assert trace["project_name"] == PROJECT

    parents = [s for s in backend.spans.values() if s["name"] == "handle_request"]
    assert len(parents) == 1
    parent = parents[0]
    assert "parent_span_id" not in parent
    assert parent["type"] == "general"
    assert parent["trace_id"] == trace["id"]
    assert "total_estimated_cost" not in parent  # cost stays on the billed calls

    children = [s for s in backend.spans.values() if s is not parent]
    assert len(children) == 2
    for child in children:
        assert child["parent_span_id"] == parent["id"]
        assert_llm_span(child, trace["id"])


def test_track_disable_in_zero_code_exports_nothing(tmp_path, backend, srv):
    process = run_app(PLAIN_APP, tmp_path, backend, srv, OPIK_TRACK_DISABLE="true")
    assert f"streamed: {CHAT_TEXT}" in process.stdout  # the app is unaffected
    assert backend.requests == []


@pytest.mark.parametrize("variable, value", [("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "0"), ("OTEL_BSP_SCHEDULE_DELAY", "0"), ("OPIK_TRACK_DISABLE", "span_only")])
def test_invalid_setting_is_one_line_naming_the_variable_and_the_app_runs(tmp_path, backend, srv, variable, value):
    process = run_app(PLAIN_APP, tmp_path, backend, srv, **{variable: value})
    assert f"streamed: {CHAT_TEXT}" in process.stdout
    (line,) = ours(process.stderr)  # one line, no traceback
    assert "Traceback" not in process.stderr
    assert line.startswith(f"opik-otel: tracing is off: invalid setting: env {variable} (")
    assert "argument" not in line and "configure(" not in line  # the app never called configure()
    assert backend.requests == []


def test_batch_size_above_1000_is_clamped_not_rejected(tmp_path, backend, srv):
    """2048 is valid for the SDK: tracing stays on (the Opik client splits at 1,000 anyway)."""
    process = run_app(PLAIN_APP, tmp_path, backend, srv, OTEL_BSP_MAX_EXPORT_BATCH_SIZE="2048")
    assert ours(process.stderr) == []
    assert backend.errors == []
    assert len(backend.spans) == 2


def test_otel_traces_exporter_console_is_honoured(tmp_path, backend, srv):
    process = run_app(PLAIN_APP, tmp_path, backend, srv, OTEL_TRACES_EXPORTER="console", OPIK_URL_OVERRIDE=None, OPIK_API_KEY=None)
    assert f"streamed: {CHAT_TEXT}" in process.stdout
    assert process.stdout.count('"name": "chat gpt-4o-mini"') == 2  # the SDK's console exporter's JSON
    assert backend.requests == []
    assert not (tmp_path / "xdg" / "opik-otel").exists()  # not the local store


# --- another distro installed: opentelemetry-distro's distro is "distro", its configurator "configurator" ---


@pytest.mark.parametrize("configurator", ["configurator", None])  # ours: every other test
def test_our_distro_wins_whichever_configurator_is_picked(tmp_path, backend, srv, configurator):
    """`opentelemetry-instrument` runs the distro, then the first configurator (or the one named by
    OTEL_PYTHON_CONFIGURATOR): with ours as the distro, spans reach Opik whichever that is."""
    process = run_app(PARENT_APP, tmp_path, backend, srv, OTEL_PYTHON_CONFIGURATOR=configurator)
    values = results(process.stdout)
    assert values["provider"] == "TracerProvider"
    assert backend.errors == []
    assert len(backend.spans) == 3
    (trace,) = backend.traces.values()
    assert uuid.UUID(trace["id"]).hex == values["trace_id"]  # our provider (UUID v7 trace ids), not the other one's
    assert ours(process.stderr) == []


def test_another_distro_with_our_configurator_says_what_to_set(tmp_path, backend, srv):
    process = run_app(PLAIN_APP, tmp_path, backend, srv, OTEL_PYTHON_DISTRO="distro", OTEL_TRACES_EXPORTER="none")
    assert f"streamed: {CHAT_TEXT}" in process.stdout
    assert ours(process.stderr) == [
        "opik-otel: another OpenTelemetry distro was loaded, so its defaults apply (opentelemetry-distro's sets "
        "OTEL_TRACES_EXPORTER=otlp); set OTEL_PYTHON_DISTRO=opik_otel to use opik-otel's"
    ]
