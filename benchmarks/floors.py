"""The floor under our overhead: what the cheapest OpenTelemetry instrumentation of the same
work costs, rung by rung, beside ours, measured in one process with interleaved blocks.

    python benchmarks/floors.py call --provider openai|genai [--mode chat|async] [--pairs 16] [--block-size 100]
    python benchmarks/floors.py langchain [--workload lcel|graph] [--pairs 16] [--block-size 50]
    python benchmarks/floors.py adk [--pairs 40] [--block-size 10]
    python benchmarks/floors.py crewai [--pairs 16] [--block-size 5]
    python benchmarks/floors.py startup [--runs 11]
    … [--json results/floors-….json]

Run `call` with the interpreter of an environment that has the provider's SDK and opik-otel
(`.venvs/latest` for openai, `benchmarks/.venvs/genai-opik-otel` for google-genai), `langchain`
with `.venvs/langchain-latest`, `adk` with `.venvs/adk-latest` or `benchmarks/.venvs/ad-floors` (which
also has OpenInference's ADK instrumentation: its rungs are then added), `crewai` with
`benchmarks/.venvs/cr-floors` (ours and OpenInference's CrewAI and openai instrumentations).

A speed goal stated as a ratio to the bare call can only be met if the rungs below ours
leave room for it. Each rung adds one thing an instrumentation of this kind cannot do without:

call (the provider SDK method our instrumentor wraps, wrapped the way any instrumentor must:
a CLIENT span made current around the call, so HTTP client spans nest under it):
  bare            the call, uninstrumented
  span            + one SDK span, no attributes, on a `TracerProvider()` with no processor
  span+attrs      + exactly the attributes our span carries (captured from ours: the start
                  attributes at start, the rest with one `set_attributes` at the end)
  span+pipeline   + `configure()`'s pipeline (context processor, batch processor, the Opik
                  exporter posting to a fake back end in another process)
  opik-otel-off / opik-otel-on   our instrumentor, content off / on, on the same pipeline

langchain (`prompt | ChatOpenAI | parser`, or the two-node graph, of `langchain_overhead.py`):
  bare            the run, with no callback handler
  handler         + a LangChain callback handler that does nothing (LangChain's own dispatch
                  to a handler: the price of any callback-based tracer)
  spans           + one SDK span per run (4), parented by run id, no attributes, no processor
  spans+pipeline  + `configure()`'s pipeline
  opik-otel-off   ours (LangChain and openai instrumentors: what the zero-code path turns on)

adk (one agent turn of `adk_overhead.py`: two model round trips and a tool call; every
configuration's batch export held until the flush after each block):
  bare            the turn
  plugin          + an ADK plugin that does nothing, first in the runner (ADK's own dispatch to
                  a plugin: the price of our plugin-based design)
  plugin+spans    + a plugin making one SDK span (no attributes) per agent, model and tool
                  step, current while the step runs, on `configure()`'s pipeline: the 4 spans
                  a turn of ours, and nothing else (the floor of any plugin-based tracer)
  native-off, native   ADK's own tracing alone (its spans on an SDK provider, null exporter),
                  content off / on
  native-off+pipeline   ADK's own tracing alone on `configure()`'s pipeline (its model spans
                  priced there): what a tracer adding its data to ADK's own spans would start from
  native-off+official-genai   ADK's own tracing with its inference spans made by the official
                  google-genai instrumentation (ADK 2.x hands them over under
                  OTEL_SEMCONV_STABILITY_OPT_IN=gen_ai_latest_experimental): ADK's spans with
                  usage, as ours (only where that instrumentation is installed)
  openinference-off, openinference   OpenInference's ADK instrumentation (null exporter),
                  content hidden / shown (only where it is installed)
  opik-otel-off, opik-otel-on   ours (ADK plugin and google-genai instrumentor), content off / on

crewai (one single-task crew of `crewai_overhead.py`, export held likewise; the peers and ours
toggled in one process, so that the comparison is not made across processes):
  bare            the crew's kickoff
  hook            + a pass-through wrapper of `CrewAIEventsBus.emit` (where our instrumentor
                  reads events: the price of that design; it does nothing, so it also shows the
                  noise of the measurement)
  openinference-off, openinference   OpenInference's CrewAI and openai instrumentations (the
                  LLM span is the openai one's), content hidden / shown
  opik-otel-off, opik-otel-on   ours (CrewAI and openai instrumentors), content off / on

startup (fresh processes, medians): `python -c pass`; pydantic imported and one small model
validated; the OpenTelemetry trace SDK imported and a `TracerProvider` built; both; ours
(`import opik_otel; configure(exporter="local")`).

Ratios are medians over rounds of (rung's block / the round's bare block); rounds alternate
their order (ABBA), the garbage collector runs before each block and the pipeline is flushed
after it, outside the timed part.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

Toggle = tuple[Callable[[], None], Callable[[], None]]
_NOTHING: Toggle = (lambda: None, lambda: None)

#: the SDK method each provider's instrumentor wraps for one chat round trip
CALL_TARGETS = {
    "openai": ("openai.resources.chat.completions", "Completions.create", "AsyncCompletions.create"),
    "genai": ("google.genai.models", "Models._generate_content", "AsyncModels._generate_content"),
}


def measure(rungs: dict[str, Toggle], run_block: Callable[[int], None], flush: Callable[[], None],
            pairs: int, n: int, warmup: int = 50) -> dict[str, dict[str, float]]:
    """Interleaved timed blocks of every rung; per rung: median µs per run, added µs and ratio to bare."""
    def block(name: str, count: int) -> float:
        on, off = rungs[name]
        gc.collect()
        on()
        try:
            t0 = time.perf_counter_ns()
            run_block(count)
            return (time.perf_counter_ns() - t0) / count / 1000
        finally:
            off()
            flush()

    for name in rungs:
        block(name, warmup)
    times: dict[str, list[float]] = {name: [] for name in rungs}
    order = list(rungs)
    for i in range(pairs):
        for name in order if i % 2 == 0 else order[::-1]:
            times[name].append(block(name, n))
    bare = times["bare"]
    return {
        name: {
            "us": round(statistics.median(values), 1),
            "added_us": round(statistics.median(v - b for v, b in zip(values, bare)), 1),
            "ratio": round(statistics.median(v / b for v, b in zip(values, bare)), 3),
        }
        for name, values in times.items()
    }


def _repeated(run: Callable[[], Any]) -> Callable[[int], None]:
    """A block of `count` runs."""
    def block(count: int) -> None:
        for _ in range(count):
            run()

    return block


def _all(*calls: Callable[[], Any]) -> Callable[[], None]:
    """One call making each of `calls`."""
    def call_all() -> None:
        for call in calls:
            call()

    return call_all


class Recorder:
    """A span processor keeping the attributes of the last span: at its start, and at its end."""

    def __init__(self) -> None:
        self.start: dict[str, Any] = {}
        self.end: dict[str, Any] = {}

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        self.start = dict(span.attributes or {})

    def _on_ending(self, span: Any) -> None:
        pass

    def on_end(self, span: Any) -> None:
        self.end = {k: v for k, v in (span.attributes or {}).items() if k not in self.start}

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def span_wrapper(provider: Any, start: dict[str, Any] | None, end: dict[str, Any] | None, is_async: bool) -> Callable[..., Any]:
    """The least an instrumentor does around a call: a CLIENT span, current during the call, ended after it."""
    from opentelemetry import context, trace
    from opentelemetry.trace import SpanKind

    tracer = provider.get_tracer("floor")

    def wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        span = tracer.start_span("chat", kind=SpanKind.CLIENT, attributes=start)
        token = context.attach(trace.set_span_in_context(span))
        try:
            return wrapped(*args, **kwargs)
        finally:
            context.detach(token)
            if end:
                span.set_attributes(end)
            span.end()

    async def async_wrapper(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        span = tracer.start_span("chat", kind=SpanKind.CLIENT, attributes=start)
        token = context.attach(trace.set_span_in_context(span))
        try:
            return await wrapped(*args, **kwargs)
        finally:
            context.detach(token)
            if end:
                span.set_attributes(end)
            span.end()

    return async_wrapper if is_async else wrapper


def patched(module_name: str, method: str, wrapper: Callable[..., Any]) -> Toggle:
    """Wrap `module.Owner.method` with `wrapper` (wrapt), and restore it."""
    import wrapt

    module = importlib.import_module(module_name)
    owner_name, _, name = method.rpartition(".")
    owner = getattr(module, owner_name)

    original = owner.__dict__[name]
    return (lambda: wrapt.wrap_function_wrapper(module, method, wrapper)), (lambda: setattr(owner, name, original))


def our_pipeline(capture_content: bool = False) -> tuple[Any, Any]:
    import overhead

    backend = overhead.FakeOpikProcess()
    return overhead._our_provider(backend, capture_content), backend


def call_floors(provider_name: str, mode: str, pairs: int, n: int) -> dict[str, Any]:
    import overhead
    from opentelemetry.sdk.trace import TracerProvider

    ours = {config: overhead.build(config, mode, provider_name) for config in ("opik-otel-off", "opik-otel-on")}
    setup = ours["opik-otel-off"]
    client = setup.bare_client
    runner = overhead.Runner(setup, mode, provider=provider_name)
    if mode == "async":
        import asyncio

        runner.loop = asyncio.new_event_loop()
    module, sync_method, async_method = CALL_TARGETS[provider_name]
    method = async_method if mode == "async" else sync_method

    # the attributes our span carries, content off, to give the SDK rungs the same load
    recorder = Recorder()
    capture = TracerProvider()
    capture.add_span_processor(recorder)
    if provider_name == "genai":
        from opik_otel.instrumentors.genai import GenAIInstrumentor as Instrumentor
    else:
        from opik_otel.instrumentors.openai import OpenAIInstrumentor as Instrumentor

    instrumentor = Instrumentor()
    instrumentor.instrument(tracer_provider=capture, capture_content=False)
    try:
        runner._run("full", client, 1)
    finally:
        instrumentor.uninstrument()
    start, end = recorder.start, recorder.end

    pipeline, backend = our_pipeline()
    is_async = mode == "async"
    rungs: dict[str, Toggle] = {
        "bare": _NOTHING,
        "span": patched(module, method, span_wrapper(TracerProvider(), None, None, is_async)),
        "span+attrs": patched(module, method, span_wrapper(TracerProvider(), start, end, is_async)),
        "span+pipeline": patched(module, method, span_wrapper(pipeline, start, end, is_async)),
        "opik-otel-off": (ours["opik-otel-off"].instrument, ours["opik-otel-off"].uninstrument),
        "opik-otel-on": (ours["opik-otel-on"].instrument, ours["opik-otel-on"].uninstrument),
    }

    flush = _all(pipeline.force_flush, *(each.flush for each in ours.values()))
    result = measure(rungs, lambda count: runner._run("full", client, count), flush, pairs, n)
    for each in ours.values():
        each.finish()
    pipeline.shutdown()
    backend.stop()
    return {"workload": f"{provider_name} {mode}", "attributes": {"start": len(start), "end": len(end)}, "rungs": result}


def langchain_floors(workload: str, pairs: int, n: int) -> dict[str, Any]:
    import framework_overhead
    import langchain_overhead as lc
    from langchain_core.callbacks import BaseCallbackHandler
    from langchain_core.tracers import context as lc_context
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    from opik_otel.instrumentors.langchain import instrumentor as ours_module

    setup = framework_overhead.build(lc, "opik-otel-off")
    run = lc.make_workload(workload)
    setup.instrument()  # registers our configure hook in LangChain's list; the other rungs reuse it
    hooks = [hook for hook in lc_context._configure_hooks if hook[0] is ours_module._ACTIVE]
    setup.uninstrument()

    class Nothing(BaseCallbackHandler):
        """Receives every event, does nothing."""

    class Spans(BaseCallbackHandler):
        """One SDK span per run, parented by the parent run's span; nothing else."""

        def __init__(self, provider: Any) -> None:
            self.tracer = provider.get_tracer("floor")
            self.spans: dict[Any, Any] = {}

        def _start(self, name: str, run_id: Any, parent_run_id: Any) -> None:
            parent = self.spans.get(parent_run_id)
            context = trace.set_span_in_context(parent) if parent is not None else None
            self.spans[run_id] = self.tracer.start_span(name, context=context)

        def _end(self, run_id: Any) -> None:
            span = self.spans.pop(run_id, None)
            if span is not None:
                span.end()

        def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: Any, parent_run_id: Any = None, **kw: Any) -> None:
            self._start("chain", run_id, parent_run_id)

        def on_chain_end(self, outputs: Any, *, run_id: Any, **kw: Any) -> None:
            self._end(run_id)

        def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: Any, parent_run_id: Any = None, **kw: Any) -> None:
            self._start("chat", run_id, parent_run_id)

        def on_llm_end(self, response: Any, *, run_id: Any, **kw: Any) -> None:
            self._end(run_id)

    def handled_by(handler: Any) -> Toggle:
        def on() -> None:
            lc_context._configure_hooks.extend(hooks)
            ours_module._ACTIVE.handler = handler

        def off() -> None:
            ours_module._ACTIVE.handler = None
            lc_context._configure_hooks[:] = [h for h in lc_context._configure_hooks if h[0] is not ours_module._ACTIVE]

        return on, off

    pipeline, backend = our_pipeline()
    rungs: dict[str, Toggle] = {
        "bare": _NOTHING,
        "handler": handled_by(Nothing()),
        "spans": handled_by(Spans(TracerProvider())),
        "spans+pipeline": handled_by(Spans(pipeline)),
        "opik-otel-off": (setup.instrument, setup.uninstrument),
    }

    result = measure(rungs, _repeated(run), _all(pipeline.force_flush, setup.flush), pairs, n)
    setup.finish()
    pipeline.shutdown()
    backend.stop()
    return {"workload": f"langchain {workload}", "rungs": result}


def with_env(toggle: Toggle, env: dict[str, str]) -> Toggle:
    """`toggle` with `env` set while it is on (read by instrumentations at instrument or run time)."""
    import os

    on, off = toggle
    saved: dict[str, str | None] = {}

    def env_on() -> None:
        saved.update({key: os.environ.get(key) for key in env})
        os.environ.update(env)
        on()

    def env_off() -> None:
        off()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value

    return env_on, env_off


def toggled(fw: Any, instrumentor: Any, provider: Any) -> Toggle:
    """`instrumentor` on `provider`, instrumented and uninstrumented between blocks (or its patched
    attributes swapped, where uninstrument() does not restore them: `framework_overhead.toggle`)."""
    import framework_overhead
    import overhead

    setup = overhead.Setup()
    framework_overhead.toggle(setup, instrumentor, fw.PATCHED_PREFIXES, framework_overhead._registries(fw), tracer_provider=provider)
    return setup.instrument, setup.uninstrument


def together(*toggles: Toggle) -> Toggle:
    """One toggle turning each of `toggles` on in order, and off in reverse order."""
    return _all(*(on for on, _ in toggles)), _all(*(off for _, off in reversed(toggles)))


def ours_and_peers(fw: Any, peer_classes: tuple[type, ...]) -> tuple[dict[str, Toggle], list[Any]]:
    """Ours (content off, on) and OpenInference's `peer_classes` together on a null pipeline
    (content hidden, shown: `OPENINFERENCE_HIDE_INPUTS` / `_OUTPUTS`), as rungs; their setups.
    No `peer_classes` (the environment has no OpenInference): ours alone."""
    import framework_overhead
    import overhead

    setups = {config: framework_overhead.build(fw, config) for config in ("opik-otel-off", "opik-otel-on")}
    provider, _ = overhead._null_pipeline()
    peer_toggle = together(*(toggled(fw, cls(), provider) for cls in peer_classes))
    hide = {"OPENINFERENCE_HIDE_INPUTS": "true", "OPENINFERENCE_HIDE_OUTPUTS": "true"}
    rungs: dict[str, Toggle] = {"openinference-off": with_env(peer_toggle, hide), "openinference": peer_toggle} if peer_classes else {}
    rungs |= {
        "opik-otel-off": (setups["opik-otel-off"].instrument, setups["opik-otel-off"].uninstrument),
        "opik-otel-on": (setups["opik-otel-on"].instrument, setups["opik-otel-on"].uninstrument),
    }
    return rungs, [*setups.values(), overhead.Setup().exports_through(provider, dict)]


def adk_floors(pairs: int, n: int) -> dict[str, Any]:
    import os

    os.environ["OTEL_BSP_SCHEDULE_DELAY"] = "600000"  # export only at the flush after each block
    import adk_overhead as adk
    import overhead
    from google.adk.plugins.base_plugin import BasePlugin
    from google.adk.runners import Runner

    os.environ.update(adk.ENV)
    os.environ.update(adk.CONFIG_ENV["native-off"])  # ADK's own spans without message content, unless on
    run = adk.make_workload("turn")
    run()
    native_provider, _ = overhead._null_pipeline()
    native_toggle = toggled(adk, adk.peer_instrumentor("native")(), native_provider)
    runner = _closure_value(run, Runner)
    plugins = runner.plugin_manager.plugins

    def first_plugin(plugin: Any) -> Toggle:
        return (lambda: plugins.insert(0, plugin)), (lambda: plugins.remove(plugin))

    pipeline, backend = our_pipeline()
    rungs: dict[str, Toggle] = {
        "bare": _NOTHING,
        "plugin": first_plugin(BasePlugin(name="does_nothing")),
        "plugin+spans": first_plugin(_spans_plugin(pipeline)),
        "native-off": native_toggle,
        "native": with_env(native_toggle, adk.CONFIG_ENV["native"]),
        "native-off+pipeline": toggled(adk, adk.peer_instrumentor("native")(), pipeline),
    }
    if _installed("opentelemetry.instrumentation.google_genai"):
        # ADK's own spans, its inference span made by the official google-genai instrumentation
        # (ADK 2.x hands it over under the experimental GenAI conventions): with usage, as ours
        from opentelemetry.instrumentation.google_genai import GoogleGenAiSdkInstrumentor

        both = together(native_toggle, toggled(adk, GoogleGenAiSdkInstrumentor(), native_provider))
        rungs["native-off+official-genai"] = with_env(both, {"OTEL_SEMCONV_STABILITY_OPT_IN": "gen_ai_latest_experimental"})
    peers = (adk.peer_instrumentor("openinference"),) if _installed("openinference.instrumentation.google_adk") else ()
    more, setups = ours_and_peers(adk, peers)
    rungs.update(more)
    setups.append(overhead.Setup().exports_through(native_provider, dict))
    sessions = getattr(runner.session_service, "sessions", None)  # InMemorySessionService's, by app and user

    def flush() -> None:
        for setup in setups:
            setup.flush()
        pipeline.force_flush()
        if isinstance(sessions, dict):
            sessions.clear()  # each turn's new session, dropped: the heap (and each block's GC) stays flat

    result = measure(rungs, _repeated(run), flush, pairs, n, warmup=10)
    for setup in setups:
        setup.finish()
    pipeline.shutdown()
    backend.stop()
    return {"workload": "adk turn", "rungs": result}


def _spans_plugin(provider: Any) -> Any:
    """An ADK plugin making one SDK span, with no attributes, per agent, model and tool step,
    current while the step runs: what any plugin-based tracer of ADK does, and nothing more."""
    from google.adk.plugins.base_plugin import BasePlugin
    from opentelemetry import context, trace

    class Spans(BasePlugin):
        def __init__(self) -> None:
            super().__init__(name="spans")
            self.tracer = provider.get_tracer("floor")
            self.open: dict[Any, Any] = {}

        def _start(self, name: str, key: Any) -> None:
            span = self.tracer.start_span(name)
            self.open[key] = span, context.attach(trace.set_span_in_context(span))

        def _end(self, key: Any) -> None:
            span, token = self.open.pop(key)
            context.detach(token)
            span.end()

        async def before_agent_callback(self, *, agent: Any, callback_context: Any) -> None:
            self._start("agent", ("agent", callback_context.invocation_id))

        async def after_agent_callback(self, *, agent: Any, callback_context: Any) -> None:
            self._end(("agent", callback_context.invocation_id))

        async def before_model_callback(self, *, callback_context: Any, llm_request: Any) -> None:
            self._start("model", ("model", callback_context.invocation_id))

        async def after_model_callback(self, *, callback_context: Any, llm_response: Any) -> None:
            self._end(("model", callback_context.invocation_id))

        async def before_tool_callback(self, *, tool: Any, tool_args: Any, tool_context: Any) -> None:
            self._start("tool", ("tool", tool_context.function_call_id))

        async def after_tool_callback(self, *, tool: Any, tool_args: Any, tool_context: Any, result: Any) -> None:
            self._end(("tool", tool_context.function_call_id))

    return Spans()


def crewai_floors(pairs: int, n: int) -> dict[str, Any]:
    import os

    os.environ["OTEL_BSP_SCHEDULE_DELAY"] = "600000"  # export only at the flush after each block
    import crewai_overhead as crew

    os.environ.update(crew.ENV)
    from openinference.instrumentation.openai import OpenAIInstrumentor

    run = crew.make_workload("crew")
    run()
    rungs: dict[str, Toggle] = {
        "bare": _NOTHING,
        "hook": patched("crewai.events.event_bus", "CrewAIEventsBus.emit",
                        lambda wrapped, instance, args, kwargs: wrapped(*args, **kwargs)),
    }
    more, setups = ours_and_peers(crew, (crew.peer_instrumentor("openinference"), OpenAIInstrumentor))
    rungs.update(more)
    result = measure(rungs, _repeated(run), _all(*(setup.flush for setup in setups)), pairs, n, warmup=5)
    for setup in setups:
        setup.finish()
    return {"workload": "crewai crew", "rungs": result}


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


def _closure_value(function: Callable[..., Any], kind: type) -> Any:
    """The first `kind` object a function's closures (and their closures) hold."""
    stack, seen = [function], set()
    while stack:
        for cell in getattr(stack.pop(), "__closure__", None) or ():
            value = cell.cell_contents
            if isinstance(value, kind):
                return value
            if callable(value) and id(value) not in seen:
                seen.add(id(value))
                stack.append(value)
    raise LookupError(f"no {kind.__name__} in the workload")


_PYDANTIC = (
    "from pydantic import BaseModel, Field\n"
    "class Settings(BaseModel):\n    size: int = Field(1, gt=0)\n    name: str | None = None\n"
    "Settings(size=2)"
)
_SDK = "from opentelemetry.sdk.trace import TracerProvider\nfrom opentelemetry.sdk.trace.export import BatchSpanProcessor\nTracerProvider()"
STARTUP = {
    "python -c pass": "pass",
    "pydantic + one model": _PYDANTIC,
    "OpenTelemetry SDK + TracerProvider": _SDK,
    "both": _PYDANTIC + "\n" + _SDK,
    "opik-otel: import + configure()": "import opik_otel\nopik_otel.configure(exporter='local')",
}


def startup_floors(runs: int) -> dict[str, Any]:
    import tempfile

    import startup

    startup.compile_bytecode()  # as `pip install` leaves modules (see startup.py)
    env = startup._env(OPIK_OTEL_LOCAL_STORE_DIR=tempfile.mkdtemp(prefix="opik-otel-floors-"))  # no OPIK_ / OTEL_ settings
    times: dict[str, list[float]] = {name: [] for name in STARTUP}
    for _ in range(runs):
        for name, code in STARTUP.items():
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, env=env)
            times[name].append((time.perf_counter() - t0) * 1000)
    base = statistics.median(times["python -c pass"])
    return {"workload": "startup", "rungs": {
        name: {"ms": round(statistics.median(v), 1), "added_ms": round(statistics.median(v) - base, 1)} for name, v in times.items()}}


def show(result: dict[str, Any]) -> str:
    lines = [f"## {result['workload']}", ""]
    rungs = result["rungs"]
    if result["workload"] == "startup":
        lines += ["| rung | ms | added ms |", "|---|---:|---:|"]
        lines += [f"| {name} | {r['ms']} | +{r['added_ms']} |" for name, r in rungs.items()]
    else:
        lines += ["| rung | µs per run | added µs | ratio |", "|---|---:|---:|---:|"]
        lines += [f"| {name} | {r['us']} | {r['added_us']:+} | {r['ratio']:.3f} |" for name, r in rungs.items()]
    if "attributes" in result:
        lines += ["", f"span attributes copied from ours: {result['attributes']['start']} at start, {result['attributes']['end']} at end"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", choices=("call", "langchain", "adk", "crewai", "startup"))
    parser.add_argument("--provider", choices=tuple(CALL_TARGETS), default="openai")
    parser.add_argument("--mode", choices=("chat", "async"), default="chat")
    parser.add_argument("--workload", choices=("lcel", "graph"), default="lcel")
    parser.add_argument("--pairs", type=int, default=16, help="rounds of blocks (default 16)")
    parser.add_argument("--block-size", type=int, help="runs per block (default: 100 calls, 50 LangChain runs)")
    parser.add_argument("--runs", type=int, default=11, help="startup: processes per rung (default 11)")
    parser.add_argument("--json", type=Path, help="append the result to this JSON list")
    args = parser.parse_args(argv)
    if args.what == "call":
        result = call_floors(args.provider, args.mode, args.pairs, args.block_size or 100)
    elif args.what == "langchain":
        result = langchain_floors(args.workload, args.pairs, args.block_size or 50)
    elif args.what == "adk":
        result = adk_floors(args.pairs, args.block_size or 10)
    elif args.what == "crewai":
        result = crewai_floors(args.pairs, args.block_size or 5)
    else:
        result = startup_floors(args.runs)
    result["python"] = sys.version.split()[0]
    print(show(result))
    if args.json:
        existing = json.loads(args.json.read_text()) if args.json.exists() else []
        args.json.write_text(json.dumps(existing + [result], indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
