"""A local fake AWS Bedrock Runtime server that speaks Bedrock's real wire format (stdlib only).

The unmodified boto3 ``bedrock-runtime`` client works against it:

    from tests.fakes.bedrock_server import FakeBedrockServer

    with FakeBedrockServer() as srv:        # or srv.start() ... srv.stop()
        client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url=srv.url,
                              aws_access_key_id="AKIDFAKE", aws_secret_access_key="fake",
                              config=botocore.config.Config(retries={"total_max_attempts": 1}))
        client.converse(modelId="us.anthropic.claude-3-5-haiku-20241022-v1:0", messages=[...])
        srv.url       # "http://127.0.0.1:PORT"
        srv.requests  # [{"method", "path" (raw, as sent: the model id percent-encoded),
                      #   "headers" (lower-case keys), "body" (parsed JSON or None)}, ...]

Every answer is deterministic, so tests can assert exact values. The SigV4 signature is
not checked.

Retries: botocore retries 429s and 5xx (legacy mode, the default: up to 4 retries, random
back-off of up to 1 s, 2 s, 4 s, ...). ``retries={"max_attempts": N}`` means N *retries*,
so ``{"max_attempts": 1}`` still sends an error model's request twice (and
``len(srv.requests) == 2``); ``{"total_max_attempts": 1}`` or ``{"max_attempts": 0}``
sends it once.

Routes (any path prefix before ``/model/`` and the query are ignored)
    POST /model/{modelId}/converse                       Converse
    POST /model/{modelId}/converse-stream                ConverseStream
    POST /model/{modelId}/invoke                         InvokeModel
    POST /model/{modelId}/invoke-with-response-stream    InvokeModelWithResponseStream
    botocore percent-encodes the whole model id as ONE path segment (':' -> %3A,
    '/' -> %2F), so an ARN such as
    ``arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-...:0``
    arrives as ``/model/arn%3Aaws%3A...%2Fus.anthropic...%3A0/converse``; the fake
    unquotes it (an unencoded model id with '/' is accepted too).
    Anything else: 404 UnknownOperationException. A body that is not a JSON object:
    400 ValidationException.

Model family (``model_family``), for InvokeModel bodies
    The model id without an ARN prefix (everything up to the last '/') and without a
    cross-region prefix (``us.``, ``eu.``, ``apac.``, ``us-gov.``, ``global.``, ``jp.``,
    ``au.``, ``ca.``) (``base_model_id``) starts with ``anthropic.`` -> "anthropic",
    ``meta.`` -> "meta", ``amazon.titan-text`` -> "titan", ``amazon.titan-embed`` ->
    "titan-embed", ``amazon.nova-canvas`` / ``amazon.nova-reel`` / ``amazon.titan-image``
    -> "media", ``amazon.nova`` -> "nova", ``mistral.`` -> "mistral", ``cohere.command``
    -> "cohere" (Command R chat, also for the older cohere.command-text ids),
    ``cohere.embed`` -> "cohere-embed", ``ai21.j2`` -> "jurassic"; anything else ->
    "unknown" (an application inference profile's or a provisioned model's ARN names no
    model, so it is "unknown" here). Converse answers every family the same way.

Converse (content type application/json)
    {"output": {"message": {"role": "assistant", "content": [...]}}, "stopReason",
    "usage": USAGE, "metrics": {"latencyMs": 5}} (METRICS), plus "trace": {"guardrail":
    {}} when the request has ``guardrailConfig``. USAGE is {"inputTokens": 11,
    "outputTokens": 7, "cacheReadInputTokens": 3, "cacheWriteInputTokens": 2,
    "totalTokens": 23} (Bedrock's inputTokens excludes the cache counts). Content:
      * ``toolConfig.tools`` given and the last message is not a user message with a
        ``toolResult`` block: [{"toolUse": {"toolUseId": "tooluse_fake_1" (TOOL_USE_ID),
        "name": the first tool's toolSpec.name (or ``toolChoice.tool.name``), "input":
        {"city": "Paris"}}}], stopReason "tool_use".
      * after a toolResult: [{"text": "The weather is sunny."}] (TOOL_RESULT_TEXT).
      * else [{"text": "Hello from the fake Bedrock server."}] (TEXT); stopReason
        "end_turn".
      * reasoning asked for (``additionalModelRequestFields`` with ``thinking`` or
        ``reasoning_config`` {"type": "enabled", ...}, as for Claude 3.7+): a first block
        {"reasoningContent": {"reasoningText": {"text": "Let me think." (THINKING_TEXT),
        "signature": "sig_fake" (SIGNATURE)}}} before the blocks above.
    ``inferenceConfig.maxTokens`` == 1: stopReason "max_tokens" (content unchanged).

ConverseStream (content type application/vnd.amazon.eventstream, chunked)
    Each event is one AWS event-stream frame, headers ``:event-type: <event>``,
    ``:content-type: application/json``, ``:message-type: event``, payload the event's
    JSON (not wrapped in "bytes"); boto3's ``response["stream"]`` yields
    {"<event>": payload}. Sequence: messageStart {"role": "assistant"}; text:
    contentBlockDelta {"delta": {"text": word}, "contentBlockIndex": 0} per word (each
    word keeps its trailing space: "Hello ", "from ", ..., "server."), contentBlockStop
    {"contentBlockIndex": 0}; tool use: contentBlockStart {"start": {"toolUse":
    {"toolUseId", "name"}}, "contentBlockIndex": 0}, contentBlockDelta {"delta":
    {"toolUse": {"input": '{"city": '}}} and {... '"Paris"}'} (TOOL_INPUT_PIECES),
    contentBlockStop; reasoning (no contentBlockStart, as on Bedrock): contentBlockDelta
    {"delta": {"reasoningContent": {"text": word}}} per word of THINKING_TEXT, then
    {"delta": {"reasoningContent": {"signature": SIGNATURE}}}, contentBlockStop; each
    block has the next contentBlockIndex; then messageStop {"stopReason"}; then metadata
    {"usage": USAGE, "metrics": METRICS} (+ "trace" as above).

InvokeModel (content type application/json; body = the family's JSON). Every reply of a
text family has headers ``x-amzn-bedrock-input-token-count: 11``,
``x-amzn-bedrock-output-token-count: 7`` and ``x-amzn-bedrock-invocation-latency: 5``
(TOKEN_HEADERS); embedding replies only the input count and the latency
(EMBEDDING_HEADERS); image replies neither; streams do not (as on Bedrock: the counts are
in the last chunk instead).
    anthropic  request {"anthropic_version", "max_tokens", "messages", "system"?,
               "tools"?}: an Anthropic Messages API message, planned by the Anthropic
               fake (tool_use {"id": "toolu_fake_1" (ANTHROPIC_TOOL_USE_ID), "name":
               first tool's, "input": {"city": "Paris"}} with stop_reason "tool_use"
               when tools are given and the last message has no tool_result; thinking
               and structured output as there), text TEXT, id "msg_bdrk_fake_<n>",
               "model": Anthropic's name of the model, as Bedrock answers it
               (``anthropic_model_name``: "anthropic.claude-3-5-haiku-20241022-v1:0" ->
               "claude-3-5-haiku-20241022"), usage ANTHROPIC_USAGE (input 11, output 7,
               cache read 3, cache creation 2). max_tokens == 1: "max_tokens".
               Claude 2's text completions (a body with "prompt" and no "messages":
               {"prompt": "\n\nHuman: ...\n\nAssistant:", "max_tokens_to_sample", ...})
               -> {"completion": TEXT, "stop_reason": "stop_sequence", "stop":
               "\n\nHuman:"} ("max_tokens" and "stop": null when max_tokens_to_sample
               == 1).
    meta       {"prompt", "max_gen_len", ...} -> {"generation": TEXT,
               "prompt_token_count": 11, "generation_token_count": 7, "stop_reason":
               "stop"} ("length" when max_gen_len == 1).
    titan      {"inputText", "textGenerationConfig"} -> {"inputTextTokenCount": 11,
               "results": [{"tokenCount": 7, "outputText": TEXT, "completionReason":
               "FINISH"}]} ("LENGTH" when textGenerationConfig.maxTokenCount == 1).
    nova       {"schemaVersion": "messages-v1", "messages", "system"?, "inferenceConfig",
               "toolConfig"?} -> {"output": {"message": {"role": "assistant", "content":
               [...]}}, "stopReason", "usage": NOVA_USAGE} with content and stopReason
               planned as for Converse (max tokens: inferenceConfig.maxTokens or
               max_new_tokens); NOVA_USAGE {"inputTokens": 11, "outputTokens": 7,
               "totalTokens": 18, "cacheReadInputTokenCount": 0,
               "cacheWriteInputTokenCount": 0}.
    mistral    text completion {"prompt", "max_tokens", ...} -> {"outputs": [{"text":
               TEXT, "stop_reason": "stop"}]}; chat {"messages": [...]} -> {"id":
               "cmpl-fake-1", "object": "chat.completion", "model": the model id,
               "choices": [{"index": 0, "message": {"role": "assistant", "content":
               TEXT}, "stop_reason": "stop"}], "usage": {"prompt_tokens": 11,
               "completion_tokens": 7, "total_tokens": 18}}. max_tokens == 1: "length".
    cohere     {"message", "chat_history"?, "preamble"?, "max_tokens"?} ->
               {"response_id": "resp_fake_1", "text": TEXT, "generation_id":
               "gen_fake_1", "chat_history": the request's + [{"role": "USER",
               "message": message}, {"role": "CHATBOT", "message": TEXT}],
               "finish_reason": "COMPLETE" ("MAX_TOKENS" when max_tokens == 1), "meta":
               {"billed_units": {"input_tokens": 11, "output_tokens": 7}}}.
    jurassic   {"prompt", "maxTokens"?, "temperature"?, "topP"?, "stopSequences"?, ...} ->
               {"id": 1234 (JURASSIC_ID), "prompt": {"text": prompt, "tokens": 11 token
               objects}, "completions": [{"data": {"text": TEXT, "tokens": 7 token
               objects}, "finishReason": {"reason": "endoftext"}}]} ({"reason": "length",
               "length": 1} when maxTokens == 1). A token object: {"generatedToken":
               {"token", "logprob", "raw_logprob"}, "topTokens": null, "textRange"}.
    titan-embed {"inputText", "dimensions"?, "normalize"?, "embeddingTypes"?} ->
               {"embedding": a vector of `dimensions` floats (default 1024; 1536 for
               amazon.titan-embed-text-v1), "inputTextTokenCount": 11}, plus
               "embeddingsByType": {"float": the vector} for the v2 model.
    cohere-embed {"texts", "input_type", "truncate"?, "embedding_types"?} ->
               {"embeddings": one 1024-float vector per text, "id": COHERE_EMBED_ID,
               "response_type": "embeddings_floats", "texts": the texts}; with
               "embedding_types": {"embeddings": {type: vectors}, "response_type":
               "embeddings_by_type", ...}.
    media      image generation {"taskType", "textToImageParams", ...} -> {"images":
               [IMAGE_BASE64]}.
    unknown    {"output": "opaque"} (OPAQUE).

InvokeModelWithResponseStream (application/vnd.amazon.eventstream, chunked, header
``x-amzn-bedrock-content-type: application/json`` = boto3's response["contentType"])
    Each chunk is one frame ``:event-type: chunk`` with payload {"bytes": base64(JSON)}
    (the Anthropic fake's ``bedrock_chunk``); boto3: ``for event in response["body"]:
    json.loads(event["chunk"]["bytes"])``. The LAST chunk also carries
    "amazon-bedrock-invocationMetrics": {"inputTokenCount": 11, "outputTokenCount": 7,
    "invocationLatency": 5, "firstByteLatency": 2} (INVOCATION_METRICS). Words keep
    their trailing space; "running" counts are 1, 2, ... and 7 (OUTPUT_TOKENS) on the
    last word.
    anthropic  the Anthropic stream events without ``ping``: message_start (usage
               ANTHROPIC_USAGE with output_tokens 1), content_block_start,
               content_block_delta per word (tool use: input_json_delta "", '{"city": ',
               '"Paris"}'), content_block_stop, message_delta {"delta": {"stop_reason",
               "stop_sequence": null}, "usage": {"output_tokens": 7}}, message_stop.
    meta       {"generation": word, "prompt_token_count": 11 on the first chunk else
               null, "generation_token_count": running, "stop_reason": null, "stop" on
               the last}.
    titan      {"outputText": word, "index": 0, "totalOutputTextTokenCount": running,
               "completionReason": null, "FINISH" on the last} (+ "inputTextTokenCount":
               11 on the first chunk only).
    nova       {"messageStart": {"role": "assistant"}}, then the Converse stream's
               content events each as {"<event>": payload}, {"messageStop":
               {"stopReason"}}, {"metadata": {"usage": {"inputTokens": 11,
               "outputTokens": 7}}}.
    mistral    text: {"outputs": [{"text": word, "stop_reason": null | "stop"}]}; chat:
               {"choices": [{"index": 0, "message": {"role": "assistant", "content":
               word}, "stop_reason": null | "stop"}]}.
    cohere     {"is_finished": false, "event_type": "stream-start", "generation_id":
               "gen_fake_1"}, {"is_finished": false, "event_type": "text-generation",
               "text": word} per word, {"is_finished": true, "event_type": "stream-end",
               "finish_reason", "response": the whole InvokeModel reply}.
    claude text completion: {"completion": word, "stop_reason": null, "stop": null},
               the last with "stop_reason" and "stop" as in the whole reply.
    unknown    one chunk {"output": "opaque"}.
    jurassic, titan-embed, cohere-embed, media: 400 ValidationException "The model is
               unsupported for streaming." (STREAMING_UNSUPPORTED), as on Bedrock.

Errors (JSON body {"message": "fake <Exception>"}, header ``x-amzn-ErrorType:
<Exception>:http://internal.amazon.com/coral/com.amazon.bedrock/``, from which botocore
takes the code; boto3 raises ``client.exceptions.<Exception>``). A model id containing
    error-throttling   429 ThrottlingException
    error-validation   400 ValidationException
    error-access       403 AccessDeniedException
    error-notfound     404 ResourceNotFoundException
    error-internal     500 InternalServerException
    error-unavailable  503 ServiceUnavailableException
    error-timeout      408 ModelTimeoutException
    error-model        424 ModelErrorException
    error-notready     429 ModelNotReadyException
    error-quota        400 ServiceQuotaExceededException
answers so on every route, before any streaming (ERRORS).

Other model-id conventions (substrings; every route)
    stream-error  streams only (e.g. ``anthropic.stream-error-v1``): the frames up to and
                  including the 2nd delta (a text / tool-input delta; for unknown: its
                  one chunk, without invocationMetrics), then one exception frame ``:message-type: exception``,
                  ``:exception-type: modelStreamErrorException``, payload {"message":
                  "fake mid-stream error"}; then the body ends cleanly. botocore raises
                  ``botocore.exceptions.EventStreamError`` (a ClientError, NOT
                  ``client.exceptions.ModelStreamErrorException``) while iterating, with
                  ``.response["Error"] == {"Code": "modelStreamErrorException", "Message":
                  "fake mid-stream error"}``. Non-stream routes answer normally.
    slow          sleep 0.2 s (SLOW_SECONDS) before answering (client timeouts).

Response headers
    ``x-amzn-RequestId: req_fake_<n>`` (n counts replies) = ResponseMetadata.RequestId.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import unquote, urlsplit

from tests.fakes import anthropic_server as _anthropic
from tests.fakes._server import FakeRequestHandler, JsonReply, LocalFakeServer, Reply, StreamReply
from tests.fakes.anthropic_server import (
    EventStreamFrame,
    bedrock_chunk,
    bedrock_exception,
    message_object,
    plan_message,
    stream_events,
)
from tests.fakes.openai_server import split_words

TEXT = "Hello from the fake Bedrock server."
TOOL_RESULT_TEXT = _anthropic.TOOL_RESULT_TEXT  # "The weather is sunny."
TOOL_USE_ID = "tooluse_fake_1"  # Converse / Nova
ANTHROPIC_TOOL_USE_ID = _anthropic.TOOL_USE_ID  # "toolu_fake_1" (InvokeModel, anthropic family)
TOOL_INPUT: dict[str, Any] = dict(_anthropic.TOOL_INPUT)  # {"city": "Paris"}
TOOL_INPUT_JSON = _anthropic.TOOL_INPUT_JSON  # '{"city": "Paris"}'
TOOL_INPUT_PIECES = split_words(TOOL_INPUT_JSON)  # ['{"city": ', '"Paris"}']
MID_STREAM_ERROR_MESSAGE = "fake mid-stream error"
THINKING_TEXT = _anthropic.THINKING_TEXT  # "Let me think."
SIGNATURE = _anthropic.SIGNATURE  # "sig_fake"
CLAUDE_TEXT_STOP = "\n\nHuman:"
JURASSIC_ID = 1234
COHERE_EMBED_ID = "emb_fake_1"
EMBEDDING_DIMENSIONS = 1024
IMAGE_BASE64 = "iVBORw0KGgo="  # the first bytes of a PNG
STREAMING_UNSUPPORTED = "The model is unsupported for streaming."
STREAM_ERROR_TYPE = "modelStreamErrorException"
FAILING_STREAM_DELTAS = 2
SLOW_SECONDS = 0.2
EVENT_STREAM_CONTENT_TYPE = "application/vnd.amazon.eventstream"

INPUT_TOKENS = 11
OUTPUT_TOKENS = 7
LATENCY_MS = 5
FIRST_BYTE_LATENCY_MS = 2

USAGE: dict[str, Any] = {  # Converse / ConverseStream
    "inputTokens": INPUT_TOKENS,
    "outputTokens": OUTPUT_TOKENS,
    "cacheReadInputTokens": 3,
    "cacheWriteInputTokens": 2,
    "totalTokens": 23,
}
METRICS: dict[str, Any] = {"latencyMs": LATENCY_MS}
ANTHROPIC_USAGE: dict[str, Any] = {
    "input_tokens": INPUT_TOKENS,
    "output_tokens": OUTPUT_TOKENS,
    "cache_read_input_tokens": 3,
    "cache_creation_input_tokens": 2,
}
NOVA_USAGE: dict[str, Any] = {
    "inputTokens": INPUT_TOKENS,
    "outputTokens": OUTPUT_TOKENS,
    "totalTokens": INPUT_TOKENS + OUTPUT_TOKENS,
    "cacheReadInputTokenCount": 0,
    "cacheWriteInputTokenCount": 0,
}
INVOCATION_METRICS: dict[str, Any] = {
    "inputTokenCount": INPUT_TOKENS,
    "outputTokenCount": OUTPUT_TOKENS,
    "invocationLatency": LATENCY_MS,
    "firstByteLatency": FIRST_BYTE_LATENCY_MS,
}
TOKEN_HEADERS: dict[str, str] = {
    "x-amzn-bedrock-input-token-count": str(INPUT_TOKENS),
    "x-amzn-bedrock-output-token-count": str(OUTPUT_TOKENS),
    "x-amzn-bedrock-invocation-latency": str(LATENCY_MS),
}
EMBEDDING_HEADERS: dict[str, str] = {
    "x-amzn-bedrock-input-token-count": str(INPUT_TOKENS),
    "x-amzn-bedrock-invocation-latency": str(LATENCY_MS),
}
OPAQUE: dict[str, Any] = {"output": "opaque"}

ERRORS: dict[str, tuple[int, str]] = {
    "error-throttling": (429, "ThrottlingException"),
    "error-validation": (400, "ValidationException"),
    "error-access": (403, "AccessDeniedException"),
    "error-notfound": (404, "ResourceNotFoundException"),
    "error-internal": (500, "InternalServerException"),
    "error-unavailable": (503, "ServiceUnavailableException"),
    "error-timeout": (408, "ModelTimeoutException"),
    "error-model": (424, "ModelErrorException"),
    "error-notready": (429, "ModelNotReadyException"),
    "error-quota": (400, "ServiceQuotaExceededException"),
}
CROSS_REGION_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "global.", "jp.", "au.", "ca.")
FAMILY_PREFIXES: tuple[tuple[str, str], ...] = (
    ("anthropic.", "anthropic"),
    ("meta.", "meta"),
    ("amazon.titan-text", "titan"),
    ("amazon.titan-embed", "titan-embed"),
    ("amazon.titan-image", "media"),
    ("amazon.nova-canvas", "media"),
    ("amazon.nova-reel", "media"),
    ("amazon.nova", "nova"),
    ("mistral.", "mistral"),
    ("cohere.command", "cohere"),
    ("cohere.embed", "cohere-embed"),
    ("ai21.j2", "jurassic"),
)
NOT_STREAMED = frozenset({"jurassic", "titan-embed", "cohere-embed", "media"})


# --- the server -----------------------------------------------------------------------


class _Handler(FakeRequestHandler):
    request_id_header = "x-amzn-RequestId"

    def answer(self, headers: dict[str, str], body: Any) -> Reply:
        return route(self.server.owner, self.command, self.path, headers, body)

    def bug_reply(self, message: str) -> JsonReply:
        return error_reply(500, "InternalServerException", message)


class FakeBedrockServer(LocalFakeServer):
    """A fake Bedrock Runtime API on 127.0.0.1, served from a daemon thread."""

    handler_class = _Handler
    thread_name = "fake-bedrock"


# --- routing and shared behaviour ------------------------------------------------------


_PATH = re.compile(
    r"(?:.*?)/model/(?P<model>.+)/(?P<action>converse|converse-stream|invoke|invoke-with-response-stream)"
)


def anthropic_model_name(model_id: str) -> str:
    """Anthropic's name of a Bedrock Claude model, which Bedrock's reply body carries:
    "us.anthropic.claude-3-5-haiku-20241022-v1:0" -> "claude-3-5-haiku-20241022" (the
    version suffix goes after a date only: "anthropic.claude-v2:1" -> "claude-v2:1")."""
    return re.sub(r"(?<=\d{8})-v\d+(?::\d+)?$", "", base_model_id(model_id).removeprefix("anthropic."))


def base_model_id(model_id: str) -> str:
    """The model id without an ARN prefix (up to the last '/') and a cross-region prefix."""
    base = model_id.rsplit("/", 1)[-1]
    for prefix in CROSS_REGION_PREFIXES:
        if base.startswith(prefix):
            return base[len(prefix) :]
    return base


def model_family(model_id: str) -> str:
    """The family name of FAMILY_PREFIXES ("anthropic", "meta", "titan", …) or "unknown"."""
    base = base_model_id(model_id)
    for prefix, family in FAMILY_PREFIXES:
        if base.startswith(prefix):
            return family
    return "unknown"


def route(fake: FakeBedrockServer, method: str, request_target: str, headers: dict[str, str], body: Any) -> Reply:
    match = _PATH.fullmatch(urlsplit(request_target).path)
    if match is None or method != "POST":
        return error_reply(404, "UnknownOperationException", "Not found")
    model_id = unquote(match.group("model"))
    action = match.group("action")
    if "slow" in model_id:
        fake._sleep(SLOW_SECONDS)
    failure = model_error(model_id)
    if failure is not None:
        return failure
    if not isinstance(body, dict):
        return error_reply(400, "ValidationException", "Malformed input request, please reformat your input.")
    if action in ("converse", "converse-stream"):
        return converse(body, model_id, stream=action == "converse-stream")
    return invoke(fake, body, model_id, stream=action == "invoke-with-response-stream")


def error_reply(status: int, exception: str, message: str) -> JsonReply:
    headers = {"x-amzn-ErrorType": f"{exception}:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    return JsonReply(status, {"message": message}, headers)


def model_error(model_id: str) -> JsonReply | None:
    """The error reply that an ``error-<kind>`` model id asks for, else None."""
    for marker, (status, exception) in ERRORS.items():
        if marker in model_id:
            return error_reply(status, exception, f"fake {exception}")
    return None


def _stream_reply(frames: list[tuple[EventStreamFrame, bool]], model_id: str, headers: dict[str, str]) -> StreamReply:
    return StreamReply(_failing_frames(frames, model_id), EVENT_STREAM_CONTENT_TYPE, headers)


def _failing_frames(frames: list[tuple[EventStreamFrame, bool]], model_id: str) -> Iterator[EventStreamFrame]:
    """The (frame, is_delta) frames; for ``stream-error`` only up to the 2nd delta, then an exception frame."""
    if "stream-error" not in model_id:
        yield from (frame for frame, _ in frames)
        return
    deltas = 0
    for frame, is_delta in frames:
        yield frame
        deltas += is_delta
        if deltas == FAILING_STREAM_DELTAS:
            break
    yield bedrock_exception(STREAM_ERROR_TYPE, MID_STREAM_ERROR_MESSAGE)


# --- Converse / ConverseStream (and the Nova invoke body, which has the same shape) ------


@dataclass
class ConversePlan:
    content: list[dict[str, Any]]  # Converse content blocks
    stop_reason: str


def plan_converse(body: dict[str, Any], max_tokens: Any) -> ConversePlan:
    tool_name = _converse_tool_to_call(body)
    if tool_name is not None:
        content = [{"toolUse": {"toolUseId": TOOL_USE_ID, "name": tool_name, "input": dict(TOOL_INPUT)}}]
        stop_reason = "tool_use"
    else:
        content = [{"text": TOOL_RESULT_TEXT if _answers_tool_use(body) else TEXT}]
        stop_reason = "end_turn"
    if _asks_for_reasoning(body):
        reasoning = {"reasoningText": {"text": THINKING_TEXT, "signature": SIGNATURE}}
        content.insert(0, {"reasoningContent": reasoning})
    if max_tokens == 1:
        stop_reason = "max_tokens"
    return ConversePlan(content, stop_reason)


def _asks_for_reasoning(body: dict[str, Any]) -> bool:
    fields = body.get("additionalModelRequestFields") or {}
    return any((fields.get(name) or {}).get("type") == "enabled" for name in ("thinking", "reasoning_config"))


def _converse_tool_to_call(body: dict[str, Any]) -> str | None:
    tool_config = body.get("toolConfig") or {}
    tools = [tool.get("toolSpec") or {} for tool in tool_config.get("tools") or [] if isinstance(tool, dict)]
    if not tools or _answers_tool_use(body):
        return None
    chosen = ((tool_config.get("toolChoice") or {}).get("tool") or {}).get("name")
    return str(chosen or tools[0].get("name", "tool"))


def _answers_tool_use(body: dict[str, Any]) -> bool:
    """Whether the last message is a user message with a toolResult block."""
    messages = body.get("messages") or []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    blocks = last.get("content") if last.get("role") == "user" else None
    return isinstance(blocks, list) and any(isinstance(block, dict) and "toolResult" in block for block in blocks)


def converse_content_events(plan: ConversePlan) -> list[tuple[str, dict[str, Any], bool]]:
    """(event type, payload, is_delta) from messageStart to messageStop, without metadata."""
    events: list[tuple[str, dict[str, Any], bool]] = [("messageStart", {"role": "assistant"}, False)]
    for index, block in enumerate(plan.content):
        if "toolUse" in block:
            start = {"toolUseId": block["toolUse"]["toolUseId"], "name": block["toolUse"]["name"]}
            events.append(("contentBlockStart", {"start": {"toolUse": start}, "contentBlockIndex": index}, False))
            deltas = [{"toolUse": {"input": piece}} for piece in TOOL_INPUT_PIECES]
        elif "reasoningContent" in block:
            reasoning = block["reasoningContent"]["reasoningText"]
            deltas = [{"reasoningContent": {"text": piece}} for piece in split_words(reasoning["text"])]
            deltas.append({"reasoningContent": {"signature": reasoning["signature"]}})
        else:
            deltas = [{"text": piece} for piece in split_words(block["text"])]
        events.extend(("contentBlockDelta", {"delta": delta, "contentBlockIndex": index}, True) for delta in deltas)
        events.append(("contentBlockStop", {"contentBlockIndex": index}, False))
    events.append(("messageStop", {"stopReason": plan.stop_reason}, False))
    return events


def converse_event(event_type: str, payload: dict[str, Any]) -> EventStreamFrame:
    """One ConverseStream event frame (the payload is the event's JSON, not wrapped in "bytes")."""
    headers = {":event-type": event_type, ":content-type": "application/json", ":message-type": "event"}
    return EventStreamFrame(headers, json.dumps(payload).encode())


def converse(body: dict[str, Any], model_id: str, stream: bool) -> Reply:
    plan = plan_converse(body, (body.get("inferenceConfig") or {}).get("maxTokens"))
    extra: dict[str, Any] = {"trace": {"guardrail": {}}} if body.get("guardrailConfig") else {}
    if not stream:
        message = {"role": "assistant", "content": plan.content}
        reply = {"output": {"message": message}, "stopReason": plan.stop_reason, "usage": dict(USAGE)}
        return JsonReply(200, {**reply, "metrics": dict(METRICS), **extra})
    events = converse_content_events(plan)
    events.append(("metadata", {"usage": dict(USAGE), "metrics": dict(METRICS), **extra}, False))
    frames = [(converse_event(name, payload), is_delta) for name, payload, is_delta in events]
    return _stream_reply(frames, model_id, {})


# --- InvokeModel / InvokeModelWithResponseStream ------------------------------------------


Chunks = list[tuple[dict[str, Any], bool]]  # (chunk JSON, is_delta)


def invoke(fake: FakeBedrockServer, body: dict[str, Any], model_id: str, stream: bool) -> Reply:
    family = model_family(model_id)
    if stream and family in NOT_STREAMED:
        return error_reply(400, "ValidationException", STREAMING_UNSUPPORTED)
    if family in _UNSTREAMED_FAMILIES:
        reply, headers = _UNSTREAMED_FAMILIES[family](body, model_id)
        return JsonReply(200, reply, headers)
    if family == "anthropic" and "prompt" in body and "messages" not in body:
        reply, chunks = _claude_text(body)
    elif family == "anthropic":
        reply, chunks = _anthropic_invoke(fake, body, model_id)
    elif family == "mistral":
        reply, chunks = _mistral_chat(body, model_id) if "messages" in body else _mistral_text(body)
    elif family == "unknown":
        reply, chunks = dict(OPAQUE), [(dict(OPAQUE), True)]
    else:
        reply, chunks = _INVOKE_FAMILIES[family](body)
    if not stream:
        return JsonReply(200, reply, dict(TOKEN_HEADERS))
    if "stream-error" not in model_id:  # a failing stream never gets to its metrics
        last, is_delta = chunks[-1]
        chunks[-1] = ({**last, "amazon-bedrock-invocationMetrics": dict(INVOCATION_METRICS)}, is_delta)
    frames = [(bedrock_chunk(chunk), is_delta) for chunk, is_delta in chunks]
    return _stream_reply(frames, model_id, {"x-amzn-bedrock-content-type": "application/json"})


def _words() -> list[tuple[int, str, bool]]:
    """(index, word, is_last) of TEXT's stream pieces."""
    words = split_words(TEXT)
    return [(index, word, index == len(words) - 1) for index, word in enumerate(words)]


def _running_count(index: int, last: bool) -> int:
    return OUTPUT_TOKENS if last else index + 1


def _anthropic_invoke(fake: FakeBedrockServer, body: dict[str, Any], model_id: str) -> tuple[dict[str, Any], Chunks]:
    plan = plan_message(body)
    for block in plan.content:
        if block["type"] == "text" and block["text"] == _anthropic.TEXT:
            block["text"] = TEXT
    message_id = f"msg_bdrk_fake_{fake._next_id('message')}"
    model = anthropic_model_name(model_id)
    reply = message_object(message_id, model, plan.content, plan.stop_reason, dict(ANTHROPIC_USAGE))
    chunks: Chunks = []
    for event in stream_events(message_id, model, plan, {}):
        if event["type"] == "ping":
            continue  # Bedrock sends no ping
        if event["type"] == "message_start":
            event["message"]["usage"] = {**ANTHROPIC_USAGE, "output_tokens": 1}
        if event["type"] == "message_delta":
            event["usage"] = {"output_tokens": OUTPUT_TOKENS}
        chunks.append((event, event["type"] == "content_block_delta"))
    return reply, chunks


def _claude_text(body: dict[str, Any]) -> tuple[dict[str, Any], Chunks]:
    """Claude 2's text completions: "prompt" -> "completion"."""
    stop_reason, stop = ("max_tokens", None) if body.get("max_tokens_to_sample") == 1 else ("stop_sequence", CLAUDE_TEXT_STOP)
    reply = {"completion": TEXT, "stop_reason": stop_reason, "stop": stop}
    chunks: Chunks = [
        ({"completion": word, "stop_reason": stop_reason if last else None, "stop": stop if last else None}, True)
        for _, word, last in _words()
    ]
    return reply, chunks


def _meta(body: dict[str, Any]) -> tuple[dict[str, Any], Chunks]:
    stop = "length" if body.get("max_gen_len") == 1 else "stop"
    reply = {
        "generation": TEXT,
        "prompt_token_count": INPUT_TOKENS,
        "generation_token_count": OUTPUT_TOKENS,
        "stop_reason": stop,
    }
    chunks: Chunks = [
        (
            {
                "generation": word,
                "prompt_token_count": INPUT_TOKENS if index == 0 else None,
                "generation_token_count": _running_count(index, last),
                "stop_reason": stop if last else None,
            },
            True,
        )
        for index, word, last in _words()
    ]
    return reply, chunks


def _titan(body: dict[str, Any]) -> tuple[dict[str, Any], Chunks]:
    config = body.get("textGenerationConfig") or {}
    reason = "LENGTH" if config.get("maxTokenCount") == 1 else "FINISH"
    result = {"tokenCount": OUTPUT_TOKENS, "outputText": TEXT, "completionReason": reason}
    reply = {"inputTextTokenCount": INPUT_TOKENS, "results": [result]}
    chunks: Chunks = []
    for index, word, last in _words():
        chunk: dict[str, Any] = {
            "outputText": word,
            "index": 0,
            "totalOutputTextTokenCount": _running_count(index, last),
            "completionReason": reason if last else None,
        }
        if index == 0:
            chunk["inputTextTokenCount"] = INPUT_TOKENS
        chunks.append((chunk, True))
    return reply, chunks


def _nova(body: dict[str, Any]) -> tuple[dict[str, Any], Chunks]:
    config = body.get("inferenceConfig") or {}
    plan = plan_converse(body, config.get("maxTokens", config.get("max_new_tokens")))
    message = {"role": "assistant", "content": plan.content}
    reply = {"output": {"message": message}, "stopReason": plan.stop_reason, "usage": dict(NOVA_USAGE)}
    chunks: Chunks = [({name: payload}, is_delta) for name, payload, is_delta in converse_content_events(plan)]
    chunks.append(({"metadata": {"usage": {"inputTokens": INPUT_TOKENS, "outputTokens": OUTPUT_TOKENS}}}, False))
    return reply, chunks


def _mistral_text(body: dict[str, Any]) -> tuple[dict[str, Any], Chunks]:
    stop = "length" if body.get("max_tokens") == 1 else "stop"
    reply = {"outputs": [{"text": TEXT, "stop_reason": stop}]}
    chunks: Chunks = [
        ({"outputs": [{"text": word, "stop_reason": stop if last else None}]}, True) for _, word, last in _words()
    ]
    return reply, chunks


def _mistral_chat(body: dict[str, Any], model_id: str) -> tuple[dict[str, Any], Chunks]:
    stop = "length" if body.get("max_tokens") == 1 else "stop"
    reply = {
        "id": "cmpl-fake-1",
        "object": "chat.completion",
        "model": model_id,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": TEXT}, "stop_reason": stop}],
        "usage": {
            "prompt_tokens": INPUT_TOKENS,
            "completion_tokens": OUTPUT_TOKENS,
            "total_tokens": INPUT_TOKENS + OUTPUT_TOKENS,
        },
    }
    chunks: Chunks = []
    for _, word, last in _words():
        choice = {"index": 0, "message": {"role": "assistant", "content": word}, "stop_reason": stop if last else None}
        chunks.append(({"choices": [choice]}, True))
    return reply, chunks


def _cohere(body: dict[str, Any]) -> tuple[dict[str, Any], Chunks]:
    finish = "MAX_TOKENS" if body.get("max_tokens") == 1 else "COMPLETE"
    history = [*(body.get("chat_history") or []), {"role": "USER", "message": body.get("message", "")}]
    reply = {
        "response_id": "resp_fake_1",
        "text": TEXT,
        "generation_id": "gen_fake_1",
        "chat_history": [*history, {"role": "CHATBOT", "message": TEXT}],
        "finish_reason": finish,
        "meta": {"billed_units": {"input_tokens": INPUT_TOKENS, "output_tokens": OUTPUT_TOKENS}},
    }
    chunks: Chunks = [({"is_finished": False, "event_type": "stream-start", "generation_id": "gen_fake_1"}, False)]
    chunks.extend(
        ({"is_finished": False, "event_type": "text-generation", "text": word}, True) for _, word, _ in _words()
    )
    end = {"is_finished": True, "event_type": "stream-end", "finish_reason": finish, "response": reply}
    chunks.append((end, False))
    return reply, chunks


_INVOKE_FAMILIES = {"meta": _meta, "titan": _titan, "nova": _nova, "cohere": _cohere}


# --- families Bedrock does not stream: (reply, headers) ---------------------------------------


def _tokens(words: list[str]) -> list[dict[str, Any]]:
    """Jurassic's token objects, one per word."""
    tokens, start = [], 0
    for word in words:
        token = {"token": "\u2581" + word.strip(), "logprob": -0.5, "raw_logprob": -0.5}
        tokens.append({"generatedToken": token, "topTokens": None, "textRange": {"start": start, "end": start + len(word)}})
        start += len(word)
    return tokens


def _jurassic(body: dict[str, Any], model_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    prompt = str(body.get("prompt", ""))
    prompt_words = (split_words(prompt) + [""] * INPUT_TOKENS)[:INPUT_TOKENS]
    finish = {"reason": "length", "length": 1} if body.get("maxTokens") == 1 else {"reason": "endoftext"}
    words = (split_words(TEXT) + [""] * OUTPUT_TOKENS)[:OUTPUT_TOKENS]
    reply = {
        "id": JURASSIC_ID,
        "prompt": {"text": prompt, "tokens": _tokens(prompt_words)},
        "completions": [{"data": {"text": TEXT, "tokens": _tokens(words)}, "finishReason": finish}],
    }
    return reply, dict(TOKEN_HEADERS)


def _vector(size: int) -> list[float]:
    return [round((index % 10) / 10 - 0.45, 2) for index in range(size)]


def _titan_embed(body: dict[str, Any], model_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    default = 1536 if base_model_id(model_id).startswith("amazon.titan-embed-text-v1") else EMBEDDING_DIMENSIONS
    vector = _vector(int(body.get("dimensions") or default))
    reply: dict[str, Any] = {"embedding": vector, "inputTextTokenCount": INPUT_TOKENS}
    if "-v2" in base_model_id(model_id):
        reply["embeddingsByType"] = {"float": vector}
    return reply, dict(EMBEDDING_HEADERS)


def _cohere_embed(body: dict[str, Any], model_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    texts = list(body.get("texts") or [])
    vectors = [_vector(EMBEDDING_DIMENSIONS) for _ in texts]
    types = body.get("embedding_types")
    reply: dict[str, Any] = {"id": COHERE_EMBED_ID, "texts": texts}
    if types:
        reply.update(embeddings={kind: vectors for kind in types}, response_type="embeddings_by_type")
    else:
        reply.update(embeddings=vectors, response_type="embeddings_floats")
    return reply, dict(EMBEDDING_HEADERS)


def _media(body: dict[str, Any], model_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    return {"images": [IMAGE_BASE64]}, {}


_UNSTREAMED_FAMILIES = {"jurassic": _jurassic, "titan-embed": _titan_embed, "cohere-embed": _cohere_embed, "media": _media}
