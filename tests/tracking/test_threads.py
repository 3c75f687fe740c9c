"""Context carried into threads: for as long as the span a thread started in runs; the switch
(`propagate_context_to_threads`) that turns the patching off; `shutdown()` undoing it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from opentelemetry import trace

import opik_otel
from tests.e2e._helpers import clean_env, run_snippet
from tests.tracking.conftest import spans_by_name

WAIT = 5  # seconds: a bound for correctness, never reached when the code is right


def step(name, child=None):
    """A span named `name` (with a child span `child` inside it)."""
    with trace.get_tracer("test").start_as_current_span(name):
        if child:
            step(child)


@pytest.mark.usefixtures("provider")
def test_a_thread_outliving_its_span_starts_new_traces_afterwards(exporter):
    running, request_ended, long_started = threading.Event(), threading.Event(), threading.Event()
    tracer = trace.get_tracer("test")

    def worker():
        step("while-running", child="while-running-child")
        with tracer.start_as_current_span("long"):  # starts while the request runs, ends after it
            long_started.set()
            request_ended.wait(WAIT)
            step("late-child")
        running.set()
        step("after-end", child="after-end-child")
        with opik_otel.tracing_context(tags=["own"]):
            step("own-scope")

    @opik_otel.track
    def request():
        thread = threading.Thread(target=worker)
        thread.start()
        long_started.wait(WAIT)
        return thread

    with opik_otel.tracing_context(project_name="proj-req", thread_id="conv-1", tags=["req"]):
        thread = request()
    request_ended.set()
    thread.join(WAIT)
    assert running.is_set()
    spans = spans_by_name(exporter)
    root = spans["request"]
    stamped = {"opik.project_name": "proj-req", "gen_ai.conversation.id": "conv-1", "opik.tags": ("req",)}
    # started while the request span ran: children of it, in its trace and scope, even when they end after it
    for name, parent in [("while-running", "request"), ("while-running-child", "while-running"), ("long", "request"), ("late-child", "long")]:
        span = spans[name]
        assert span.context.trace_id == root.context.trace_id, name
        assert span.parent.span_id == spans[parent].context.span_id, name
        assert {key: span.attributes.get(key) for key in stamped} == stamped, name
    # started after it ended: a new trace each, outside the request's tracing_context
    after, child, own = spans["after-end"], spans["after-end-child"], spans["own-scope"]
    assert after.parent is None and own.parent is None
    assert len({root.context.trace_id, after.context.trace_id, own.context.trace_id}) == 3
    assert child.parent.span_id == after.context.span_id and child.context.trace_id == after.context.trace_id
    assert dict(after.attributes) == {} and dict(child.attributes) == {}
    assert dict(own.attributes) == {"opik.tags": ("own",)}


@pytest.mark.usefixtures("provider")
def test_update_current_span_in_the_thread_reaches_the_span_it_started_in_until_it_ends(exporter):
    updated, request_ended, done = threading.Event(), threading.Event(), threading.Event()

    def worker():
        opik_otel.update_current_span(metadata={"from_thread": 1})
        updated.set()
        request_ended.wait(WAIT)
        opik_otel.update_current_span(metadata={"too_late": 1})  # the span ended: nothing to update
        opik_otel.update_current_trace(tags=["too-late"])
        done.set()

    @opik_otel.track
    def request():
        threading.Thread(target=worker).start()
        updated.wait(WAIT)

    request()
    request_ended.set()
    assert done.wait(WAIT)
    (span,) = exporter.get_finished_spans()
    assert span.attributes["opik.metadata.from_thread"] == 1
    assert "opik.metadata.too_late" not in span.attributes and "opik.tags" not in span.attributes


@pytest.mark.usefixtures("provider")
def test_a_pool_task_runs_in_the_context_it_was_submitted_in_even_after_the_span_ended(exporter):
    """A task is one piece of the submitting span's work: its spans stay under that span."""
    submitted = threading.Event()
    pool = ThreadPoolExecutor(max_workers=1)

    def task():
        submitted.wait(WAIT)
        step("task")

    @opik_otel.track
    def request():
        return pool.submit(task)

    try:
        future = request()
        submitted.set()
        future.result(WAIT)
    finally:
        pool.shutdown()
    spans = spans_by_name(exporter)
    assert spans["task"].parent.span_id == spans["request"].context.span_id


# --- the switch, in a fresh interpreter (configure() sets the global provider) -----------------

PROBE = """
import threading
from concurrent.futures import ThreadPoolExecutor
from opentelemetry import trace
import opik_otel

ORIGINAL = threading.Thread.start, ThreadPoolExecutor.submit

def patched():
    return [threading.Thread.start is not ORIGINAL[0], ThreadPoolExecutor.submit is not ORIGINAL[1]]

def thread_sees_the_span():
    seen = []

    @opik_otel.track
    def request():
        with opik_otel.tracing_context(tags=["x"]):
            mine = trace.get_current_span().get_span_context()
            thread = threading.Thread(target=lambda: seen.append(trace.get_current_span().get_span_context() == mine))
            thread.start()
            thread.join()
            with ThreadPoolExecutor(max_workers=1) as pool:
                seen.append(pool.submit(lambda: trace.get_current_span().get_span_context() == mine).result())

    request()
    return seen
"""


def test_the_switch_off_leaves_threads_alone(tmp_path):
    values, _ = run_snippet(
        PROBE + """
report(before=patched())
opik_otel.configure(exporter="none", propagate_context_to_threads=False)
report(configured=patched(), seen=thread_sees_the_span(), after_track=patched())
""",
        clean_env(tmp_path),
    )
    assert values == {"before": [False, False], "configured": [False, False], "seen": [False, False], "after_track": [False, False]}


@pytest.mark.parametrize("raw, expected", [("false", [False, False]), ("0", [False, False]), ("true", [True, True])])
def test_the_switch_from_the_environment(tmp_path, raw, expected):
    values, _ = run_snippet(
        PROBE + """
opik_otel.configure(exporter="none")
report(configured=patched(), seen=thread_sees_the_span())
""",
        clean_env(tmp_path, OPIK_OTEL_PROPAGATE_CONTEXT_TO_THREADS=raw),
    )
    assert values == {"configured": expected, "seen": expected}


def test_before_configure_the_environment_decides(tmp_path):
    """With the app's own TracerProvider nothing configures opik-otel: `@track` follows the variable."""
    code = PROBE + """
from opentelemetry.sdk.trace import TracerProvider
trace.set_tracer_provider(TracerProvider())
report(seen=thread_sees_the_span(), patched=patched())
"""
    off, _ = run_snippet(code, clean_env(tmp_path, OPIK_OTEL_PROPAGATE_CONTEXT_TO_THREADS="off"))
    on, _ = run_snippet(code, clean_env(tmp_path))
    assert off == {"seen": [False, False], "patched": [False, False]}
    assert on == {"seen": [True, True], "patched": [True, True]}


def test_reconfigure_and_shutdown_undo_the_patching(tmp_path):
    values, _ = run_snippet(
        PROBE + """
opik_otel.configure(exporter="none")
report(on=patched())
opik_otel.configure(exporter="none", propagate_context_to_threads=False)
report(off=patched(), off_seen=thread_sees_the_span())
opik_otel.configure(exporter="none")
report(on_again=patched(), on_seen=thread_sees_the_span())
opik_otel.shutdown()
report(shut_down=patched(), shut_down_seen=thread_sees_the_span(), after_track=patched())
opik_otel.configure(exporter="none")
report(configured_again=patched())
""",
        clean_env(tmp_path),
    )
    assert values == {
        "on": [True, True],
        "off": [False, False], "off_seen": [False, False],
        "on_again": [True, True], "on_seen": [True, True],
        "shut_down": [False, False], "shut_down_seen": [False, False], "after_track": [False, False],
        "configured_again": [True, True],
    }


def test_a_patch_made_over_ours_is_kept_and_ours_passes_through(tmp_path):
    """Another library wrapping `Thread.start` after us: turning ours off must not remove theirs."""
    values, _ = run_snippet(
        PROBE + """
opik_otel.configure(exporter="none")
ours = threading.Thread.start
calls = []
def theirs(self):
    calls.append(1)
    return ours(self)
threading.Thread.start = theirs
opik_otel.configure(exporter="none", propagate_context_to_threads=False)
report(kept=threading.Thread.start is theirs, seen=thread_sees_the_span(), calls=len(calls))  # a thread and a pool worker
opik_otel.configure(exporter="none")
report(seen_again=thread_sees_the_span())
""",
        clean_env(tmp_path),
    )
    assert values == {"kept": True, "seen": [False, False], "calls": 2, "seen_again": [True, True]}


@pytest.mark.parametrize("raw", ["maybe", "2"])
def test_an_invalid_switch_value_names_the_variable(monkeypatch, raw):
    monkeypatch.setenv("OPIK_OTEL_PROPAGATE_CONTEXT_TO_THREADS", raw)
    with pytest.raises(opik_otel.ConfigurationError) as info:
        opik_otel._settings.resolve_settings()
    assert str(info.value) == (
        "invalid setting: env OPIK_OTEL_PROPAGATE_CONTEXT_TO_THREADS (propagate_context_to_threads): "
        "Value error, must be a boolean: true/false, 1/0, yes/no or on/off"
    )


def test_the_switch_defaults_to_on(monkeypatch):
    monkeypatch.delenv("OPIK_OTEL_PROPAGATE_CONTEXT_TO_THREADS", raising=False)
    assert opik_otel._settings.resolve_settings().propagate_context_to_threads is True
