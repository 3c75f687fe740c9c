"""CrewAI workload and peer for the framework overhead benchmark.

    python benchmarks/crewai_overhead.py --config NAME --workload crew [--blocks 8] \
        [--block-size 50] [--warmup 50] [--json out.json]

(the same as `framework_overhead.py --framework crewai …`; the method, the configurations and the
report are there).

Workload `crew`: one single-task crew with one agent (no tools), `crew.kickoff()`. The LLM is
`openai/gpt-4o-mini` (crewai >= 1.0 calls the openai SDK itself; older crewai calls LiteLLM)
against a local HTTP server in the same process answering a fixed chat completion in the agent's
format ("Thought: …\\nFinal Answer: …"): CrewAI makes its own openai client from `base_url`, so
loopback HTTP, as for DSPy (the bare run is slower than the in-process transports of the other
frameworks, so ratios are smaller). CrewAI's telemetry and trace upload are off (no network here)
and its stores go to a temporary folder.
Ours: the CrewAI event hook and the openai span as the inference span (`OpikInstrumentor`);
OpenInference: its CrewAI instrumentor alone (it wraps `Crew.kickoff`, `Task._execute_core`,
`Agent.execute_task` and tool use; the LLM span would come from its openai / LiteLLM
instrumentors, not installed here).

Peers: `openinference-instrumentation-crewai` (environment `cr-openinference`; ours and the
control in `cr-opik-otel`). OpenLLMetry's `opentelemetry-instrumentation-crewai` is not set up.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import overhead  # noqa: E402 - the fake wire

FRAMEWORK = "crewai"
TITLE = "CrewAI"
WORKLOADS = ("crew",)
BASE_PACKAGE = "crewai"
PEERS = {"openinference": "openinference-instrumentation-crewai"}
VERSION_PACKAGES = ("crewai", "litellm")
PATCHED_PREFIXES = ("openai", "litellm", "crewai")
ENV = {
    "CREWAI_DISABLE_TELEMETRY": "true",
    "CREWAI_DISABLE_TRACKING": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "CREWAI_STORAGE_DIR": tempfile.mkdtemp(prefix="crewai-bench-"),
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_TELEMETRY": "False",
}

QUESTION = overhead.MESSAGES[1]["content"]
REPLY = "Thought: I now know the final answer\nFinal Answer: " + " ".join(overhead.ANSWER_WORDS)


def peer_instrumentor(peer: str) -> type:
    """The peer's CrewAI instrumentor class."""
    from openinference.instrumentation.crewai import CrewAIInstrumentor

    return CrewAIInstrumentor


def before_ours() -> None:
    """Import crewai first: our instrumentor hooks its event bus when it is imported."""
    import crewai  # noqa: F401


def make_workload(workload: str) -> Callable[[], Any]:
    """One single-task crew's kickoff for one run of the workload."""
    from crewai import LLM, Agent, Crew, Task

    # crewai warns at every call that it counts tokens approximately (the same in every configuration)
    logging.getLogger("crewai.llms.base_llm").setLevel(logging.ERROR)
    llm = LLM(model=f"openai/{overhead.MODEL}", base_url=overhead.serve_chat_completions(REPLY), api_key="sk-bench", max_retries=0)
    agent = Agent(role="Support agent", goal="Answer the customer", backstory="You work for a bookshop.", llm=llm, verbose=False)
    task = Task(description=QUESTION, expected_output="A short answer", agent=agent)
    crew = Crew(agents=[agent], tasks=[task], name="Support crew", verbose=False)
    return crew.kickoff


if __name__ == "__main__":
    import framework_overhead

    sys.exit(framework_overhead.main(framework=FRAMEWORK))
