"""Pipeline throughput and memory: spans/s through configure()'s pipeline and the Opik exporter.

    python benchmarks/pipeline.py [--spans 100000] [--calls 100000] [--json out.json]

1. Throughput: `--spans` finished LLM spans (GenAI attributes, content on) are handed to
   the processor `configure()` builds (`OpikBatchSpanProcessor`, pricing on its worker, ->
   `OpikSpanExporter`) as fast as the queue takes them; the clock stops when a counting Opik back end (a separate process, on the other
   core) has received every span. This process is pinned to one core. Reports spans/s
   (wall clock), the CPU this process spent per span (creating the test spans included),
   and the peak RSS.
2. Leak check: `--calls` instrumented openai chat calls (in-process transport) through the
   same pipeline; RSS sampled along the way must stay flat.
Not a test: a measurement (see benchmarks/README.md).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# -- a counting Opik back end (runs in its own process) --------------------------------
class _Counter(BaseHTTPRequestHandler):
    counts = {"spans": 0, "traces": 0}

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        payload = json.loads(body)
        for key in ("spans", "traces"):
            self.counts[key] += len(payload.get(key, ()))
        self.send_response(204)
        self.end_headers()

    def do_GET(self) -> None:  # noqa: N802
        data = json.dumps(self.counts).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def serve() -> None:
    if hasattr(os, "sched_setaffinity") and os.cpu_count() and os.cpu_count() > 1:
        os.sched_setaffinity(0, {1})
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    print(server.server_address[1], flush=True)
    server.serve_forever()


class CountingBackend:
    """The counting server in a subprocess; `.url` for the exporter, `.count()` to poll."""

    def __enter__(self) -> CountingBackend:
        self.process = subprocess.Popen([sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}/api/"
        return self

    def count(self) -> dict[str, int]:
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/count", timeout=5) as response:
            return json.loads(response.read())

    def wait_for(self, spans: int, timeout: float = 600.0) -> None:
        deadline = time.monotonic() + timeout
        while self.count()["spans"] < spans:
            if time.monotonic() > deadline:
                raise TimeoutError(f"back end has {self.count()} of {spans} spans")
            time.sleep(0.05)

    def __exit__(self, *exc: object) -> None:
        self.process.kill()
        self.process.wait()


def rss_mb() -> float:
    """Current resident set size (Linux /proc), in MB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


def pipeline(url: str, queue_size: int = 8192):
    """The processor `opik_otel.configure()` builds: `OpikBatchSpanProcessor` (usage and cost added
    on its worker) -> `OpikSpanExporter`, with a private spool folder."""
    import atexit
    import shutil
    import tempfile

    from opik_otel._configure import build_processor
    from opik_otel._settings import resolve_settings

    spool = tempfile.mkdtemp(prefix="opik-otel-bench-spool-")
    atexit.register(shutil.rmtree, spool, True)
    return build_processor(resolve_settings(
        exporter="opik", url=url, api_key="bench-key", workspace="bench", spool_dir=spool,
        max_queue_size=queue_size, max_export_batch_size=1000, schedule_delay_millis=200,
    ))


def template_span():
    """One finished chat span as the OpenAI instrumentor emits it, content on."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import SpanKind

    from opik_otel._ids import UuidV7IdGenerator

    memory = InMemorySpanExporter()
    provider = TracerProvider(id_generator=UuidV7IdGenerator())
    provider.add_span_processor(SimpleSpanProcessor(memory))
    messages = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "What is the weather in Paris? " * 4}]}])
    output = json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "Sunny, 21 °C. " * 6}], "finish_reason": "stop"}])
    attributes = {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o-mini",
        "server.address": "api.openai.com", "server.port": 443, "openai.api.type": "chat_completions",
        "gen_ai.request.temperature": 0.2, "gen_ai.request.max_tokens": 256, "gen_ai.response.id": "chatcmpl-1",
        "gen_ai.response.model": "gpt-4o-mini-2024-07-18", "gen_ai.response.finish_reasons": ("stop",),
        "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 48, "gen_ai.usage.cache_read.input_tokens": 64,
        "gen_ai.input.messages": messages, "gen_ai.output.messages": output,
    }
    provider.get_tracer("bench").start_span("chat gpt-4o-mini", kind=SpanKind.CLIENT, attributes=attributes).end()
    return memory.get_finished_spans()[0]


def spans_like(template, count: int):
    """`count` distinct root spans shaped like `template` (fresh trace and span ids)."""
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.trace import SpanContext, TraceFlags

    from opik_otel._ids import UuidV7IdGenerator

    ids = UuidV7IdGenerator()
    attributes = template._attributes  # as the SDK hands a finished span over: its BoundedAttributes
    for _ in range(count):
        context = SpanContext(ids.generate_trace_id(), ids.generate_span_id(), False, TraceFlags(1))
        now = time.time_ns()
        yield ReadableSpan(
            name=template.name, context=context, parent=None, resource=template.resource,
            attributes=attributes, events=(), links=(), kind=template.kind, status=template.status,
            start_time=now - 1_000_000, end_time=now, instrumentation_scope=template.instrumentation_scope,
        )


def throughput(count: int) -> dict[str, float]:
    with CountingBackend() as backend:
        processor = pipeline(backend.url)
        template = template_span()
        started, cpu_started = time.perf_counter(), time.process_time()
        for span in spans_like(template, count):
            processor.on_end(span)
            while _queue_full(processor):
                time.sleep(0.001)  # the app would drop here; a throughput test waits instead
        backend.wait_for(count)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        processor.shutdown()
    return {
        "spans": count,
        "seconds": round(elapsed, 2),
        "spans_per_s": round(count / elapsed),  # wall clock, waiting on the back end's answers included
        "cpu_us_per_span": round(cpu / count * 1e6, 1),  # our process's CPU: processor + mapping + JSON + gzip + HTTP
        "spans_per_cpu_s": round(count / cpu),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def _queue_full(processor) -> bool:
    return len(processor._queue) >= processor.max_queue_size - 1000


def leak_check(calls: int) -> dict[str, object]:
    import httpx2
    import openai
    from opentelemetry.sdk.trace import TracerProvider

    from opik_otel._ids import UuidV7IdGenerator
    from opik_otel.instrumentors.openai import OpenAIInstrumentor

    body = json.dumps({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Sunny."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
    }).encode()
    transport = httpx2.MockTransport(lambda request: httpx2.Response(200, content=body, headers={"content-type": "application/json"}))
    client = openai.OpenAI(api_key="sk-bench", base_url="http://bench.local/v1", http_client=httpx2.Client(transport=transport))
    samples = {}
    with CountingBackend() as backend:
        provider = TracerProvider(id_generator=UuidV7IdGenerator())
        provider.add_span_processor(pipeline(backend.url, queue_size=2048))
        OpenAIInstrumentor().instrument(tracer_provider=provider, capture_content=True)
        checkpoints = {calls // 10, calls // 2, calls}
        for i in range(1, calls + 1):
            client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "weather?"}])
            if i in checkpoints:
                samples[i] = round(rss_mb(), 1)
        provider.force_flush()
        OpenAIInstrumentor().uninstrument()
        delivered = backend.count()["spans"]
    first, last = samples[min(samples)], samples[max(samples)]
    return {"calls": calls, "rss_mb_at": samples, "growth_mb_after_first_tenth": round(last - first, 1), "delivered": delivered}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spans", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve()
        return
    sys.path.insert(0, str(ROOT))
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    result = {"throughput": throughput(args.spans)}
    print(f"throughput: {result['throughput']}", flush=True)
    result["leak_check"] = leak_check(args.calls)
    print(f"leak check: {result['leak_check']}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
