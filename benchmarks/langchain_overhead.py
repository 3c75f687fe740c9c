"""LangChain / LangGraph workloads and peers for the framework overhead benchmark.

    python benchmarks/langchain_overhead.py --config NAME --workload {lcel,graph} \
        [--blocks 8] [--block-size 50] [--warmup 50] [--json out.json]
    python benchmarks/langchain_overhead.py --report RUNS_DIR --out FILE.json [--md FILE.md]

(the same as `framework_overhead.py --framework langchain …`; the method, the configurations
and the report are there).

Workloads (both on `ChatOpenAI` from langchain-openai, whose openai client talks to an
in-process transport answering the fixed chat.completion of `overhead.py`):

  lcel    `ChatPromptTemplate | ChatOpenAI | StrOutputParser`, `chain.invoke({...})`
  graph   a two-node LangGraph `StateGraph`: node `model` calls the chat model, node
          `postprocess` derives a small summary from its answer; `graph.invoke({...})`

Peers: `openinference-instrumentation-langchain`, `opentelemetry-instrumentation-langchain`
(environments `lc-openinference`, `lc-openllmetry`; ours and the control in `lc-opik-otel`).
Our LangChain instrumentor keeps its configure hook registered after uninstrument() (it
answers None); `after_ours` takes it out of LangChain's hook list during bare blocks, so the
bare side is bare.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable, TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parent))
import overhead  # noqa: E402 - the fake wire

FRAMEWORK = "langchain"
TITLE = "LangChain / LangGraph"
WORKLOADS = ("lcel", "graph")
BASE_PACKAGE = "langchain-core"
PEERS = {"openinference": "openinference-instrumentation-langchain",
         "openllmetry": "opentelemetry-instrumentation-langchain"}
VERSION_PACKAGES = ("langchain-core", "langgraph", "langchain-openai")
PATCHED_PREFIXES = ("openai", "langchain_core", "langchain_openai", "langgraph", "langchain")
# LangSmith tracing off (no network here)
ENV: dict[str, str] = {}
for _name in ("LANGSMITH_TRACING", "LANGCHAIN_TRACING_V2", "LANGCHAIN_TRACING"):
    os.environ.pop(_name, None)

SYSTEM = overhead.MESSAGES[0]["content"]
QUESTION = overhead.MESSAGES[1]["content"]


def peer_instrumentor(peer: str) -> type:
    """The peer's LangChain instrumentor class."""
    if peer == "openinference":
        from openinference.instrumentation.langchain import LangChainInstrumentor

        return LangChainInstrumentor
    from opentelemetry.instrumentation.langchain import LangchainInstrumentor

    return LangchainInstrumentor


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


def before_ours() -> None:
    """Loads LangChain's tracer context, so our hook registers at instrument()."""
    import langchain_core.tracers.context  # noqa: F401


def after_ours(setup: overhead.Setup) -> None:
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


if __name__ == "__main__":
    import framework_overhead

    sys.exit(framework_overhead.main(framework=FRAMEWORK))
