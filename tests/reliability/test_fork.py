"""Safe after `fork()` (gunicorn, multiprocessing, Celery prefork): a child gets an empty queue and
a worker of its own, fresh locks, its own view of the back end, and loads the price table itself.
Every test forks for real; a child that hangs (a deadlock) is killed and fails the test."""

from __future__ import annotations

import gc
import json
import os
import select
import signal
import threading
import time
import weakref
from textwrap import dedent
from typing import Any, Callable

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from opik_otel._batch import OpikBatchSpanProcessor
from opik_otel._ids import UuidV7IdGenerator
from tests.reliability.test_batch import Recording, end_spans, tracer_with

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork() on this platform")

CHILD_TIMEOUT_S = 8.0


def in_child(body: Callable[[], Any], timeout: float = CHILD_TIMEOUT_S) -> Any:
    """Run `body()` in a forked child and return its (JSON) result, sent back through a pipe.
    A child still running after `timeout` is killed and the test fails."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 0
        try:
            os.close(read_end)
            payload = json.dumps({"result": body()})
        except BaseException as error:  # noqa: BLE001 - reported to the parent
            payload, code = json.dumps({"error": repr(error)}), 1
        data = payload.encode()
        while data:
            data = data[os.write(write_end, data):]
        os._exit(code)
    os.close(write_end)
    chunks, deadline = [], time.monotonic() + timeout
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                os.kill(pid, signal.SIGKILL)
                pytest.fail(f"the forked child did not finish within {timeout} s (deadlocked?)")
            if select.select([read_end], [], [], remaining)[0]:
                chunk = os.read(read_end, 65536)
                if not chunk:
                    break
                chunks.append(chunk)
    finally:
        os.close(read_end)
        os.waitpid(pid, 0)
    outcome = json.loads(b"".join(chunks) or b'{"error": "no result"}')
    if "error" in outcome:
        pytest.fail(f"in the forked child: {outcome['error']}")
    return outcome["result"]


def held(lock: threading.Lock) -> threading.Event:
    """Hold `lock` on another thread (as a worker would be, mid-work, at the fork) until the event is set."""
    taken, release = threading.Event(), threading.Event()

    def hold() -> None:
        with lock:
            taken.set()
            release.wait(30)

    threading.Thread(target=hold, daemon=True).start()
    assert taken.wait(5)
    return release


def test_a_child_starts_with_an_empty_queue_and_its_own_worker():
    exporter = Recording()
    processor = OpikBatchSpanProcessor(exporter, schedule_delay_millis=60_000)
    tracer = tracer_with(processor)
    end_spans(tracer, 5, "parent")  # queued in the parent at the fork

    def child():
        flushed_before = processor.force_flush(2000)  # before the child ends any span of its own
        end_spans(tracer, 3, "child")
        return {"flushed_before": flushed_before, "flushed": processor.force_flush(5000), "exported": exporter.names}

    assert in_child(child) == {"flushed_before": True, "flushed": True, "exported": ["child0", "child1", "child2"]}
    assert processor.force_flush(5000)
    assert exporter.names == [f"parent{i}" for i in range(5)]  # the parent loses nothing
    processor.shutdown()


def test_a_child_forked_mid_export_exports_its_own_spans():
    pytest.importorskip("opik")
    from opik_otel.exporters.opik import OpikSpanExporter
    from tests.fakes.opik_backend import FakeOpikBackend

    with FakeOpikBackend() as backend:
        backend.slow(2, times=1, store_first=True)  # the parent's export hangs, holding the exporter's lock
        exporter = OpikSpanExporter(url=backend.url, api_key="k", workspace="ws", project_name="fork")
        processor = OpikBatchSpanProcessor(exporter, schedule_delay_millis=10)
        provider = TracerProvider(id_generator=UuidV7IdGenerator(), shutdown_on_exit=False)
        provider.add_span_processor(processor)
        tracer = provider.get_tracer("fork")
        tracer.start_span("parent").end()
        assert backend.wait_for(lambda b: len(b.requests) == 1, 5)  # the parent's worker is inside export now

        def child():
            tracer.start_span("child").end()
            return processor.force_flush(5000)

        assert in_child(child) is True
        assert backend.wait_for(lambda b: b.span_count == 2, 5), backend.stats()
        assert sorted(span["name"] for span in backend.spans.values()) == ["child", "parent"]
        processor.shutdown()


def test_a_child_probes_a_back_end_the_parent_found_down(tmp_path, monkeypatch):
    pytest.importorskip("opik")
    import opik_otel.exporters.opik.client as client_module
    import opik_otel.exporters.opik.exporter as exporter_module
    from opik_otel.exporters.opik import OpikSpanExporter
    from tests.fakes.opik_backend import FakeOpikBackend

    monkeypatch.setattr(exporter_module, "PROBE_INTERVAL_S", 600.0)
    monkeypatch.setattr(client_module, "_retry_delay", lambda headers, attempt: 0.01)
    with FakeOpikBackend() as backend:
        url = backend.url
        backend.stop()
        exporter = OpikSpanExporter(url=url, workspace="ws", spool_dir=str(tmp_path))
        provider = TracerProvider(id_generator=UuidV7IdGenerator(), shutdown_on_exit=False)
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracer = provider.get_tracer("fork")
        tracer.start_span("parent").end()  # refused: spooled, and the back end is down for the next 10 minutes
        assert exporter._down() and exporter.spool.pending() == 2
        backend.start()

        def child():
            tracer.start_span("child").end()
            return exporter.spool.pending()

        assert in_child(child) == 0  # the child sent its span, then replayed the spool
        assert sorted(span["name"] for span in backend.spans.values()) == ["child", "parent"]


def test_a_spool_lock_held_at_the_fork_does_not_block_the_child(tmp_path):
    from opik_otel.exporters.opik.spool import Spool

    spool = Spool(tmp_path, max_bytes=10_000)
    spool.put("spans", 1, b"old")
    release_writer, release_replayer = held(spool._lock), held(spool._replay_lock)  # a write and a replay under way
    try:
        def child():
            sent = []
            written = spool.put("spans", 2, b"new")
            return {"written": written, "replayed": spool.replay(lambda kind, body: sent.append(body.decode()) or True),
                    "sent": sent}

        assert in_child(child) == {"written": True, "replayed": 2, "sent": ["old", "new"]}
    finally:
        release_writer.set()
        release_replayer.set()


def test_a_price_book_lock_held_at_the_fork_does_not_block_the_child():
    from opik_otel._pricing import PriceBook, TokenUsage

    book = PriceBook()
    release = held(book._lock)
    try:
        cost = in_child(lambda: book.cost("openai", "gpt-4o-mini", TokenUsage(input=1_000_000, output=1_000_000)))
    finally:
        release.set()
    assert cost == book.cost("openai", "gpt-4o-mini", TokenUsage(input=1_000_000, output=1_000_000))
    assert cost is not None and cost > 0


CHILD_REPORT = f"""
deadline = time.monotonic() + {CHILD_TIMEOUT_S}
while True:
    done, status = os.waitpid(pid, os.WNOHANG)
    if done or time.monotonic() > deadline:
        break
    time.sleep(0.02)
if not done:
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
"""


def test_a_child_forked_while_prices_load_can_price(tmp_path):
    from tests.e2e._helpers import clean_env, run_snippet

    values, _ = run_snippet(
        dedent("""
        import os, signal, time
        from opik_otel import _pricing

        _pricing.warm_up()  # the price data starts loading on its thread …
        pid = os.fork()  # … and the process forks at once, in the middle of it
        if pid == 0:
            ready = _pricing.wait_ready(5)
            cost = _pricing.PriceBook().cost("openai", "gpt-4o-mini", _pricing.TokenUsage(input=1_000_000, output=1_000_000))
            os._exit(0 if ready and cost and cost > 0 else 3)
        """) + CHILD_REPORT + dedent("""
        report(child=os.waitstatus_to_exitcode(status) if done else "hung")
        """),
        clean_env(tmp_path),
    )
    assert values == {"child": 0}


def test_a_child_forked_while_a_slow_load_goes_on_loads_the_prices_itself(tmp_path):
    from tests.e2e._helpers import clean_env, run_snippet

    values, _ = run_snippet(
        dedent("""
        import os, signal, threading, time
        from genai_prices import data_snapshot
        from opik_otel import _pricing

        real, loading, release = data_snapshot.get_snapshot, threading.Event(), threading.Event()

        def slow_load():
            loading.set()
            release.wait()  # the parent's load is still under way when the fork stops waiting for it
            return real()

        data_snapshot.get_snapshot = slow_load
        _pricing._FORK_WAIT_S = 0.2
        ran_in = []
        _pricing.when_ready(lambda: ran_in.append(os.getpid()))  # e.g. spans held until their price is known
        assert loading.wait(5)
        pid = os.fork()
        if pid == 0:
            release.set()  # the child's own copy: its own load is not held up
            ready = _pricing.wait_ready(5)
            os._exit(0 if ready and ran_in == [os.getpid()] else 3)
        """) + CHILD_REPORT + dedent("""
        release.set()
        report(child=os.waitstatus_to_exitcode(status) if done else "hung", parent_ready=_pricing.wait_ready(5),
               parent_callbacks=len(ran_in))
        """),
        clean_env(tmp_path),
    )
    assert values == {"child": 0, "parent_ready": True, "parent_callbacks": 1}


def test_the_fork_hooks_keep_nothing_alive(tmp_path):
    from opik_otel.exporters.opik import OpikSpanExporter

    processor = OpikBatchSpanProcessor(Recording(), schedule_delay_millis=10)
    processor.shutdown()
    processor._worker.join(5)
    exporter = OpikSpanExporter(url="http://127.0.0.1:9/api/", workspace="ws", spool_dir=str(tmp_path))
    refs = [weakref.ref(processor), weakref.ref(exporter), weakref.ref(exporter.spool)]
    del processor, exporter
    gc.collect()
    assert [ref() for ref in refs] == [None, None, None]


def test_a_child_does_not_hand_on_spans_the_parent_held_for_their_price(monkeypatch):
    """`UsageCostSpanProcessor` holds spans that ended before the price data loaded; a child
    forked meanwhile hands on only its own (the parent's are the parent's to export)."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from opik_otel import _processor
    from opik_otel._processor import UsageCostSpanProcessor

    PRICED = {"gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 10}
    monkeypatch.setattr(_processor, "prices_ready", lambda: False)  # the price data is still loading
    monkeypatch.setattr(_processor, "when_ready", lambda callback: None)  # … and will not be ready in this test
    exporter = Recording()
    processor = UsageCostSpanProcessor(SimpleSpanProcessor(exporter))
    tracer = tracer_with(processor)
    for index in range(3):
        tracer.start_span(f"parent{index}", attributes=PRICED).end()
    assert exporter.names == []  # held for their price

    def child():
        monkeypatch.setattr(_processor, "wait_ready", lambda timeout: True)
        tracer.start_span("child0", attributes=PRICED).end()
        processor.force_flush(2000)
        return exporter.names

    assert in_child(child) == ["child0"]
    monkeypatch.setattr(_processor, "wait_ready", lambda timeout: True)
    processor.force_flush(2000)
    assert exporter.names == ["parent0", "parent1", "parent2"]


def test_opik_otel_imports_and_configures_where_there_is_no_fork(tmp_path):
    """On a platform without `os.register_at_fork` (Windows) the fork hooks are skipped, not an error."""
    from tests.e2e._helpers import clean_env, run_snippet

    values, _ = run_snippet(
        dedent("""
        import os
        del os.register_at_fork, os.fork  # as on Windows (the standard library checks for os.fork)
        import opik_otel
        from opik_otel.exporters.opik import OpikSpanExporter
        from opik_otel.exporters.local import LocalStoreExporter
        opik_otel.configure()
        report(configured=True)
        """),
        clean_env(tmp_path),
    )
    assert values == {"configured": True}


def test_fork_hooks_of_objects_gone_are_forgotten():
    """Each configure() builds new processors and exporters: their hooks must not pile up."""
    from opik_otel import _runtime

    def hooks_now() -> int:
        gc.collect()
        OpikBatchSpanProcessor(Recording(), schedule_delay_millis=60_000).shutdown()  # registering prunes
        return len(_runtime._fork_hooks)

    before = hooks_now()  # other tests' objects still alive keep theirs
    for _ in range(200):
        OpikBatchSpanProcessor(Recording(), schedule_delay_millis=60_000).shutdown()
    assert hooks_now() <= before + 1
