"""DSPy workload and peer for the framework overhead benchmark.

    python benchmarks/dspy_overhead.py --config NAME --workload cot [--blocks 8] \
        [--block-size 50] [--warmup 50] [--json out.json]

(the same as `framework_overhead.py --framework dspy …`; the method, the configurations and the
report are there).

Workload `cot`: one `dspy.ChainOfThought("question -> answer")` call (the question of
`overhead.py`), DSPy's cache off. The LM is `openai/gpt-4o-mini` through LiteLLM (DSPy >= 3.4:
`engine="litellm"`; every DSPy before calls LiteLLM) against a local HTTP server in the same
process answering a fixed chat completion in the ChatAdapter's format (loopback HTTP: the bare
run is slower than the in-process transports of the other frameworks, so ratios are smaller).
Ours: the DSPy callback and the LiteLLM span as the inference span (`OpikInstrumentor`);
OpenInference: its DSPy instrumentor, which makes the LLM span from DSPy's LM call.

Peers: `openinference-instrumentation-dspy` (environment `ds-openinference`; ours and the
control in `ds-opik-otel`). No OpenLLMetry instrumentation of DSPy exists.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import overhead  # noqa: E402 - the fake wire

FRAMEWORK = "dspy"
TITLE = "DSPy"
WORKLOADS = ("cot",)
BASE_PACKAGE = "dspy"
PEERS = {"openinference": "openinference-instrumentation-dspy"}
VERSION_PACKAGES = ("dspy", "litellm")
PATCHED_PREFIXES = ("openai", "litellm", "dspy")
ENV = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False", "DSPY_CACHEDIR": "/tmp/dspy-bench-cache"}

QUESTION = overhead.MESSAGES[1]["content"]
REPLY = ("[[ ## reasoning ## ]]\nThe order shipped on Thursday and paperbacks take three to five days.\n\n"
         "[[ ## answer ## ]]\n" + " ".join(overhead.ANSWER_WORDS) + "\n\n[[ ## completed ## ]]")


def peer_instrumentor(peer: str) -> type:
    """The peer's DSPy instrumentor class."""
    from openinference.instrumentation.dspy import DSPyInstrumentor

    return DSPyInstrumentor


def before_ours() -> None:
    """Import dspy and litellm first: our instrumentors hook them at import."""
    import dspy  # noqa: F401
    import litellm  # noqa: F401


def registries() -> list[tuple[Any, str]]:
    """DSPy's global settings, whose `callbacks` list our instrumentor adds its callback to."""
    from dspy.dsp.utils import settings as _  # noqa: F401

    return [(_SettingsCallbacks(), "callbacks")]


class _SettingsCallbacks:
    """`dspy.settings.callbacks` as an attribute holding the very list DSPy reads (for the harness's
    handler-list comparison and swap)."""

    @property
    def callbacks(self) -> list:
        import importlib

        config = importlib.import_module("dspy.dsp.utils.settings").main_thread_config
        if not isinstance(config.get("callbacks"), list):
            config["callbacks"] = []
        return config["callbacks"]


def make_workload(workload: str) -> Callable[[], Any]:
    """One ChainOfThought call for one run of the workload."""
    import dspy

    extra = {"engine": "litellm"} if "engine" in inspect.signature(dspy.LM.__init__).parameters else {}
    lm = dspy.LM(f"openai/{overhead.MODEL}", api_base=overhead.serve_chat_completions(REPLY), api_key="sk-bench", cache=False, num_retries=0, **extra)
    program = dspy.ChainOfThought("question -> answer")

    def run() -> Any:
        with dspy.context(lm=lm):
            return program(question=QUESTION)

    return run


if __name__ == "__main__":
    import framework_overhead

    sys.exit(framework_overhead.main(framework=FRAMEWORK))
