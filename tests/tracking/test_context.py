"""`tracing_context(...)`, context across threads, pools and asyncio tasks, one project per trace."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

import opik_otel
from tests.tracking.conftest import spans_by_name

pytestmark = pytest.mark.usefixtures("provider")


@opik_otel.track
def leaf(name):
    return name


def test_tracing_context_stamps_every_span_inside(exporter):
    with opik_otel.tracing_context(project_name="proj-a", thread_id="conv-7", tags=["beta"], metadata={"user": "u1", "n": {"x": 1}}):
        leaf("one")
        with opik_otel.tracing_context(tags=["inner"], metadata={"user": "u2"}):
            leaf("two")
    leaf("three")
    spans = exporter.get_finished_spans()
    one, two, three = (dict(span.attributes) for span in spans)
    assert one["opik.project_name"] == "proj-a" and one["gen_ai.conversation.id"] == "conv-7"
    assert one["opik.tags"] == ("beta",) and one["opik.metadata.user"] == "u1" and one["opik.metadata.n"] == '{"x":1}'
    assert two["opik.tags"] == ("beta", "inner") and two["opik.metadata.user"] == "u2"
    assert not {"opik.project_name", "gen_ai.conversation.id", "opik.tags"} & set(three)


def test_threads_pools_and_tasks_inherit_the_span_and_the_scope(exporter):
    @opik_otel.track
    def parent():
        with opik_otel.tracing_context(thread_id="conv-9"):
            thread = threading.Thread(target=leaf, args=("thread",))
            thread.start()
            thread.join()
            with ThreadPoolExecutor(max_workers=2) as pool:
                list(pool.map(leaf, ["pool-1", "pool-2"]))

            async def gathered():
                await asyncio.gather(asyncio.to_thread(leaf, "to-thread"), async_leaf("task"))

            asyncio.run(gathered())

    parent()
    spans = exporter.get_finished_spans()
    root = next(span for span in spans if span.name == "parent")
    children = [span for span in spans if span is not root]
    assert len(children) == 5
    for span in children:
        assert span.parent.span_id == root.context.span_id, span.name
        assert span.attributes["gen_ai.conversation.id"] == "conv-9"


@opik_otel.track(name="async_leaf")
async def async_leaf(name):
    return name


def test_pool_workers_keep_no_context_between_tasks(exporter):
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        @opik_otel.track
        def first():
            return pool.submit(leaf, "under-first").result()

        first()
        pool.submit(leaf, "alone").result()  # the same worker thread, submitted outside any span
    finally:
        pool.shutdown()
    spans = {span.name: span for span in exporter.get_finished_spans() if span.name != "leaf"}
    leaves = [span for span in exporter.get_finished_spans() if span.name == "leaf"]
    assert leaves[0].parent.span_id == spans["first"].context.span_id
    assert leaves[1].parent is None


def test_a_trace_keeps_its_root_project(exporter):
    @opik_otel.track(project_name="other")
    def nested():
        return 1

    @opik_otel.track(project_name="main")
    def root():
        with opik_otel.tracing_context(project_name="ignored-inside-trace"):
            return nested(), leaf("x")

    root()
    spans = spans_by_name(exporter)
    assert {name: span.attributes["opik.project_name"] for name, span in spans.items()} == {"nested": "main", "leaf": "main", "root": "main"}


def test_separate_traces_go_to_their_own_projects(exporter):
    with opik_otel.tracing_context(project_name="p1"):
        leaf("a")
    with opik_otel.tracing_context(project_name="p2"):
        leaf("b")
    assert [span.attributes["opik.project_name"] for span in exporter.get_finished_spans()] == ["p1", "p2"]


def test_a_local_root_is_forgotten_when_it_ends(provider):
    from opik_otel._context import _ROOTS, local_root

    tracer = provider.get_tracer("t")
    before = len(_ROOTS)
    with tracer.start_as_current_span("root") as root:
        with tracer.start_as_current_span("child"):
            assert local_root(root.get_span_context().trace_id) is root
    assert local_root(root.get_span_context().trace_id) is None
    assert len(_ROOTS) == before  # ended roots are not kept alive
