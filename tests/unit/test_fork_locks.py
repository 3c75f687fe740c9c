"""A forked child (gunicorn, multiprocessing, Celery prefork) never deadlocks on a lock that
another thread of the parent held at the fork: the id mapper's, the local store's, the
REST client's. Forks for real; the child reports through its exit code, and a child that
does not finish in time is killed and fails the test (a deadlock never hangs the suite)."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opik_otel._ids import OpikIdMapper, UuidV7IdGenerator, otel_to_opik_id
from opik_otel.exporters.local import LocalStoreExporter, load_traces
from opik_otel.exporters.opik import client as client_module
from opik_otel.exporters.opik.client import OpikRestClient
from tests.fakes.opik_backend import FakeOpikBackend

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")

FORKS = 30
CHILD_TIMEOUT_S = 5.0
DEADLOCKED = -1
FOREIGN = 0x0AF7651916CD43DD8448EB211C80319C


def run_in_fork(child: Callable[[], bool]) -> int:
    """The exit code of `child()` run in a forked child (0: True), or DEADLOCKED if it hung."""
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 2
        try:
            code = 0 if child() else 1
        finally:
            os._exit(code)
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return DEADLOCKED
        time.sleep(0.002)


def hammered(work: Callable[[], object]) -> Iterator[None]:
    """While inside, another thread calls `work()` in a loop (it holds its lock most of the time)."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.is_set():
            work()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        time.sleep(0.01)
        yield
    finally:
        stop.set()
        thread.join(5)


def forks_while(work: Callable[[], object], child: Callable[[], bool]) -> list[int]:
    """The exit codes of FORKS children started while another thread runs `work()` in a loop."""
    codes = []
    for _ in hammered(work):
        for _ in range(FORKS):
            codes.append(run_in_fork(child))
            if codes[-1] == DEADLOCKED:
                break
    return codes


def test_a_forked_child_maps_ids_while_another_thread_hammers_the_mapper():
    mapper = OpikIdMapper()
    counter = iter(range(1, 1 << 62))
    now_ns = time.time_ns()
    hour_ms = now_ns // 1_000_000 - now_ns // 1_000_000 % (3600 * 1000)
    expected = otel_to_opik_id(FOREIGN.to_bytes(16, "big"), hour_ms)

    codes = forks_while(lambda: mapper.trace_id(next(counter) << 64, now_ns),  # unstamped: the mapper's lock
                        lambda: mapper.trace_id(FOREIGN, now_ns) == expected)

    assert codes == [0] * FORKS


def one_span(name: str) -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(id_generator=UuidV7IdGenerator())
    provider.add_span_processor(SimpleSpanProcessor(memory))
    provider.get_tracer("fork").start_span(name).end()
    return list(memory.get_finished_spans())


def test_a_forked_child_writes_the_local_store_while_another_thread_writes_it(tmp_path):
    exporter = LocalStoreExporter(tmp_path)
    spans = one_span("in the parent")

    codes = forks_while(lambda: exporter.export(spans),
                        lambda: exporter.export(one_span("in the child")) is SpanExportResult.SUCCESS)

    assert codes == [0] * FORKS
    names = [entry["trace"]["name"] for entry in load_traces(tmp_path).values()]
    assert names.count("in the child") == FORKS


def test_a_forked_child_closes_and_uses_the_client_while_another_thread_closes_it(monkeypatch):
    monkeypatch.setattr(client_module, "_retry_delay", lambda headers, attempt: 0.0)
    with FakeOpikBackend() as gone:
        url = gone.url  # nothing listens there once the fake has stopped
    client = OpikRestClient(url, "k", None, timeout=0.5)

    def child() -> bool:
        client.close()  # what a forked worker's exporter does at its shutdown
        return client.send_spans([{"id": "x"}]) is False

    codes = forks_while(client.close, child)  # the parent's shutdown holds the client's event lock

    assert codes == [0] * FORKS
