"""Per-call overhead of OpenAI chat instrumentation: opik-otel vs the peers.

    python benchmarks/overhead.py --config NAME --mode {chat,stream,async} \
        [--blocks 20] [--block-size 100] [--warmup 200] [--json out.json]

Runs in any of the environments that `benchmarks/setup.sh` builds: it needs only the
standard library, `openai` and `opentelemetry-sdk` (plus, per configuration, the package
under test). Configurations:

  none            no instrumentation: both blocks of a pair are bare (the noise floor)
  opik-otel-off   opik_otel OpenAIInstrumentor, content capture off, production pipeline:
                  UsageCostSpanProcessor -> BatchSpanProcessor -> OpikSpanExporter -> a fake
                  Opik back end in a subprocess; UUID v7 trace ids
  opik-otel-on    the same with content capture on
  official        opentelemetry-instrumentation-genai-openai (util-genai), its defaults
  openllmetry     Traceloop's opentelemetry-instrumentation-openai, its defaults
  openinference   openinference-instrumentation-openai, its defaults
  opik-sdk        the Opik SDK's track_openai(client), sending to the fake Opik back end

The openai client talks to an in-process transport (`httpx2.MockTransport` for openai >= 3,
`httpx.MockTransport` before), so no network or server hides the cost. The handler answers
a fixed, realistic chat.completion (or, in stream mode, an SSE body of 20 content chunks,
a usage chunk and `data: [DONE]`).

Method (the machine is shared and noisy): after a warm-up, `--blocks` pairs of blocks run
interleaved in this one process: `--block-size` bare calls, then (instrument) the same
number of instrumented calls (uninstrument); per-client peers (opik-sdk) alternate a
tracked and an untracked client instead. An instrumentor whose uninstrument() leaves its
wrappers in place (OpenLLMetry today) is instrumented once, and its patched attributes
are swapped between their original and wrapped values (the result's notes say so). The order inside a pair alternates (ABBA) so
that drift cancels. Before each block the garbage collector runs, and after each
instrumented block the span pipeline is flushed OUTSIDE the timed region (so export work
of one block never lands in the next); the process CPU time that flush takes is reported
as `export_cpu_us` per call (the background export cost, off the app's thread).

Per pair: ratio = instrumented mean / bare mean and added = instrumented - bare (µs per
call). Reported: the median ratio with min-max over the pairs, the median added µs.
Stream mode also reports the added time to first chunk (median over pairs of the
per-block mean TTFC difference), and splits fixed from per-chunk cost with a second kind
of pair whose calls only create the stream, read the first chunk and close it:
per_chunk_us = (added_full - added_first_only) / 20 (the 20 chunks after the first).
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ("none", "opik-otel-off", "opik-otel-on", "official", "openllmetry", "openinference", "opik-sdk")
MODES = ("chat", "stream", "async")
STREAM_CONTENT_CHUNKS = 20

# Variables that switch the peers' content capture: cleared so each runs at its documented
# default (set them again with --env KEY=VALUE to measure another setting).
CONTENT_ENV = (
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
    "TRACELOOP_TRACE_CONTENT",
    "OPENINFERENCE_HIDE_INPUTS",
    "OPENINFERENCE_HIDE_OUTPUTS",
    "OPENINFERENCE_HIDE_INPUT_MESSAGES",
    "OPENINFERENCE_HIDE_OUTPUT_MESSAGES",
    "OPIK_TRACK_DISABLE",
)

VERSION_PACKAGES = (
    "openai", "httpx2", "httpx", "opentelemetry-api", "opentelemetry-sdk",
    "opentelemetry-instrumentation", "opentelemetry-util-genai",
    "opentelemetry-instrumentation-genai-openai", "opentelemetry-instrumentation-openai",
    "openinference-instrumentation-openai", "openinference-instrumentation",
    "opik", "opik-otel", "genai-prices",
)
PEER_PACKAGE = {
    "official": "opentelemetry-instrumentation-genai-openai",
    "openllmetry": "opentelemetry-instrumentation-openai",
    "openinference": "openinference-instrumentation-openai",
    "opik-sdk": "opik",
    "opik-otel-off": "opik-otel",
    "opik-otel-on": "opik-otel",
    "none": "openai",
}
CONTENT_DEFAULT = {
    "none": None,
    "opik-otel-off": False,
    "opik-otel-on": True,
    "official": False,  # util-genai: no content unless OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
    "openllmetry": True,  # TRACELOOP_TRACE_CONTENT defaults to "true"
    "openinference": True,  # OPENINFERENCE_HIDE_* default to false
    "opik-sdk": True,  # track_openai always logs input and output
}

# --- the fake OpenAI wire ---------------------------------------------------------------

MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
MESSAGES = [
    {
        "role": "system",
        "content": (
            "You are a concise assistant for an online bookshop. Answer questions about "
            "orders, shipping times and returns in two or three sentences, in a friendly tone, "
            "and never invent an order status you were not given in the conversation."
        ),
    },
    {
        "role": "user",
        "content": (
            "Hi! I ordered two paperbacks last Tuesday (order 48213) and the tracking page still "
            "says 'label created'. Is that normal, and when should I expect them? I need one of "
            "them as a birthday present on Saturday."
        ),
    },
]
ANSWER_WORDS = (
    "Thanks for reaching out! A 'label created' status usually means the parcel is "
    "packed and waiting for the carrier's first scan, which can take one to two business "
    "days. Standard shipping then takes three to five days, so Saturday is possible but "
    "not guaranteed; I can upgrade it to express if you like."
).split(" ")


def _chat_completion_body() -> bytes:
    return json.dumps({
        "id": "chatcmpl-BqR2cX5vJ8kL0mN3pQ6sT9wY1zA4b",
        "object": "chat.completion",
        "created": 1751882400,
        "model": RESPONSE_MODEL,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": " ".join(ANSWER_WORDS), "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }],
        "usage": {
            "prompt_tokens": 112,
            "completion_tokens": 71,
            "total_tokens": 183,
            "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_34a54ae93c",
    }).encode()


def _stream_body() -> bytes:
    """20 content chunks (the first carries the role, the last the finish reason), a usage chunk, [DONE]."""
    words = ANSWER_WORDS
    per = -(-len(words) // STREAM_CONTENT_CHUNKS)
    pieces = [" ".join(words[i * per:(i + 1) * per]) + " " for i in range(STREAM_CONTENT_CHUNKS)]
    pieces[-1] = pieces[-1].rstrip() or "."
    base = {
        "id": "chatcmpl-BqR2cX5vJ8kL0mN3pQ6sT9wY1zA4b",
        "object": "chat.completion.chunk",
        "created": 1751882400,
        "model": RESPONSE_MODEL,
        "service_tier": "default",
        "system_fingerprint": "fp_34a54ae93c",
    }
    events = []
    for i, text in enumerate(pieces):
        delta: dict[str, Any] = {"content": text}
        if i == 0:
            delta = {"role": "assistant", "content": text, "refusal": None}
        finish = "stop" if i == STREAM_CONTENT_CHUNKS - 1 else None
        events.append({**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
                       "usage": None})
    events.append({**base, "choices": [], "usage": {
        "prompt_tokens": 112, "completion_tokens": 71, "total_tokens": 183,
        "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }})
    lines = [f"data: {json.dumps(e)}\n\n" for e in events] + ["data: [DONE]\n\n"]
    return "".join(lines).encode()


def http_module():
    """The HTTP package the installed openai uses: httpx2 for openai >= 3, else httpx."""
    import openai._base_client as base_client

    module = getattr(base_client, "httpx2", None)
    if module is None:
        import httpx as module
    return module


def make_clients(mode: str, count: int) -> list:
    """`count` openai clients (AsyncOpenAI in async mode) on their own in-process transports."""
    import openai

    http = http_module()
    stream = mode == "stream"
    body = _stream_body() if stream else _chat_completion_body()
    headers = {
        "content-type": "text/event-stream" if stream else "application/json",
        "x-request-id": "req_6f1e2b7c9d0a4e3f8b5c1d2e3f4a5b6c",
        "openai-processing-ms": "412",
    }

    def handler(request):
        return http.Response(200, headers=headers, content=body)

    transport = http.MockTransport(handler)
    clients = []
    for _ in range(count):
        if mode == "async":
            clients.append(openai.AsyncOpenAI(api_key="sk-bench", max_retries=0,
                                              http_client=http.AsyncClient(transport=transport)))
        else:
            clients.append(openai.OpenAI(api_key="sk-bench", max_retries=0,
                                         http_client=http.Client(transport=transport)))
    for client in clients:
        client.chat.completions  # noqa: B018 - loads the lazily imported resource modules now
    return clients


# --- the fake Opik back end (a subprocess, so its CPU is not ours) -----------------------

_BACKEND_CODE = r"""
import collections, json, sys
sys.path.insert(0, sys.argv[1])
from tests.fakes.opik_backend import FakeOpikBackend
backend = FakeOpikBackend().start()
print(backend.url, flush=True)
sys.stdin.read()  # until the benchmark closes our stdin
statuses = collections.Counter(f"{r.path} {r.status}" for r in backend.requests)
print(json.dumps({"requests": dict(statuses), "traces": len(backend.traces), "spans": len(backend.spans),
                  "errors": backend.errors[:5], "error_count": len(backend.errors)}), flush=True)
backend.stop()
"""


class FakeOpikProcess:
    """Starts at once; `url` waits until it listens (so our imports overlap its start-up)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BACKEND_CODE, str(ROOT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = self.proc.stdout.readline().strip()
            if not self._url.startswith("http"):
                self.proc.kill()
                raise RuntimeError("the fake Opik back end did not start (is `opik` installed here?)")
        return self._url

    def stop(self) -> dict:
        try:
            out, _ = self.proc.communicate(input="", timeout=30)
            lines = [line for line in out.splitlines() if line.strip()]
            return json.loads(lines[-1]) if lines else {}
        except Exception as exc:  # noqa: BLE001 - a summary is a nicety
            self.proc.kill()
            return {"error": repr(exc)}


# --- configurations ----------------------------------------------------------------------


class Setup:
    """What a configuration provides: the clients, instrument/uninstrument, flush, finish."""

    def __init__(self) -> None:
        self.bare_client = None
        self.instr_client = None
        self.instrument: Callable[[], None] = lambda: None
        self.uninstrument: Callable[[], None] = lambda: None
        self.flush: Callable[[], None] = lambda: None
        self.finish: Callable[[], dict] = lambda: {}
        self.notes: list[str] = []


def _null_pipeline():
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class NullExporter(SpanExporter):
        count = 0

        def export(self, spans):
            NullExporter.count += len(spans)
            return SpanExportResult.SUCCESS

        def shutdown(self):
            pass

    exporter = NullExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider, exporter


def _openai_attrs() -> dict:
    """The attributes of the classes (and module globals) of openai's client and resource modules."""
    snap = {}
    for name, module in list(sys.modules.items()):
        if module is None or not (name in ("openai", "openai._client", "openai._base_client")
                                  or name.startswith("openai.resources")):
            continue
        for attr, value in list(vars(module).items()):
            snap[(module, attr)] = value
            # type(value), not isinstance(): openai's lazy proxies import on any attribute access
            if issubclass(type(value), type) and vars(value).get("__module__", "").startswith("openai"):
                for cls_attr, cls_value in list(vars(value).items()):
                    snap[(value, cls_attr)] = cls_value
    return snap


_MISSING = object()


def _same(key, value, original) -> bool:
    """Whether `value` restores `original` (an attribute put on a subclass counts as the inherited one)."""
    if value is original:
        return True
    container, attr = key
    if original is _MISSING and isinstance(container, type):
        inherited = next((vars(c)[attr] for c in container.__mro__[1:] if attr in vars(c)), _MISSING)
        return value is inherited
    return False


def _toggle(setup: Setup, instrumentor, **kwargs) -> None:
    """instrument()/uninstrument() between blocks, if uninstrument() really restores openai.

    Otherwise (an instrumentor whose uninstrument() leaves its wrappers in place, so that
    instrumenting again would stack a second wrapper) instrument once and swap the patched
    attributes of openai's modules and classes between their original and wrapped values.
    """
    before = _openai_attrs()
    instrumentor.instrument(**kwargs)
    during = _openai_attrs()
    instrumentor.uninstrument()
    after = _openai_attrs()
    # attributes replaced by (or, on a class, added as) a wrapper: wrapt's or functools.wraps-style
    containers = {container for container, _ in before}
    patched = {key: before.get(key, _MISSING) for key, value in during.items()
               if before.get(key, _MISSING) is not value and not key[1].startswith("__")
               and (key in before or (isinstance(key[0], type) and key[0] in containers))
               and not isinstance(value, types.ModuleType) and hasattr(value, "__wrapped__")}
    left = [key for key, original in patched.items() if not _same(key, after.get(key, _MISSING), original)]
    if not patched:
        setup.notes.append("instrument() patched no attribute of openai's modules or classes")
    if not left:
        setup.instrument = lambda: instrumentor.instrument(**kwargs)
        setup.uninstrument = instrumentor.uninstrument
        return
    names = sorted(f"{getattr(c, '__name__', c)}.{a}" for c, a in left)
    setup.notes.append(
        f"uninstrument() left {len(left)} wrapper(s) in place (e.g. {', '.join(names[:3])}); instrumented "
        "once and toggled by swapping the patched attributes between their original and wrapped values")

    def put(values: dict) -> None:
        for (container, attr), value in values.items():
            if value is not _MISSING:
                setattr(container, attr, value)
            elif attr in vars(container):
                delattr(container, attr)

    put(patched)  # back to bare
    instrumentor.instrument(**kwargs)
    now = _openai_attrs()
    wrapped = {key: now.get(key, _MISSING) for key in patched}
    put(patched)
    setup.instrument = lambda: put(wrapped)
    setup.uninstrument = lambda: put(patched)


def build(config: str, mode: str) -> Setup:
    setup = Setup()
    if config == "opik-sdk":
        return _build_opik_sdk(setup, mode)

    ours = config in ("opik-otel-off", "opik-otel-on")
    backend = FakeOpikProcess() if ours else None  # its start-up overlaps ours
    (client,) = make_clients(mode, 1)
    setup.bare_client = setup.instr_client = client
    if config == "none":
        return setup

    if ours:
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        from opik_otel import UsageCostSpanProcessor
        from opik_otel._ids import UuidV7IdGenerator
        from opik_otel.exporters.opik import OpikSpanExporter
        from opik_otel.instrumentors.openai import OpenAIInstrumentor

        provider = TracerProvider(id_generator=UuidV7IdGenerator())
        provider.add_span_processor(UsageCostSpanProcessor(BatchSpanProcessor(OpikSpanExporter(url=backend.url, api_key="k"))))
        _toggle(setup, OpenAIInstrumentor(), tracer_provider=provider, capture_content=config == "opik-otel-on")
        setup.flush = provider.force_flush

        def finish() -> dict:
            provider.shutdown()
            return {"backend": backend.stop()}

        setup.finish = finish
        return setup

    provider, exporter = _null_pipeline()
    if config == "official":
        from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor
    elif config == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor
    elif config == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor
    else:
        raise SystemExit(f"unknown config {config!r}")
    _toggle(setup, OpenAIInstrumentor(), tracer_provider=provider)
    setup.flush = provider.force_flush

    def finish_null() -> dict:
        provider.shutdown()
        return {"spans_exported": exporter.count}

    setup.finish = finish_null
    return setup


def _build_opik_sdk(setup: Setup, mode: str) -> Setup:
    backend = FakeOpikProcess()
    os.environ.update({
        "OPIK_URL_OVERRIDE": backend.url,
        "OPIK_API_KEY": "k",
        "OPIK_WORKSPACE": "default",
        "OPIK_PROJECT_NAME": "overhead-bench",
        # no telemetry about the SDK itself (there is no network here anyway)
        "OPIK_ANALYTICS_ENABLE": "false",
        "OPIK_SENTRY_ENABLE": "false",
    })
    import opik
    from opik.integrations.openai import track_openai

    bare, tracked = make_clients(mode, 2)
    setup.bare_client, setup.instr_client = bare, track_openai(tracked)
    setup.notes.append("per-client: a tracked and an untracked client alternate")
    setup.flush = opik.flush_tracker

    def finish() -> dict:
        opik.flush_tracker()
        return {"backend": backend.stop()}

    setup.finish = finish
    return setup


# --- timing ------------------------------------------------------------------------------

ns = time.perf_counter_ns


def block_chat(client, n: int) -> float:
    t0 = ns()
    for _ in range(n):
        client.chat.completions.create(model=MODEL, messages=MESSAGES)
    return (ns() - t0) / n / 1000


def block_stream(client, n: int) -> tuple[float, float]:
    """Mean µs per fully read stream, and mean µs to the first chunk."""
    ttfc = 0
    t0 = ns()
    for _ in range(n):
        t = ns()
        stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True,
                                                stream_options={"include_usage": True})
        it = iter(stream)
        next(it)
        ttfc += ns() - t
        for _chunk in it:
            pass
    return (ns() - t0) / n / 1000, ttfc / n / 1000


def block_first_only(client, n: int) -> float:
    t0 = ns()
    for _ in range(n):
        stream = client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True,
                                                stream_options={"include_usage": True})
        next(iter(stream))
        stream.close()
    return (ns() - t0) / n / 1000


async def _async_block(client, n: int) -> float:
    t0 = ns()
    for _ in range(n):
        await client.chat.completions.create(model=MODEL, messages=MESSAGES)
    return (ns() - t0) / n / 1000


class Runner:
    def __init__(self, setup: Setup, mode: str, loop=None, flush: bool = True) -> None:
        self.setup, self.mode, self.loop, self.flush = setup, mode, loop, flush
        self.export_cpu_ns = {"full": 0, "first": 0}
        self.timed_calls = {"full": 0, "first": 0}
        self.instrumented_calls = 0  # all of them, warm-up included: the spans to expect

    def _run(self, kind: str, client, n: int):
        if self.mode == "async":
            return self.loop.run_until_complete(_async_block(client, n))
        if kind == "full":
            return block_stream(client, n) if self.mode == "stream" else block_chat(client, n)
        return block_first_only(client, n)

    def block(self, kind: str, instrumented: bool, n: int):
        gc.collect()
        if not instrumented:
            return self._run(kind, self.setup.bare_client, n)
        self.setup.instrument()
        try:
            result = self._run(kind, self.setup.instr_client, n)
        finally:
            self.setup.uninstrument()
        if self.flush:
            cpu0 = time.process_time_ns()
            self.setup.flush()
            self.export_cpu_ns[kind] += time.process_time_ns() - cpu0
        self.timed_calls[kind] += n
        self.instrumented_calls += n
        return result

    def pair(self, kind: str, index: int, n: int):
        if index % 2 == 0:
            bare = self.block(kind, False, n)
            instr = self.block(kind, True, n)
        else:
            instr = self.block(kind, True, n)
            bare = self.block(kind, False, n)
        return bare, instr


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in VERSION_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def _r(x: float, digits: int = 2) -> float:
    return round(x, digits)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", required=True, choices=CONFIGS)
    parser.add_argument("--mode", required=True, choices=MODES)
    parser.add_argument("--blocks", type=int, default=20, help="block pairs (default 20)")
    parser.add_argument("--block-size", type=int, default=100, help="calls per block (default 100)")
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls of each kind first (default 200)")
    parser.add_argument("--flush", choices=("block", "never"), default="block",
                        help="flush the span pipeline after each instrumented block, untimed (default), or "
                             "never: export then runs on its own schedule, inside whichever block it falls")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="set an environment variable before the instrumentation loads")
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args(argv)

    for name in CONTENT_ENV:
        os.environ.pop(name, None)
    for item in args.env:
        key, _, value = item.partition("=")
        os.environ[key] = value

    mode, n = args.mode, args.block_size
    loop = None
    if mode == "async":
        import asyncio

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
    setup = build(args.config, mode)
    runner = Runner(setup, mode, loop, flush=args.flush == "block")
    try:
        # warm-up: both paths, every kind, untimed
        for instrumented in (False, True):
            runner.block("full", instrumented, args.warmup)
            if mode == "stream":
                runner.block("first", instrumented, max(1, args.warmup // 2))
        runner.export_cpu_ns = {"full": 0, "first": 0}
        runner.timed_calls = {"full": 0, "first": 0}
        gc.collect()
        gc.freeze()  # start-up and warm-up objects: out of every later collection

        full, first = [], []
        for i in range(args.blocks):
            full.append(runner.pair("full", i, n))
            if mode == "stream":
                first.append(runner.pair("first", i, n))
    finally:
        extra = setup.finish()
        if loop is not None:
            loop.close()

    if mode == "stream":
        pairs = [(b[0], s[0]) for b, s in full]
        ttfc_pairs = [(b[1], s[1]) for b, s in full]
    else:
        pairs = list(full)
    ratios = [s / b for b, s in pairs]
    added = [s - b for b, s in pairs]
    result: dict[str, Any] = {
        "config": args.config,
        "mode": mode,
        "versions": versions(),
        "peer_package": PEER_PACKAGE[args.config],
        "capture_content": CONTENT_DEFAULT[args.config],
        "env": args.env,
        "bare_us": _r(statistics.median(b for b, _ in pairs)),
        "instrumented_us": _r(statistics.median(s for _, s in pairs)),
        "added_us": _r(statistics.median(added)),
        "ratio_median": _r(statistics.median(ratios), 4),
        "ratio_min": _r(min(ratios), 4),
        "ratio_max": _r(max(ratios), 4),
        "export_cpu_us": (_r(runner.export_cpu_ns["full"] / max(1, runner.timed_calls["full"]) / 1000)
                          if args.flush == "block" else None),
        "flush": args.flush,
        "instrumented_calls": runner.instrumented_calls,
        "blocks": args.blocks,
        "block_size": n,
        "warmup": args.warmup,
        "pairs": [[_r(b), _r(s)] for b, s in pairs],
        "notes": setup.notes,
        **extra,
    }
    if mode == "stream":
        first_added = [s - b for b, s in first]
        result.update({
            "ttfc_bare_us": _r(statistics.median(b for b, _ in ttfc_pairs)),
            "ttfc_added_us": _r(statistics.median(s - b for b, s in ttfc_pairs)),
            "first_only_bare_us": _r(statistics.median(b for b, _ in first)),
            "fixed_us": _r(statistics.median(first_added)),
            "per_chunk_us": _r(statistics.median((a - f) / STREAM_CONTENT_CHUNKS for a, f in zip(added, first_added))),
            "per_chunk_naive_us": _r(statistics.median(added) / STREAM_CONTENT_CHUNKS),
            "chunks": STREAM_CONTENT_CHUNKS,
            "ttfc_pairs": [[_r(b), _r(s)] for b, s in ttfc_pairs],
            "first_pairs": [[_r(b), _r(s)] for b, s in first],
        })

    spans = extra.get("spans_exported", (extra.get("backend") or {}).get("spans"))
    result["spans"] = spans
    result["spans_expected"] = None if args.config == "none" else runner.instrumented_calls
    if spans is not None and spans != runner.instrumented_calls:
        result["notes"].append(f"{spans} spans recorded for {runner.instrumented_calls} instrumented calls")

    line = (f"{args.config:14} {mode:6} bare {result['bare_us']:8.1f} µs  added {result['added_us']:+8.1f} µs  "
            f"ratio {result['ratio_median']:.3f} ({result['ratio_min']:.3f}–{result['ratio_max']:.3f})  "
            + (f"export cpu {result['export_cpu_us']:.1f} µs/call" if result["export_cpu_us"] is not None else ""))
    if mode == "stream":
        line += (f"  ttfc {result['ttfc_added_us']:+.1f} µs  fixed {result['fixed_us']:+.1f} µs  "
                 f"per chunk {result['per_chunk_us']:+.2f} µs")
    for note in result["notes"]:
        line += f"\n    note: {note}"
    print(line, flush=True)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
