"""Google ADK workload and peers for the framework overhead benchmark.

    python benchmarks/adk_overhead.py --config NAME --workload turn [--blocks 8] \
        [--block-size 50] [--warmup 50] [--json out.json]

(the same as `framework_overhead.py --framework adk …`; the method, the configurations and the
report are there).

Workload `turn`: one agent turn, `Runner.run_async` of an `LlmAgent` with one function tool in a
new in-memory session, on one event loop kept for the whole process: the model asks for the tool
(a functionCall), the tool runs, the model answers (two generateContent round trips). The
agent's `Gemini` model holds a google-genai client whose `httpx_async_client` answers in process
(httpx2.MockTransport, httpx before): a functionCall unless the request carries the tool's
functionResponse, then the fixed text of `overhead.py`. ADK's optional import of `RemoteA2aAgent`,
which fails anew on every turn where a2a is not installed (≈ 10 ms of file-system lookups, the
same in every configuration, most of a bare turn's variance), is marked missing once, so a bare
turn is ≈ 8 ms, not ≈ 18 ms (results before 2026-12-05's second run include it).

Configurations beyond the harness's: `native` / `native-off` is ADK's own tracing alone (its
spans `invoke_agent`, `generate_content` / `call_llm`, `execute_tool` … on an SDK TracerProvider
with a null exporter, content on / off by `ADK_CAPTURE_MESSAGE_CONTENT_IN_SPANS`). In `none` ADK's
tracers have no provider (the API's no-op). Ours: `OpikInstrumentor` (the ADK plugin, ADK's own
spans silenced, and the google-genai instrumentor making the inference spans).

Peers: `openinference-instrumentation-google-adk` (environment `ad-openinference`; ours, the
control and `native` in `ad-opik-otel`). No OpenLLMetry instrumentation of ADK exists.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import overhead  # noqa: E402 - the fake wire

FRAMEWORK = "adk"
TITLE = "Google ADK"
WORKLOADS = ("turn",)
BASE_PACKAGE = "google-adk"
PEERS = {"openinference": "openinference-instrumentation-google-adk", "native": "google-adk"}
VERSION_PACKAGES = ("google-adk", "google-genai")
PATCHED_PREFIXES = ("google.genai", "google.adk")
ENV = {"GOOGLE_API_KEY": "AIza-bench", "GOOGLE_GENAI_USE_VERTEXAI": "false"}
CONFIG_ENV = {"native": {"ADK_CAPTURE_MESSAGE_CONTENT_IN_SPANS": "true"},
              "native-off": {"ADK_CAPTURE_MESSAGE_CONTENT_IN_SPANS": "false"}}

QUESTION = overhead.MESSAGES[1]["content"]
_CALL_ID = "call-bench-1"


class NativeTracing:
    """ADK's own tracing on the benchmark's provider: each `google.adk` module's tracer becomes
    `tracer_provider.get_tracer("gcp.vertex.agent")` (instrument) and its original (uninstrument)."""

    def __init__(self) -> None:
        self._originals: list[tuple[Any, Any]] = []

    def instrument(self, tracer_provider: Any = None, **kwargs: Any) -> None:
        from opentelemetry import trace

        tracer = tracer_provider.get_tracer("gcp.vertex.agent")
        for name, module in list(sys.modules.items()):
            if name.startswith("google.adk") and module is not None and isinstance(vars(module).get("tracer"), trace.Tracer):
                self._originals.append((module, module.tracer))
                module.tracer = tracer

    def uninstrument(self, **kwargs: Any) -> None:
        for module, original in reversed(self._originals):
            module.tracer = original
        self._originals.clear()


def peer_instrumentor(peer: str) -> type:
    """The peer's ADK instrumentor class (`native`: ADK's own tracing)."""
    if peer == "native":
        return NativeTracing
    from openinference.instrumentation.google_adk import GoogleADKInstrumentor

    return GoogleADKInstrumentor


def before_ours() -> None:
    """Import ADK's runner first: our instrumentor hooks it at import."""
    import google.adk.runners  # noqa: F401


def _bodies() -> tuple[bytes, bytes]:
    usage = overhead.GENAI_USAGE
    call = {"candidates": [{"content": {"role": "model", "parts": [{"functionCall": {"id": _CALL_ID, "name": "get_order_status", "args": {"order_id": "A-1042"}}}]},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": usage, "modelVersion": overhead.GENAI_MODEL, "responseId": overhead.GENAI_RESPONSE_ID}
    answer = json.loads(overhead._genai_response_body())
    return json.dumps(call).encode(), json.dumps(answer).encode()


def make_model() -> Any:
    """ADK's `Gemini` model on a google-genai client answering in process."""
    from google import genai
    from google.adk.models.google_llm import Gemini
    from google.genai import types as genai_types

    try:
        import httpx2 as http
    except ImportError:
        import httpx as http
    call, answer = _bodies()
    headers = {"content-type": "application/json; charset=UTF-8"}

    def handler(request):
        return http.Response(200, headers=headers, content=answer if b"functionResponse" in request.content else call)

    options = genai_types.HttpOptions(httpx_async_client=http.AsyncClient(transport=http.MockTransport(handler)))
    model = Gemini(model=overhead.GENAI_MODEL)
    model.__dict__["api_client"] = genai.Client(api_key="AIza-bench", http_options=options)  # ADK's cached_property
    return model


def _optional_import_failed_once(module: str) -> None:
    """ADK 2.x imports `RemoteA2aAgent` (optional: it needs a2a) on every turn, and where a2a is not
    installed the import fails anew each time: ≈ 10 ms of file-system lookups, more than half of a
    bare turn and most of its variance, the same in every configuration. Marked missing once here
    (`sys.modules[module] = None`: ADK's `except ImportError` then answers at once), the turn is
    ADK's own work and the instrumentation's, and the added µs of each configuration are compared
    on a steadier base."""
    try:
        __import__(module)
    except ImportError:
        sys.modules[module] = None  # type: ignore[assignment]


def make_workload(workload: str) -> Callable[[], Any]:
    """One agent turn (two model round trips and a tool call) for one run of the workload."""
    from google.adk.agents import LlmAgent
    from google.adk.runners import InMemoryRunner
    from google.genai import types as genai_types

    def get_order_status(order_id: str) -> dict:
        """The shipping status of an order."""
        return {"order_id": order_id, "status": "shipped Thursday"}

    _optional_import_failed_once("google.adk.agents.remote_a2a_agent")
    agent = LlmAgent(name="support_agent", model=make_model(), instruction="Answer the customer briefly.", tools=[get_order_status])
    runner = InMemoryRunner(agent=agent, app_name="bench")
    message = genai_types.Content(role="user", parts=[genai_types.Part(text=QUESTION)])
    loop = asyncio.new_event_loop()
    sessions = itertools.count()

    async def turn() -> list[Any]:
        session_id = f"s{next(sessions)}"
        await runner.session_service.create_session(app_name="bench", user_id="u", session_id=session_id)
        return [event async for event in runner.run_async(user_id="u", session_id=session_id, new_message=message)]

    return lambda: loop.run_until_complete(turn())


if __name__ == "__main__":
    import framework_overhead

    sys.exit(framework_overhead.main(framework=FRAMEWORK))
