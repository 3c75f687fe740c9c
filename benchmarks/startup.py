"""Start-up cost: the distro under `opentelemetry-instrument`, `import opik_otel`, `instrument()`.

    python benchmarks/startup.py [--runs 15] [--json out.json]

Run with the interpreter of the environment to measure (the opik-otel one by default; a
peer's environment for its auto-instrumentation). The environment's modules are compiled to
bytecode first, as `pip install` leaves them. Each command runs `--runs` times in fresh
processes, interleaved; the median wall time is reported.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPIK_", "OTEL_"))}
    env.update(extra)
    return env


def peer_commands() -> dict[str, tuple[list[str], dict[str, str]]]:
    """In a peer's environment: its auto-instrumentation as installed (every entry point it registers)."""
    python = sys.executable
    return {
        "python -c pass": ([python, "-c", "pass"], _env()),
        "opentelemetry-instrument (this environment)": (
            [str(BIN / "opentelemetry-instrument"), python, "-c", "pass"],
            _env(OTEL_TRACES_EXPORTER="none", OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none"),
        ),
    }


def commands(store: str) -> dict[str, tuple[list[str], dict[str, str]]]:
    """name → (argv, env). "plain" opentelemetry-instrument loads no distro, configurator or instrumentor of
    ours (all three `opik_*` instrumentor entry points disabled: any of them imports opik_otel)."""
    instrument = str(BIN / "opentelemetry-instrument")
    python = sys.executable
    result = {
        "python -c pass": ([python, "-c", "pass"], _env()),
        "python -c 'import opik_otel'": ([python, "-c", "import opik_otel"], _env()),
        # An app that imports none of the instrumented libraries: configure() and instrument()
        # must stay cheap, and import no instrumented library or framework (LAZY_CHECK fails loudly).
        "python: import opik_otel + configure() + instrument()": (
            [python, "-c", CONFIGURE_AND_INSTRUMENT], _env(OPIK_OTEL_LOCAL_STORE_DIR=store)),
        "python -c 'import openai'": ([python, "-c", "import openai"], _env()),
    }
    if Path(instrument).exists():
        result["opentelemetry-instrument (plain)"] = (
            [instrument, python, "-c", "pass"],
            _env(OTEL_PYTHON_DISTRO="none", OTEL_PYTHON_CONFIGURATOR="none", OTEL_TRACES_EXPORTER="none",
                 OTEL_METRICS_EXPORTER="none", OTEL_LOGS_EXPORTER="none",
                 OTEL_PYTHON_DISABLED_INSTRUMENTATIONS=",".join(_our_entry_points() + ["openai", "openai_v2"])),
        )
        result["opentelemetry-instrument + opik-otel distro"] = (
            [instrument, python, "-c", "pass"],
            _env(OTEL_PYTHON_DISTRO="opik_otel", OTEL_PYTHON_CONFIGURATOR="opik_otel", OPIK_OTEL_LOCAL_STORE_DIR=store),
        )
        # An LLM app imports its client (and with it pydantic, which our settings use too).
        result["opentelemetry-instrument (plain), app imports openai"] = (
            [instrument, python, "-c", "import openai"], result["opentelemetry-instrument (plain)"][1])
        result["opentelemetry-instrument + opik-otel distro, app imports openai"] = (
            [instrument, python, "-c", "import openai"], result["opentelemetry-instrument + opik-otel distro"][1])
    return result


CONFIGURE_AND_INSTRUMENT = (
    "import sys, opik_otel\n"
    "opik_otel.configure(exporter='local')\n"
    "opik_otel.OpikInstrumentor().instrument()\n"
    "eager = sorted(m for m in ('openai', 'anthropic', 'botocore', 'langchain_core', 'llama_index', 'haystack', "
    "'google.genai', 'google.generativeai', 'litellm', 'aisuite', 'dspy', 'crewai', 'google.adk') if m in sys.modules)\n"
    "assert not eager, f'imported at start-up: {eager}'\n"
)


def _our_entry_points() -> list[str]:
    from opik_otel._registry import INTEGRATIONS

    return sorted({integration.entry_point for integration in INTEGRATIONS})


def compile_bytecode() -> None:
    """Compile every module of this environment (and of an editable opik-otel) to bytecode first.

    `pip install` does this; `uv pip install` (setup.sh) does not, and this machine sets
    PYTHONDONTWRITEBYTECODE, so without it every start-up would compile each module it
    imports from source, which is not what a user's installed application does."""
    import compileall
    import sysconfig

    root = Path(__file__).resolve().parents[1]
    folders = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    folders |= {str(root / name) for name in ("opik_otel", "semconv", "instrumentors", "exporters") if (root / name).is_dir()}
    for folder in sorted(folders):
        compileall.compile_dir(folder, quiet=2, workers=0)


def run(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def instrument_time() -> dict[str, float]:
    """In a fresh process: openai imported first (the app pays that anyway), then `instrument()` timed."""
    code = (
        "import time, openai\n"
        "t = time.perf_counter(); import opik_otel; t1 = time.perf_counter()\n"
        "opik_otel.OpikInstrumentor().instrument(); t2 = time.perf_counter()\n"
        "print((t1 - t) * 1e3, (t2 - t1) * 1e3)\n"
    )
    samples = [subprocess.run([sys.executable, "-c", code], env=_env(), check=True, capture_output=True, text=True).stdout.split() for _ in range(7)]
    return {
        "import_opik_otel_after_openai_ms": round(statistics.median(float(s[0]) for s in samples), 1),
        "OpikInstrumentor().instrument()_ms": round(statistics.median(float(s[1]) for s in samples), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--peer", action="store_true", help="measure only this environment's own auto-instrumentation")
    args = parser.parse_args()
    compile_bytecode()
    with tempfile.TemporaryDirectory() as store:
        cmds = peer_commands() if args.peer else commands(store)
        times: dict[str, list[float]] = {name: [] for name in cmds}
        for name, (argv, env) in cmds.items():  # warm the file cache once
            run(argv, env)
        for _ in range(args.runs):
            for name, (argv, env) in cmds.items():
                times[name].append(run(argv, env))
    result = {name: round(statistics.median(samples) * 1e3, 1) for name, samples in times.items()}
    if not args.peer:
        result.update(instrument_time())
    for name, value in result.items():
        print(f"{name:50s} {value:8.1f} ms")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
