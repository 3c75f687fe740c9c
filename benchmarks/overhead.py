"""Per-call overhead of LLM client instrumentation: opik-otel vs the peers.

    python benchmarks/overhead.py [--provider {openai,anthropic,bedrock,genai,litellm}] --config NAME \
        --mode {chat,stream,async} [--blocks 20] [--block-size 100] [--warmup 200] [--json out.json]

Runs in any of the environments that `benchmarks/setup.sh` builds: it needs only the
standard library, the provider's client (`openai`, `anthropic` or `boto3`) and
`opentelemetry-sdk` (plus, per configuration, the package under test). Configurations
(anthropic and bedrock: `none`, `opik-otel-off` and `opik-otel-on` only; bedrock has no
async mode, botocore being synchronous; an unsupported combination is skipped, and with
--json a `{"skipped": why}` record is written):

  none            no instrumentation: both blocks of a pair are bare (the noise floor)
  opik-otel-off   opik_otel OpenAIInstrumentor, content capture off, production pipeline as
                  `opik_otel.configure()` builds it: OpikBatchSpanProcessor (usage/cost on its
                  worker) -> OpikSpanExporter -> a fake Opik back end in a subprocess
  opik-otel-on    the same with content capture on
  opik-otel-handbuilt-off, opik-otel-handbuilt-on
                  the pipeline a user builds by hand instead of configure():
                  `UsageCostSpanProcessor(BatchSpanProcessor(OpikSpanExporter(...)))` on a plain
                  TracerProvider (openai only)
  official        opentelemetry-instrumentation-genai-openai (util-genai), its defaults
  openllmetry     Traceloop's opentelemetry-instrumentation-openai, its defaults
  openinference   openinference-instrumentation-openai, its defaults
  opik-sdk        the Opik SDK's track_openai(client), sending to the fake Opik back end

The openai client talks to an in-process transport (`httpx2.MockTransport` for openai >= 3,
`httpx.MockTransport` before), so no network or server hides the cost. The handler answers
a fixed, realistic chat.completion (or, in stream mode, an SSE body of 20 content chunks,
a usage chunk and `data: [DONE]`).

--provider anthropic: `anthropic.Anthropic` / `AsyncAnthropic` on the same kind of
in-process transport (httpx2 for anthropic >= 2), `messages.create` answered by a fixed
Message, or in stream mode Anthropic's real SSE events (message_start, content_block_start,
ping, 20 text_delta content_block_deltas, content_block_stop, message_delta with usage,
message_stop). No global tracer provider is set, so anthropic >= 2's own tracing stays
on OpenTelemetry's no-op (proxy) tracer, on the bare and the instrumented side alike.
--provider bedrock: a boto3 `bedrock-runtime` client whose HTTP send is short-circuited in
process by a botocore `before-send` handler returning an `AWSResponse`: signing, request
serialisation and response parsing all run. `converse` gets a fixed Converse JSON reply;
`converse_stream` real AWS event-stream frames (messageStart, 20 contentBlockDelta,
contentBlockStop, messageStop, metadata with usage), one frame per read.
--provider genai: a google-genai `Client` whose `HttpOptions(httpx_client=…)` (async:
`httpx_async_client=`) is on an in-process transport: `models.generate_content` answered by a
fixed GenerateContentResponse, `generate_content_stream` by 20 SSE chunks, async on `client.aio`.
Configs: none, ours, `official` / `official-on` (opentelemetry-instrumentation-google-genai,
content off by default / SPAN_ONLY) and `openinference` / `openinference-off`
(openinference-instrumentation-google-genai, content on by default / hidden).
--provider litellm: `litellm.completion` / `acompletion` of `openai/gpt-4o-mini` handed the
in-process openai client (`client=`); configs none, ours, `openinference` / `openinference-off`.

Method (the machine is shared and noisy): after a warm-up, `--blocks` pairs of blocks run
interleaved in this one process: `--block-size` bare calls, then (instrument) the same
number of instrumented calls (uninstrument); per-client peers (opik-sdk) alternate a
tracked and an untracked client instead, and so does bedrock (BedrockInstrumentor hooks
client creation: the traced client is created while instrumented, the bare one before). An instrumentor whose uninstrument() leaves its
wrappers in place (OpenLLMetry today) is instrumented once, and its patched attributes
are swapped between their original and wrapped values (the result's notes say so). The order inside a pair alternates (ABBA) so
that drift cancels. Before each block the garbage collector runs, and after each
instrumented block the span pipeline is flushed OUTSIDE the timed region (so export work
of one block never lands in the next); the process CPU time that flush takes is reported
as `export_cpu_us` per call (the background export cost, off the app's thread).

Per pair: ratio = instrumented mean / bare mean and added = instrumented - bare (µs per
call). Reported: the median ratio with min-max over the pairs, the median added µs.
Stream mode also reports the added time to first chunk (median over pairs of the
per-block mean TTFC difference), and splits fixed from per-chunk cost with a second kind
of pair whose calls only create the stream, read the first chunk and close it:
per_chunk_us = (added_full - added_first_only) / 20 (the 20 chunks after the first;
anthropic and bedrock: per content delta, the stream's other events amortised into it).
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib.metadata
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ("none", "opik-otel-off", "opik-otel-on", "official", "openllmetry", "openinference", "opik-sdk",
           "official-on", "openinference-off", "opik-otel-handbuilt-off", "opik-otel-handbuilt-on")
OURS = ("opik-otel-off", "opik-otel-on", "opik-otel-handbuilt-off", "opik-otel-handbuilt-on")
MODES = ("chat", "stream", "async")
PROVIDERS = ("openai", "anthropic", "bedrock", "genai", "litellm")
PROVIDER_CONFIGS = {
    "openai": CONFIGS,
    "anthropic": ("none", "opik-otel-off", "opik-otel-on"),
    "bedrock": ("none", "opik-otel-off", "opik-otel-on"),
    "genai": ("none", "opik-otel-off", "opik-otel-on", "official", "official-on", "openinference", "openinference-off"),
    "litellm": ("none", "opik-otel-off", "opik-otel-on", "openinference", "openinference-off"),
}
PROVIDER_MODES = {"openai": MODES, "anthropic": MODES, "bedrock": ("chat", "stream"), "genai": MODES, "litellm": MODES}
CLIENT_PACKAGE = {"openai": "openai", "anthropic": "anthropic", "bedrock": "botocore", "genai": "google.genai", "litellm": "litellm"}
STREAM_CONTENT_CHUNKS = 20

# Variables that switch the peers' content capture: cleared so each runs at its documented
# default (set them again with --env KEY=VALUE to measure another setting).
CONTENT_ENV = (
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
    "TRACELOOP_TRACE_CONTENT",
    "OPENINFERENCE_HIDE_INPUTS",
    "OPENINFERENCE_HIDE_OUTPUTS",
    "OPENINFERENCE_HIDE_INPUT_MESSAGES",
    "OPENINFERENCE_HIDE_OUTPUT_MESSAGES",
    "OPIK_TRACK_DISABLE",
    # anthropic >= 2's own tracing and anything that would give OTel a global provider
    "ANTHROPIC_OPEN_TELEMETRY",
    "ANTHROPIC_OPEN_TELEMETRY_TRACES_CONTENT_MODE",
    "ANTHROPIC_OPEN_TELEMETRY_PROPAGATION",
    "ANTHROPIC_OPEN_TELEMETRY_TRACES_MAX_CONTENT_BYTES",
    "OTEL_PYTHON_TRACER_PROVIDER",
)

VERSION_PACKAGES = (
    "openai", "httpx2", "httpx", "opentelemetry-api", "opentelemetry-sdk",
    "opentelemetry-instrumentation", "opentelemetry-util-genai",
    "opentelemetry-instrumentation-genai-openai", "opentelemetry-instrumentation-openai",
    "openinference-instrumentation-openai", "openinference-instrumentation",
    "opik", "opik-otel", "genai-prices", "anthropic", "boto3", "botocore",
    "google-genai", "opentelemetry-instrumentation-google-genai", "openinference-instrumentation-google-genai",
    "litellm", "openinference-instrumentation-litellm",
)
PEER_PACKAGE = {
    "official": "opentelemetry-instrumentation-genai-openai",
    "openllmetry": "opentelemetry-instrumentation-openai",
    "openinference": "openinference-instrumentation-openai",
    "opik-sdk": "opik",
    "opik-otel-off": "opik-otel",
    "opik-otel-on": "opik-otel",
    "opik-otel-handbuilt-off": "opik-otel",
    "opik-otel-handbuilt-on": "opik-otel",
    "none": "openai",
}
# --provider genai: the peers are the google-genai instrumentations
GENAI_PEER_PACKAGE = {
    "official": "opentelemetry-instrumentation-google-genai",
    "official-on": "opentelemetry-instrumentation-google-genai",
    "openinference": "openinference-instrumentation-google-genai",
    "openinference-off": "openinference-instrumentation-google-genai",
    "opik-otel-off": "opik-otel",
    "opik-otel-on": "opik-otel",
    "none": "google-genai",
}
LITELLM_PEER_PACKAGE = {
    "openinference": "openinference-instrumentation-litellm",
    "openinference-off": "openinference-instrumentation-litellm",
    "opik-otel-off": "opik-otel",
    "opik-otel-on": "opik-otel",
    "none": "litellm",
}
# the environment a named content variant of a peer runs with (set before the peer loads)
VARIANT_ENV = {
    "official-on": {"OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT": "SPAN_ONLY"},
    "openinference-off": {"OPENINFERENCE_HIDE_INPUTS": "true", "OPENINFERENCE_HIDE_OUTPUTS": "true"},
}
CONTENT_DEFAULT = {
    "none": None,
    "opik-otel-off": False,
    "opik-otel-on": True,
    "opik-otel-handbuilt-off": False,
    "opik-otel-handbuilt-on": True,
    "official": False,  # util-genai: no content unless OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT
    "openllmetry": True,  # TRACELOOP_TRACE_CONTENT defaults to "true"
    "openinference": True,  # OPENINFERENCE_HIDE_* default to false
    "opik-sdk": True,  # track_openai always logs input and output
    "official-on": True,  # OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=SPAN_ONLY
    "openinference-off": False,  # OPENINFERENCE_HIDE_INPUTS / _OUTPUTS=true
}

# --- the fake OpenAI wire ---------------------------------------------------------------

MODEL = "gpt-4o-mini"
RESPONSE_MODEL = "gpt-4o-mini-2024-07-18"
MESSAGES = [
    {
        "role": "system",
        "content": (
            "You are a concise assistant for an online bookshop. Answer questions about "
            "orders, shipping times and returns in two or three sentences, in a friendly tone, "
            "and never invent an order status you were not given in the conversation."
        ),
    },
    {
        "role": "user",
        "content": (
            "Hi! I ordered two paperbacks last Tuesday (order 48213) and the tracking page still "
            "says 'label created'. Is that normal, and when should I expect them? I need one of "
            "them as a birthday present on Saturday."
        ),
    },
]
ANSWER_WORDS = (
    "Thanks for reaching out! A 'label created' status usually means the parcel is "
    "packed and waiting for the carrier's first scan, which can take one to two business "
    "days. Standard shipping then takes three to five days, so Saturday is possible but "
    "not guaranteed; I can upgrade it to express if you like."
).split(" ")


def _chat_completion_body() -> bytes:
    return json.dumps({
        "id": "chatcmpl-BqR2cX5vJ8kL0mN3pQ6sT9wY1zA4b",
        "object": "chat.completion",
        "created": 1751882400,
        "model": RESPONSE_MODEL,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": " ".join(ANSWER_WORDS), "refusal": None, "annotations": []},
            "logprobs": None,
            "finish_reason": "stop",
        }],
        "usage": {
            "prompt_tokens": 112,
            "completion_tokens": 71,
            "total_tokens": 183,
            "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0, "audio_tokens": 0,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0,
            },
        },
        "service_tier": "default",
        "system_fingerprint": "fp_34a54ae93c",
    }).encode()


def serve_chat_completions(reply: str) -> str:
    """A loopback HTTP server (a daemon thread of this process) answering every chat completion
    with the fixed body, its text `reply`; its base URL. For frameworks that cannot be handed an
    openai client on the in-process transport (DSPy deep-copies an LM's settings per call, CrewAI
    builds its own client)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    body = json.loads(_chat_completion_body())
    body["choices"][0]["message"]["content"] = reply
    content = json.dumps(body).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
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


def _stream_body() -> bytes:
    """20 content chunks (the first carries the role, the last the finish reason), a usage chunk, [DONE]."""
    words = ANSWER_WORDS
    per = -(-len(words) // STREAM_CONTENT_CHUNKS)
    pieces = [" ".join(words[i * per:(i + 1) * per]) + " " for i in range(STREAM_CONTENT_CHUNKS)]
    pieces[-1] = pieces[-1].rstrip() or "."
    base = {
        "id": "chatcmpl-BqR2cX5vJ8kL0mN3pQ6sT9wY1zA4b",
        "object": "chat.completion.chunk",
        "created": 1751882400,
        "model": RESPONSE_MODEL,
        "service_tier": "default",
        "system_fingerprint": "fp_34a54ae93c",
    }
    events = []
    for i, text in enumerate(pieces):
        delta: dict[str, Any] = {"content": text}
        if i == 0:
            delta = {"role": "assistant", "content": text, "refusal": None}
        finish = "stop" if i == STREAM_CONTENT_CHUNKS - 1 else None
        events.append({**base, "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
                       "usage": None})
    events.append({**base, "choices": [], "usage": {
        "prompt_tokens": 112, "completion_tokens": 71, "total_tokens": 183,
        "prompt_tokens_details": {"cached_tokens": 64, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0,
                                      "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0},
    }})
    lines = [f"data: {json.dumps(e)}\n\n" for e in events] + ["data: [DONE]\n\n"]
    return "".join(lines).encode()


def http_module(package: str = "openai"):
    """The HTTP package the installed client uses: httpx2 for openai >= 3 / anthropic >= 2, else httpx."""
    import importlib

    base_client = importlib.import_module(f"{package}._base_client")
    module = getattr(base_client, "httpx2", None)
    if module is None:
        import httpx as module
    return module


def make_clients(mode: str, count: int) -> list:
    """`count` openai clients (AsyncOpenAI in async mode) on their own in-process transports."""
    import openai

    http = http_module()
    stream = mode == "stream"
    body = _stream_body() if stream else _chat_completion_body()
    headers = {
        "content-type": "text/event-stream" if stream else "application/json",
        "x-request-id": "req_6f1e2b7c9d0a4e3f8b5c1d2e3f4a5b6c",
        "openai-processing-ms": "412",
    }

    def handler(request):
        return http.Response(200, headers=headers, content=body)

    transport = http.MockTransport(handler)
    clients = []
    for _ in range(count):
        if mode == "async":
            clients.append(openai.AsyncOpenAI(api_key="sk-bench", max_retries=0,
                                              http_client=http.AsyncClient(transport=transport)))
        else:
            clients.append(openai.OpenAI(api_key="sk-bench", max_retries=0,
                                         http_client=http.Client(transport=transport)))
    for client in clients:
        client.chat.completions  # noqa: B018 - loads the lazily imported resource modules now
    return clients


# --- the fake Anthropic wire ------------------------------------------------------------

ANTHROPIC_MODEL = "claude-haiku-4-5"
ANTHROPIC_RESPONSE_MODEL = "claude-haiku-4-5-20251001"
ANTHROPIC_MAX_TOKENS = 1024
ANTHROPIC_MESSAGE_ID = "msg_01XFDUDYJgAACzvnptvVoYEL"


def _anthropic_usage(output_tokens: int) -> dict:
    return {
        "input_tokens": 48, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 64,
        "cache_creation": {"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0},
        "output_tokens": output_tokens, "service_tier": "standard",
    }


def _anthropic_message_body() -> bytes:
    return json.dumps({
        "id": ANTHROPIC_MESSAGE_ID,
        "type": "message",
        "role": "assistant",
        "model": ANTHROPIC_RESPONSE_MODEL,
        "content": [{"type": "text", "text": " ".join(ANSWER_WORDS)}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": _anthropic_usage(71),
    }).encode()


def _content_pieces() -> list[str]:
    words = ANSWER_WORDS
    per = -(-len(words) // STREAM_CONTENT_CHUNKS)
    pieces = [" ".join(words[i * per:(i + 1) * per]) + " " for i in range(STREAM_CONTENT_CHUNKS)]
    pieces[-1] = pieces[-1].rstrip() or "."
    return pieces


def _anthropic_stream_body() -> bytes:
    """Anthropic's SSE events: message_start, content_block_start, ping, 20 text deltas,
    content_block_stop, message_delta (stop reason, usage), message_stop."""
    events = [("message_start", {"type": "message_start", "message": {
        "id": ANTHROPIC_MESSAGE_ID, "type": "message", "role": "assistant", "model": ANTHROPIC_RESPONSE_MODEL,
        "content": [], "stop_reason": None, "stop_sequence": None, "usage": _anthropic_usage(1)}}),
        ("content_block_start", {"type": "content_block_start", "index": 0,
                                 "content_block": {"type": "text", "text": ""}}),
        ("ping", {"type": "ping"})]
    events += [("content_block_delta", {"type": "content_block_delta", "index": 0,
                                        "delta": {"type": "text_delta", "text": piece}})
               for piece in _content_pieces()]
    events += [
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"input_tokens": 48, "cache_creation_input_tokens": 0,
                                     "cache_read_input_tokens": 64, "output_tokens": 71}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return "".join(f"event: {name}\ndata: {json.dumps(data)}\n\n" for name, data in events).encode()


def make_anthropic_clients(mode: str, count: int) -> list:
    """`count` anthropic clients (AsyncAnthropic in async mode) on their own in-process transports."""
    import anthropic

    http = http_module("anthropic")
    stream = mode == "stream"
    body = _anthropic_stream_body() if stream else _anthropic_message_body()
    headers = {
        "content-type": "text/event-stream; charset=utf-8" if stream else "application/json",
        "request-id": "req_011CVq8sJ3kYw2nB5mX7pLtR",
        "anthropic-organization-id": "3f0e8a62-5b7c-4d1e-9a2f-6c8b0d4e1f37",
    }

    def handler(request):
        return http.Response(200, headers=headers, content=body)

    transport = http.MockTransport(handler)
    clients = []
    for _ in range(count):
        if mode == "async":
            clients.append(anthropic.AsyncAnthropic(api_key="sk-ant-bench", max_retries=0,
                                                    http_client=http.AsyncClient(transport=transport)))
        else:
            clients.append(anthropic.Anthropic(api_key="sk-ant-bench", max_retries=0,
                                               http_client=http.Client(transport=transport)))
    for client in clients:
        client.messages  # noqa: B018 - loads the lazily imported resource modules now
    return clients


# --- the fake Bedrock wire ---------------------------------------------------------------

BEDROCK_MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0"
BEDROCK_USAGE = {"inputTokens": 48, "outputTokens": 71, "totalTokens": 183,
                 "cacheReadInputTokens": 64, "cacheWriteInputTokens": 0}


def _converse_body() -> bytes:
    return json.dumps({
        "output": {"message": {"role": "assistant", "content": [{"text": " ".join(ANSWER_WORDS)}]}},
        "stopReason": "end_turn",
        "usage": BEDROCK_USAGE,
        "metrics": {"latencyMs": 412},
    }).encode()


def _event_stream_frame(event_type: str, payload: dict) -> bytes:
    """One AWS event-stream message: prelude (total and header lengths, CRC32), string headers,
    payload, CRC32 of everything before it (big-endian)."""
    import struct
    import zlib

    headers = b""
    for name, value in ((":event-type", event_type), (":content-type", "application/json"),
                        (":message-type", "event")):
        raw_name, raw_value = name.encode(), value.encode()
        headers += struct.pack(">B", len(raw_name)) + raw_name + struct.pack(">BH", 7, len(raw_value)) + raw_value
    data = json.dumps(payload, separators=(",", ":")).encode()
    prelude = struct.pack(">II", 12 + len(headers) + len(data) + 4, len(headers))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    message = prelude + headers + data
    return message + struct.pack(">I", zlib.crc32(message))


def _converse_stream_frames() -> list[bytes]:
    """messageStart, 20 contentBlockDelta, contentBlockStop, messageStop, metadata (Bedrock pads
    each payload with a random-length "p" field; a fixed one here)."""
    pad = "abcdefghijklmnopqrstuvwxyzABCDEFGH"
    events = [("messageStart", {"role": "assistant", "p": pad[:12]})]
    events += [("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": piece}, "p": pad[:8 + i % 20]})
               for i, piece in enumerate(_content_pieces())]
    events += [
        ("contentBlockStop", {"contentBlockIndex": 0, "p": pad[:20]}),
        ("messageStop", {"stopReason": "end_turn", "p": pad[:16]}),
        ("metadata", {"usage": BEDROCK_USAGE, "metrics": {"latencyMs": 412}, "p": pad[:10]}),
    ]
    return [_event_stream_frame(name, payload) for name, payload in events]


class _RawBody:
    """What botocore reads an HTTP body from (`AWSResponse.raw`): stream() yields the chunks."""

    __slots__ = ("chunks",)

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    def stream(self, *_args, **_kwargs):
        return iter(self.chunks)

    def close(self) -> None:
        pass


def make_bedrock_clients(count: int, session=None) -> list:
    """`count` bedrock-runtime clients whose requests are answered in process (a `before-send` handler)."""
    import boto3
    from botocore.awsrequest import AWSResponse
    from botocore.config import Config

    converse = _converse_body()
    frames = _converse_stream_frames()
    json_headers = {"content-type": "application/json", "content-length": str(len(converse)),
                    "x-amzn-requestid": "6f1e2b7c-9d0a-4e3f-8b5c-1d2e3f4a5b6c"}
    stream_headers = {"content-type": "application/vnd.amazon.eventstream", "transfer-encoding": "chunked",
                      "x-amzn-requestid": "6f1e2b7c-9d0a-4e3f-8b5c-1d2e3f4a5b6c"}

    def before_send(request, **_kwargs):
        if request.url.endswith("/converse-stream"):
            return AWSResponse(request.url, 200, stream_headers, _RawBody(frames))
        return AWSResponse(request.url, 200, json_headers, _RawBody([converse]))

    session = session or boto3.session.Session(
        aws_access_key_id="AKIDBENCHMARK000000", aws_secret_access_key="bench-secret", region_name="us-east-1")
    config = Config(retries={"total_max_attempts": 1})
    clients = []
    for _ in range(count):
        client = session.client("bedrock-runtime", config=config)
        client.meta.events.register("before-send.bedrock-runtime", before_send)
        clients.append(client)
    return clients

# --- the fake Gemini wire (google-genai) ---------------------------------------------------

GENAI_MODEL = "gemini-2.5-flash"
GENAI_RESPONSE_ID = "kGJxaK3vD8nQz7IPp5ermAw"
GENAI_USAGE = {
    "promptTokenCount": 112, "candidatesTokenCount": 71, "totalTokenCount": 183,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 112}],
    "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 71}],
}


def _genai_response_body() -> bytes:
    """A GenerateContentResponse as the Gemini Developer API sends it (camelCase JSON)."""
    return json.dumps({
        "candidates": [{
            "content": {"role": "model", "parts": [{"text": " ".join(ANSWER_WORDS)}]},
            "finishReason": "STOP",
            "avgLogprobs": -0.2173519134521484,
            "index": 0,
        }],
        "usageMetadata": GENAI_USAGE,
        "modelVersion": GENAI_MODEL,
        "responseId": GENAI_RESPONSE_ID,
    }).encode()


def _genai_stream_body() -> bytes:
    """`:streamGenerateContent?alt=sse`: 20 `data:` events, each a GenerateContentResponse with one
    text piece; every chunk carries usage so far, the last the finish reason and the full usage."""
    events = []
    pieces = _content_pieces()
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": piece}]}, "index": 0}
        if last:
            candidate["finishReason"] = "STOP"
        usage = GENAI_USAGE if last else {"promptTokenCount": 112, "totalTokenCount": 112,
                                          "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 112}]}
        events.append({"candidates": [candidate], "usageMetadata": usage,
                       "modelVersion": GENAI_MODEL, "responseId": GENAI_RESPONSE_ID})
    return "".join(f"data: {json.dumps(e)}\r\n\r\n" for e in events).encode()


_GENAI_CLIENTS: list = []


def make_genai_clients(mode: str, count: int) -> list:
    """`count` google-genai `Client`s (Gemini Developer API) whose `httpx_client` /
    `httpx_async_client` (HttpOptions) answer in process (httpx2.MockTransport, httpx before)."""
    from google import genai
    from google.genai import types as genai_types

    try:
        import httpx2 as http
    except ImportError:
        import httpx as http
    stream = mode == "stream"
    body = _genai_stream_body() if stream else _genai_response_body()
    headers = {"content-type": "text/event-stream" if stream else "application/json; charset=UTF-8",
               "server-timing": "gfet4t7; dur=412", "x-goog-request-id": "6f1e2b7c9d0a4e3f"}

    def handler(request):
        return http.Response(200, headers=headers, content=body)

    transport = http.MockTransport(handler)
    clients = []
    for _ in range(count):
        if mode == "async":
            options = genai_types.HttpOptions(httpx_async_client=http.AsyncClient(transport=transport))
        else:
            options = genai_types.HttpOptions(httpx_client=http.Client(transport=transport))
        client = genai.Client(api_key="AIza-bench", http_options=options)
        _GENAI_CLIENTS.append(client)  # `client.aio` alone would let the Client (and its closing) go
        clients.append(client.aio if mode == "async" else client)
    for client in clients:
        client.models  # noqa: B018 - builds the models module now
    return clients


# --- the fake Opik back end (a subprocess, so its CPU is not ours) -----------------------

_BACKEND_CODE = r"""
import collections, json, sys
sys.path.insert(0, sys.argv[1])
from tests.fakes.opik_backend import FakeOpikBackend
backend = FakeOpikBackend().start()
print(backend.url, flush=True)
sys.stdin.read()  # until the benchmark closes our stdin
statuses = collections.Counter(f"{r.path} {r.status}" for r in backend.requests)
print(json.dumps({"requests": dict(statuses), "traces": len(backend.traces), "spans": len(backend.spans),
                  "errors": backend.errors[:5], "error_count": len(backend.errors)}), flush=True)
backend.stop()
"""


class FakeOpikProcess:
    """Starts at once; `url` waits until it listens (so our imports overlap its start-up)."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _BACKEND_CODE, str(ROOT)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = self.proc.stdout.readline().strip()
            if not self._url.startswith("http"):
                self.proc.kill()
                raise RuntimeError("the fake Opik back end did not start (is `opik` installed here?)")
        return self._url

    def stop(self) -> dict:
        try:
            out, _ = self.proc.communicate(input="", timeout=30)
            lines = [line for line in out.splitlines() if line.strip()]
            return json.loads(lines[-1]) if lines else {}
        except Exception as exc:  # noqa: BLE001 - a summary is a nicety
            self.proc.kill()
            return {"error": repr(exc)}


# --- configurations ----------------------------------------------------------------------


class Setup:
    """What a configuration provides: the clients, instrument/uninstrument, flush, finish."""

    def __init__(self) -> None:
        self.bare_client = None
        self.instr_client = None
        self.instrument: Callable[[], None] = lambda: None
        self.uninstrument: Callable[[], None] = lambda: None
        self.flush: Callable[[], None] = lambda: None
        self.finish: Callable[[], dict] = lambda: {}
        self.notes: list[str] = []

    def exports_through(self, provider: Any, report: Callable[[], dict]) -> Setup:
        """Flushing is `provider`'s; finishing shuts it down and returns `report()`."""
        self.flush = provider.force_flush

        def finish() -> dict:
            provider.shutdown()
            return report()

        self.finish = finish
        return self


def _null_pipeline():
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class NullExporter(SpanExporter):
        count = 0

        def export(self, spans):
            NullExporter.count += len(spans)
            return SpanExportResult.SUCCESS

        def shutdown(self):
            pass

    exporter = NullExporter()
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(exporter))
    return provider, exporter


def _openai_attrs(package: str = "openai") -> dict:
    """The attributes of the classes (and module globals) of openai's (or anthropic's) client and resource modules."""
    snap = {}
    for name, module in list(sys.modules.items()):
        if module is None or not (name in (package, f"{package}._client", f"{package}._base_client")
                                  or name.startswith(f"{package}.resources")
                                  or (package == "google.genai" and name.startswith("google.genai."))
                                  or (package == "litellm" and name == "litellm.main")):
            continue
        for attr, value in list(vars(module).items()):
            snap[(module, attr)] = value
            # type(value), not isinstance(): openai's lazy proxies import on any attribute access
            if issubclass(type(value), type) and vars(value).get("__module__", "").startswith(package):
                for cls_attr, cls_value in list(vars(value).items()):
                    snap[(value, cls_attr)] = cls_value
    return snap


_MISSING = object()


def _same(key, value, original) -> bool:
    """Whether `value` restores `original` (an attribute put on a subclass counts as the inherited one)."""
    if value is original:
        return True
    container, attr = key
    if original is _MISSING and isinstance(container, type):
        inherited = next((vars(c)[attr] for c in container.__mro__[1:] if attr in vars(c)), _MISSING)
        return value is inherited
    return False


def _toggle(setup: Setup, instrumentor, package: str = "openai", **kwargs) -> None:
    """instrument()/uninstrument() between blocks, if uninstrument() really restores openai
    (or `package`: anthropic).

    Otherwise (an instrumentor whose uninstrument() leaves its wrappers in place, so that
    instrumenting again would stack a second wrapper) instrument once and swap the patched
    attributes of openai's modules and classes between their original and wrapped values.
    """
    before = _openai_attrs(package)
    instrumentor.instrument(**kwargs)
    during = _openai_attrs(package)
    instrumentor.uninstrument()
    after = _openai_attrs(package)
    # attributes replaced by (or, on a class, added as) a wrapper: wrapt's or functools.wraps-style
    containers = {container for container, _ in before}
    patched = {key: before.get(key, _MISSING) for key, value in during.items()
               if before.get(key, _MISSING) is not value and not key[1].startswith("__")
               and (key in before or (isinstance(key[0], type) and key[0] in containers))
               and not isinstance(value, types.ModuleType) and hasattr(value, "__wrapped__")}
    left = [key for key, original in patched.items() if not _same(key, after.get(key, _MISSING), original)]
    if not patched:
        setup.notes.append(f"instrument() patched no attribute of {package}'s modules or classes")
    if not left:
        setup.instrument = lambda: instrumentor.instrument(**kwargs)
        setup.uninstrument = instrumentor.uninstrument
        return
    names = sorted(f"{getattr(c, '__name__', c)}.{a}" for c, a in left)
    setup.notes.append(
        f"uninstrument() left {len(left)} wrapper(s) in place (e.g. {', '.join(names[:3])}); instrumented "
        "once and toggled by swapping the patched attributes between their original and wrapped values")

    def put(values: dict) -> None:
        for (container, attr), value in values.items():
            if value is not _MISSING:
                setattr(container, attr, value)
            elif attr in vars(container):
                delattr(container, attr)

    put(patched)  # back to bare
    instrumentor.instrument(**kwargs)
    now = _openai_attrs(package)
    wrapped = {key: now.get(key, _MISSING) for key in patched}
    put(patched)
    setup.instrument = lambda: put(wrapped)
    setup.uninstrument = lambda: put(patched)


def _our_provider(backend: FakeOpikProcess, capture_content: bool = False):
    """opik-otel's production pipeline, built by the code `opik_otel.configure()` runs: a TracerProvider
    with UUID v7 trace ids and the one processor configure() adds (the context processor, then
    `OpikBatchSpanProcessor`, usage and cost added on its worker, -> `OpikSpanExporter` posting to
    the fake Opik back end). It is not set as the global provider: anthropic >= 2 traces itself
    through the global one, and the bare side must stay bare.

    The exporter gets a private, empty spool folder (removed at exit): the default one is shared
    by every process of the user, and a batch another process left there would be replayed to
    our fake back end at start-up (extra spans, extra work).
    """
    import atexit
    import shutil
    import tempfile

    from opik_otel._configure import _SwitchablePipeline, build_processor, new_tracer_provider
    from opik_otel._settings import resolve_settings

    spool = tempfile.mkdtemp(prefix="opik-otel-bench-spool-")
    atexit.register(shutil.rmtree, spool, True)
    settings = resolve_settings(exporter="opik", url=backend.url, api_key="k", project_name="bench",
                                spool_dir=spool, capture_content=capture_content)
    provider = new_tracer_provider()
    provider.add_span_processor(_SwitchablePipeline(build_processor(settings)))
    return provider


def _handbuilt_provider(backend: FakeOpikProcess):
    """The pipeline a user builds by hand: `UsageCostSpanProcessor(BatchSpanProcessor(OpikSpanExporter))`
    on a plain TracerProvider (random ids, no context processor), with a private spool folder."""
    import atexit
    import shutil
    import tempfile

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from opik_otel import OpikSpanExporter, UsageCostSpanProcessor

    spool = tempfile.mkdtemp(prefix="opik-otel-bench-spool-")
    atexit.register(shutil.rmtree, spool, True)
    provider = TracerProvider()
    exporter = OpikSpanExporter(url=backend.url, api_key="k", project_name="bench", spool_dir=spool)
    provider.add_span_processor(UsageCostSpanProcessor(BatchSpanProcessor(exporter)))
    return provider


def build(config: str, mode: str, provider_name: str = "openai") -> Setup:
    setup = Setup()
    if config == "opik-sdk":
        return _build_opik_sdk(setup, mode)
    if provider_name == "bedrock":
        return _build_bedrock(setup, config)

    ours = config in OURS
    backend = FakeOpikProcess() if ours else None  # its start-up overlaps ours
    if provider_name == "genai":
        (client,) = make_genai_clients(mode, 1)
    elif provider_name == "litellm":
        import litellm  # noqa: F401 - before the instrumentors, as an app imports it

        (client,) = make_clients(mode, 1)  # the openai client LiteLLM is handed (`client=`)
    elif provider_name == "anthropic":
        (client,) = make_anthropic_clients(mode, 1)
    else:
        (client,) = make_clients(mode, 1)
    setup.bare_client = setup.instr_client = client
    if config == "none":
        return setup

    if ours:
        if provider_name == "anthropic":
            from opik_otel.instrumentors.anthropic import AnthropicInstrumentor as Instrumentor
        elif provider_name == "genai":
            from opik_otel.instrumentors.genai import GenAIInstrumentor as Instrumentor
        elif provider_name == "litellm":
            from opik_otel.instrumentors.litellm import LiteLLMInstrumentor as Instrumentor
        else:
            from opik_otel.instrumentors.openai import OpenAIInstrumentor as Instrumentor

        content = CONTENT_DEFAULT[config]
        provider = _handbuilt_provider(backend) if "handbuilt" in config else _our_provider(backend, content)
        _toggle(setup, Instrumentor(), package=CLIENT_PACKAGE[provider_name], tracer_provider=provider,
                capture_content=content)
        return setup.exports_through(provider, lambda: {"backend": backend.stop()})

    provider, exporter = _null_pipeline()
    if provider_name == "genai":
        return _build_genai_peer(setup, config, provider, exporter)
    if provider_name == "litellm":
        os.environ.update(VARIANT_ENV.get(config, {}))
        from openinference.instrumentation.litellm import LiteLLMInstrumentor

        _toggle(setup, LiteLLMInstrumentor(), package="litellm", tracer_provider=provider)
        return setup.exports_through(provider, lambda: {"spans_exported": exporter.count})
    if config == "official":
        from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor
    elif config == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor
    elif config == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor
    else:
        raise SystemExit(f"unknown config {config!r}")
    _toggle(setup, OpenAIInstrumentor(), tracer_provider=provider)
    return setup.exports_through(provider, lambda: {"spans_exported": exporter.count})


def _build_genai_peer(setup: Setup, config: str, provider, exporter) -> Setup:
    """The google-genai peers on the null pipeline; a content variant's switch is set before they load."""
    os.environ.update(VARIANT_ENV.get(config, {}))
    kwargs: dict[str, Any] = {"tracer_provider": provider}
    if config in ("official", "official-on"):
        from opentelemetry.instrumentation.google_genai import GoogleGenAiSdkInstrumentor as Instrumentor

        # 1.3b0 declares google-genai<3 (the version this harness runs is 3.x): without
        # skip_dep_check, instrument() logs a conflict and does nothing
        kwargs["skip_dep_check"] = True
        setup.notes.append("official: instrumented with skip_dep_check=True (it declares google-genai<3)")
    elif config in ("openinference", "openinference-off"):
        from openinference.instrumentation.google_genai import GoogleGenAIInstrumentor as Instrumentor
    else:
        raise SystemExit(f"unknown config {config!r}")
    _toggle(setup, Instrumentor(), package="google.genai", **kwargs)
    return setup.exports_through(provider, lambda: {"spans_exported": exporter.count})


def _build_bedrock(setup: Setup, config: str) -> Setup:
    """Two clients, alternating. BedrockInstrumentor wraps the `_make_api_call` of each
    bedrock-runtime client created while it is instrumented (it hooks client creation), and
    uninstrument() leaves existing clients as they are: so the bare client is created first,
    the traced one while instrumented, and then the instrumentor is uninstrumented again.
    Both come from the same boto3 session with the same configuration and in-process answer."""
    if config == "none":
        setup.bare_client, setup.instr_client = make_bedrock_clients(2)
        setup.notes.append("per-client: two untraced clients alternate")
        return setup

    from opik_otel.instrumentors.bedrock import BedrockInstrumentor

    backend = FakeOpikProcess()
    import boto3

    session = boto3.session.Session(
        aws_access_key_id="AKIDBENCHMARK000000", aws_secret_access_key="bench-secret", region_name="us-east-1")
    (setup.bare_client,) = make_bedrock_clients(1, session)
    provider = _our_provider(backend, config == "opik-otel-on")
    instrumentor = BedrockInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=config == "opik-otel-on")
    (setup.instr_client,) = make_bedrock_clients(1, session)
    instrumentor.uninstrument()
    if not getattr(setup.instr_client, "_opik_otel_tracked", False) or getattr(setup.bare_client, "_opik_otel_tracked", False):
        raise SystemExit("BedrockInstrumentor did not trace exactly the client created while instrumented")
    setup.notes.append("per-client: a client created while instrumented (traced) and one created before "
                       "(bare) alternate; BedrockInstrumentor hooks client creation")
    return setup.exports_through(provider, lambda: {"backend": backend.stop()})


def _build_opik_sdk(setup: Setup, mode: str) -> Setup:
    backend = FakeOpikProcess()
    os.environ.update({
        "OPIK_URL_OVERRIDE": backend.url,
        "OPIK_API_KEY": "k",
        "OPIK_WORKSPACE": "default",
        "OPIK_PROJECT_NAME": "overhead-bench",
        # no telemetry about the SDK itself (there is no network here anyway)
        "OPIK_ANALYTICS_ENABLE": "false",
        "OPIK_SENTRY_ENABLE": "false",
    })
    import opik
    from opik.integrations.openai import track_openai

    bare, tracked = make_clients(mode, 2)
    setup.bare_client, setup.instr_client = bare, track_openai(tracked)
    setup.notes.append("per-client: a tracked and an untracked client alternate")
    setup.flush = opik.flush_tracker

    def finish() -> dict:
        opik.flush_tracker()
        return {"backend": backend.stop()}

    setup.finish = finish
    return setup


# --- timing ------------------------------------------------------------------------------

ns = time.perf_counter_ns


def timed_calls(call, client, n: int) -> float:
    """Mean µs per `call(client)`."""
    t0 = ns()
    for _ in range(n):
        call(client)
    return (ns() - t0) / n / 1000


def timed_streams(open_stream, client, n: int) -> tuple[float, float]:
    """Mean µs per fully read stream of `open_stream(client)`, and mean µs to the first chunk."""
    ttfc = 0
    t0 = ns()
    for _ in range(n):
        t = ns()
        it = iter(open_stream(client))
        next(it)
        ttfc += ns() - t
        for _chunk in it:
            pass
    return (ns() - t0) / n / 1000, ttfc / n / 1000


def timed_first_chunks(open_stream, client, n: int) -> float:
    """Mean µs to open a stream, read its first chunk and close it (when it has a `close()`:
    LiteLLM's `CustomStreamWrapper` has none)."""
    t0 = ns()
    for _ in range(n):
        stream = open_stream(client)
        next(iter(stream))
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    return (ns() - t0) / n / 1000


async def timed_async_calls(acall, client, n: int) -> float:
    """Mean µs per `await acall(client)`."""
    t0 = ns()
    for _ in range(n):
        await acall(client)
    return (ns() - t0) / n / 1000


def _blocks(call, open_stream, acall=None) -> tuple:
    """A provider's (chat, stream, first only, async) block functions, each `(client, n)`."""
    return (functools.partial(timed_calls, call), functools.partial(timed_streams, open_stream),
            functools.partial(timed_first_chunks, open_stream),
            functools.partial(timed_async_calls, acall) if acall is not None else None)


# openai
def _openai_stream(client):
    return client.chat.completions.create(model=MODEL, messages=MESSAGES, stream=True,
                                          stream_options={"include_usage": True})


# anthropic: the same shapes (system prompt apart, as its API takes it)
ANTHROPIC_SYSTEM = MESSAGES[0]["content"]
ANTHROPIC_MESSAGES = [{"role": "user", "content": MESSAGES[1]["content"]}]


def _anthropic_call(client, **extra):
    return client.messages.create(model=ANTHROPIC_MODEL, max_tokens=ANTHROPIC_MAX_TOKENS, system=ANTHROPIC_SYSTEM,
                                  messages=ANTHROPIC_MESSAGES, **extra)


# bedrock: Converse's shapes
BEDROCK_SYSTEM = [{"text": MESSAGES[0]["content"]}]
BEDROCK_MESSAGES = [{"role": "user", "content": [{"text": MESSAGES[1]["content"]}]}]
BEDROCK_INFERENCE = {"maxTokens": 1024}
BEDROCK_REQUEST = {"modelId": BEDROCK_MODEL, "system": BEDROCK_SYSTEM, "messages": BEDROCK_MESSAGES,
                   "inferenceConfig": BEDROCK_INFERENCE}

# google-genai: the system prompt as `system_instruction`, the user turn as contents
GENAI_REQUEST = {"model": GENAI_MODEL, "contents": MESSAGES[1]["content"],
                 "config": {"system_instruction": MESSAGES[0]["content"]}}

# litellm: `openai/` model, LiteLLM handed the in-process openai client (`client=`)
LITELLM_MODEL = f"openai/{MODEL}"


def _litellm(client, asynchronous: bool = False, **extra):
    import litellm

    call = litellm.acompletion if asynchronous else litellm.completion
    return call(model=LITELLM_MODEL, messages=MESSAGES, client=client, **extra)


# provider -> (chat, stream, first only, async)
BLOCKS = {
    "openai": _blocks(lambda c: c.chat.completions.create(model=MODEL, messages=MESSAGES), _openai_stream,
                      lambda c: c.chat.completions.create(model=MODEL, messages=MESSAGES)),
    "anthropic": _blocks(_anthropic_call, lambda c: _anthropic_call(c, stream=True), _anthropic_call),
    "bedrock": _blocks(lambda c: c.converse(**BEDROCK_REQUEST), lambda c: c.converse_stream(**BEDROCK_REQUEST)["stream"]),
    "genai": _blocks(lambda c: c.models.generate_content(**GENAI_REQUEST),
                     lambda c: c.models.generate_content_stream(**GENAI_REQUEST),
                     lambda c: c.models.generate_content(**GENAI_REQUEST)),
    "litellm": _blocks(_litellm, lambda c: _litellm(c, stream=True, stream_options={"include_usage": True}),
                       lambda c: _litellm(c, asynchronous=True)),
}


class Runner:
    def __init__(self, setup: Setup, mode: str, loop=None, flush: bool = True, provider: str = "openai") -> None:
        self.setup, self.mode, self.loop, self.flush = setup, mode, loop, flush
        self.chat, self.stream, self.first_only, self.async_block = BLOCKS[provider]
        self.export_cpu_ns = {"full": 0, "first": 0}
        self.timed_calls = {"full": 0, "first": 0}
        self.instrumented_calls = 0  # all of them, warm-up included: the spans to expect

    def _run(self, kind: str, client, n: int):
        if self.mode == "async":
            return self.loop.run_until_complete(self.async_block(client, n))
        if kind == "full":
            return self.stream(client, n) if self.mode == "stream" else self.chat(client, n)
        return self.first_only(client, n)

    def block(self, kind: str, instrumented: bool, n: int):
        gc.collect()
        if not instrumented:
            return self._run(kind, self.setup.bare_client, n)
        self.setup.instrument()
        try:
            result = self._run(kind, self.setup.instr_client, n)
        finally:
            self.setup.uninstrument()
        if self.flush:
            cpu0 = time.process_time_ns()
            self.setup.flush()
            self.export_cpu_ns[kind] += time.process_time_ns() - cpu0
        self.timed_calls[kind] += n
        self.instrumented_calls += n
        return result

    def pair(self, kind: str, index: int, n: int):
        if index % 2 == 0:
            bare = self.block(kind, False, n)
            instr = self.block(kind, True, n)
        else:
            instr = self.block(kind, True, n)
            bare = self.block(kind, False, n)
        return bare, instr


def versions() -> dict:
    out = {"python": platform.python_version()}
    for name in VERSION_PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return out


def _r(x: float, digits: int = 2) -> float:
    return round(x, digits)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--provider", choices=PROVIDERS, default="openai",
                        help="whose client to call (default openai)")
    parser.add_argument("--config", required=True, choices=CONFIGS)
    parser.add_argument("--mode", required=True, choices=MODES)
    parser.add_argument("--blocks", type=int, default=20, help="block pairs (default 20)")
    parser.add_argument("--block-size", type=int, default=100, help="calls per block (default 100)")
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls of each kind first (default 200)")
    parser.add_argument("--flush", choices=("block", "never"), default="block",
                        help="flush the span pipeline after each instrumented block, untimed (default), or "
                             "never: export then runs on its own schedule, inside whichever block it falls")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="set an environment variable before the instrumentation loads")
    parser.add_argument("--json", type=Path, help="write the result here")
    args = parser.parse_args(argv)

    for name in CONTENT_ENV:
        os.environ.pop(name, None)
    for item in args.env:
        key, _, value = item.partition("=")
        os.environ[key] = value

    provider_name = args.provider
    skip = None
    if args.config not in PROVIDER_CONFIGS[provider_name]:
        skip = f"config {args.config} is not measured for {provider_name}"
    elif args.mode not in PROVIDER_MODES[provider_name]:
        skip = f"{provider_name} has no {args.mode} mode" + (" (botocore is synchronous)" if provider_name == "bedrock" else "")
    if skip:
        print(f"{provider_name} {args.config} {args.mode}: skipped: {skip}", file=sys.stderr)
        if args.json:
            args.json.parent.mkdir(parents=True, exist_ok=True)
            args.json.write_text(json.dumps({"provider": provider_name, "config": args.config, "mode": args.mode,
                                             "skipped": skip}) + "\n")
        return 0

    mode, n = args.mode, args.block_size
    loop = None
    if mode == "async":
        import asyncio

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
    setup = build(args.config, mode, provider_name)
    runner = Runner(setup, mode, loop, flush=args.flush == "block", provider=provider_name)
    try:
        # warm-up: both paths, every kind, untimed
        for instrumented in (False, True):
            runner.block("full", instrumented, args.warmup)
            if mode == "stream":
                runner.block("first", instrumented, max(1, args.warmup // 2))
        runner.export_cpu_ns = {"full": 0, "first": 0}
        runner.timed_calls = {"full": 0, "first": 0}
        gc.collect()
        gc.freeze()  # start-up and warm-up objects: out of every later collection

        full, first = [], []
        for i in range(args.blocks):
            full.append(runner.pair("full", i, n))
            if mode == "stream":
                first.append(runner.pair("first", i, n))
    finally:
        extra = setup.finish()
        if loop is not None:
            loop.close()

    if mode == "stream":
        pairs = [(b[0], s[0]) for b, s in full]
        ttfc_pairs = [(b[1], s[1]) for b, s in full]
    else:
        pairs = list(full)
    ratios = [s / b for b, s in pairs]
    added = [s - b for b, s in pairs]
    result: dict[str, Any] = {
        "provider": provider_name,
        "config": args.config,
        "mode": mode,
        "versions": versions(),
        "client_package": CLIENT_PACKAGE[provider_name],
        "peer_package": (GENAI_PEER_PACKAGE[args.config] if provider_name == "genai" else
                         LITELLM_PEER_PACKAGE[args.config] if provider_name == "litellm" else
                         CLIENT_PACKAGE[provider_name] if args.config == "none" else PEER_PACKAGE[args.config]),
        "capture_content": CONTENT_DEFAULT[args.config],
        "env": args.env,
        "bare_us": _r(statistics.median(b for b, _ in pairs)),
        "instrumented_us": _r(statistics.median(s for _, s in pairs)),
        "added_us": _r(statistics.median(added)),
        "ratio_median": _r(statistics.median(ratios), 4),
        "ratio_min": _r(min(ratios), 4),
        "ratio_max": _r(max(ratios), 4),
        "export_cpu_us": (_r(runner.export_cpu_ns["full"] / max(1, runner.timed_calls["full"]) / 1000)
                          if args.flush == "block" else None),
        "flush": args.flush,
        "instrumented_calls": runner.instrumented_calls,
        "blocks": args.blocks,
        "block_size": n,
        "warmup": args.warmup,
        "pairs": [[_r(b), _r(s)] for b, s in pairs],
        "notes": setup.notes,
        **extra,
    }
    if mode == "stream":
        first_added = [s - b for b, s in first]
        result.update({
            "ttfc_bare_us": _r(statistics.median(b for b, _ in ttfc_pairs)),
            "ttfc_added_us": _r(statistics.median(s - b for b, s in ttfc_pairs)),
            "first_only_bare_us": _r(statistics.median(b for b, _ in first)),
            "fixed_us": _r(statistics.median(first_added)),
            "per_chunk_us": _r(statistics.median((a - f) / STREAM_CONTENT_CHUNKS for a, f in zip(added, first_added))),
            "per_chunk_naive_us": _r(statistics.median(added) / STREAM_CONTENT_CHUNKS),
            "chunks": STREAM_CONTENT_CHUNKS,
            "ttfc_pairs": [[_r(b), _r(s)] for b, s in ttfc_pairs],
            "first_pairs": [[_r(b), _r(s)] for b, s in first],
        })

    spans = extra.get("spans_exported", (extra.get("backend") or {}).get("spans"))
    result["spans"] = spans
    result["spans_expected"] = None if args.config == "none" else runner.instrumented_calls
    if spans is not None and spans != runner.instrumented_calls:
        result["notes"].append(f"{spans} spans recorded for {runner.instrumented_calls} instrumented calls")

    prefix = "" if provider_name == "openai" else f"{provider_name:9} "
    line = prefix + (f"{args.config:14} {mode:6} bare {result['bare_us']:8.1f} µs  added {result['added_us']:+8.1f} µs  "
            f"ratio {result['ratio_median']:.3f} ({result['ratio_min']:.3f}–{result['ratio_max']:.3f})  "
            + (f"export cpu {result['export_cpu_us']:.1f} µs/call" if result["export_cpu_us"] is not None else ""))
    if mode == "stream":
        line += (f"  ttfc {result['ttfc_added_us']:+.1f} µs  fixed {result['fixed_us']:+.1f} µs  "
                 f"per chunk {result['per_chunk_us']:+.2f} µs")
    emit(line, result, args.json)
    return 0


def emit(line: str, result: dict[str, Any], json_path: Path | None) -> None:
    """Print a result's summary line with its notes; write the result as JSON when asked."""
    for note in result["notes"]:
        line += f"\n    note: {note}"
    print(line, flush=True)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
