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
import json
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


def serve() -> str:
    """A local HTTP server (a daemon thread of this process) answering every chat completion with
    the fixed reply; its base URL. (DSPy deep-copies an LM's settings per call, so an openai
    client on an in-process transport cannot be handed to LiteLLM here.)"""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = json.loads(overhead._chat_completion_body())
    body["choices"][0]["message"]["content"] = REPLY
    content = json.dumps(body).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/v1"


def make_workload(workload: str) -> Callable[[], Any]:
    """One ChainOfThought call for one run of the workload."""
    import dspy

    extra = {"engine": "litellm"} if "engine" in inspect.signature(dspy.LM.__init__).parameters else {}
    lm = dspy.LM(f"openai/{overhead.MODEL}", api_base=serve(), api_key="sk-bench", cache=False, num_retries=0, **extra)
    program = dspy.ChainOfThought("question -> answer")

    def run() -> Any:
        with dspy.context(lm=lm):
            return program(question=QUESTION)

    return run


if __name__ == "__main__":
    import framework_overhead

    sys.exit(framework_overhead.main(framework=FRAMEWORK))
