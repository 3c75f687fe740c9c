"""Per-run overhead of LangChain / LangGraph instrumentation: opik-otel vs the peers.

    python benchmarks/langchain_overhead.py --config NAME --workload {lcel,graph} \
        [--blocks 8] [--block-size 50] [--warmup 50] [--json out.json]
    python benchmarks/langchain_overhead.py --report RUNS_DIR --out FILE.json [--md FILE.md]

Workloads (both on `ChatOpenAI` from langchain-openai, whose openai client talks to an
in-process transport, `httpx2.MockTransport` for openai >= 3, `httpx.MockTransport` before,
answering the fixed chat.completion of `overhead.py`):

  lcel    `ChatPromptTemplate | ChatOpenAI | StrOutputParser`, `chain.invoke({...})`
  graph   a two-node LangGraph `StateGraph`: node `model` calls the chat model, node
          `postprocess` derives a small summary from its answer; `graph.invoke({...})`

Configurations (each runs in an environment of `benchmarks/setup.sh`: ours and the control
in `lc-opik-otel` or any environment with opik-otel and the same LangChain packages, the
peers in `lc-openinference` and `lc-openllmetry`):

  none            no instrumentation: both blocks of a pair are bare (the noise floor)
  opik-otel-off   `OpikInstrumentor` (LangChain + openai instrumentors, as the zero-code path
                  instruments), content capture off, the production pipeline `configure()`
                  builds (OpikBatchSpanProcessor -> OpikSpanExporter -> a fake Opik back end in
                  a subprocess), as in `overhead.py`
  opik-otel-on    the same with content capture on
  openinference   `openinference-instrumentation-langchain`, its defaults (content on)
  openllmetry     `opentelemetry-instrumentation-langchain` (Traceloop), its defaults (content on)
  openinference-off, openllmetry-off
                  the same with content off (OPENINFERENCE_HIDE_INPUTS/_OUTPUTS=true;
                  TRACELOOP_TRACE_CONTENT=false)

The peers get a `BatchSpanProcessor` in front of a null exporter. Only each project's
LangChain instrumentor runs (OpenInference's and OpenLLMetry's make the LLM span from
LangChain's callbacks; ours makes it from the openai call, hence both of our instrumentors).

Method: as `overhead.py` (interleaved ABBA block pairs in one process, instrument() /
uninstrument() between blocks, GC before each block, the span pipeline flushed after each
instrumented block outside the timed part). An instrumentor whose uninstrument() leaves
wrappers behind (OpenLLMetry's, whose `unwrap` calls are no-ops) is instrumented once and its
patched attributes (class `__init__` included) swapped between original and wrapped values.
Our LangChain instrumentor keeps its configure hook registered after uninstrument() (it
answers None); the harness takes it out of LangChain's hook list during bare blocks, so the
bare side is bare. Spans are counted (exported, or stored by the fake back end) and compared
with the instrumented runs: spans per run = spans / instrumented runs, and per-span µs =
added µs / spans per run.
"""

from __future__ import annotations

import argparse
import gc
import importlib.metadata
import json
import os
import platform
import statistics
import sys
import time
import types
from pathlib import Path
from typing import Any, Callable, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parent))
import overhead  # noqa: E402 - the fake wire, the fake Opik back end, the pipelines

CONFIGS = ("none", "opik-otel-off", "opik-otel-on", "openinference", "openinference-off", "openllmetry",
           "openllmetry-off")
WORKLOADS = ("lcel", "graph")
PEER_PACKAGE = {
    "none": "langchain-core",
    "opik-otel-off": "opik-otel",
    "opik-otel-on": "opik-otel",
    "openinference": "openinference-instrumentation-langchain",
    "openinference-off": "openinference-instrumentation-langchain",
    "openllmetry": "opentelemetry-instrumentation-langchain",
    "openllmetry-off": "opentelemetry-instrumentation-langchain",
}
CONTENT_DEFAULT = {"none": None, "opik-otel-off": False, "opik-otel-on": True,
                   "openinference": True, "openinference-off": False, "openllmetry": True, "openllmetry-off": False}
# the peers' content switches, for their content-off configurations
CONFIG_ENV = {
    "openinference-off": {"OPENINFERENCE_HIDE_INPUTS": "true", "OPENINFERENCE_HIDE_OUTPUTS": "true"},
    "openllmetry-off": {"TRACELOOP_TRACE_CONTENT": "false"},
}
VERSION_PACKAGES = (
    "langchain-core", "langgraph", "langchain-openai", "openai", "httpx2", "httpx",
    "opentelemetry-api", "opentelemetry-sdk", "opentelemetry-instrumentation", "opik-otel",
    "openinference-instrumentation-langchain", "openinference-instrumentation",
    "opentelemetry-instrumentation-langchain", "pydantic",
)
# modules whose functions and classes an instrumentor may patch (checked for leftover wrappers)
PATCHED_PREFIXES = ("openai", "langchain_core", "langchain_openai", "langgraph", "langchain")

SYSTEM = overhead.MESSAGES[0]["content"]
QUESTION = overhead.MESSAGES[1]["content"]


# --- the application ---------------------------------------------------------------------


def make_model():
    """A ChatOpenAI whose openai client answers in process (sync and async transports)."""
    from langchain_openai import ChatOpenAI

    http = overhead.http_module()
    body = overhead._chat_completion_body()
    headers = {"content-type": "application/json", "x-request-id": "req_6f1e2b7c9d0a4e3f8b5c1d2e3f4a5b6c",
               "openai-processing-ms": "412"}

    def handler(request):
        return http.Response(200, headers=headers, content=body)

    transport = http.MockTransport(handler)
    return ChatOpenAI(model=overhead.MODEL, api_key="sk-bench", max_retries=0,
                      http_client=http.Client(transport=transport),
                      http_async_client=http.AsyncClient(transport=transport))


class State(TypedDict, total=False):
    question: str
    answer: str
    summary: dict


def make_workload(workload: str) -> Callable[[], Any]:
    """The runnable's invoke for one run of the workload."""
    from langchain_core.output_parsers import StrOutputParser
    from langchain_core.prompts import ChatPromptTemplate

    model = make_model()
    if workload == "lcel":
        chain = ChatPromptTemplate.from_messages([("system", SYSTEM), ("human", "{question}")]) | model | StrOutputParser()
        inputs = {"question": QUESTION}
        return lambda: chain.invoke(inputs)

    from langgraph.graph import END, START, StateGraph

    def call_model(state: State) -> State:
        reply = model.invoke([("system", SYSTEM), ("human", state["question"])])
        return {"answer": reply.content}

    def postprocess(state: State) -> State:
        text = state["answer"]
        return {"summary": {"words": len(text.split()), "chars": len(text), "first": text.split(". ")[0]}}

    builder = StateGraph(State)
    builder.add_node("model", call_model)
    builder.add_node("postprocess", postprocess)
    builder.add_edge(START, "model")
    builder.add_edge("model", "postprocess")
    builder.add_edge("postprocess", END)
    graph = builder.compile()
    state = {"question": QUESTION}
    return lambda: graph.invoke(state)


# --- toggling ------------------------------------------------------------------------------


def _attrs() -> dict:
    """The functions and class attributes (dunders included) of the modules an instrumentor may patch."""
    snap = {}
    for name, module in list(sys.modules.items()):
        if module is None or not any(name == p or name.startswith(p + ".") for p in PATCHED_PREFIXES):
            continue
        for attr, value in list(vars(module).items()):
            snap[(module, attr)] = value
            if issubclass(type(value), type) and str(vars(value).get("__module__", "")).startswith(PATCHED_PREFIXES):
                for cls_attr, cls_value in list(vars(value).items()):
                    snap[(value, cls_attr)] = cls_value
    return snap


def _name(key: tuple) -> str:
    container, attr = key
    return f"{getattr(container, '__name__', container)}.{attr}"


def toggle(setup: overhead.Setup, instrumentor, **kwargs) -> None:
    """instrument()/uninstrument() between blocks if uninstrument() really restores every patched
    attribute; else instrument once and swap the patched attributes (see the module docstring)."""
    before = _attrs()
    instrumentor.instrument(**kwargs)
    during = _attrs()
    instrumentor.uninstrument()
    after = _attrs()
    containers = {container for container, _ in before}
    patched = {key: before.get(key, overhead._MISSING) for key, value in during.items()
               if before.get(key, overhead._MISSING) is not value
               and (key in before or (isinstance(key[0], type) and key[0] in containers))
               and not isinstance(value, types.ModuleType) and hasattr(value, "__wrapped__")}
    left = [key for key, original in patched.items()
            if not overhead._same(key, after.get(key, overhead._MISSING), original)]
    patched_names = sorted(_name(key) for key in patched)
    setup.notes.append(f"instrument() patched {len(patched)} attribute(s)"
                       + (f" (e.g. {', '.join(patched_names[:4])})" if patched else ""))
    if not left:
        setup.instrument = lambda: instrumentor.instrument(**kwargs)
        setup.uninstrument = instrumentor.uninstrument
        return
    names = sorted(_name(key) for key in left)
    setup.notes.append(
        f"uninstrument() left {len(left)} wrapper(s) in place (e.g. {', '.join(names[:3])}); instrumented "
        "once and toggled by swapping the patched attributes between their original and wrapped values")

    def put(values: dict) -> None:
        for (container, attr), value in values.items():
            if value is not overhead._MISSING:
                setattr(container, attr, value)
            elif attr in vars(container):
                delattr(container, attr)

    put(patched)
    instrumentor.instrument(**kwargs)
    now = _attrs()
    wrapped = {key: now.get(key, overhead._MISSING) for key in patched}
    put(patched)
    setup.instrument = lambda: put(wrapped)
    setup.uninstrument = lambda: put(patched)


def _without_our_hook(setup: overhead.Setup) -> None:
    """Takes our configure hook out of LangChain's hook list while uninstrumented (it stays
    registered after uninstrument(), answering None), and puts it back before instrument()."""
    from langchain_core.tracers import context as lc_context

    from opik_otel.instrumentors.langchain import instrumentor as ours

    hooks = lc_context._configure_hooks
    entries = [hook for hook in hooks if hook[0] is ours._ACTIVE]
    if not entries:
        setup.notes.append("our configure hook was not found in LangChain's hook list")
        return
    instrument, uninstrument = setup.instrument, setup.uninstrument

    def on() -> None:
        hooks.extend(e for e in entries if e not in hooks)
        instrument()

    def drop() -> None:
        hooks[:] = [hook for hook in hooks if hook[0] is not ours._ACTIVE]

    def off() -> None:
        uninstrument()
        drop()

    setup.instrument, setup.uninstrument = on, off
    drop()


def build(config: str) -> overhead.Setup:
    setup = overhead.Setup()
    if config == "none":
        return setup
    if config in ("opik-otel-off", "opik-otel-on"):
        backend = overhead.FakeOpikProcess()
        import langchain_core.tracers.context  # noqa: F401 - loaded, so our hook registers at instrument()

        from opik_otel import OpikInstrumentor

        content = config == "opik-otel-on"
        provider = overhead._our_provider(backend, content)
        instrumentor = OpikInstrumentor()
        toggle(setup, instrumentor, tracer_provider=provider, capture_content=content)
        setup.instrument()
        setup.notes.append("instrumented: " + ", ".join(instrumentor.instrumented_libraries))
        setup.uninstrument()
        _without_our_hook(setup)
        setup.flush = provider.force_flush

        def finish() -> dict:
            provider.shutdown()
            return {"backend": backend.stop()}

        setup.finish = finish
        return setup

    provider, exporter = overhead._null_pipeline()
    if config.startswith("openinference"):
        from openinference.instrumentation.langchain import LangChainInstrumentor as Instrumentor
    elif config.startswith("openllmetry"):
        from opentelemetry.instrumentation.langchain import LangchainInstrumentor as Instrumentor
    else:
        raise SystemExit(f"unknown config {config!r}")
    toggle(setup, Instrumentor(), tracer_provider=provider)
    setup.flush = provider.force_flush

    def finish_null() -> dict:
        provider.shutdown()
        return {"spans_exported": exporter.count}

    setup.finish = finish_null
    return setup


# --- timing ------------------------------------------------------------------------------

ns = time.perf_counter_ns


def timed_block(run: Callable[[], Any], n: int) -> float:
    t0 = ns()
    for _ in range(n):
        run()
    return (ns() - t0) / n / 1000


class Runner:
    def __init__(self, setup: overhead.Setup, run: Callable[[], Any]) -> None:
        self.setup, self.run = setup, run
        self.export_cpu_ns = 0
        self.timed_runs = 0
        self.instrumented_runs = 0  # warm-up included: the spans to expect

    def block(self, instrumented: bool, n: int) -> float:
        gc.collect()
        if not instrumented:
            return timed_block(self.run, n)
        self.setup.instrument()
        try:
            result = timed_block(self.run, n)
        finally:
            self.setup.uninstrument()
        cpu0 = time.process_time_ns()
        self.setup.flush()
        self.export_cpu_ns += time.process_time_ns() - cpu0
        self.timed_runs += n
        self.instrumented_runs += n
        return result

    def pair(self, index: int, n: int) -> tuple[float, float]:
        if index % 2 == 0:
            bare = self.block(False, n)
            return bare, self.block(True, n)
        instr = self.block(True, n)
        return self.block(False, n), instr


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in VERSION_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def report(runs_dir: Path, out: Path, md: Path | None, settings: dict) -> str:
    """Pools the per-process results in `runs_dir` (pairs of all processes of a config x workload):
    median ratio with min-max of single pairs, per-process median ratios, median added µs."""
    runs = [json.loads(p.read_text()) for p in sorted(runs_dir.glob("*.json"))]
    groups: dict[tuple[str, str], list[dict]] = {}
    for run in runs:
        groups.setdefault((run["workload"], run["config"]), []).append(run)
    rows = []
    for workload in WORKLOADS:
        for config in CONFIGS:
            group = groups.get((workload, config))
            if not group:
                continue
            ok = [run for run in group if "error" not in run]
            row: dict[str, Any] = {"workload": workload, "config": config, "processes": len(ok),
                                   "failed": [run["error"] for run in group if "error" in run]}
            if ok:
                pairs = [p for run in ok for p in run["pairs"]]
                ratios = [s / b for b, s in pairs]
                added = statistics.median(s - b for b, s in pairs)
                spans = [run["spans_per_run"] for run in ok if run.get("spans_per_run") is not None]
                spans_per_run = statistics.median(spans) if spans else None
                row.update({
                    "capture_content": ok[0]["capture_content"],
                    "bare_us": round(statistics.median(b for b, _ in pairs), 1),
                    "added_us": round(added, 1),
                    "ratio_median": round(statistics.median(ratios), 4),
                    "ratio_min": round(min(ratios), 4),
                    "ratio_max": round(max(ratios), 4),
                    "process_ratios": [run["ratio_median"] for run in ok],
                    "spans_per_run": spans_per_run,
                    "per_span_us": round(added / spans_per_run, 1) if spans_per_run else None,
                    "export_cpu_us": round(statistics.median(run["export_cpu_us"] for run in ok), 1),
                    "versions": ok[0]["versions"],
                    "notes": sorted({note for run in ok for note in run["notes"]}),
                })
            rows.append(row)
    lines = ["| workload | config | content | bare µs | added µs/run | ratio (min–max) | per-process ratios "
             "| spans/run | µs/span | export CPU µs/run |",
             "|---|---|---|---:|---:|---|---|---:|---:|---:|"]
    for row in rows:
        if "ratio_median" not in row:
            lines.append(f"| {row['workload']} | {row['config']} | | | | FAILED: {'; '.join(row['failed'])[:120]} | | | | |")
            continue
        content = {None: "–", False: "off", True: "on"}[row["capture_content"]]
        spans = "–" if row["spans_per_run"] is None else f"{row['spans_per_run']:g}"
        per_span = "–" if row["per_span_us"] is None else f"{row['per_span_us']:+.0f}"
        lines.append(
            f"| {row['workload']} | {row['config']} | {content} | {row['bare_us']:.0f} | {row['added_us']:+.0f} "
            f"| {row['ratio_median']:.3f} ({row['ratio_min']:.2f}–{row['ratio_max']:.2f}) "
            f"| {' / '.join(f'{r:.3f}' for r in row['process_ratios'])} | {spans} | {per_span} "
            f"| {row['export_cpu_us']:.0f} |")
    table = "\n".join(lines)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "settings": settings,
                               "rows": rows}, indent=2) + "\n")
    if md is not None:
        notes = [f"- {row['workload']} {row['config']}: {note}" for row in rows for note in row.get("notes", [])]
        md.write_text(f"# LangChain / LangGraph overhead ({time.strftime('%Y-%m-%d', time.gmtime())})\n\n"
                      f"Settings: {json.dumps(settings)}\n\n{table}\n\n" + "\n".join(notes) + "\n")
    return table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--report", type=Path, metavar="RUNS_DIR",
                        help="pool the per-process JSON files in RUNS_DIR into --out (and --md) instead of running")
    parser.add_argument("--out", type=Path, help="with --report: the pooled JSON")
    parser.add_argument("--md", type=Path, help="with --report: the Markdown table")
    parser.add_argument("--settings", default="{}", help="with --report: the run's settings (JSON)")
    parser.add_argument("--config", choices=CONFIGS)
    parser.add_argument("--workload", choices=WORKLOADS)
    parser.add_argument("--blocks", type=int, default=8, help="block pairs (default 8)")
    parser.add_argument("--block-size", type=int, default=50, help="runs per block (default 50)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed runs of each side first (default 50)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="set an environment variable before the instrumentation loads")
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args(argv)
    if args.report:
        if args.out is None:
            parser.error("--report needs --out")
        print(report(args.report, args.out, args.md, json.loads(args.settings)))
        return 0
    if not args.config or not args.workload:
        parser.error("--config and --workload are required")

    for name in overhead.CONTENT_ENV:
        os.environ.pop(name, None)
    # LangSmith tracing off (no network here) and the peers' content switches at their defaults
    for name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGCHAIN_TRACING"):
        os.environ.pop(name, None)
    os.environ.update(CONFIG_ENV.get(args.config, {}))
    for item in args.env:
        key, _, value = item.partition("=")
        os.environ[key] = value

    run = make_workload(args.workload)
    setup = build(args.config)
    runner = Runner(setup, run)
    n = args.block_size
    try:
        for instrumented in (False, True):
            runner.block(instrumented, args.warmup)
        runner.export_cpu_ns, runner.timed_runs = 0, 0
        gc.collect()
        gc.freeze()
        pairs = [runner.pair(i, n) for i in range(args.blocks)]
    finally:
        extra = setup.finish()

    ratios = [s / b for b, s in pairs]
    added = [s - b for b, s in pairs]
    r = overhead._r
    spans = extra.get("spans_exported", (extra.get("backend") or {}).get("spans"))
    instrumented_runs = runner.instrumented_runs if args.config != "none" else 0
    spans_per_run = spans / instrumented_runs if spans is not None and instrumented_runs else None
    added_us = statistics.median(added)
    result: dict[str, Any] = {
        "config": args.config,
        "workload": args.workload,
        "versions": versions(),
        "peer_package": PEER_PACKAGE[args.config],
        "capture_content": CONTENT_DEFAULT[args.config],
        "env": args.env,
        "bare_us": r(statistics.median(b for b, _ in pairs)),
        "instrumented_us": r(statistics.median(s for _, s in pairs)),
        "added_us": r(added_us),
        "ratio_median": r(statistics.median(ratios), 4),
        "ratio_min": r(min(ratios), 4),
        "ratio_max": r(max(ratios), 4),
        "export_cpu_us": r(runner.export_cpu_ns / max(1, runner.timed_runs) / 1000),
        "spans": spans,
        "instrumented_runs": instrumented_runs,
        "spans_per_run": r(spans_per_run, 3) if spans_per_run is not None else None,
        "per_span_us": r(added_us / spans_per_run) if spans_per_run else None,
        "blocks": args.blocks,
        "block_size": n,
        "warmup": args.warmup,
        "pairs": [[r(b), r(s)] for b, s in pairs],
        "notes": setup.notes,
        **extra,
    }
    if spans_per_run is not None and abs(spans_per_run - round(spans_per_run)) > 1e-9:
        result["notes"].append(f"{spans} spans for {instrumented_runs} instrumented runs: not a whole number per run")
    line = (f"{args.config:14} {args.workload:6} bare {result['bare_us']:8.1f} µs  added {result['added_us']:+8.1f} µs  "
            f"ratio {result['ratio_median']:.3f} ({result['ratio_min']:.3f}–{result['ratio_max']:.3f})  "
            f"spans/run {result['spans_per_run']}  per span {result['per_span_us']} µs  "
            f"export cpu {result['export_cpu_us']:.1f} µs/run")
    overhead.emit(line, result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
