"""Distributed traces across two real processes, checked at the fake Opik back end.

Service B (`_distributed_app.py serve`) is a stdlib HTTP server on loopback whose POST /work
continues the trace from the request headers and runs a tracked `handle` (calling a tracked
`step`). Process A (`_distributed_app.py call`) runs a tracked `request` -> `call_b`, which
POSTs to B with its distributed headers. Each side is opik-otel or the plain Opik SDK; in
every combination the back end must hold one trace: request -> call_b -> handle -> step.
"""

from __future__ import annotations

import http.client
import json
import queue
import subprocess
import sys
import threading
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.e2e._helpers import ROOT, clean_env, results, run
from tests.fakes.opik_backend import FakeOpikBackend, is_uuid_v7

APP = Path(__file__).with_name("_distributed_app.py")
API_KEY = "opik-dist-key-123"
WORKSPACE = "dist-ws"
PROJECT = "distributed-e2e"
CASE1_DUMP = Path("/tmp/distributed_trace_case1.json")
B_START_TIMEOUT = 30
A_TIMEOUT = 40
NAMES = ("request", "call_b", "handle", "step")


def sdk_env(tmp_path: Path, backend: FakeOpikBackend, sdk: str, side: str) -> dict[str, str]:
    """opik-otel gets the back end as explicit `configure()` arguments; the Opik SDK by its OPIK_* variables."""
    home = tmp_path / side
    home.mkdir(exist_ok=True)
    if sdk in ("otel", "otel-inject"):
        extra = {"FAKE_OPIK_URL": backend.url, "FAKE_OPIK_API_KEY": API_KEY, "FAKE_OPIK_WORKSPACE": WORKSPACE, "FAKE_OPIK_PROJECT": PROJECT}
    else:
        extra = {"OPIK_URL_OVERRIDE": backend.url.rstrip("/"), "OPIK_API_KEY": API_KEY, "OPIK_WORKSPACE": WORKSPACE, "OPIK_PROJECT_NAME": PROJECT}
    return clean_env(home, **extra)


class ServiceB:
    """`_distributed_app.py serve <sdk> <how>` in a subprocess; always stopped (killed if need be)."""

    def __init__(self, sdk: str, how: str, env: dict[str, str], tmp_path: Path) -> None:
        self.stderr_path = tmp_path / f"service-b-{sdk}-{how}.err"
        self._stderr = self.stderr_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, str(APP), "serve", sdk, how], env=env, cwd=ROOT,
            stdout=subprocess.PIPE, stderr=self._stderr, text=True,
        )
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.port = self._wait_for_port()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            self._queue.put(line)
        self._queue.put(None)

    def _wait_for_port(self) -> int:
        try:
            while True:
                line = self._queue.get(timeout=B_START_TIMEOUT)
                if line is None:
                    raise AssertionError(f"service B exited before serving:\n{self.output()}")
                if line.startswith("PORT "):
                    return int(line.split()[1])
        except queue.Empty:
            self.stop()
            raise AssertionError(f"service B did not print its port within {B_START_TIMEOUT}s:\n{self.output()}") from None
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Ask B to shut down (it flushes again), then wait; kill it if it hangs."""
        if self.process.poll() is None and getattr(self, "port", None):
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("POST", "/shutdown", body=b"")
                connection.getresponse().read()
                connection.close()
            except OSError:
                pass
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self._reader.join(timeout=5)
        self._stderr.close()

    def output(self) -> str:
        if not self._stderr.closed:
            self._stderr.flush()
        return "--- B stdout\n" + "\n".join(self.lines) + "\n--- B stderr\n" + self.stderr_path.read_text()


def run_case(backend: FakeOpikBackend, tmp_path: Path, a_sdk: str, b_sdk: str, how: str) -> dict[str, Any]:
    """Start B, run A against it, stop B; return A's reported values and the debugging output."""
    service = ServiceB(b_sdk, how, sdk_env(tmp_path, backend, b_sdk, "b"), tmp_path)
    try:
        a = run([sys.executable, str(APP), "call", a_sdk, str(service.port)], sdk_env(tmp_path, backend, a_sdk, "a"), timeout=A_TIMEOUT)
    finally:
        service.stop()
    out = f"--- A (rc={a.returncode}) stdout\n{a.stdout}\n--- A stderr\n{a.stderr}\n{service.output()}\n--- B rc={service.process.returncode}"
    assert a.returncode == 0, f"process A failed\n{out}\n{describe(backend)}"
    assert service.process.returncode == 0 and "BYE" in service.lines, f"service B did not exit cleanly\n{out}"
    assert "Traceback" not in a.stderr + service.stderr_path.read_text(), out
    values = results(a.stdout)
    values["debug"] = out
    return values


def describe(backend: FakeOpikBackend) -> str:
    lines = [f"errors: {backend.errors}", f"duplicates: {backend.duplicates}"]
    for trace in backend.traces.values():
        lines.append(f"trace {trace['id']} name={trace.get('name')} project={trace.get('project_name')}")
    for span in sorted(backend.spans.values(), key=lambda s: s.get("start_time", "")):
        lines.append(
            f"span {span.get('name'):8} id={span['id']} trace={span.get('trace_id')} "
            f"parent={span.get('parent_span_id')} project={span.get('project_name')} source={span.get('source')}"
        )
    lines += [f"request {r.status} {r.path}" for r in backend.requests]
    return "\n".join(lines)


def check_one_trace(backend: FakeOpikBackend, values: dict[str, Any], a_sdk: str, b_sdk: str) -> tuple[dict, dict[str, dict]]:
    """The back end holds one trace: request -> call_b -> (over HTTP) handle -> step. Returns (trace, spans by name)."""
    backend.wait_for(lambda b: len(b.spans) >= len(NAMES) and b.traces, timeout=5)
    debug = f"{describe(backend)}\n{values.get('debug', '')}"
    assert backend.errors == [], debug
    assert values.get("result") == {"doubled": 42}, debug
    assert values.get("status") == 200 and values["reply"]["flushed"] is True and values.get("flushed") is True, debug

    assert len(backend.traces) == 1, f"expected exactly one trace\n{debug}"
    (trace,) = backend.traces.values()
    assert len(backend.spans) == len(NAMES), f"expected exactly {len(NAMES)} spans\n{debug}"
    spans = {span["name"]: span for span in backend.spans.values()}
    assert sorted(spans) == sorted(NAMES), debug
    request, call_b, handle, step = (spans[name] for name in NAMES)

    assert is_uuid_v7(trace["id"]), debug
    assert trace["name"] == "request" and trace["project_name"] == PROJECT, debug
    assert "end_time" in trace, debug
    assert {span["trace_id"] for span in spans.values()} == {trace["id"]}, f"spans in another trace\n{debug}"
    assert {span["project_name"] for span in spans.values()} == {PROJECT}, debug
    assert all("end_time" in span for span in spans.values()), debug

    assert "parent_span_id" not in request, debug
    assert call_b["parent_span_id"] == request["id"], debug
    assert handle.get("parent_span_id") == call_b["id"], f"B's root span is not under A's call_b\n{debug}"
    assert step["parent_span_id"] == handle["id"], debug

    # What A sent names call_b exactly as the back end stored it.
    sent = values["sent_headers"]
    assert sent["opik_trace_id"] == trace["id"] and sent["opik_parent_span_id"] == call_b["id"], f"{sent}\n{debug}"
    received = values["reply"]["received_headers"]
    assert all(received.get(key) == value for key, value in sent.items()), f"headers changed in transit: {received}\n{debug}"

    # B ran inside A's call_b, and each span came from the SDK of its side.
    def when(span: dict, key: str) -> datetime:
        return datetime.fromisoformat(span[key].replace("Z", "+00:00"))

    assert when(call_b, "start_time") <= when(handle, "start_time") <= when(handle, "end_time") <= when(call_b, "end_time"), debug
    for names, sdk in (((request, call_b), a_sdk), ((handle, step), b_sdk)):
        for span in names:
            if sdk == "otel":
                assert span["metadata"]["created_from"] == "opik-otel" and "source" not in span, f"{span['name']}\n{debug}"
            else:
                assert span.get("source") == "sdk" and (span.get("metadata") or {}).get("created_from") != "opik-otel", f"{span['name']}\n{debug}"
    return trace, spans


def test_opik_otel_to_opik_otel_with_continue_distributed_trace(backend, tmp_path):
    values = run_case(backend, tmp_path, "otel", "otel", "continue")
    trace, spans = check_one_trace(backend, values, "otel", "otel")

    # The W3C form carries the same ids: the OTel trace id is the Opik trace id (UUID v7), and
    # the trace state tells B that its parent is in Opik.
    sent = values["sent_headers"]
    version, trace_hex, span_hex, flags = sent["traceparent"].split("-")
    # sampled, plus the W3C level-2 "random-trace-id" flag (the low 56 bits of a UUID v7 id are random)
    assert version == "00" and flags == "03" and len(span_hex) == 16
    assert str(uuid.UUID(trace_hex)) == trace["id"]
    assert f"opik={uuid.UUID(trace['id']).hex}" in sent["tracestate"].split(",")
    assert backend.duplicates == 0, describe(backend)

    CASE1_DUMP.write_text(json.dumps(
        {"traces": list(backend.traces.values()), "spans": sorted(backend.spans.values(), key=lambda s: s["start_time"])},
        indent=2,
    ))


def test_opik_otel_to_opik_otel_with_the_standard_propagator(backend, tmp_path):
    values = run_case(backend, tmp_path, "otel", "otel", "propagate")
    trace, _ = check_one_trace(backend, values, "otel", "otel")
    assert str(uuid.UUID(values["sent_headers"]["traceparent"].split("-")[1])) == trace["id"]
    assert backend.duplicates == 0, describe(backend)


def test_an_app_provider_and_an_http_client_instrumentation_still_say_the_parent_is_in_opik(backend, tmp_path):
    # A: the app built its TracerProvider (random trace ids), configure() added our pipeline, and the
    # headers are what `propagate.inject` writes. The `opik` entry in `tracestate` is what keeps B's
    # root under A's call_b: without it B would start a trace of its own.
    values = run_case(backend, tmp_path, "otel-inject", "otel", "propagate")
    trace, _ = check_one_trace(backend, values, "otel", "otel")
    sent = values["sent_headers"]
    assert sent["tracestate"] == f"opik={uuid.UUID(trace['id']).hex}"
    assert sent["opik_trace_id"] == trace["id"]
    assert backend.duplicates == 0, describe(backend)


@pytest.mark.parametrize("how", ["kwarg", "continue"])
def test_opik_sdk_to_opik_otel(backend, tmp_path, how):
    values = run_case(backend, tmp_path, "opik", "otel", how)
    assert set(values["sent_headers"]) == {"opik_trace_id", "opik_parent_span_id"}
    check_one_trace(backend, values, "opik", "otel")


def test_opik_otel_to_opik_sdk(backend, tmp_path):
    values = run_case(backend, tmp_path, "otel", "opik", "kwarg")
    check_one_trace(backend, values, "otel", "opik")
