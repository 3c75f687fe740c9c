"""Per-chunk cost and time to first chunk of opik-otel's streams in isolation: no HTTP, no SSE.

    python benchmarks/stream_chunks.py [--chunks 20] [--rounds 30] [--json out.json]

The 20 content chunks and the usage chunk of `overhead.py`'s stream body, as real
`openai.types.chat.ChatCompletionChunk` objects, are iterated (a) bare, from a plain
iterator, and (b) through the `SyncStreamProxy` the engine hands back for
`chat.completions.create(stream=True)`, its span already started (as after `create`), so
(b) - (a) is exactly what our per-chunk code adds: the proxy's `__next__`, the chunk
reader, and the span's end (amortised over the stream; reported apart as "end").
Time to first chunk: `chat.completions.create(stream=True)`'s wrapper around a stand-in
`create` that returns an iterator over those chunks, production pipeline behind it
(the processor `configure()` builds, exporting nowhere), then `next()`; minus the same
with the bare stand-in. That is all we add before the user sees the first chunk: the
span's start (sampler, processors), reading the request, the stream proxy, the first chunk.
Interleaved rounds, GC off while timing; medians with min-max, content capture off and on.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import overhead  # noqa: E402 - the same wire body as the end-to-end benchmark


def chunks() -> list:
    from openai.types.chat import ChatCompletionChunk

    events = [line[6:] for line in overhead._stream_body().decode().split("\n\n") if line.startswith("data: {")]
    return [ChatCompletionChunk.model_validate(json.loads(event)) for event in events]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--streams", type=int, default=2000, help="streams per round and kind")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

    from opik_otel._batch import OpikBatchSpanProcessor
    from opik_otel.instrumentors._engine import SyncStreamProxy, _Call
    from opik_otel.instrumentors.openai.chat import ChatCompletions

    class Null(SpanExporter):
        def export(self, spans):
            return SpanExportResult.SUCCESS

    from opik_otel._configure import _SwitchablePipeline, new_tracer_provider
    from opik_otel.instrumentors._engine import ContentPolicy, sync_wrapper

    provider = new_tracer_provider()
    provider.add_span_processor(_SwitchablePipeline(OpikBatchSpanProcessor(Null(), max_queue_size=1 << 20)))
    tracer = provider.get_tracer("bench")
    items = chunks()
    operation = ChatCompletions()
    n = args.streams

    def bare() -> float:
        started = time.perf_counter_ns()
        for _ in range(n):
            for _chunk in iter(items):
                pass
        return (time.perf_counter_ns() - started) / n

    def traced(capture: bool, end_only: bool = False) -> float:
        calls = [_Call(tracer.start_span("chat gpt-4o-mini"), operation, capture) for _ in range(n)]
        started = time.perf_counter_ns()
        for call in calls:
            stream = SyncStreamProxy(iter(() if end_only else items), call, operation.stream_state(capture))
            for _chunk in stream:
                pass
        return (time.perf_counter_ns() - started) / n

    client = overhead.make_clients("stream", 1)[0]
    resource = client.chat.completions
    kwargs = {"model": overhead.MODEL, "messages": overhead.MESSAGES, "stream": True, "stream_options": {"include_usage": True}}

    def create(**_kwargs):
        return (chunk for chunk in items)  # a generator: it has close(), as the SDK's streams do

    wrappers = {capture: sync_wrapper(operation, tracer, ContentPolicy(capture)) for capture in (False, True)}

    def first_chunk(capture: bool | None) -> float:
        wrapper = wrappers.get(capture)
        streams = []  # kept, so that no span ends inside the timed loop
        started = time.perf_counter_ns()
        for _ in range(n):
            stream = create(**kwargs) if wrapper is None else wrapper(create, resource, (), kwargs)
            next(stream)
            streams.append(stream)
        elapsed = (time.perf_counter_ns() - started) / n
        for stream in streams:
            stream.close()
        return elapsed

    kinds = {"bare": bare, "off": lambda: traced(False), "on": lambda: traced(True),
             "end off": lambda: traced(False, True), "end on": lambda: traced(True, True),
             "first bare": lambda: first_chunk(None), "first off": lambda: first_chunk(False),
             "first on": lambda: first_chunk(True)}
    results: dict[str, list[float]] = {kind: [] for kind in kinds}
    for kind in kinds.values():
        kind()
    for _ in range(args.rounds):
        for name, kind in kinds.items():
            gc.collect()
            gc.disable()
            try:
                results[name].append(kind())
            finally:
                gc.enable()
        provider.force_flush()

    count = len(items)
    report: dict[str, dict[str, float]] = {}
    for capture in ("off", "on"):
        per_chunk = [(traced_ns - end_ns - bare_ns) / count / 1000 for traced_ns, end_ns, bare_ns in
                     zip(results[capture], results[f"end {capture}"], results["bare"])]
        end_us = [value / 1000 for value in results[f"end {capture}"]]
        ttfc = [(traced_ns - bare_ns) / 1000 for traced_ns, bare_ns in zip(results[f"first {capture}"], results["first bare"])]
        report[capture] = {"per_chunk_us": round(statistics.median(per_chunk), 2),
                           "per_chunk_min_us": round(min(per_chunk), 2), "per_chunk_max_us": round(max(per_chunk), 2),
                           "stream_end_us": round(statistics.median(end_us), 1),
                           "ttfc_added_us": round(statistics.median(ttfc), 1),
                           "ttfc_added_min_us": round(min(ttfc), 1), "ttfc_added_max_us": round(max(ttfc), 1)}
        r = report[capture]
        print(f"content {capture}: {r['per_chunk_us']:.2f} µs per chunk ({r['per_chunk_min_us']:.2f}–{r['per_chunk_max_us']:.2f}), "
              f"stream end {r['stream_end_us']:.1f} µs, time to first chunk +{r['ttfc_added_us']:.1f} µs "
              f"({r['ttfc_added_min_us']:.1f}–{r['ttfc_added_max_us']:.1f}) ({count} chunks, {args.rounds} rounds)")
    if args.json:
        args.json.write_text(json.dumps({"chunks": count, "rounds": args.rounds, "results": report,
                                         "versions": overhead.versions()}, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
