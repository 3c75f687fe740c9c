"""google-generativeai (the older SDK: `genai.configure`, `GenerativeModel(...).generate_content`,
`start_chat().send_message`): one inference span per `generateContent` / `streamGenerateContent`
request, and `embed_content`.

The SDK sends every request through the generated `GenerativeServiceClient` (and its async
twin): `GenerativeModel.generate_content` (plain and `stream=True`), `ChatSession.send_message`
(one request per turn, more with automatic function calling) and `genai.embed_content` all call
its `generate_content` / `stream_generate_content` / `embed_content` with a complete request.
Those methods sit above the transport (REST, gRPC or gRPC asyncio: the client hands the request
to `self._transport`), so every transport is traced the same way.

The request and responses are protobuf messages; each is read as its JSON form (the REST wire
format), which the google-genai readers of models.py read as they read google-genai's dicts:
one vocabulary. The SDK's protos (google-ai-generativelanguage 0.6) have no response id and no
thoughts token count: the spans have none either.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from opik_otel import semconv as sc
from opik_otel.instrumentors._adapter import request_attributes, request_content
from opik_otel.instrumentors._engine import Attributes, Operation, StreamState
from opik_otel.instrumentors._read import endpoint, put
from opik_otel.instrumentors.genai.models import (
    EMBEDDING_PARAMETERS,
    GenerateContentStreamState,
    config_parameters,
    get,
    input_messages,
    response_attributes_of,
    system_parts,
    tool_definitions,
)

CLIENT = "google.ai.generativelanguage_v1beta.services.generative_service.client"
ASYNC_CLIENT = "google.ai.generativelanguage_v1beta.services.generative_service.async_client"


def as_dict(message: Any) -> Any:
    """A protobuf (or proto-plus) message as its JSON form (the REST wire format: lowerCamelCase,
    which `get` reads too; proto-plus renames fields such as `type` to `type_` in its own names);
    a dict as it is."""
    if message is None or isinstance(message, dict):
        return message
    from google.protobuf.json_format import MessageToDict

    raw = type(message).pb(message) if hasattr(type(message), "pb") else message
    return MessageToDict(raw)


def model_name(name: Any) -> Any:
    """`models/gemini-1.5-flash` → `gemini-1.5-flash` (tuned models keep their `tunedModels/` name)."""
    return name[len("models/") :] if isinstance(name, str) and name.startswith("models/") else name


def endpoint_attributes(client: Any) -> Attributes:
    """Provider `gcp.gemini`, and the server address and port of the client's transport."""
    host = getattr(getattr(client, "_transport", None), "_host", None)
    if not isinstance(host, str) or not host:
        return {sc.GEN_AI_PROVIDER_NAME: sc.GenAiProvider.GCP_GEMINI}
    return endpoint(host if "://" in host else f"https://{host}", sc.GenAiProvider.GCP_GEMINI)


def request_of(kwargs: dict[str, Any]) -> dict[str, Any]:
    request = as_dict(kwargs.get("request"))
    return request if isinstance(request, dict) else {}


def generate_request(client: Any, kwargs: dict[str, Any], capture_content: bool) -> tuple[str, Attributes]:
    """What a `GenerateContentRequest` says: model, generation_config, and (content on) contents,
    system_instruction and tools."""
    request = request_of(kwargs)
    name, attributes = request_attributes(sc.GenAiOperation.GENERATE_CONTENT, model_name(get(request, "model")), endpoint_attributes(client))
    config_parameters(get(request, "generation_config"), attributes)
    if capture_content:
        request_content(attributes, input_messages(get(request, "contents")), system_parts(get(request, "system_instruction")), tool_definitions(get(request, "tools")))
    return name, attributes


class LegacyGenerateContent(Operation):
    """`GenerativeServiceClient.generate_content`: one `generateContent` request."""

    operation_name = sc.GenAiOperation.GENERATE_CONTENT

    def request(self, instance: Any, kwargs: dict[str, Any], capture_content: bool) -> tuple[str, Attributes]:
        return generate_request(instance, kwargs, capture_content)

    def response(self, response: Any, capture_content: bool) -> Attributes:
        return response_attributes_of(as_dict(response), capture_content)

    def is_stream(self, kwargs: dict[str, Any], result: Any) -> bool:
        return False


class LegacyStreamState(GenerateContentStreamState):
    """google-genai's stream reader, on each chunk's JSON form."""

    __slots__ = ()

    def on_chunk(self, chunk: Any) -> None:
        super().on_chunk(as_dict(chunk))


class LegacyGenerateContentStream(LegacyGenerateContent):
    """`GenerativeServiceClient.stream_generate_content`: an iterator of chunks (the SDK's
    `stream=True` response reads it as the user iterates)."""

    def request(self, instance: Any, kwargs: dict[str, Any], capture_content: bool) -> tuple[str, Attributes]:
        name, attributes = generate_request(instance, kwargs, capture_content)
        attributes[sc.GEN_AI_REQUEST_STREAM] = True
        return name, attributes

    def is_stream(self, kwargs: dict[str, Any], result: Any) -> bool:
        return True

    def stream_state(self, capture_content: bool) -> StreamState:
        return LegacyStreamState(capture_content)


class LegacyEmbedContent(Operation):
    """`GenerativeServiceClient.embed_content` (`genai.embed_content` with one content)."""

    operation_name = sc.GenAiOperation.EMBEDDINGS

    def request(self, instance: Any, kwargs: dict[str, Any], capture_content: bool) -> tuple[str, Attributes]:
        request = request_of(kwargs)
        name, attributes = request_attributes(self.operation_name, model_name(get(request, "model")), endpoint_attributes(instance))
        for key, (attribute, read) in EMBEDDING_PARAMETERS:
            put(attributes, attribute, read(get(request, key)))
        if capture_content and get(request, "content") is not None:
            attributes[sc.GEN_AI_INPUT_MESSAGES] = sc.content_json(input_messages(get(request, "content")))
        return name, attributes

    def response(self, response: Any, capture_content: bool) -> Attributes:
        values = get(get(as_dict(response), "embedding"), "values")
        return {sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT: len(values)} if isinstance(values, list) else {}


def request_as_keyword(wrapper: Callable[..., Any]) -> Callable[..., Any]:
    """The generated client's methods take the request first, positionally (`client.generate_content(request)`):
    hand it to the engine's wrapper as `request=` (the same call), which reads keyword arguments."""

    @functools.wraps(wrapper)
    def call(wrapped: Callable[..., Any], instance: Any, args: tuple, kwargs: dict[str, Any]) -> Any:
        if args:
            kwargs = {"request": args[0], **kwargs}
            args = args[1:]
            if args:  # pragma: no cover - the generated clients take one positional argument
                return wrapped(*((kwargs.pop("request"),) + args), **kwargs)
        return wrapper(wrapped, instance, args, kwargs)

    return call
