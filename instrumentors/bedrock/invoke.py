"""Bedrock Runtime `InvokeModel` and `InvokeModelWithResponseStream`.

The body is the model family's own JSON, so each call is read by its family
(`families.py`), which also says the operation (`chat`, `text_completion`, `embeddings`, …).
The caller still gets a readable body: a response's `StreamingBody` is read once and
replaced by an identical one over the same bytes, and the event stream is wrapped, not
drained. Families whose bodies we do not read (unknown ones, image and video models) get a
span with the model id and token counts (from Bedrock's headers or invocation metrics),
and their body is not touched.
"""

from __future__ import annotations

import io
import json
from typing import Any

import wrapt

from opik_otel import semconv as sc
from opik_otel.instrumentors._engine import Attributes, StreamState
from opik_otel.instrumentors._read import integer, put
from opik_otel.instrumentors.bedrock.converse import StreamInResponse, request_id, request_start
from opik_otel.instrumentors.bedrock.families import Family

_METRICS = "amazon-bedrock-invocationMetrics"


class InvokeModel(StreamInResponse):
    """`invoke_model(modelId=…, body=…)` of one model family; `streams` for the streaming twin."""

    stream_key = "body"

    def __init__(self, family: Family) -> None:
        self.family = family
        self.operation_name = family.operation_name

    def request(self, instance: Any, kwargs: dict[str, Any], capture_content: bool) -> tuple[str, Attributes]:
        family = self.family
        body = _decoded(kwargs.get("body")) if family.reads_bodies else None
        if not isinstance(body, dict):
            return request_start(instance, kwargs, self.operation_name, self.streams)
        name, attributes = request_start(instance, kwargs, family.operation(body), self.streams)
        attributes.update(family.request(body, capture_content))
        return name, attributes

    def response(self, response: Any, capture_content: bool) -> Attributes:
        attributes: Attributes = {}
        if self.family.reads_bodies:
            body = _decoded(_buffer_body(response))
            if isinstance(body, dict):
                attributes = self.family.response(body, capture_content)
        headers = (response.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
        _token_fallback(attributes, headers.get("x-amzn-bedrock-input-token-count"), headers.get("x-amzn-bedrock-output-token-count"))
        return request_id(response, attributes)

    def stream_state(self, capture_content: bool) -> StreamState:
        return InvokeStreamState(self.family.stream_state(capture_content))


class InvokeModelWithResponseStream(InvokeModel):
    streams = True


class InvokeStreamState(StreamState):
    """Decodes each `chunk` event's bytes for the family's reader; keeps Bedrock's invocation metrics."""

    __slots__ = ("inner", "metrics")

    def __init__(self, inner: StreamState) -> None:
        self.inner = inner
        self.metrics: Any = None

    def on_chunk(self, event: Any) -> None:
        payload = (event.get("chunk") or {}).get("bytes")
        if payload:
            chunk = json.loads(payload)
            if _METRICS in chunk:
                self.metrics = chunk[_METRICS]
            self.inner.on_chunk(chunk)

    def attributes(self) -> Attributes:
        attributes = self.inner.attributes()
        metrics = self.metrics if isinstance(self.metrics, dict) else {}
        _token_fallback(attributes, metrics.get("inputTokenCount"), metrics.get("outputTokenCount"))
        return attributes


def _token_fallback(attributes: Attributes, input_tokens: Any, output_tokens: Any) -> None:
    """Bedrock's own counts, where the body said none."""
    for name, value in ((sc.GEN_AI_USAGE_INPUT_TOKENS, input_tokens), (sc.GEN_AI_USAGE_OUTPUT_TOKENS, output_tokens)):
        if name not in attributes:
            count = integer(value) if not isinstance(value, str) else (int(value) if value.isdigit() else None)
            put(attributes, name, count)


def _decoded(body: Any) -> Any:
    """A request or response body (bytes or str) as JSON; None for streams and non-JSON."""
    if isinstance(body, (bytes, bytearray, str)):
        try:
            return json.loads(body)
        except ValueError:
            return None
    return None


def _buffer_body(response: dict[str, Any]) -> bytes | None:
    """Read the response's `StreamingBody` and put back an identical one over the same bytes."""
    body = response.get("body")
    if not hasattr(body, "read"):
        return None
    from botocore.response import StreamingBody

    try:
        data = body.read()
    except Exception as error:
        response["body"] = _FailedBody(body, error)
        raise
    response["body"] = StreamingBody(io.BytesIO(data), len(data))
    return data


class _FailedBody(wrapt.ObjectProxy):
    """A body whose read failed while we buffered it: the caller's `read()` raises that same error."""

    def __init__(self, body: Any, error: Exception) -> None:
        super().__init__(body)
        self._self_error = error

    def read(self, *args: Any, **kwargs: Any) -> bytes:
        raise self._self_error
