"""`opik-otel demo`: run a small, real LLM app traced with opik-otel, and show its trace.

An agent (`agent.WeatherAgent`) calls the real `openai` SDK: one chat completion that asks
for the `get_weather` tool, the tool, then a streamed answer. By default the SDK talks to
a built-in OpenAI-compatible server on 127.0.0.1 (`server.DemoOpenAIServer`), so the demo
needs no API key and makes no network call; `--real` uses the OpenAI API (OPENAI_API_KEY).

Tracing is the user's own configuration (`opik_otel.configure()`): with no Opik URL, API
key or OTLP endpoint set, spans go to the local store and the demo prints the trace tree.
"""

from __future__ import annotations

import os
import sys
from typing import Any

QUESTION = "What's the weather like in Paris today?"
_OPENAI_MISSING = 'opik-otel demo needs the openai package: pip install "opik-otel[openai]"'
_STREAM_DELAY = 0.03  # seconds between the built-in server's streamed chunks: the answer appears word by word


def run(real: bool = False, width: int | None = None) -> int:
    """Run the demo agent, traced; show the trace. Returns the exit status."""
    try:
        import openai
    except ImportError:
        print(_OPENAI_MISSING, file=sys.stderr)
        return 1
    if real and not os.environ.get("OPENAI_API_KEY"):
        print("opik-otel demo: --real needs OPENAI_API_KEY set (without --real the demo uses its built-in server)", file=sys.stderr)
        return 2

    import opik_otel
    from opik_otel.cli.demo.agent import WeatherAgent
    from opik_otel.cli.demo.server import DemoOpenAIServer

    try:
        provider = opik_otel.configure()
    except opik_otel.ConfigurationError as exc:
        print(f"opik-otel demo: {exc}", file=sys.stderr)
        return 2
    opik_otel.OpikInstrumentor().instrument()

    try:
        server = None if real else DemoOpenAIServer(stream_delay=_STREAM_DELAY).start()
    except OSError as exc:
        print(f"opik-otel demo: could not start the built-in server on 127.0.0.1: {exc}", file=sys.stderr)
        return 1
    print("opik-otel demo: a small agent (a tool call, then a streamed answer) using the")
    if server is None:
        client = openai.OpenAI(max_retries=1, timeout=60)
        print("openai SDK with the OpenAI API (OPENAI_API_KEY).")
    else:
        client = openai.OpenAI(
            base_url=server.base_url, api_key="demo", max_retries=0, timeout=10, http_client=_loopback_http_client(openai)
        )
        print(f"openai SDK with a built-in OpenAI-compatible server on {server.url.split('//')[1]}.")
        local = provider is None or _exporter() in ("local", "console", "none")
        print("No API key needed; nothing leaves this machine." if local else "No API key needed.")
    print()
    print(f"> {QUESTION}")
    agent = WeatherAgent(client)
    status = 0
    try:
        agent.ask(QUESTION)
    except (openai.OpenAIError, RuntimeError) as exc:
        print(f"\nopik-otel demo: the agent failed: {exc}", file=sys.stderr)
        status = 1
    finally:
        client.close()
        if server is not None:
            server.stop()
    print()

    if provider is None:
        print("Tracing is disabled (OPIK_TRACK_DISABLE), so there is no trace to show.")
    else:
        opik_otel.flush()
        status = _show_trace(agent.trace_id, width) or status
    _next_steps(local=provider is not None and _exporter() == "local")
    return status


def _loopback_http_client(openai: Any) -> Any:
    """The SDK's HTTP client without proxies from the environment: the server is on 127.0.0.1."""
    try:
        return openai.DefaultHttpxClient(trust_env=False)
    except (AttributeError, TypeError):  # an SDK without it: its default client
        return None


def _exporter() -> str | None:
    from opik_otel._configure import current_settings

    settings = current_settings()
    return settings.resolved_exporter if settings is not None else None


def _show_trace(trace_id: str | None, width: int | None) -> int:
    """Show the demo's trace (from the local store), or say where it was sent; an exit status."""
    from opik_otel._configure import current_settings

    settings = current_settings()
    if settings is None:
        return 0
    exporter = settings.resolved_exporter
    if exporter == "local":
        from opik_otel.cli.view import run as view

        return view(settings.local_store_dir, trace_id=trace_id, width=width)
    where = {
        "opik": f"to Opik at {settings.opik_url}",
        "opik-otlp": f"to Opik's OTLP endpoint at {settings.opik_url}",
        "otlp": "to the OTLP endpoint configured (OTEL_EXPORTER_OTLP_ENDPOINT)",
        "console": "to the console (above)",
        "none": "nowhere (OPIK_OTEL_EXPORTER=none)",
    }.get(exporter, f"to the {exporter!r} exporter")
    print(f"As configured, the trace was sent {where}.")
    if exporter in ("opik", "opik-otlp"):
        print(f"Project: {settings.project_name}")
    print(f"Trace id: {trace_id}")
    return 0


def _next_steps(local: bool) -> None:
    print()
    print("Next: trace your own app with")
    print("    opik_otel.configure(); opik_otel.OpikInstrumentor().instrument()")
    if local:
        print("`opik-otel view` shows the stored traces; `opik-otel upload` sends them to the")
        print("Opik server set by OPIK_URL_OVERRIDE (or to Opik Cloud with OPIK_API_KEY).")
