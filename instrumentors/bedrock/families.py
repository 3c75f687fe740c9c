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
from opik_otel.instrumentors._adapter import DIMENSIONS, ENCODING_FORMATS, FREQUENCY_PENALTY, MAX_TOKENS, PRESENCE_PENALTY, STOP_SEQUENCES, TEMPERATURE, TOP_K, TOP_P
from opik_otel.instrumentors._adapter import ParameterTable, read_parameters, request_content, response_attributes
from opik_otel.instrumentors._engine import Attributes, StreamState
from opik_otel.instrumentors._read import field, integer, put, strings, text
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
    #: body key → (attribute, reader)
    parameters: ParameterTable = {}
    #: the body key the parameters are under (Titan's `textGenerationConfig`); None: the body's top level
    parameters_in: str | None = None

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
        attributes = read_parameters(body if self.parameters_in is None else body.get(self.parameters_in), self.parameters, {})
        if capture_content:
            system = self.system(body)
            request_content(attributes, self.input_messages(body), [sc.text_part(system)] if system else None)
        return attributes

    def response(self, body: Any, capture_content: bool) -> Attributes:
        return reply_attributes(self.read(body), capture_content)

    def stream_state(self, capture_content: bool) -> StreamState:
        return TextStreamState(self, capture_content)


def reply_attributes(reply: Reply, capture_content: bool) -> Attributes:
    """The response attributes of a text completion: the one builder of the streamed and the whole reply."""
    usage: Attributes = {}
    put(usage, sc.GEN_AI_USAGE_INPUT_TOKENS, integer(reply.input_tokens))
    put(usage, sc.GEN_AI_USAGE_OUTPUT_TOKENS, integer(reply.output_tokens))
    outputs = None
    if capture_content and reply.text is not None:
        outputs = [sc.output_message([sc.text_part(reply.text)], finish_reason(reply.stop_reason, BEDROCK_FINISH_REASONS))]
    return response_attributes(reply.id, None, reply.stop_reason, usage, outputs)


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
    parameters = {"max_tokens_to_sample": MAX_TOKENS, "temperature": TEMPERATURE, "top_p": TOP_P, "top_k": TOP_K, "stop_sequences": STOP_SEQUENCES}

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
        from opik_otel.instrumentors.anthropic.messages import body_attributes

        return body_attributes(body, capture_content, {})

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
    #: `inferenceConfig` key → (attribute, reader): Converse's names, and the older ones Nova also takes
    parameters: ParameterTable = {"maxTokens": MAX_TOKENS, "max_new_tokens": MAX_TOKENS, "topP": TOP_P, "top_p": TOP_P,
                                  "temperature": TEMPERATURE, "stopSequences": STOP_SEQUENCES}

    def request(self, body: dict[str, Any], capture_content: bool) -> Attributes:
        from opik_otel.instrumentors.bedrock.converse import converse_request

        return converse_request(body, capture_content, {}, self.parameters)

    def response(self, body: Any, capture_content: bool) -> Attributes:
        from opik_otel.instrumentors.bedrock.converse import converse_response

        return converse_response(body, capture_content)

    def stream_state(self, capture_content: bool) -> StreamState:
        from opik_otel.instrumentors.bedrock.converse import ConverseStreamState

        return ConverseStreamState(capture_content)


class Llama(TextFamily):
    operation_name = sc.GenAiOperation.TEXT_COMPLETION
    parameters = {"max_gen_len": MAX_TOKENS, "temperature": TEMPERATURE, "top_p": TOP_P}

    def read(self, body: Any) -> Reply:
        return Reply(text(body.get("generation")), body.get("stop_reason"), body.get("prompt_token_count"), body.get("generation_token_count"))


class Titan(TextFamily):
    operation_name = sc.GenAiOperation.TEXT_COMPLETION
    parameters = {"maxTokenCount": MAX_TOKENS, "temperature": TEMPERATURE, "topP": TOP_P, "stopSequences": STOP_SEQUENCES}
    parameters_in = "textGenerationConfig"

    def read(self, body: Any) -> Reply:
        result = (body.get("results") or [{}])[0]
        return Reply(text(result.get("outputText")), result.get("completionReason"), body.get("inputTextTokenCount"), result.get("tokenCount"))

    def read_chunk(self, chunk: Any) -> Reply:
        return Reply(text(chunk.get("outputText")), chunk.get("completionReason"), chunk.get("inputTextTokenCount"), chunk.get("totalOutputTextTokenCount"))


class Mistral(TextFamily):
    """Mistral text completion (`prompt` → `outputs`) and chat (`messages` → `choices`)."""

    parameters = {"max_tokens": MAX_TOKENS, "temperature": TEMPERATURE, "top_p": TOP_P, "top_k": TOP_K, "stop": STOP_SEQUENCES}

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

    parameters = {"max_tokens": MAX_TOKENS, "temperature": TEMPERATURE, "p": TOP_P, "k": TOP_K, "stop_sequences": STOP_SEQUENCES}

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


def _scale(parameter: tuple[str, Any]) -> tuple[str, Any]:
    """A penalty Jurassic gives as `{"scale": value}`."""
    name, read = parameter
    return name, lambda value: read(field(value, "scale"))


class Jurassic(TextFamily):
    """AI21 Jurassic-2: `prompt` → `completions[0].data.text`; its token lists give the counts."""

    operation_name = sc.GenAiOperation.TEXT_COMPLETION
    parameters = {"maxTokens": MAX_TOKENS, "temperature": TEMPERATURE, "topP": TOP_P, "stopSequences": STOP_SEQUENCES,
                  "presencePenalty": _scale(PRESENCE_PENALTY), "frequencyPenalty": _scale(FREQUENCY_PENALTY)}

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
    """An embedding family: subclasses say where the input and the vectors are, and which parameters it takes."""

    operation_name = sc.GenAiOperation.EMBEDDINGS
    reads_bodies = True
    input_key = ""
    vectors_key = ""
    #: body key → (attribute, reader)
    parameters: ParameterTable = {}

    def request(self, body: dict[str, Any], capture_content: bool) -> Attributes:
        attributes = read_parameters(body, self.parameters, {})
        value = body.get(self.input_key)
        if capture_content and (isinstance(value, str) or strings(value)):
            attributes[sc.INPUT_VALUE] = sc.content_json({"input": value})
        return attributes

    def response(self, body: Any, capture_content: bool) -> Attributes:
        """The reply's id and input count where it has them (Cohere: no count; Titan: no id), and its vectors' size."""
        attributes = response_attributes(body.get("id"))
        put(attributes, sc.GEN_AI_USAGE_INPUT_TOKENS, integer(body.get("inputTextTokenCount")))
        put(attributes, sc.GEN_AI_EMBEDDINGS_DIMENSION_COUNT, _dimension_count(body.get(self.vectors_key)))
        return attributes


class TitanEmbeddings(Embeddings):
    """Titan Embeddings: `inputText` (and `inputImage`, not recorded) → `embedding`, `inputTextTokenCount`."""

    input_key = "inputText"
    vectors_key = "embedding"
    parameters = {"embeddingTypes": ENCODING_FORMATS, "dimensions": DIMENSIONS}


class CohereEmbeddings(Embeddings):
    """Cohere Embed: `texts` → `embeddings` (a list, or lists by type) and an `id`; counts from Bedrock's headers."""

    input_key = "texts"
    vectors_key = "embeddings"
    parameters = {"embedding_types": ENCODING_FORMATS, "dimensions": DIMENSIONS}


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
