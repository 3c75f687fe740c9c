"""How each model family's `invoke_model` bodies read.

A `Family` reads a decoded request body, a decoded response body and a decoded stream
chunk. Claude bodies are Anthropic Messages bodies and Nova bodies are Converse-shaped,
so those two reuse the Anthropic and Converse readers; the text-completion families
(Claude 2's text completions, Llama, Titan, Mistral, Cohere, AI21 Jurassic) only say where
their text, stop reason, token counts and id are; the embedding families (Titan, Cohere
Embed) where their input, vectors and counts are. Image and video models, and families we
do not know, get a span with the model id and Bedrock's token counts; their bodies are not read.

`family_of` finds the family of a model id as sent (a profile, a model or an ARN) by the
foundation model it names; an application profile's or a provisioned model's ARN names none.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from opik_otel import semconv as sc
from opik_otel.instrumentors._engine import Attributes, StreamState
from opik_otel.instrumentors._read import field, integer, number, put, strings, text
from opik_otel.semconv.providers import BEDROCK_FINISH_REASONS, bedrock_base_model, finish_reason


class Family:
    """A model family whose bodies we do not read: the span keeps the model id, no content."""

    operation_name = sc.GenAiOperation.CHAT
    reads_bodies = False

    def __init__(self, operation_name: str | None = None) -> None:
        if operation_name is not None:
            self.operation_name = operation_name

    def operation(self, body: dict[str, Any]) -> str:
        """The operation a request body asks for (one family may serve two APIs)."""
        return self.operation_name

    def request(self, body: dict[str, Any], capture_content: bool) -> Attributes:
        return {}

    def response(self, body: Any, capture_content: bool) -> Attributes:
        return {}

    def stream_state(self, capture_content: bool) -> StreamState:
        return StreamState()


class Reply(NamedTuple):
    """What a text-completion body or chunk says (None: not in this one)."""

    text: str | None = None
    stop_reason: Any = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    id: str | None = None


class TextFamily(Family):
    """A text-completion family: subclasses map request parameters and say where a reply is."""

    reads_bodies = True
    #: body key (dotted for nested keys) → request attribute
    parameters: dict[str, str] = {}

    def input_messages(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        prompt = text(body.get("prompt")) or text(body.get("inputText"))
        return [sc.message("user", [sc.text_part(prompt)])] if prompt is not None else []

    def system(self, body: dict[str, Any]) -> str | None:
        return None

    def read(self, body: Any) -> Reply:
        raise NotImplementedError

    def read_chunk(self, chunk: Any) -> Reply:
        return self.read(chunk)

    def request(self, body: dict[str, Any], capture_content: bool) -> Attributes:
        attributes: Attributes = {}
        for key, name in self.parameters.items():
            value = _lookup(body, key)
            put(attributes, name, strings(value) if name == sc.GEN_AI_REQUEST_STOP_SEQUENCES else number(value))
        if capture_content:
            attributes[sc.GEN_AI_INPUT_MESSAGES] = sc.content_json(self.input_messages(body))
            system = self.system(body)
            if system:
                attributes[sc.GEN_AI_SYSTEM_INSTRUCTIONS] = sc.content_json([sc.text_part(system)])
        return attributes

    def response(self, body: Any, capture_content: bool) -> Attributes:
        return reply_attributes(self.read(body), capture_content)

    def stream_state(self, capture_content: bool) -> StreamState:
        return TextStreamState(self, capture_content)


def _lookup(body: dict[str, Any], dotted: str) -> Any:
    value: Any = body
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def reply_attributes(reply: Reply, capture_content: bool) -> Attributes:
    """The response attributes of a text completion: the one builder of the streamed and the whole reply."""
    attributes: Attributes = {}
    put(attributes, sc.GEN_AI_RESPONSE_ID, reply.id)
    put(attributes, sc.GEN_AI_USAGE_INPUT_TOKENS, integer(reply.input_tokens))
    put(attributes, sc.GEN_AI_USAGE_OUTPUT_TOKENS, integer(reply.output_tokens))
    if isinstance(reply.stop_reason, str):
        attributes[sc.GEN_AI_RESPONSE_FINISH_REASONS] = [reply.stop_reason]
    if capture_content and reply.text is not None:
        attributes[sc.GEN_AI_OUTPUT_MESSAGES] = sc.content_json([sc.output_message([sc.text_part(reply.text)], finish_reason(reply.stop_reason, BEDROCK_FINISH_REASONS))])
    return attributes


class TextStreamState(StreamState):
    """Joins the text pieces of a text-completion stream; the last stop reason, counts and id win."""

    __slots__ = ("family", "capture", "pieces", "stop_reason", "input_tokens", "output_tokens", "id")

    def __init__(self, family: TextFamily, capture: bool) -> None:
        self.family = family
        self.capture = capture
        self.pieces: list[str] = []
        self.stop_reason: Any = None
        self.input_tokens: Any = None
        self.output_tokens: Any = None
        self.id: str | None = None

    def on_chunk(self, chunk: Any) -> None:
        reply = self.family.read_chunk(chunk)
        if reply.text and self.capture:
            self.pieces.append(reply.text)
        if reply.stop_reason is not None:
            self.stop_reason = reply.stop_reason
        if reply.input_tokens is not None:
            self.input_tokens = reply.input_tokens
        if reply.output_tokens is not None:
            self.output_tokens = reply.output_tokens
        if reply.id is not None:
            self.id = reply.id

    def attributes(self) -> Attributes:
        joined = "".join(self.pieces) if self.capture else None
        return reply_attributes(Reply(joined, self.stop_reason, self.input_tokens, self.output_tokens, self.id), self.capture)


class ClaudeText(TextFamily):
    """Claude 2's text completions: `prompt` ("\\n\\nHuman: …\\n\\nAssistant:") → `completion`."""

    operation_name = sc.GenAiOperation.TEXT_COMPLETION
    parameters = {"max_tokens_to_sample": sc.GEN_AI_REQUEST_MAX_TOKENS, "temperature": sc.GEN_AI_REQUEST_TEMPERATURE,
                  "top_p": sc.GEN_AI_REQUEST_TOP_P, "top_k": sc.GEN_AI_REQUEST_TOP_K, "stop_sequences": sc.GEN_AI_REQUEST_STOP_SEQUENCES}

    def read(self, body: Any) -> Reply:
        return Reply(text(body.get("completion")), body.get("stop_reason"))


_CLAUDE_TEXT = ClaudeText()


def _is_text_completion(body: Any) -> bool:
    return isinstance(body, dict) and "prompt" in body and "messages" not in body


class Claude(Family):
    """Anthropic Messages bodies (`anthropic_version`, `messages`, …), read by the Anthropic
    adapter; Claude 2's text-completion bodies (`prompt`) by `ClaudeText`."""

    reads_bodies = True

    def operation(self, body: dict[str, Any]) -> str:
        return _CLAUDE_TEXT.operation_name if _is_text_completion(body) else self.operation_name

    def request(self, body: dict[str, Any], capture_content: bool) -> Attributes:
        if _is_text_completion(body):
            return _CLAUDE_TEXT.request(body, capture_content)
        from opik_otel.instrumentors.anthropic.messages import Messages

        _, attributes = Messages(lambda _: {}).request(None, body, capture_content)
        del attributes[sc.GEN_AI_REQUEST_MODEL], attributes[sc.GEN_AI_OPERATION_NAME]
        return attributes

    def response(self, body: Any, capture_content: bool) -> Attributes:
        if isinstance(body, dict) and "completion" in body:
            return _CLAUDE_TEXT.response(body, capture_content)
        from opik_otel.instrumentors.anthropic.messages import message_attributes

        return message_attributes(body, capture_content)

    def stream_state(self, capture_content: bool) -> StreamState:
        return ClaudeStreamState(capture_content)


class ClaudeStreamState(StreamState):
    """A Claude stream, read as its first chunk says: Messages events or text-completion chunks."""

    __slots__ = ("capture", "inner")

    def __init__(self, capture: bool) -> None:
        self.capture = capture
        self.inner: StreamState | None = None

    def on_chunk(self, chunk: Any) -> None:
        inner = self.inner
        if inner is None:
            if isinstance(chunk, dict) and "completion" in chunk:
                inner = TextStreamState(_CLAUDE_TEXT, self.capture)
            else:
                from opik_otel.instrumentors.anthropic.messages import MessageStreamState

                inner = MessageStreamState(self.capture)
            self.inner = inner
        inner.on_chunk(chunk)

    def attributes(self) -> Attributes:
        return self.inner.attributes() if self.inner is not None else {}


class Nova(Family):
    """Amazon Nova: Converse-shaped bodies (`messages`, `inferenceConfig`, `output.message`)."""

    reads_bodies = True

    def request(self, body: dict[str, Any], capture_content: bool) -> Attributes:
        from opik_otel.instrumentors.bedrock.converse import converse_request

        config = body.get("inferenceConfig") or {}
        config = {"maxTokens": config.get("maxTokens", config.get("max_new_tokens")), "topP": config.get("topP", config.get("top_p")),
                  "temperature": config.get("temperature"), "stopSequences": config.get("stopSequences")}
        return converse_request({**body, "inferenceConfig": config}, capture_content)

    def response(self, body: Any, capture_content: bool) -> Attributes:
        from opik_otel.instrumentors.bedrock.converse import converse_response

        return converse_response(body, capture_content)

    def stream_state(self, capture_content: bool) -> StreamState:
        from opik_otel.instrumentors.bedrock.converse import ConverseStreamState

        return ConverseStreamState(capture_content)


class Llama(TextFamily):
    operation_name = sc.GenAiOperation.TEXT_COMPLETION
    parameters = {"max_gen_len": sc.GEN_AI_REQUEST_MAX_TOKENS, "temperature": sc.GEN_AI_REQUEST_TEMPERATURE, "top_p": sc.GEN_AI_REQUEST_TOP_P}

    def read(self, body: Any) -> Reply:
        return Reply(text(body.get("generation")), body.get("stop_reason"), body.get("prompt_token_count"), body.get("generation_token_count"))


class Titan(TextFamily):
    operation_name = sc.GenAiOperation.TEXT_COMPLETION
    parameters = {
        "textGenerationConfig.maxTokenCount": sc.GEN_AI_REQUEST_MAX_TOKENS, "textGenerationConfig.temperature": sc.GEN_AI_REQUEST_TEMPERATURE,
        "textGenerationConfig.topP": sc.GEN_AI_REQUEST_TOP_P, "textGenerationConfig.stopSequences": sc.GEN_AI_REQUEST_STOP_SEQUENCES,
    }

    def read(self, body: Any) -> Reply:
        result = (body.get("results") or [{}])[0]
        return Reply(text(result.get("outputText")), result.get("completionReason"), body.get("inputTextTokenCount"), result.get("tokenCount"))

    def read_chunk(self, chunk: Any) -> Reply:
        return Reply(text(chunk.get("outputText")), chunk.get("completionReason"), chunk.get("inputTextTokenCount"), chunk.get("totalOutputTextTokenCount"))


class Mistral(TextFamily):
    """Mistral text completion (`prompt` → `outputs`) and chat (`messages` → `choices`)."""

    parameters = {"max_tokens": sc.GEN_AI_REQUEST_MAX_TOKENS, "temperature": sc.GEN_AI_REQUEST_TEMPERATURE,
                  "top_p": sc.GEN_AI_REQUEST_TOP_P, "top_k": sc.GEN_AI_REQUEST_TOP_K, "stop": sc.GEN_AI_REQUEST_STOP_SEQUENCES}

    def input_messages(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        if "messages" not in body:
            return super().input_messages(body)
        return [sc.message(field(m, "role") or "user", [sc.text_part(content)] if isinstance(content := field(m, "content"), str) else [])
                for m in body["messages"] or ()]

    def read(self, body: Any) -> Reply:
        usage = body.get("usage") or {}
        if "choices" in body:
            choice = (body.get("choices") or [{}])[0]
            message = choice.get("message") or choice.get("delta") or {}
            return Reply(text(message.get("content")), choice.get("stop_reason") or choice.get("finish_reason"),
                         usage.get("prompt_tokens"), usage.get("completion_tokens"), text(body.get("id")))
        output = (body.get("outputs") or [{}])[0]
        return Reply(text(output.get("text")), output.get("stop_reason"))


_COHERE_ROLES = {"USER": "user", "CHATBOT": "assistant", "SYSTEM": "system", "TOOL": "tool"}


class Cohere(TextFamily):
    """Cohere Command R chat: `message` + `chat_history` + `preamble` → `text`."""

    parameters = {"max_tokens": sc.GEN_AI_REQUEST_MAX_TOKENS, "temperature": sc.GEN_AI_REQUEST_TEMPERATURE, "p": sc.GEN_AI_REQUEST_TOP_P,
                  "k": sc.GEN_AI_REQUEST_TOP_K, "stop_sequences": sc.GEN_AI_REQUEST_STOP_SEQUENCES}

    def input_messages(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        messages = [sc.message(_COHERE_ROLES.get(turn.get("role"), "user"), [sc.text_part(turn.get("message") or "")])
                    for turn in body.get("chat_history") or () if isinstance(turn, dict)]
        if isinstance(body.get("message"), str):
            messages.append(sc.message("user", [sc.text_part(body["message"])]))
        return messages or super().input_messages(body)

    def system(self, body: dict[str, Any]) -> str | None:
        return text(body.get("preamble"))

    def read(self, body: Any) -> Reply:
        units = (body.get("meta") or {}).get("billed_units") or {}
        if "generations" in body:  # the older Command models
            generation = (body.get("generations") or [{}])[0]
            return Reply(text(generation.get("text")), generation.get("finish_reason"), id=text(body.get("id")))
        return Reply(text(body.get("text")), body.get("finish_reason"), units.get("input_tokens"), units.get("output_tokens"), text(body.get("response_id")))

    def read_chunk(self, chunk: Any) -> Reply:
        if chunk.get("event_type") == "stream-end":
            return self.read({**(chunk.get("response") or {}), "text": None, "finish_reason": chunk.get("finish_reason")})
        return Reply(text(chunk.get("text")), chunk.get("finish_reason"))


class Jurassic(TextFamily):
    """AI21 Jurassic-2: `prompt` → `completions[0].data.text`; its token lists give the counts."""

    operation_name = sc.GenAiOperation.TEXT_COMPLETION
    parameters = {"maxTokens": sc.GEN_AI_REQUEST_MAX_TOKENS, "temperature": sc.GEN_AI_REQUEST_TEMPERATURE, "topP": sc.GEN_AI_REQUEST_TOP_P,
                  "stopSequences": sc.GEN_AI_REQUEST_STOP_SEQUENCES, "presencePenalty.scale": sc.GEN_AI_REQUEST_PRESENCE_PENALTY,
                  "frequencyPenalty.scale": sc.GEN_AI_REQUEST_FREQUENCY_PENALTY}

    def read(self, body: Any) -> Reply:
        completion = (body.get("completions") or [{}])[0]
        data = completion.get("data") or {}
        prompt_tokens, tokens = (body.get("prompt") or {}).get("tokens"), data.get("tokens")
        response_id = body.get("id")
        return Reply(
            text(data.get("text")), (completion.get("finishReason") or {}).get("reason"),
            len(prompt_tokens) if isinstance(prompt_tokens, list) else None, len(tokens) if isinstance(tokens, list) else None,
            str(response_id) if isinstance(response_id, (str, int)) and not isinstance(response_id, bool) else None,
        )


def _dimension_count(vectors: Any) -> int | None:
    """The length of the first vector of an embedding reply (a vector, vectors, or vectors by type)."""
    if isinstance(vectors, dict):
        vectors = next(iter(vectors.values()), None)
    if isinstance(vectors, list) and vectors and isinstance(vectors[0], list):
        vectors = vectors[0]
    return len(vectors) if isinstance(vectors, list) and vectors else None


class Embeddings(Family):
    """An embedding family: subclasses say where the input, the encoding formats and the vectors are."""

    operation_name = sc.GenAiOperation.EMBEDDINGS
    reads_bodies = True
    input_key = ""
    formats_key = ""

    def request(self, body: dict[str, Any], capture_content: bool) -> Attributes:
        attributes: Attributes = {}
        put(attributes, sc.GEN_AI_REQUEST_ENCODING_FORMATS, strings(body.get(self.formats_key)))
        put(attributes, sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, integer(body.get("dimensions")))
        value = body.get(self.input_key)
        if capture_content and (isinstance(value, str) or strings(value)):
            attributes[sc.INPUT_VALUE] = sc.content_json({"input": value})
        return attributes


class TitanEmbeddings(Embeddings):
    """Titan Embeddings: `inputText` (and `inputImage`, not recorded) → `embedding`, `inputTextTokenCount`."""

    input_key = "inputText"
    formats_key = "embeddingTypes"

    def response(self, body: Any, capture_content: bool) -> Attributes:
        attributes: Attributes = {}
        put(attributes, sc.GEN_AI_USAGE_INPUT_TOKENS, integer(body.get("inputTextTokenCount")))
        put(attributes, sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, _dimension_count(body.get("embedding")))
        return attributes


class CohereEmbeddings(Embeddings):
    """Cohere Embed: `texts` → `embeddings` (a list, or lists by type) and an `id`; counts from Bedrock's headers."""

    input_key = "texts"
    formats_key = "embedding_types"

    def response(self, body: Any, capture_content: bool) -> Attributes:
        attributes: Attributes = {}
        put(attributes, sc.GEN_AI_RESPONSE_ID, text(body.get("id")))
        put(attributes, sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, _dimension_count(body.get("embeddings")))
        return attributes


UNKNOWN = Family()
_MEDIA = Family(sc.GenAiOperation.GENERATE_CONTENT)  # image and video generation: bodies of base64 media, not read

# base model id prefix → family; the first match wins (so the media Nova models before `amazon.nova`)
_FAMILIES: tuple[tuple[str, Family], ...] = (
    ("anthropic.", Claude()),
    ("amazon.nova-canvas", _MEDIA), ("amazon.nova-reel", _MEDIA), ("amazon.titan-image", _MEDIA), ("stability.", _MEDIA),
    ("amazon.nova", Nova()), ("amazon.titan-text", Titan()), ("amazon.titan-embed", TitanEmbeddings()),
    ("meta.", Llama()), ("mistral.", Mistral()),
    ("cohere.command", Cohere()), ("cohere.embed", CohereEmbeddings()),
    ("ai21.j2", Jurassic()),
)
FAMILIES: tuple[Family, ...] = (UNKNOWN, *dict.fromkeys(family for _, family in _FAMILIES))


def family_of(model_id: str) -> Family:
    """The family of a model id as sent (`us.anthropic.claude-…`, an ARN, …), by the model it names."""
    model = bedrock_base_model(model_id)
    for prefix, family in _FAMILIES:
        if model.startswith(prefix):
            return family
    return UNKNOWN
