"""Embeddings: `embeddings.create`."""

from __future__ import annotations

from typing import Any

from opik_otel import semconv as sc
from opik_otel.instrumentors._adapter import DIMENSIONS, ParameterTable, response_attributes
from opik_otel.instrumentors._engine import Attributes, Operation
from opik_otel.instrumentors._read import field, integer, put
from opik_otel.instrumentors.openai.common import request_start


def _encoding_format(value: Any) -> list[str] | None:
    """The one encoding format a call asks for (a string), as the list the convention records."""
    return [value] if isinstance(value, str) and value else None


PARAMETERS: ParameterTable = {"encoding_format": (sc.GEN_AI_REQUEST_ENCODING_FORMATS, _encoding_format), "dimensions": DIMENSIONS}


class Embeddings(Operation):
    operation_name = sc.GenAiOperation.EMBEDDINGS

    def request(self, instance: Any, kwargs: dict[str, Any], capture_content: bool) -> tuple[str, Attributes]:
        name, attributes = request_start(self.operation_name, instance, kwargs, parameters=PARAMETERS)
        value = kwargs.get("input")
        if capture_content and isinstance(value, (str, list)):
            attributes[sc.INPUT_VALUE] = sc.content_json({"input": value})
        return name, attributes

    def response(self, response: Any, capture_content: bool) -> Attributes:
        attributes = response_attributes(model=field(response, "model"))
        put(attributes, sc.GEN_AI_USAGE_INPUT_TOKENS, integer(field(field(response, "usage"), "prompt_tokens")))
        data = field(response, "data") or ()
        vector = field(data[0], "embedding") if data else None
        if isinstance(vector, (list, tuple)):
            attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = len(vector)
        return attributes
