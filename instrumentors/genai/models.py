"""google-genai models: one model round trip (`Models._generate_content` / `_generate_content_stream`,
sync and async) and `embed_content`.

The public `generate_content` may make several round trips (automatic function calling,
automatic continuation); each is one billed request, so each is one inference span, read
here. `count_tokens` is not traced: it is free and generates nothing.

Requests name their fields in snake_case (the SDK's objects) or, in dicts, in either
spelling; `get` reads both.
"""

from __future__ import annotations

import base64
from functools import lru_cache, partial
from typing import Any, Callable

from opik_otel import semconv as sc
from opik_otel.instrumentors._adapter import CHOICE_COUNT, DIMENSIONS, FREQUENCY_PENALTY, MAX_TOKENS, PRESENCE_PENALTY, SEED, STOP_SEQUENCES
from opik_otel.instrumentors._adapter import TEMPERATURE, TOP_P, ParameterTable, request_attributes, request_content, response_attributes
from opik_otel.instrumentors._adapter import unknown_part
from opik_otel.instrumentors._engine import Attributes, Operation, StreamState
from opik_otel.instrumentors._read import as_plain, endpoint, integer, number, put, text
from opik_otel.semconv.providers import GEMINI_FINISH_REASONS, finish_reason


@lru_cache(maxsize=256)
def _camel(name: str) -> str:
    first, *rest = name.split("_")
    return first + "".join(word.title() for word in rest)


def get(obj: Any, name: str) -> Any:
    """`obj.name` of an SDK object; `obj[name]` (or its lowerCamelCase spelling) of a dict; None when absent."""
    if isinstance(obj, dict):
        value = obj.get(name)
        return obj.get(_camel(name)) if value is None else value
    return getattr(obj, name, None)


def fields(obj: Any) -> Callable[[str], Any]:
    """`get` bound to one object, for reading many of its fields: a pydantic model's (the SDK's
    types) straight from its `__dict__`, a C lookup per field rather than a Python call."""
    values = getattr(obj, "__dict__", None) if not isinstance(obj, dict) else None
    if type(values) is dict and hasattr(type(obj), "model_fields"):
        return values.get
    return partial(get, obj)


def enum_text(value: Any) -> str | None:
    """An SDK enum's value (`FinishReason.STOP` → "STOP"), or a plain string."""
    value = getattr(value, "value", value)
    return value if isinstance(value, str) else None


# -- endpoint -------------------------------------------------------------------------------


def endpoint_attributes(module: Any) -> Attributes:
    """Provider (`gcp.vertex_ai` for a Vertex client, else `gcp.gemini`), server address and port
    of the client a `Models` / `AsyncModels` object belongs to."""
    api_client = getattr(module, "_api_client", None)
    provider = sc.GenAiProvider.GCP_VERTEX_AI if getattr(api_client, "vertexai", False) else sc.GenAiProvider.GCP_GEMINI
    base_url = get(getattr(api_client, "_http_options", None), "base_url")
    if not isinstance(base_url, str) or not base_url:
        return {sc.GEN_AI_PROVIDER_NAME: provider}
    return endpoint(base_url, provider)


# -- request ----------------------------------------------------------------------------------

TOP_K = (sc.GEN_AI_REQUEST_TOP_K, number)  # a float in google-genai's config
_PARAMETER_NAMES: ParameterTable = {
    "temperature": TEMPERATURE,
    "top_p": TOP_P,
    "top_k": TOP_K,
    "max_output_tokens": MAX_TOKENS,
    "stop_sequences": STOP_SEQUENCES,
    "candidate_count": CHOICE_COUNT,
    "seed": SEED,
    "presence_penalty": PRESENCE_PENALTY,
    "frequency_penalty": FREQUENCY_PENALTY,
}
PARAMETERS = tuple(_PARAMETER_NAMES.items())


def config_parameters(config: Any, attributes: Attributes) -> Attributes:
    """The generation parameters of a `GenerateContentConfig` (or its dict), into `attributes`."""
    if config is None:
        return attributes
    field = fields(config)
    for key, (attribute, read) in PARAMETERS:
        value = field(key)
        if value is not None:
            value = read(value)
            if value is not None:
                attributes[attribute] = value
    mime_type = field("response_mime_type")
    if mime_type == "application/json" or field("response_schema") is not None or field("response_json_schema") is not None:
        attributes[sc.GEN_AI_OUTPUT_TYPE] = "json"
    elif mime_type == "text/plain":
        attributes[sc.GEN_AI_OUTPUT_TYPE] = "text"
    return attributes


def _modality(mime_type: Any) -> str:
    major = mime_type.partition("/")[0] if isinstance(mime_type, str) else ""
    return major if major in ("image", "audio", "video") else "document"


def _blob_part(blob: Any) -> dict[str, Any]:
    """`inline_data`: its bytes as base64 (the exporter bounds large media), with its mime type."""
    data = get(blob, "data")
    if isinstance(data, (bytes, bytearray)):
        data = base64.b64encode(data).decode("ascii")
    mime_type = text(get(blob, "mime_type"))
    return sc.blob_part(data if isinstance(data, str) else "", _modality(mime_type), mime_type)


def part(item: Any) -> dict[str, Any]:
    """One google-genai part (a `Part`, its dict, or a bare string) as a convention part."""
    if isinstance(item, str):
        return sc.text_part(item)
    value = get(item, "text")
    if isinstance(value, str):
        return sc.reasoning_part(value) if get(item, "thought") is True else sc.text_part(value)
    call = get(item, "function_call")
    if call is not None:
        return sc.tool_call_part(text(get(call, "name")) or "", as_plain(get(call, "args")), text(get(call, "id")))
    response = get(item, "function_response")
    if response is not None:
        return sc.tool_call_response_part(as_plain(get(response, "response")), text(get(response, "id")))
    blob = get(item, "inline_data")
    if blob is not None:
        return _blob_part(blob)
    file_data = get(item, "file_data")
    if file_data is not None:
        mime_type = text(get(file_data, "mime_type"))
        return sc.uri_part(text(get(file_data, "file_uri")) or "", _modality(mime_type), mime_type)
    for kind in ("executable_code", "code_execution_result"):
        value = get(item, kind)
        if value is not None:
            return unknown_part(kind, value)
    return unknown_part(type(item).__name__ if not isinstance(item, dict) else None, item)


def parts(items: Any) -> list[dict[str, Any]]:
    return [part(item) for item in items or ()]


def _is_content(item: Any) -> bool:
    """A `Content` (role and parts), as opposed to a part."""
    if isinstance(item, dict):
        return "parts" in item or "role" in item
    return hasattr(item, "parts") and hasattr(item, "role")


def _role(role: Any, converted: list[dict[str, Any]]) -> str:
    if role == "model":
        return "assistant"
    if converted and all(p["type"] == "tool_call_response" for p in converted):
        return "tool"
    return role if isinstance(role, str) and role else "user"


def input_messages(contents: Any) -> list[dict[str, Any]]:
    """`contents` (a string, a part, a `Content`, or a list of them) as the conventions' messages:
    consecutive parts make one user message, as the SDK sends them."""
    if contents is None:
        return []
    if not isinstance(contents, (list, tuple)):
        contents = [contents]
    messages: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    for item in contents:
        if _is_content(item):
            if pending:
                messages.append(sc.message("user", pending))
                pending = []
            converted = parts(get(item, "parts"))
            messages.append(sc.message(_role(get(item, "role"), converted), converted))
        else:
            pending.append(part(item))
    if pending:
        messages.append(sc.message("user", pending))
    return messages


def system_parts(instruction: Any) -> list[dict[str, Any]] | None:
    """`system_instruction` (a string, a part, a `Content` or a list of parts) as parts."""
    if instruction is None:
        return None
    if _is_content(instruction):
        return parts(get(instruction, "parts"))
    if isinstance(instruction, (list, tuple)):
        return parts(instruction)
    return [part(instruction)]


def tool_definitions(tools: Any) -> list[dict[str, Any]]:
    """`tools`: function declarations, Python functions (automatic function calling), and
    Google's own tools (search, code execution …) as they are."""
    definitions: list[dict[str, Any]] = []
    for tool in tools or ():
        if callable(tool) and not isinstance(tool, dict):
            doc = getattr(tool, "__doc__", None)
            definitions.append(sc.tool_definition(getattr(tool, "__name__", "function"), doc.strip() if isinstance(doc, str) else None))
            continue
        declarations = get(tool, "function_declarations")
        for declaration in declarations or ():
            schema = get(declaration, "parameters_json_schema")
            if schema is None:
                schema = get(declaration, "parameters")
            definitions.append(sc.tool_definition(text(get(declaration, "name")) or "", text(get(declaration, "description")), as_plain(schema)))
        if not declarations:
            definitions.append(as_plain(tool))
    return definitions


def request_start(operation_name: str, instance: Any, kwargs: dict[str, Any]) -> tuple[str, Attributes]:
    """Span name and the attributes every call starts with: endpoint, operation, model."""
    return request_attributes(operation_name, kwargs.get("model"), endpoint_attributes(instance))


def generate_request(instance: Any, kwargs: dict[str, Any], capture_content: bool) -> tuple[str, Attributes]:
    """What a generate_content request says (one round trip, or the whole automatic function calling)."""
    name, attributes = request_start(sc.GenAiOperation.GENERATE_CONTENT, instance, kwargs)
    config = kwargs.get("config")
    config_parameters(config, attributes)
    if capture_content:
        request_content(attributes, input_messages(kwargs.get("contents")), system_parts(get(config, "system_instruction")), tool_definitions(get(config, "tools")))
    return name, attributes


# -- response ---------------------------------------------------------------------------------


def usage_attributes(usage: Any) -> Attributes:
    """Gemini's prompt count includes cached tokens (as the conventions want); tool-use prompt
    tokens are input too, thoughts are output (and reasoning), as Google bills them."""
    attributes: Attributes = {}
    if usage is None:
        return attributes
    prompt = integer(get(usage, "prompt_token_count"))
    tool_prompt = integer(get(usage, "tool_use_prompt_token_count"))
    if prompt is not None or tool_prompt is not None:
        attributes[sc.GEN_AI_USAGE_INPUT_TOKENS] = (prompt or 0) + (tool_prompt or 0)
    candidates = integer(get(usage, "candidates_token_count"))
    thoughts = integer(get(usage, "thoughts_token_count"))
    if candidates is not None or thoughts is not None:
        attributes[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = (candidates or 0) + (thoughts or 0)
    cached = integer(get(usage, "cached_content_token_count"))
    if cached:
        attributes[sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cached
    if thoughts:
        attributes[sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = thoughts
    return attributes


def output_message(converted: list[dict[str, Any]], reason: str | None) -> dict[str, Any]:
    mapped = finish_reason(reason, GEMINI_FINISH_REASONS)
    if mapped == "stop" and any(p["type"] == "tool_call" for p in converted):
        mapped = "tool_call"
    return sc.output_message(converted, mapped)


def reply_attributes(
    response_id: Any, model: Any, usage: Any, candidates: list[tuple[list[dict[str, Any]] | None, str | None]], capture_content: bool
) -> Attributes:
    """The one builder of the plain and streamed paths: `candidates` as (their parts, or None
    when content is not captured, and their finish reason as Gemini says it)."""
    reasons = [reason for _, reason in candidates if reason is not None]
    outputs = [output_message(converted or [], reason) for converted, reason in candidates] if capture_content else None
    return response_attributes(response_id, model, reasons or None, usage_attributes(usage), outputs)


def response_attributes_of(response: Any, capture_content: bool) -> Attributes:
    """Attributes of a whole `GenerateContentResponse`."""
    candidates = [
        (parts(get(get(candidate, "content"), "parts")) if capture_content else None, enum_text(get(candidate, "finish_reason")))
        for candidate in get(response, "candidates") or ()
    ]
    return reply_attributes(get(response, "response_id"), get(response, "model_version"), get(response, "usage_metadata"), candidates, capture_content)


class GenerateContent(Operation):
    """One `generateContent` round trip (`Models._generate_content`, sync or async)."""

    operation_name = sc.GenAiOperation.GENERATE_CONTENT

    def request(self, instance: Any, kwargs: dict[str, Any], capture_content: bool) -> tuple[str, Attributes]:
        return generate_request(instance, kwargs, capture_content)

    def response(self, response: Any, capture_content: bool) -> Attributes:
        return response_attributes_of(response, capture_content)

    def is_stream(self, kwargs: dict[str, Any], result: Any) -> bool:
        return False


class GenerateContentStream(GenerateContent):
    """One `streamGenerateContent` round trip (`Models._generate_content_stream`): a generator of chunks."""

    def request(self, instance: Any, kwargs: dict[str, Any], capture_content: bool) -> tuple[str, Attributes]:
        name, attributes = generate_request(instance, kwargs, capture_content)
        attributes[sc.GEN_AI_REQUEST_STREAM] = True
        return name, attributes

    def is_stream(self, kwargs: dict[str, Any], result: Any) -> bool:
        return True

    def stream_state(self, capture_content: bool) -> StreamState:
        return GenerateContentStreamState(capture_content)


def _append(pieces: list[dict[str, Any]], piece: dict[str, Any]) -> None:
    """A streamed part: text (or thought text) continuing the previous one joins it."""
    kind = piece["type"]
    if pieces and kind in ("text", "reasoning") and pieces[-1]["type"] == kind:
        pieces[-1] = {**pieces[-1], "content": pieces[-1]["content"] + piece["content"]}
    else:
        pieces.append(piece)


class GenerateContentStreamState(StreamState):
    """The chunks of a stream → the reply a plain call would have given, read by `reply_attributes`:
    per candidate its joined parts and last finish reason; the last usage; the first id and model."""

    __slots__ = ("capture", "response_id", "model", "usage", "candidates")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.response_id: Any = None
        self.model: Any = None
        self.usage: Any = None
        self.candidates: dict[int, tuple[list[dict[str, Any]], list[str | None]]] = {}  # index → (parts, [finish reason])

    def on_chunk(self, chunk: Any) -> None:
        if self.response_id is None:
            self.response_id = get(chunk, "response_id")
            self.model = get(chunk, "model_version")
        usage = get(chunk, "usage_metadata")
        if usage is not None:
            self.usage = usage
        for position, candidate in enumerate(get(chunk, "candidates") or ()):
            index = get(candidate, "index")
            pieces, reason = self.candidates.setdefault(index if isinstance(index, int) else position, ([], [None]))
            finished = enum_text(get(candidate, "finish_reason"))
            if finished is not None:
                reason[0] = finished
            if self.capture:
                for piece in get(get(candidate, "content"), "parts") or ():
                    _append(pieces, part(piece))

    def attributes(self) -> Attributes:
        candidates = [(pieces if self.capture else None, reason[0]) for _, (pieces, reason) in sorted(self.candidates.items())]
        return reply_attributes(self.response_id, self.model, self.usage, candidates, self.capture)


# -- embed_content ----------------------------------------------------------------------------------

EMBEDDING_PARAMETERS = (("output_dimensionality", DIMENSIONS),)


class EmbedContent(Operation):
    """`models.embed_content` (one `batchEmbedContents`, `embedContent` or Vertex `predict` request)."""

    operation_name = sc.GenAiOperation.EMBEDDINGS

    def request(self, instance: Any, kwargs: dict[str, Any], capture_content: bool) -> tuple[str, Attributes]:
        name, attributes = request_start(self.operation_name, instance, kwargs)
        config = kwargs.get("config")
        for key, (attribute, read) in EMBEDDING_PARAMETERS:
            put(attributes, attribute, read(get(config, key)))
        if capture_content:
            contents = kwargs.get("contents")
            if isinstance(contents, str) or (isinstance(contents, list) and all(isinstance(c, str) for c in contents)):
                attributes[sc.INPUT_VALUE] = sc.content_json({"input": contents})
            elif contents is not None:
                attributes[sc.GEN_AI_INPUT_MESSAGES] = sc.content_json(input_messages(contents))
        return name, attributes

    def response(self, response: Any, capture_content: bool) -> Attributes:
        attributes: Attributes = {}
        embeddings = get(response, "embeddings") or ()
        tokens = integer(get(get(response, "usage_metadata"), "prompt_token_count"))
        if tokens is None:  # Vertex `predict`: each embedding's own count
            counts = [number(get(get(embedding, "statistics"), "token_count")) for embedding in embeddings]  # floats
            tokens = int(sum(counts)) if counts and None not in counts else None  # type: ignore[arg-type]
        put(attributes, sc.GEN_AI_USAGE_INPUT_TOKENS, tokens)
        values = get(embeddings[0], "values") if embeddings else None
        if isinstance(values, (list, tuple)):
            attributes[sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT] = len(values)
        return attributes
