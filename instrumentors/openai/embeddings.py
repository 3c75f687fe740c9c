"""Embeddings: `embeddings.create`."""

from __future__ import annotations

from typing import Any

from opik_otel import semconv as sc
from opik_otel.instrumentors._engine import Attributes, Operation
from opik_otel.instrumentors._read import field, integer, put, text
from opik_otel.instrumentors.openai.common import endpoint_attributes


class Embeddings(Operation):
    operation_name = sc.GenAiOperation.EMBEDDINGS

    def request(self, instance: Any, kwargs: dict[str, Any], capture_content: bool) -> tuple[str, Attributes]:
        model = text(kwargs.get("model")) or ""
        attributes = endpoint_attributes(instance)
        attributes[sc.GEN_AI_OPERATION_NAME] = self.operation_name
        attributes[sc.GEN_AI_REQUEST_MODEL] = model
        encoding = text(kwargs.get("encoding_format"))
        if encoding:
            attributes[sc.GEN_AI_REQUEST_ENCODING_FORMATS] = [encoding]
        put(attributes, sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, integer(kwargs.get("dimensions")))
        if capture_content:
            value = kwargs.get("input")
            if isinstance(value, (str, list)):
                attributes[sc.INPUT_VALUE] = sc.content_json({"input": value})
        return f"{self.operation_name} {model}".rstrip(), attributes

    def response(self, response: Any, capture_content: bool) -> Attributes:
        attributes: Attributes = {}
        put(attributes, sc.GEN_AI_RESPONSE_MODEL, text(field(response, "model")))
        put(attributes, sc.GEN_AI_USAGE_INPUT_TOKENS, integer(field(field(response, "usage"), "prompt_tokens")))
        data = field(response, "data") or ()
        if data:
            vector = field(data[0], "embedding")
            if isinstance(vector, (list, tuple)):
                attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = len(vector)
        return attributes
