"""Cost per span at agent scale (issue 18): the export path, stage by stage, on one core.

    python benchmarks/span_cost.py [--turns 2000] [--json out.json] [--profile out.prof]

Spans: one LangGraph agent turn as opik-otel emits it (benchmarks/data/, recorded by
capture_agent_turn.py: 15 spans — the agent, its nodes and chains, two priced chat calls with
their messages and tool definitions, one tool call), repeated with fresh trace and span ids
(parents kept); content on (≈ 2.3 KB of attributes a span) and content off.

1. `stages`: ended span -> request body bytes, with no network: the worker's `prepare` (usage
   and cost), the Opik mapping, and the body encoding (JSON + gzip), each timed on its own
   (CPU time, this process pinned to one core), per span.
2. `pipeline`: the same spans handed to the processor `configure()` builds (its worker
   prices, maps, encodes and posts them to a counting Opik back end in another process, on
   the other core); CPU this process spent per span until the back end has every span
   (HTTP included) -> spans per CPU-second.
3. `app`: the app thread's cost of a framework span: `RunSpans.start` + `end` (the callback
   engine every framework adapter uses; content off, no attributes) under a root run, through
   `configure()`'s pipeline and through the hand-built one
   (`UsageCostSpanProcessor(BatchSpanProcessor(OpikSpanExporter))`), the exporter running and
   posting to the counting back end; µs per span on the app thread, and with the export
   charged (the final flush's wall time added), beside a bare SDK span with no processor.
4. `memory`: `--memory-spans` spans (default 1,000,000) in traces of 10,000 spans (a long agent
   run: the recorded turn repeated under one root) made one at a time and handed to
   `configure()`'s pipeline; RSS sampled every tenth: it must stay flat.
Not a test: a measurement (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
DATA = ROOT / "benchmarks" / "data"
MIXES = {"content-on": "langgraph-agent-turn.json", "content-off": "langgraph-agent-turn-content-off.json"}


def turn_spans(records: list[dict], turns: int) -> list:
    """`turns` copies of the recorded turn as finished SDK spans, fresh ids, parents kept."""
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

    from opik_otel._ids import UuidV7IdGenerator

    ids = UuidV7IdGenerator()
    resource = Resource.create({"service.name": "bench"})
    scope = InstrumentationScope("opik_otel.instrumentors.langchain", "0")
    frozen = [
        ({k: tuple(v) if isinstance(v, list) else v for k, v in r["attributes"].items()}, SpanKind[r["kind"]], Status(StatusCode[r["status"]]))
        for r in records
    ]
    spans = []
    for _ in range(turns):
        trace_id = ids.generate_trace_id()
        contexts = [SpanContext(trace_id, ids.generate_span_id(), False, TraceFlags(1)) for _ in records]
        now = time.time_ns()
        for record, context, (attributes, kind, status) in zip(records, contexts, frozen):
            parent = contexts[record["parent"]] if record["parent"] is not None else None
            spans.append(ReadableSpan(
                name=record["name"], context=context, parent=parent, resource=resource, attributes=attributes,
                events=(), links=(), kind=kind, status=status, start_time=now - record["duration_ns"], end_time=now,
                instrumentation_scope=scope,
            ))
    return spans


def stages(spans: list, batch: int = 1000) -> dict[str, float]:
    """CPU µs per span of each stage from ended span to request body bytes (no network), batch by
    batch as the export worker goes (each batch's results dropped before the next)."""
    import functools
    import inspect

    from opik_otel._ids import OpikIdMapper
    from opik_otel._pricing import PriceBook, wait_ready
    from opik_otel._processor import add_usage_and_cost
    from opik_otel.exporters.opik.client import encode
    from opik_otel.exporters.opik.mapping import span_to_opik

    prepare = functools.partial(add_usage_and_cost, prices=PriceBook())
    prepare(spans[1])
    wait_ready(30)
    ids = OpikIdMapper()
    as_exported = {"raw_json": True} if "raw_json" in inspect.signature(span_to_opik).parameters else {}  # (older code: none)
    clock = time.process_time
    priced = mapped = encoded = 0.0
    size = 0
    for first in range(0, len(spans), batch):
        started = clock()
        prepared = [prepare(span) for span in spans[first : first + batch]]
        t1 = clock()
        opik_spans, traces = [], []
        for span in prepared:
            opik_span, trace = span_to_opik(span, ids, "bench", 20_000_000, **as_exported)
            opik_spans.append(opik_span)
            if trace is not None:
                traces.append(trace)
        t2 = clock()
        size += len(encode("spans", opik_spans)) + (len(encode("traces", traces)) if traces else 0)
        t3 = clock()
        priced, mapped, encoded = priced + t1 - started, mapped + t2 - t1, encoded + t3 - t2
    count = len(spans)
    total = priced + mapped + encoded
    return {
        "spans": count,
        "prepare_us": round(priced / count * 1e6, 2),
        "map_us": round(mapped / count * 1e6, 2),
        "encode_us": round(encoded / count * 1e6, 2),
        "total_us": round(total / count * 1e6, 2),
        "spans_per_cpu_s": round(count / total),
        "body_bytes_per_span": round(size / count),
    }


def pipeline(spans: list) -> dict[str, float]:
    """CPU per span through `configure()`'s processor to a counting back end (HTTP included)."""
    from pipeline import CountingBackend, _queue_full
    from pipeline import pipeline as configure_pipeline

    from opik_otel._pricing import wait_ready

    with CountingBackend() as backend:
        processor = configure_pipeline(backend.url)
        warm = spans[:15]
        for span in warm:
            processor.on_end(span)
        backend.wait_for(len(warm))
        wait_ready(60)  # the price data loads once per process, on a thread of its own: not timed
        started, cpu_started = time.perf_counter(), time.process_time()
        for span in spans[15:]:
            processor.on_end(span)
            while _queue_full(processor):
                time.sleep(0.001)
        backend.wait_for(len(spans))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        processor.shutdown()
    count = len(spans) - len(warm)
    return {"spans": count, "cpu_us_per_span": round(cpu / count * 1e6, 2), "spans_per_cpu_s": round(count / cpu),
            "spans_per_s_wall": round(count / elapsed)}


def app_thread(spans: int = 20_000) -> dict[str, float]:
    """µs per framework span (start + end) on the app thread, per pipeline."""
    import atexit
    import shutil
    import tempfile

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from pipeline import CountingBackend
    from pipeline import pipeline as configure_pipeline

    from opik_otel import OpikSpanExporter, UsageCostSpanProcessor
    from opik_otel._configure import _SwitchablePipeline, new_tracer_provider
    from opik_otel.instrumentors._callbacks import RunSpans

    def per_span(provider) -> tuple[float, float]:
        runs = RunSpans(provider.get_tracer("bench"))
        for warm in range(2):
            runs.start("root", None, "graph")
            started = time.perf_counter()
            for i in range(spans):
                runs.start(i, "root", "node")
                runs.end(i)
            elapsed = time.perf_counter() - started
            runs.end("root")
            flushed = time.perf_counter()
            provider.force_flush()
            charged = elapsed + time.perf_counter() - flushed
        return round(elapsed / spans * 1e6, 2), round(charged / spans * 1e6, 2)

    result: dict[str, float] = {}
    bare = TracerProvider().get_tracer("bench")
    started = time.perf_counter()
    for _ in range(spans):
        bare.start_span("node").end()
    result["sdk_span_no_processor_us"] = round((time.perf_counter() - started) / spans * 1e6, 2)
    with CountingBackend() as backend:
        provider = new_tracer_provider()
        provider.add_span_processor(_SwitchablePipeline(configure_pipeline(backend.url, queue_size=spans + 100)))
        result["configure_us"], result["configure_export_charged_us"] = per_span(provider)
        provider.shutdown()
        spool = tempfile.mkdtemp(prefix="opik-otel-bench-spool-")
        atexit.register(shutil.rmtree, spool, True)
        provider = TracerProvider()
        exporter = OpikSpanExporter(url=backend.url, api_key="bench-key", workspace="bench", spool_dir=spool)
        provider.add_span_processor(UsageCostSpanProcessor(BatchSpanProcessor(exporter, max_queue_size=spans + 100)))
        result["handbuilt_us"], result["handbuilt_export_charged_us"] = per_span(provider)
        provider.shutdown()
    return result


def memory(records: list[dict], total: int, trace_spans: int = 10_000) -> dict[str, object]:
    """RSS while `total` spans, in traces of `trace_spans`, go through configure()'s pipeline."""
    from pipeline import CountingBackend, _queue_full, rss_mb
    from pipeline import pipeline as configure_pipeline

    from opik_otel._pricing import wait_ready

    turns_per_trace = max(1, trace_spans // len(records))

    def long_traces():
        while True:
            spans = turn_spans(records, turns_per_trace)
            root_context = spans[-1].context  # the last turn's agent span stands for the run's root
            for span in spans:
                if span.parent is None and span is not spans[-1]:
                    span._parent = root_context  # every other turn under that root: one trace
                yield span

    samples: dict[int, float] = {}
    with CountingBackend() as backend:
        processor = configure_pipeline(backend.url)
        spans = long_traces()
        checkpoints = {total * k // 10 for k in range(1, 11)}
        warm = 2 * trace_spans  # prices loaded, buffers at their size
        for i in range(-warm + 1, total + 1):
            processor.on_end(next(spans))
            while _queue_full(processor):
                time.sleep(0.001)
            if i == 0:
                wait_ready(60)
            if i in checkpoints:
                samples[i] = round(rss_mb(), 1)
        backend.wait_for(total + 2 * trace_spans)
        processor.shutdown()
    first, last = samples[min(samples)], samples[max(samples)]
    return {"spans": total, "trace_spans": turns_per_trace * len(records), "rss_mb_at": samples,
            "growth_mb_after_first_tenth": round(last - first, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=2000)
    parser.add_argument("--mixes", default="content-on,content-off")
    parser.add_argument("--parts", default="stages,pipeline,app,memory")
    parser.add_argument("--memory-spans", type=int, default=1_000_000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--profile", type=Path, help="cProfile the stages of the first mix into this file")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {0})
    result: dict[str, dict] = {}
    for mix in args.mixes.split(","):
        records = json.loads((DATA / MIXES[mix]).read_text())
        result[mix] = {}
        if "stages" in args.parts:
            spans = turn_spans(records, args.turns)
            if args.profile and mix == args.mixes.split(",")[0]:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
                result[mix]["stages"] = stages(spans)
                profiler.disable()
                profiler.dump_stats(args.profile)
            else:
                result[mix]["stages"] = stages(spans)
            print(f"{mix} stages: {result[mix]['stages']}", flush=True)
        if "pipeline" in args.parts:
            result[mix]["pipeline"] = pipeline(turn_spans(records, args.turns))
            print(f"{mix} pipeline: {result[mix]['pipeline']}", flush=True)
    if "app" in args.parts:
        result["app"] = app_thread()
        print(f"app thread: {result['app']}", flush=True)
    if "memory" in args.parts:
        result["memory"] = memory(json.loads((DATA / MIXES["content-on"]).read_text()), args.memory_spans)
        print(f"memory: {result['memory']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
