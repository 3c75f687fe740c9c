"""Fault injection: for each way the Opik back end can fail, every span the app ended is stored
exactly once — delivered through retries, or spooled and replayed (by this exporter once the
back end answers again, or by the next process that starts with the same spool folder).

The table of spans sent vs stored per fault is written to `reliability-faults.md` in pytest's
temporary base folder (and printed with `-s`)."""

from __future__ import annotations

import time

import pytest
from opentelemetry.sdk.trace import TracerProvider

import opik_otel.exporters.opik.client as client_module
import opik_otel.exporters.opik.exporter as exporter_module
from opik_otel import UsageCostSpanProcessor
from opik_otel._batch import OpikBatchSpanProcessor
from opik_otel._ids import UuidV7IdGenerator
from opik_otel.exporters.opik import OpikSpanExporter
from tests.fakes.opik_backend import FakeOpikBackend

TRACES, SPANS_PER_TRACE = 20, 3
RESULTS: list[tuple[str, int, int, int, int, str]] = []


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch):
    real = client_module._retry_delay
    monkeypatch.setattr(client_module, "_retry_delay", lambda headers, attempt: min(real(headers, attempt), 1.0) if headers else 0.01)
    monkeypatch.setattr(exporter_module, "PROBE_INTERVAL_S", 0.05)


@pytest.fixture
def backend():
    with FakeOpikBackend() as backend:
        yield backend


class App:
    """A process's pipeline: processor → batch processor → Opik exporter with a spool folder."""

    def __init__(self, backend, spool_dir, api_key="key", timeout=2.0, shutdown_timeout_millis=3000):
        self.exporter = OpikSpanExporter(url=f"http://127.0.0.1:{backend.port}/api/", api_key=api_key, workspace="ws",
                                         project_name="faults", timeout=timeout, spool_dir=str(spool_dir))
        self.batch = OpikBatchSpanProcessor(self.exporter, max_export_batch_size=25, schedule_delay_millis=50,
                                            shutdown_timeout_millis=shutdown_timeout_millis)
        self.provider = TracerProvider(id_generator=UuidV7IdGenerator(), shutdown_on_exit=False)
        self.provider.add_span_processor(UsageCostSpanProcessor(self.batch))
        self.sent: set[int] = set()

    def run_traces(self, traces=TRACES, content="", flush_timeout_millis=30_000):
        """End `traces` traces and flush: a flush probes a back end that is down until its deadline."""
        tracer = self.provider.get_tracer("faults")
        for index in range(traces):
            with tracer.start_as_current_span(f"trace-{index}", attributes={"input.value": content or f'{{"i":{index}}}'}) as root:
                self.sent.add(root.get_span_context().span_id)
                for child in range(SPANS_PER_TRACE - 1):
                    with tracer.start_as_current_span(f"child-{child}") as span:
                        self.sent.add(span.get_span_context().span_id)
        assert self.provider.force_flush(flush_timeout_millis)

    def close(self):
        self.provider.shutdown()

    def spooled_items(self):
        return sum(batch.items for batch in self.exporter.spool.batches())


def settle(backend, expected, timeout=15.0):
    assert backend.wait_for(lambda b: b.span_count >= expected and b.trace_count >= TRACES, timeout), (backend.span_count, backend.stats())


def check(name, backend, app, spooled_then_replayed=0, note=""):
    sent = len(app.sent)
    assert backend.span_count == sent, f"{name}: {backend.span_count} stored of {sent} sent"
    assert backend.trace_count == TRACES
    assert backend.errors == []
    assert app.spooled_items() == 0
    RESULTS.append((name, sent, backend.span_count, spooled_then_replayed, backend.duplicates, note or str(backend.stats())))


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_5xx_bursts_are_retried(backend, tmp_path, status):
    backend.fail_next(status, times=3)
    app = App(backend, tmp_path)
    app.run_traces()
    settle(backend, len(app.sent))
    check(f"{status} burst (3 answers)", backend, app)
    app.close()


@pytest.mark.parametrize("header", ["Retry-After", "RateLimit-Reset"])
def test_429_waits_as_told(backend, tmp_path, header):
    backend.fail_next(429, times=2, headers={header: "0.3"})
    app = App(backend, tmp_path)
    started = time.monotonic()
    app.run_traces()
    settle(backend, len(app.sent))
    assert time.monotonic() - started >= 0.6  # two waits of 0.3 s
    check(f"429 + {header}: 0.3", backend, app)
    app.close()


def test_409_counts_as_delivered(backend, tmp_path):
    backend.fail_next(409, times=2, store=True)
    app = App(backend, tmp_path)
    app.run_traces()
    settle(backend, len(app.sent))
    check("409 (stored, conflict answered)", backend, app)
    app.close()


def test_401_keeps_batches_until_the_key_is_fixed(backend, tmp_path):
    backend.fail_next(401, times=1000)
    app = App(backend, tmp_path, api_key="wrong", shutdown_timeout_millis=1000)
    app.run_traces(flush_timeout_millis=2000)
    spooled = app.spooled_items()
    assert spooled == TRACES * SPANS_PER_TRACE + TRACES  # spans and traces, all kept
    assert backend.span_count == 0
    app.close()
    backend.reset()  # the key is fixed: the next process replays the spool at start
    fixed = App(backend, tmp_path)
    fixed.sent = app.sent
    settle(backend, len(app.sent))
    check("401 (then the key fixed; next process)", backend, fixed, spooled)
    fixed.close()


def test_413_splits_batches_and_cuts_an_oversized_item(backend, tmp_path):
    backend.max_body_bytes = 40_000
    app = App(backend, tmp_path)
    app.run_traces(content='{"text": "' + "x" * 60_000 + '"}')
    settle(backend, len(app.sent))
    stored_inputs = [s["input"] for s in backend.spans.values() if s["name"].startswith("trace-")]
    assert all("cut" in str(value) for value in stored_inputs)  # the oversized inputs were cut with a marker
    check("413 (batch split, item content cut)", backend, app, note=str(backend.stats()))
    app.close()


def test_slow_answers_time_out_and_the_retry_is_idempotent(backend, tmp_path):
    backend.slow(1.5, times=2, store_first=True)
    app = App(backend, tmp_path, timeout=0.5)
    app.run_traces()
    settle(backend, len(app.sent))
    assert backend.duplicates > 0  # stored, answered late, sent again: upserted, not duplicated
    check("slow answers (1.5 s > 0.5 s timeout)", backend, app)
    app.close()


def test_connection_dropped_mid_body(backend, tmp_path):
    backend.drop_next(times=3, after_bytes=64)
    app = App(backend, tmp_path)
    app.run_traces()
    settle(backend, len(app.sent))
    check("connection dropped mid-body (×3)", backend, app)
    app.close()


def test_refused_connections_then_restart_replays_the_spool(backend, tmp_path):
    backend.stop()  # refuses connections
    app = App(backend, tmp_path)
    app.run_traces(flush_timeout_millis=2000)
    spooled = app.spooled_items()
    assert spooled == TRACES * SPANS_PER_TRACE + TRACES and backend.span_count == 0
    backend.start()  # the same port
    time.sleep(0.1)
    app.run_traces(traces=0)  # nothing new; the next export probes again
    tracer = app.provider.get_tracer("faults")
    with tracer.start_as_current_span("probe") as probe:
        app.sent.add(probe.get_span_context().span_id)
    assert app.provider.force_flush(30_000)
    assert backend.wait_for(lambda b: b.span_count >= len(app.sent), 15)
    assert backend.span_count == len(app.sent) and backend.trace_count == TRACES + 1
    assert app.spooled_items() == 0
    RESULTS.append(("refused, then restarted (same process)", len(app.sent), backend.span_count, spooled, backend.duplicates, str(backend.stats())))
    app.close()


def test_a_dead_back_end_never_holds_exit_longer_than_the_timeout(backend, tmp_path):
    backend.slow(30, times=None, store_first=False)  # hangs
    app = App(backend, tmp_path, timeout=10.0)
    tracer = app.provider.get_tracer("faults")
    for index in range(10):
        with tracer.start_as_current_span(f"t{index}") as span:
            app.sent.add(span.get_span_context().span_id)
    time.sleep(0.2)  # the worker is now waiting on the hung back end
    started = time.monotonic()
    app.close()  # shutdown_timeout_millis=3000
    elapsed = time.monotonic() - started
    assert elapsed < 3.5
    spooled = app.spooled_items()
    assert spooled >= len(app.sent)  # all of it kept on disk
    backend.slow(0)
    backend.reset()
    next_process = App(backend, tmp_path)
    assert backend.wait_for(lambda b: b.span_count >= len(app.sent), 15)
    assert backend.stored_span_ids() and backend.span_count == len(app.sent)
    RESULTS.append((f"hung back end at exit (exit took {elapsed:.1f} s; next process replays)", len(app.sent), backend.span_count,
                    spooled, backend.duplicates, str(backend.stats())))
    next_process.close()


@pytest.fixture(scope="module", autouse=True)
def fault_table(tmp_path_factory):
    """After this module's tests, whatever their order or selection: the table of what each fault did."""
    yield
    lines = ["| fault | spans sent | spans stored | items spooled, then replayed | duplicate writes (upserted) | requests by status |",
             "|---|---:|---:|---:|---:|---|"]
    lines += [f"| {name} | {sent} | {stored} | {spooled} | {dupes} | {stats} |" for name, sent, stored, spooled, dupes, stats in RESULTS]
    table = "\n".join(lines)
    (tmp_path_factory.getbasetemp() / "reliability-faults.md").write_text(table + "\n")
    print("\n" + table)


def test_interpreter_exit_with_a_hung_back_end_is_bounded_and_spools(backend, tmp_path):
    import subprocess
    import sys
    import textwrap

    from tests.e2e._helpers import clean_env

    backend.slow(30, times=None, store_first=False)
    spool = tmp_path / "exit-spool"
    code = textwrap.dedent(f"""
        import time, opik_otel
        from opentelemetry import trace
        opik_otel.configure(url={backend.url!r}, api_key="k", workspace="ws", shutdown_timeout_millis=1000, schedule_delay_millis=10)
        for index in range(5):
            trace.get_tracer("exit").start_span(f"s{{index}}").end()
        time.sleep(0.3)  # the worker is now waiting on the hung back end
        print("EXITING", time.monotonic(), flush=True)
    """)
    process = subprocess.run([sys.executable, "-c", code], env=clean_env(tmp_path, OPIK_OTEL_SPOOL_DIR=str(spool)),
                             capture_output=True, text=True, timeout=60)
    finished = time.monotonic()
    assert process.returncode == 0, process.stderr
    exiting = float(process.stdout.split("EXITING", 1)[1].split()[0])
    assert finished - exiting < 2.5  # the 1 s shutdown timeout, plus interpreter teardown
    files = list(spool.rglob("*.json.gz"))
    assert files and sum(int(f.name.split(".")[-3]) for f in files) >= 5 + 5  # spans and their traces


FIVE_FAULTS = [(503, None), (502, None), (429, {"Retry-After": "1"}), (500, None), (503, None)]


def pipeline(backend, spool_dir, shutdown_timeout_millis=10_000):
    """An Opik exporter under a batch processor at its default sizes, flushed by hand."""
    exporter = OpikSpanExporter(url=f"http://127.0.0.1:{backend.port}/api/", api_key="key", workspace="ws",
                                project_name="faults", timeout=2.0, spool_dir=str(spool_dir))
    batch = OpikBatchSpanProcessor(exporter, schedule_delay_millis=60_000, shutdown_timeout_millis=shutdown_timeout_millis)
    provider = TracerProvider(id_generator=UuidV7IdGenerator(), shutdown_on_exit=False)
    provider.add_span_processor(batch)
    return exporter, batch, provider.get_tracer("faults")


def end_traces(tracer, traces, spans_per_trace):
    for index in range(traces):
        with tracer.start_as_current_span(f"trace-{index}"):
            for child in range(spans_per_trace - 1):
                tracer.start_span(f"child-{child}").end()


@pytest.mark.parametrize("ending", ["flush", "shutdown"])
def test_five_faults_then_recovery_are_delivered_within_the_deadline(backend, tmp_path, monkeypatch, ending):
    monkeypatch.setattr(exporter_module, "PROBE_INTERVAL_S", 1.0)  # the back end is probed again a second after it failed
    for status, headers in FIVE_FAULTS:
        backend.fail_next(status, headers=headers)
    exporter, batch, tracer = pipeline(backend, tmp_path)
    end_traces(tracer, 200, 10)  # 2,000 spans
    if ending == "flush":
        assert batch.force_flush(10_000)
    else:
        batch.shutdown()
    spooled = sum(b.items for b in exporter.spool.batches())
    assert (backend.span_count, backend.trace_count, spooled) == (2000, 200, 0), backend.stats()
    assert [r.status for r in backend.requests[:5]] == [503, 502, 429, 500, 503]
    assert backend.duplicates == 0 and backend.errors == []
    batch.shutdown()


@pytest.mark.parametrize("ending", ["flush", "shutdown"])
def test_a_back_end_down_past_the_deadline_is_probed_until_it_then_spooled(backend, tmp_path, monkeypatch, ending):
    monkeypatch.setattr(exporter_module, "PROBE_INTERVAL_S", 0.2)
    monkeypatch.setattr(client_module, "_retry_delay", lambda headers, attempt: 0.01)
    backend.fail_next(503, times=100_000)
    exporter, batch, tracer = pipeline(backend, tmp_path, shutdown_timeout_millis=2000)
    end_traces(tracer, 20, 1)
    started = time.monotonic()
    if ending == "flush":
        assert batch.force_flush(2000)  # everything handed over: spooled
    else:
        batch.shutdown()
    elapsed = time.monotonic() - started
    assert 1.0 <= elapsed < 3.0  # it kept probing until its deadline (1.6 s / 1.5 s), then stopped
    assert len(backend.requests) > 4  # more than the first request's attempts: probed again
    assert backend.span_count == 0
    assert sum(b.items for b in exporter.spool.batches()) == 20 + 20  # the spans and their traces, kept
    batch.shutdown()
