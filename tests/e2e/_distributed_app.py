"""The two processes of the distributed-trace e2e tests (run as a script, never imported by pytest).

    python _distributed_app.py serve <sdk> <how>   # service B: prints "PORT <n>", serves until POST /shutdown
    python _distributed_app.py call <sdk> <port>   # process A: request() -> call_b() -> POST B /work

<sdk> is "otel" (opik-otel, configured with explicit `configure(url=…, …)` from FAKE_OPIK_*),
"otel-inject" (the same added to a TracerProvider the app set first, and A sends what
`opentelemetry.propagate.inject` gives, as an HTTP client instrumentation does), or "opik"
(the plain Opik SDK, configured by its own OPIK_* environment variables).

<how> is how B continues the trace from the request headers:
  continue   `with opik_otel.continue_distributed_trace(self.headers): handle(...)`
  propagate  `context.attach(opentelemetry.propagate.extract(self.headers))`, then `handle(...)`
  kwarg      `handle(..., opik_distributed_trace_headers=dict(self.headers))` (Opik SDK style; the
             only form for sdk=opik)

B's `handle` calls a nested tracked `step`; B flushes its spans before answering. Both
processes print `RESULT <json>` lines (what they sent, received and flushed).
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import threading
import traceback
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Callable


def report(**values: Any) -> None:
    print("RESULT " + json.dumps(values, default=str), flush=True)


class Sdk:
    """`track`, the caller's distributed headers and `flush` of one tracing SDK."""

    def __init__(self, name: str) -> None:
        self.name = name
        if name in ("otel", "otel-inject"):
            import opik_otel

            if name == "otel-inject":  # the app's own TracerProvider, set before configure()
                from opentelemetry import trace
                from opentelemetry.sdk.trace import TracerProvider

                trace.set_tracer_provider(TracerProvider())
            opik_otel.configure(
                url=os.environ["FAKE_OPIK_URL"],
                api_key=os.environ["FAKE_OPIK_API_KEY"],
                workspace=os.environ["FAKE_OPIK_WORKSPACE"],
                project_name=os.environ["FAKE_OPIK_PROJECT"],
            )
            self.track: Callable[..., Any] = opik_otel.track
            self.headers: Callable[[], dict] = opik_otel.get_distributed_trace_headers if name == "otel" else _injected
        elif name == "opik":
            import opik

            self.track = opik.track
            self.headers = lambda: dict(opik.opik_context.get_distributed_trace_headers())
        else:
            raise SystemExit(f"unknown sdk {name!r}")

    def flush(self) -> bool:
        if self.name != "opik":
            import opik_otel

            return opik_otel.flush()
        import opik

        opik.flush_tracker()  # returns None; it waits until the queue is sent
        return True


def _injected() -> dict:
    """The headers an HTTP client instrumentation sends: whatever the global propagators inject."""
    from opentelemetry import propagate

    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers


# --- service B -------------------------------------------------------------------------


def serve(sdk_name: str, how: str) -> None:
    sdk = Sdk(sdk_name)
    if sdk_name == "opik" and how != "kwarg":
        raise SystemExit("the Opik SDK continues a trace only with opik_distributed_trace_headers=")

    @sdk.track
    def step(x: int) -> int:
        return x * 2

    @sdk.track
    def handle(payload: dict) -> dict:
        return {"doubled": step(payload["x"])}

    def run_handle(request: BaseHTTPRequestHandler, payload: dict) -> dict:
        if how == "continue":
            import opik_otel

            with opik_otel.continue_distributed_trace(request.headers):  # the server's own headers object
                return handle(payload)
        if how == "propagate":
            from opentelemetry import context, propagate

            token = context.attach(propagate.extract(request.headers))
            try:
                return handle(payload)
            finally:
                context.detach(token)
        if how == "kwarg":
            return handle(payload, opik_distributed_trace_headers=dict(request.headers))
        raise ValueError(f"unknown way to continue a trace: {how!r}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            if self.path == "/shutdown":
                self._reply(200, {"bye": True})
                threading.Thread(target=self.server.shutdown, daemon=True).start()
                return
            if self.path != "/work":
                self._reply(404, {"error": f"no route {self.path}"})
                return
            try:
                payload = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                result = run_handle(self, payload)
                flushed = sdk.flush()
            except Exception:
                self._reply(500, {"error": traceback.format_exc()})
                return
            received = {key.lower(): value for key, value in self.headers.items()}
            report(received_headers=received, result=result, flushed=flushed)
            self._reply(200, {"result": result, "flushed": flushed, "received_headers": received})

        def _reply(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base signature
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.05)
    finally:
        server.server_close()
    report(final_flush=sdk.flush())
    print("BYE", flush=True)


# --- process A -------------------------------------------------------------------------


def call(sdk_name: str, port: int) -> None:
    sdk = Sdk(sdk_name)

    @sdk.track
    def call_b(x: int) -> Any:
        headers = sdk.headers()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:
            connection.request("POST", "/work", body=json.dumps({"x": x}).encode(),
                               headers={"Content-Type": "application/json", **headers})
            response = connection.getresponse()
            reply = json.loads(response.read() or b"null")
        finally:
            connection.close()
        report(sent_headers=headers, status=response.status, reply=reply)
        if response.status != 200:
            raise RuntimeError(f"service B answered {response.status}: {reply}")
        return reply["result"]

    @sdk.track
    def request(x: int) -> Any:
        return call_b(x)

    report(result=request(21))
    report(flushed=sdk.flush())


def main(argv: list[str]) -> None:
    role, sdk_name, arg = argv
    if role == "serve":
        serve(sdk_name, arg)
    elif role == "call":
        call(sdk_name, int(arg))
    else:
        raise SystemExit(f"unknown role {role!r}")


if __name__ == "__main__":
    main(sys.argv[1:])
