"""LlamaIndex workload and peers for the framework overhead benchmark.

    python benchmarks/llama_index_overhead.py --config NAME --workload query [--blocks 8] \
        [--block-size 50] [--warmup 50] [--json out.json]

(the same as `framework_overhead.py --framework llama_index …`; the method, the configurations
and the report are there).

Workload `query`: a `VectorStoreIndex` (in-memory vector store) over four small documents,
built once before timing, and `index.as_query_engine(similarity_top_k=2).query(question)`:
one embeddings call for the question, retrieval, and one chat call synthesising the answer
(response mode compact). Models: llama-index-embeddings-openai `OpenAIEmbedding`
(text-embedding-3-small, 256 dimensions) and llama-index-llms-openai `OpenAI` (the model of
`overhead.py`), both on openai clients whose HTTP client talks to an in-process transport:
chat completions get the fixed answer of `overhead.py`, embeddings a fixed vector per input.

Peers: `openinference-instrumentation-llama-index`, `opentelemetry-instrumentation-llamaindex`
(environments `li-openinference`, `li-openllmetry`; ours and the control in `li-opik-otel`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import overhead  # noqa: E402 - the fake wire

FRAMEWORK = "llama_index"
TITLE = "LlamaIndex"
WORKLOADS = ("query",)
BASE_PACKAGE = "llama-index-core"
PEERS = {"openinference": "openinference-instrumentation-llama-index",
         "openllmetry": "opentelemetry-instrumentation-llamaindex"}
VERSION_PACKAGES = ("llama-index-core", "llama-index-llms-openai", "llama-index-embeddings-openai")
PATCHED_PREFIXES = ("openai", "llama_index")

EMBED_MODEL = "text-embedding-3-small"
DIMENSIONS = 256
DOCUMENTS = (
    "OpenTelemetry is a vendor-neutral standard for traces, metrics and logs. An instrumentation "
    "library creates spans around the calls an application makes.",
    "Opik stores traces of LLM applications: each trace holds spans for the model calls, the "
    "retrievals and the tools, with their inputs, outputs, token usage and cost.",
    "A retrieval-augmented generation pipeline embeds the question, retrieves the closest "
    "documents from a vector store and asks a chat model to answer from them.",
    "Batch span processors queue ended spans and export them from a worker thread, so the "
    "application's thread only pays for creating and ending the spans.",
)
QUESTION = "How does a batch span processor keep the cost of tracing off the application's thread?"


def peer_instrumentor(peer: str) -> type:
    """The peer's LlamaIndex instrumentor class."""
    if peer == "openinference":
        from openinference.instrumentation.llama_index import LlamaIndexInstrumentor

        return LlamaIndexInstrumentor
    from opentelemetry.instrumentation.llamaindex import LlamaIndexInstrumentor

    return LlamaIndexInstrumentor


def registries() -> list[tuple[Any, str]]:
    """The root dispatcher's span and event handler lists (where the instrumentors hook in)."""
    from llama_index.core.instrumentation import get_dispatcher

    root = get_dispatcher()
    return [(root, "span_handlers"), (root, "event_handlers")]


def _embedding_body(request) -> bytes:
    """A fixed vector for each input of the request, with usage."""
    inputs = json.loads(request.content).get("input")
    inputs = [inputs] if isinstance(inputs, str) else inputs
    vector = [round(((i * 37) % 101) / 101 - 0.5, 6) for i in range(DIMENSIONS)]
    return json.dumps({
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": vector} for i in range(len(inputs))],
        "model": EMBED_MODEL,
        "usage": {"prompt_tokens": 9 * len(inputs), "total_tokens": 9 * len(inputs)},
    }).encode()


def make_http_clients():
    """Sync and async HTTP clients (of the package the installed openai uses) answering in process."""
    http = overhead.http_module()
    chat = overhead._chat_completion_body()
    headers = {"content-type": "application/json", "x-request-id": "req_6f1e2b7c9d0a4e3f8b5c1d2e3f4a5b6c",
               "openai-processing-ms": "412"}

    def handler(request):
        if request.url.path.endswith("/embeddings"):
            return http.Response(200, headers=headers, content=_embedding_body(request))
        return http.Response(200, headers=headers, content=chat)

    transport = http.MockTransport(handler)
    return http.Client(transport=transport), http.AsyncClient(transport=transport)


def make_workload(workload: str) -> Callable[[], Any]:
    """The query engine's query for one run (the index is built here, untimed)."""
    from llama_index.core import Document, Settings, VectorStoreIndex
    from llama_index.embeddings.openai import OpenAIEmbedding
    from llama_index.llms.openai import OpenAI

    sync_http, async_http = make_http_clients()
    llm = OpenAI(model=overhead.MODEL, api_key="sk-bench", max_retries=0,
                 http_client=sync_http, async_http_client=async_http)
    embed = OpenAIEmbedding(model=EMBED_MODEL, dimensions=DIMENSIONS, api_key="sk-bench", max_retries=0,
                            http_client=sync_http, async_http_client=async_http)
    Settings.llm, Settings.embed_model = llm, embed
    index = VectorStoreIndex.from_documents([Document(text=text) for text in DOCUMENTS], embed_model=embed)
    engine = index.as_query_engine(llm=llm, similarity_top_k=2)
    return lambda: engine.query(QUESTION)


if __name__ == "__main__":
    import framework_overhead

    sys.exit(framework_overhead.main(framework=FRAMEWORK))
