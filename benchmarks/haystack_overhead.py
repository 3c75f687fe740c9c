"""Haystack workload and peers for the framework overhead benchmark.

    python benchmarks/haystack_overhead.py --config NAME --workload pipeline [--blocks 8] \
        [--block-size 50] [--warmup 50] [--json out.json]

(the same as `framework_overhead.py --framework haystack …`; the method, the configurations
and the report are there).

Workload `pipeline`: a two-component `Pipeline`, `ChatPromptBuilder` (a system message and a
templated user message) -> `OpenAIChatGenerator` (the model of `overhead.py`), `pipeline.run(...)`.
The generator's openai client (set before warm-up, so the generator keeps it) talks to an
in-process transport answering the fixed chat completion of `overhead.py`. Haystack's
telemetry is off (HAYSTACK_TELEMETRY_ENABLED=False: no network here). Ours records the
components' inputs and outputs only if Haystack's content tracing is on as well as our content
switch, so `opik-otel-on` sets HAYSTACK_CONTENT_TRACING_ENABLED=true (the peers record content
by their own switches).

Peers: `openinference-instrumentation-haystack`, `opentelemetry-instrumentation-haystack`
(environments `hs-openinference`, `hs-openllmetry`; ours and the control in `hs-opik-otel`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import overhead  # noqa: E402 - the fake wire

FRAMEWORK = "haystack"
TITLE = "Haystack"
WORKLOADS = ("pipeline",)
BASE_PACKAGE = "haystack-ai"
PEERS = {"openinference": "openinference-instrumentation-haystack",
         "openllmetry": "opentelemetry-instrumentation-haystack"}
VERSION_PACKAGES = ("haystack-ai",)
PATCHED_PREFIXES = ("openai", "haystack")
ENV = {"HAYSTACK_TELEMETRY_ENABLED": "False"}
# content on needs Haystack's content tracing too (ours records content only if both are on)
CONFIG_ENV = {"opik-otel-on": {"HAYSTACK_CONTENT_TRACING_ENABLED": "true"}}

SYSTEM = overhead.MESSAGES[0]["content"]
QUESTION = overhead.MESSAGES[1]["content"]


def peer_instrumentor(peer: str) -> type:
    """The peer's Haystack instrumentor class."""
    if peer == "openinference":
        from openinference.instrumentation.haystack import HaystackInstrumentor

        return HaystackInstrumentor
    from opentelemetry.instrumentation.haystack import HaystackInstrumentor

    return HaystackInstrumentor


def make_client():
    """An openai client answering in process."""
    import openai

    http = overhead.http_module()
    body = overhead._chat_completion_body()
    headers = {"content-type": "application/json", "x-request-id": "req_6f1e2b7c9d0a4e3f8b5c1d2e3f4a5b6c",
               "openai-processing-ms": "412"}

    def handler(request):
        return http.Response(200, headers=headers, content=body)

    return openai.OpenAI(api_key="sk-bench", max_retries=0, http_client=http.Client(transport=http.MockTransport(handler)))


def make_workload(workload: str) -> Callable[[], Any]:
    """The pipeline's run for one run of the workload."""
    from haystack import Pipeline
    from haystack.components.builders import ChatPromptBuilder
    from haystack.components.generators.chat import OpenAIChatGenerator
    from haystack.dataclasses import ChatMessage
    from haystack.utils import Secret

    builder = ChatPromptBuilder(template=[ChatMessage.from_system(SYSTEM), ChatMessage.from_user("{{question}}")],
                                required_variables=["question"])
    generator = OpenAIChatGenerator(model=overhead.MODEL, api_key=Secret.from_token("sk-bench"), max_retries=0)
    generator.client = make_client()
    pipeline = Pipeline()
    pipeline.add_component("prompt_builder", builder)
    pipeline.add_component("llm", generator)
    pipeline.connect("prompt_builder.prompt", "llm.messages")
    inputs = {"prompt_builder": {"question": QUESTION}}
    return lambda: pipeline.run(inputs)


if __name__ == "__main__":
    import framework_overhead

    sys.exit(framework_overhead.main(framework=FRAMEWORK))
