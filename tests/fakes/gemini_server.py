"""A local fake Gemini server that speaks Google's real REST wire format (stdlib only).

The unmodified ``google-genai`` SDK (Gemini Developer API and Vertex AI clients, sync and
``client.aio``) and the older ``google-generativeai`` REST transport work against it:

    from tests.fakes.gemini_server import FakeGeminiServer

    with FakeGeminiServer() as srv:          # or srv.start() ... srv.stop()
        client = genai.Client(api_key="fake-key", http_options=types.HttpOptions(base_url=srv.url))
        client.models.generate_content(model="gemini-2.5-flash", contents="Say hello")
        vertex = genai.Client(vertexai=True, project="p", location="us-central1",
                              credentials=google.oauth2.credentials.Credentials(token="fake-token"),
                              http_options=types.HttpOptions(base_url=srv.url))
        google.generativeai.configure(api_key="fake-key", transport="rest",
                                      client_options={"api_endpoint": srv.url})
        # Clients made elsewhere (e.g. by Google ADK): the environment sets google-genai's
        # default base URLs: GOOGLE_GEMINI_BASE_URL / GOOGLE_VERTEX_BASE_URL = srv.url
        srv.url         # "http://127.0.0.1:PORT" (the SDKs add the version: google-genai 3.x
                        #   /v1 (older /v1beta), Vertex /v1beta1, google-generativeai /v1beta)
        srv.requests    # [{"method", "path" (with query), "headers" (lower-case keys),
                        #   "body" (parsed JSON or None)}, ...]

Every answer is deterministic, so tests can assert exact values. Credentials are recorded,
never checked. A Vertex client needs credentials that hold a token (e.g. the one above):
google-genai refuses AnonymousCredentials (no token) and otherwise looks for ADC.
google-generativeai retries 429 and 503 by default (``request_options={"retry": None}``).

Request fields are read by their lowerCamelCase or their snake_case names: Google's JSON
parser takes both, and google-genai sends some nested ones snake_case (``inlineData``
{"mime_type"}, ``thinkingConfig`` {"include_thoughts"}).

Routes (POST; any path prefix before them is ignored; the query is read only for ``alt``)
    Developer API  /{v1beta|v1|v1alpha}/models/{model}:{method} (also tunedModels/{model})
    Vertex AI      /{v1beta1|v1}/projects/{p}/locations/{l}/publishers/google/models/{model}:{method}
    methods: generateContent, streamGenerateContent, countTokens, embedContent,
    batchEmbedContents, predict (Vertex's embeddings for non-Gemini models).
    Anything else (another method, a GET such as models.get): 404 NOT_FOUND.
    google-genai sends embed_content to :batchEmbedContents on the Developer API; on Vertex
    to :predict ({"instances": [{"content": text}], "parameters"}) unless the model name
    has "gemini" (or "maas") in it: then :embedContent for one content, :batchEmbedContents
    for several. google-generativeai's embed_content uses :embedContent.

generateContent (GenerateContentResponse)
    {"candidates": [{"content": {"role": "model", "parts": PARTS}, "finishReason", "index": 0}],
     "usageMetadata": USAGE, "modelVersion": the model in the path, "responseId":
     "resp-fake-<n>"} (n counts generateContent and streamGenerateContent replies on this
    server). Vertex replies also carry "createTime" (VERTEX_CREATE_TIME) and USAGE with
    "trafficType": "ON_DEMAND". USAGE: promptTokenCount 10, candidatesTokenCount 6,
    cachedContentTokenCount 4, thoughtsTokenCount 2, totalTokenCount 18 (prompt + candidates
    + thoughts: Gemini counts cached tokens inside the prompt), promptTokensDetails
    [{"modality": "TEXT", "tokenCount": 10}]. generationConfig.candidateCount N > 1: N
    candidates (index 0..N-1), each with the same parts.
    PARTS, in this order:
      * generationConfig.thinkingConfig.includeThoughts true: first {"text": "Let me
        think.", "thought": true} (THOUGHT_TEXT). Without includeThoughts no thought part
        (as Gemini hides thoughts), but thoughtsTokenCount stays 2.
      * ``tools`` with functionDeclarations (toolConfig.functionCallingConfig.mode not
        "NONE") and the last content has no functionResponse part: {"functionCall":
        {"name": the first declaration's name (mode "ANY" with allowedFunctionNames: the
        first allowed), "args": {"city": "Paris"}}}; finishReason "STOP", as Gemini's.
      * otherwise one {"text": ...}: after a functionResponse "The weather is sunny."
        (TOOL_RESULT_TEXT); generationConfig.responseMimeType "application/json": JSON of
        ``sample_from_schema`` (from the OpenAI fake) of responseJsonSchema or
        responseSchema (Google's upper-case types read as JSON Schema's), "{}" without a
        schema; else "Hello from the fake Gemini server." (TEXT).
    finishReason "STOP"; generationConfig.maxOutputTokens == 1: "MAX_TOKENS" (parts unchanged).
    Request parts may be text, inlineData {mimeType, data (base64)}, fileData {mimeType?,
    fileUri}, functionCall, functionResponse, thought parts ...: all accepted; an inlineData
    without mimeType or with data that is not base64 is a 400 INVALID_ARGUMENT.

streamGenerateContent
    ``?alt=sse`` (google-genai): ``data: <GenerateContentResponse JSON>`` events, each ended
    by CRLF CRLF as Google's, content type text/event-stream. Without alt=sse
    (google-generativeai's REST transport, ``$alt=json;enum-encoding=int``): the JSON array
    form Google sends, "[" chunk ",\\r\\n" chunk ... "]", content type application/json.
    One chunk per piece: thought text per word ({"text": w, "thought": true}), text per
    word (each word keeps its trailing space), a functionCall whole, other scripted parts
    whole. Every chunk has candidates [{"content": {"role": "model", "parts": [piece]},
    "index": 0}] (N candidates with candidateCount), "modelVersion" and the stream's one
    "responseId" (Vertex: "createTime"). Chunks before the last carry STREAM_USAGE
    (promptTokenCount 10, totalTokenCount 10, promptTokensDetails, as Gemini 2.x sends a
    running usage); the last one carries finishReason and the whole USAGE. No pieces (e.g.
    x-fake-chunks: 0): one chunk with parts [{"text": ""}].

countTokens    {"totalTokens": 10, "promptTokensDetails": [...]} (COUNT_TOKENS; Vertex adds
               "totalBillableCharacters": 40). The contents may be top-level or inside
               "generateContentRequest"; none: 400 INVALID_ARGUMENT.
Embeddings     vector i (i counts the inputs of a request from 0) is [i + j / 8 for j in
               range(dimension)], dimension outputDimensionality (top level, in
               embedContentConfig or Vertex predict's parameters) else 8; each input counts
               5 tokens (EMBEDDING_TOKENS).
    :embedContent        {"content"} -> {"embedding": {"values"}}; Vertex adds
                         "usageMetadata" {"promptTokenCount": 5, "totalTokenCount": 5} and
                         "truncated": false.
    :batchEmbedContents  {"requests": [{"model", "content", ...}]} -> {"embeddings":
                         [{"values"}, ...]} (Vertex adds usageMetadata 5 per input).
    :predict             {"instances": [...]} -> {"predictions": [{"embeddings": {"values",
                         "statistics": {"truncated": false, "token_count": 5}}}],
                         "metadata": {"billableCharacterCount": 20 per instance}}.
    No inputs: 400 INVALID_ARGUMENT.

Errors: Google's body {"error": {"code": <status>, "message", "status": <name>}}, names
    STATUS_NAMES (400 INVALID_ARGUMENT, 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404
    NOT_FOUND, 429 RESOURCE_EXHAUSTED, 500 INTERNAL, 503 UNAVAILABLE, 504
    DEADLINE_EXCEEDED, ...). google-genai raises errors.ClientError (4xx) / ServerError
    (5xx) with .code, .status, .message from it. A body that is not JSON: 400. No
    ``contents`` (generateContent / stream / countTokens): 400 "* GenerateContentRequest.
    contents: contents is not specified".

Model-name conventions (every method; the model in the path)
    missing-model     404 NOT_FOUND "models/missing-model is not found for API version
                      <version>, or is not supported for <method>. ..." (as Google says).
    overloaded-model  503 UNAVAILABLE "The model is overloaded. Please try again later."
    error-<status>    that status, message "fake error <status>", e.g. error-400/403/429/500.
    slow-<ms>         sleep <ms> milliseconds, then answer normally (client timeouts).
    stream-error      streaming only: the first 2 chunks (FAILING_STREAM_CHUNKS), then an
                      error chunk {"error": {"code": 503, "message": "fake mid-stream
                      error", "status": "UNAVAILABLE"}} (an SSE event, or the array's next
                      element); the body then ends cleanly. google-genai raises a
                      ServerError (code 503) mid-iteration; google-generativeai's REST
                      transport reads the element as an empty response (no candidates).
    stream-drop       streaming only: the first 2 chunks, then the socket is closed mid-body.
    Any other model answers normally.

Request headers
    x-fake-chunks: N  a streamed text part is exactly N chunks "tok0 ", "tok1 ", ... (thought
                      text stays per word)
    x-fake-parts: J   the candidate's parts are J (a JSON list of Part objects), whatever
                      the body says; streamed as above (text and thought text per word,
                      any other part whole in its own chunk).

Response headers: ``x-request-id: req_fake_<n>`` (n counts replies).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any, Iterator
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fakes._server import DROP_CONNECTION, FakeRequestHandler, JsonReply, LocalFakeServer, Reply, StreamReply
from tests.fakes.openai_server import sample_from_schema, split_words, stream_pieces

TEXT = "Hello from the fake Gemini server."
TOOL_RESULT_TEXT = "The weather is sunny."
THOUGHT_TEXT = "Let me think."
FUNCTION_ARGS: dict[str, Any] = {"city": "Paris"}
MID_STREAM_ERROR_MESSAGE = "fake mid-stream error"
MID_STREAM_ERROR: dict[str, Any] = {"code": 503, "message": MID_STREAM_ERROR_MESSAGE, "status": "UNAVAILABLE"}
FAILING_STREAM_CHUNKS = 2  # stream-error / stream-drop send this many chunks first
PARTS_HEADER = "x-fake-parts"
VERTEX_CREATE_TIME = "2023-11-14T22:13:20.000000Z"  # 1700000000, like the other fakes' "created"
OVERLOADED_MESSAGE = "The model is overloaded. Please try again later."
NO_CONTENTS_MESSAGE = "* GenerateContentRequest.contents: contents is not specified\n"

PROMPT_DETAILS: list[dict[str, Any]] = [{"modality": "TEXT", "tokenCount": 10}]
USAGE: dict[str, Any] = {
    "promptTokenCount": 10,
    "candidatesTokenCount": 6,
    "totalTokenCount": 18,
    "cachedContentTokenCount": 4,
    "thoughtsTokenCount": 2,
    "promptTokensDetails": PROMPT_DETAILS,
}
STREAM_USAGE: dict[str, Any] = {"promptTokenCount": 10, "totalTokenCount": 10, "promptTokensDetails": PROMPT_DETAILS}
VERTEX_USAGE_EXTRA: dict[str, Any] = {"trafficType": "ON_DEMAND"}
COUNT_TOKENS: dict[str, Any] = {"totalTokens": 10, "promptTokensDetails": PROMPT_DETAILS}
VERTEX_BILLABLE_CHARACTERS = 40
EMBEDDING_DIMENSION = 8
EMBEDDING_TOKENS = 5
EMBEDDING_BILLABLE_CHARACTERS = 20

STATUS_NAMES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

GENERATE_METHODS = ("generateContent", "streamGenerateContent")
METHODS = (*GENERATE_METHODS, "countTokens", "embedContent", "batchEmbedContents", "predict")


# --- the server -----------------------------------------------------------------------


class _Handler(FakeRequestHandler):
    def answer(self, headers: dict[str, str], body: Any) -> Reply:
        return route(self.server.owner, self.command, parse_target(self.path), headers, body)

    def bug_reply(self, message: str) -> JsonReply:
        return error_reply(500, message)


class FakeGeminiServer(LocalFakeServer):
    """A fake Gemini API (Developer API and Vertex AI routes) on 127.0.0.1, from a daemon thread."""

    handler_class = _Handler
    thread_name = "fake-gemini"


# --- the wire format of streams ------------------------------------------------------------


@dataclass
class GoogleSseEvent:
    """One ``data:`` event of Google's SSE streams, ended by CRLF CRLF as Google's are."""

    data: dict[str, Any]

    def encode(self) -> bytes:
        return f"data: {json.dumps(self.data)}\r\n\r\n".encode()


@dataclass
class JsonArrayPiece:
    """A piece of a streamed JSON array: an element with the "[" or ",\\r\\n" before it, or
    (data None) the closing "]"."""

    data: dict[str, Any] | None
    first: bool = False

    def encode(self) -> bytes:
        if self.data is None:
            return b"]"
        return ("[" if self.first else ",\r\n").encode() + json.dumps(self.data).encode()


# --- routing and shared behaviour ------------------------------------------------------


@dataclass
class Target:
    """What a request path asks for."""

    method: str | None  # one of METHODS, or None (unknown route)
    model: str = ""  # the model id, without "models/"
    version: str = ""  # v1beta, v1, v1beta1 ...
    vertex: bool = False
    alt_sse: bool = False


_DEVELOPER_PATH = re.compile(
    r"(?:.*?)/(?P<version>v1|v1beta|v1alpha)/(?:models|tunedModels)/(?P<model>[^/:]+):(?P<method>\w+)"
)
_VERTEX_PATH = re.compile(
    r"(?:.*?)/(?P<version>v1|v1beta1)/projects/[^/]+/locations/[^/]+/publishers/google/models/"
    r"(?P<model>[^/:]+):(?P<method>\w+)"
)


def parse_target(request_target: str) -> Target:
    parts = urlsplit(request_target)
    path = unquote(parts.path).rstrip("/")
    alt = parse_qs(parts.query).get("alt", [])
    for pattern, vertex in ((_VERTEX_PATH, True), (_DEVELOPER_PATH, False)):
        match = pattern.fullmatch(path)
        if match and match.group("method") in METHODS:
            return Target(match.group("method"), match.group("model"), match.group("version"), vertex, "sse" in alt)
    return Target(None)


def route(fake: FakeGeminiServer, method: str, target: Target, headers: dict[str, str], body: Any) -> Reply:
    if target.method is None or method != "POST":
        return error_reply(404, "Method not found.")
    if not isinstance(body, dict):
        return error_reply(400, "Invalid JSON payload received.")
    failure = model_error(target)
    if failure is not None:
        return failure
    delay_ms = _slow_delay_ms(target.model)
    if delay_ms:
        fake._sleep(delay_ms / 1000)
    if target.method in GENERATE_METHODS:
        invalid = _invalid_contents(field(body, "contents"))
        if invalid is not None:
            return error_reply(400, invalid)
        return generate(fake, target, headers, body)
    if target.method == "countTokens":
        contents = field(body, "contents") or field(field(body, "generateContentRequest"), "contents")
        invalid = _invalid_contents(contents)
        if invalid is not None:
            return error_reply(400, invalid)
        answer = dict(COUNT_TOKENS)
        if target.vertex:
            answer["totalBillableCharacters"] = VERTEX_BILLABLE_CHARACTERS
        return JsonReply(200, answer)
    return embed(target, body)


def error_reply(status: int, message: str) -> JsonReply:
    """A reply with Google's error body."""
    name = STATUS_NAMES.get(status) or ("FAILED_PRECONDITION" if status < 500 else "INTERNAL")
    return JsonReply(status, {"error": {"code": status, "message": message, "status": name}})


def model_error(target: Target) -> JsonReply | None:
    """The error reply that a missing-model / overloaded-model / error-<status> model asks for, else None."""
    if target.model == "missing-model":
        return error_reply(
            404,
            f"models/{target.model} is not found for API version {target.version}, or is not supported"
            f" for {target.method}. Call ListModels to see the list of available models and their"
            " supported methods.",
        )
    if target.model == "overloaded-model":
        return error_reply(503, OVERLOADED_MESSAGE)
    match = re.fullmatch(r"error-([45]\d\d)", target.model)
    if not match:
        return None
    status = int(match.group(1))
    return error_reply(status, f"fake error {status}")


def _slow_delay_ms(model: str) -> int:
    match = re.fullmatch(r"slow-(\d+)", model)
    return int(match.group(1)) if match else 0


def field(obj: Any, name: str) -> Any:
    """``obj[name]`` by its lowerCamelCase name or its snake_case one (Google's JSON parser takes
    both, and google-genai sends some nested fields snake_case); None when absent or not a dict."""
    if not isinstance(obj, dict):
        return None
    if name in obj:
        return obj[name]
    return obj.get(re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower())


def _invalid_contents(contents: Any) -> str | None:
    """Why these contents are a bad request, or None when they are fine."""
    if not isinstance(contents, list) or not contents:
        return NO_CONTENTS_MESSAGE
    for content in contents:
        for part in field(content, "parts") or []:
            inline = field(part, "inlineData")
            if inline is None:
                continue
            if not field(inline, "mimeType"):
                return "* GenerateContentRequest.contents[].parts[].inline_data.mime_type: mime_type is not specified\n"
            try:
                base64.b64decode(str(inline.get("data", "")), validate=True)
            except (binascii.Error, ValueError):
                return "Invalid value at 'contents[].parts[].inline_data.data' (TYPE_BYTES), Base64 decoding failed"
    return None


# --- generateContent / streamGenerateContent --------------------------------------------------


@dataclass
class ContentPlan:
    parts: list[dict[str, Any]]  # the candidate's parts
    finish_reason: str
    candidate_count: int = 1


def plan_content(body: dict[str, Any], headers: dict[str, str] | None = None) -> ContentPlan:
    """The parts and finish reason of the reply to a generateContent body (and its headers)."""
    config = field(body, "generationConfig")
    finish_reason = "MAX_TOKENS" if field(config, "maxOutputTokens") == 1 else "STOP"
    count = field(config, "candidateCount")
    candidate_count = count if isinstance(count, int) and count > 1 else 1
    scripted = (headers or {}).get(PARTS_HEADER)
    if scripted is not None:
        return ContentPlan(json.loads(scripted), finish_reason, candidate_count)
    parts: list[dict[str, Any]] = []
    if field(field(config, "thinkingConfig"), "includeThoughts"):
        parts.append({"text": THOUGHT_TEXT, "thought": True})
    function_name = _function_to_call(body)
    if function_name is not None:
        parts.append({"functionCall": {"name": function_name, "args": dict(FUNCTION_ARGS)}})
    else:
        parts.append({"text": _reply_text(body)})
    return ContentPlan(parts, finish_reason, candidate_count)


def _declarations(body: dict[str, Any]) -> list[dict[str, Any]]:
    declarations: list[dict[str, Any]] = []
    for tool in field(body, "tools") or []:
        found = field(tool, "functionDeclarations") or []
        declarations.extend(item for item in found if isinstance(item, dict))
    return declarations


def _function_to_call(body: dict[str, Any]) -> str | None:
    declarations = _declarations(body)
    calling = field(field(body, "toolConfig"), "functionCallingConfig")
    if not declarations or field(calling, "mode") == "NONE" or _answers_function_response(body):
        return None
    allowed = field(calling, "allowedFunctionNames") or []
    if field(calling, "mode") == "ANY" and allowed:
        return str(allowed[0])
    return str(declarations[0].get("name", "function"))


def _answers_function_response(body: dict[str, Any]) -> bool:
    """Whether the last content has a functionResponse part."""
    contents = field(body, "contents") or []
    last = contents[-1] if contents else None
    return any(field(part, "functionResponse") is not None for part in field(last, "parts") or [])


def _json_schema(schema: Any) -> Any:
    """Google's OpenAPI-style schema (types "OBJECT", "STRING" ...) as JSON Schema's lower-case types."""
    if isinstance(schema, list):
        return [_json_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: _json_schema(value) for key, value in schema.items()}
    if isinstance(converted.get("type"), str):
        converted["type"] = converted["type"].lower()
    return converted


def _reply_text(body: dict[str, Any]) -> str:
    if _answers_function_response(body):
        return TOOL_RESULT_TEXT
    config = field(body, "generationConfig")
    if field(config, "responseMimeType") == "application/json":
        schema = field(config, "responseJsonSchema") or field(config, "responseSchema")
        return json.dumps(sample_from_schema(_json_schema(schema))) if isinstance(schema, dict) else "{}"
    return TEXT


def _candidates(parts: list[dict[str, Any]], count: int, finish_reason: str | None) -> list[dict[str, Any]]:
    candidates = []
    for index in range(count):
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": [dict(part) for part in parts]}}
        if finish_reason is not None:
            candidate["finishReason"] = finish_reason
        candidate["index"] = index
        candidates.append(candidate)
    return candidates


def response_object(
    target: Target, response_id: str, candidates: list[dict[str, Any]], usage: dict[str, Any]
) -> dict[str, Any]:
    """A GenerateContentResponse."""
    answer: dict[str, Any] = {"candidates": candidates, "usageMetadata": dict(usage)}
    if target.vertex:
        answer["usageMetadata"].update(VERTEX_USAGE_EXTRA)
        answer["createTime"] = VERTEX_CREATE_TIME
    answer["modelVersion"] = target.model
    answer["responseId"] = response_id
    return answer


def generate(fake: FakeGeminiServer, target: Target, headers: dict[str, str], body: dict[str, Any]) -> Reply:
    plan = plan_content(body, headers)
    response_id = f"resp-fake-{fake._next_id('response')}"
    if target.method == "generateContent":
        candidates = _candidates(plan.parts, plan.candidate_count, plan.finish_reason)
        return JsonReply(200, response_object(target, response_id, candidates, USAGE))
    chunks = stream_chunks(target, response_id, plan, headers)
    if target.alt_sse:
        return StreamReply(_sse_events(chunks, target.model))
    return StreamReply(_array_pieces(chunks, target.model), "application/json; charset=UTF-8")


def stream_pieces_of(part: dict[str, Any], headers: dict[str, str]) -> list[dict[str, Any]]:
    """The parts that stream one part: text (thought or not) per word, anything else whole."""
    if isinstance(part.get("text"), str):
        words = split_words(part["text"]) if part.get("thought") else stream_pieces(part["text"], headers)
        return [{**part, "text": word} for word in words]
    return [dict(part)]


def stream_chunks(target: Target, response_id: str, plan: ContentPlan, headers: dict[str, str]) -> list[dict[str, Any]]:
    """The GenerateContentResponse chunks of a streamed reply, in order."""
    pieces = [piece for part in plan.parts for piece in stream_pieces_of(part, headers)] or [{"text": ""}]
    chunks = []
    for position, piece in enumerate(pieces):
        last = position == len(pieces) - 1
        candidates = _candidates([piece], plan.candidate_count, plan.finish_reason if last else None)
        chunks.append(response_object(target, response_id, candidates, USAGE if last else STREAM_USAGE))
    return chunks


def _failing(chunks: list[dict[str, Any]], model: str) -> tuple[list[dict[str, Any]], bool]:
    """(the chunks to send, whether a stream-error / stream-drop failure follows them)."""
    if model not in ("stream-error", "stream-drop"):
        return chunks, False
    return chunks[:FAILING_STREAM_CHUNKS], True


def _sse_events(chunks: list[dict[str, Any]], model: str) -> Iterator[Any]:
    sent, fails = _failing(chunks, model)
    for chunk in sent:
        yield GoogleSseEvent(chunk)
    if fails:
        yield DROP_CONNECTION if model == "stream-drop" else GoogleSseEvent({"error": dict(MID_STREAM_ERROR)})


def _array_pieces(chunks: list[dict[str, Any]], model: str) -> Iterator[Any]:
    sent, fails = _failing(chunks, model)  # never empty: a stream has at least one chunk
    for position, chunk in enumerate(sent):
        yield JsonArrayPiece(chunk, first=position == 0)
    if fails and model == "stream-drop":
        yield DROP_CONNECTION
        return
    if fails:
        yield JsonArrayPiece({"error": dict(MID_STREAM_ERROR)})
    yield JsonArrayPiece(None)


# --- embeddings ---------------------------------------------------------------------------


def embedding_values(index: int, dimension: int) -> list[float]:
    """The fake's embedding of input ``index``: [index + j / 8 for j in range(dimension)]."""
    return [index + j / 8 for j in range(dimension)]


def _dimension(*sources: Any) -> int:
    for source in sources:
        if isinstance(source, dict):
            for place in (source, field(source, "embedContentConfig")):
                value = field(place, "outputDimensionality")
                if isinstance(value, int) and value > 0:
                    return value
    return EMBEDDING_DIMENSION


def embed(target: Target, body: dict[str, Any]) -> JsonReply:
    vertex_usage = {"promptTokenCount": EMBEDDING_TOKENS, "totalTokenCount": EMBEDDING_TOKENS}
    if target.method == "embedContent":
        if not field(body, "content"):
            return error_reply(400, "* EmbedContentRequest.content: content is not specified\n")
        answer: dict[str, Any] = {"embedding": {"values": embedding_values(0, _dimension(body))}}
        if target.vertex:
            answer.update({"usageMetadata": vertex_usage, "truncated": False})
        return JsonReply(200, answer)
    if target.method == "batchEmbedContents":
        requests = [request for request in field(body, "requests") or [] if isinstance(request, dict)]
        if not requests:
            return error_reply(400, "* BatchEmbedContentsRequest.requests: requests is not specified\n")
        embeddings = [{"values": embedding_values(i, _dimension(request, body))} for i, request in enumerate(requests)]
        answer = {"embeddings": embeddings}
        if target.vertex:
            total = EMBEDDING_TOKENS * len(requests)
            answer["usageMetadata"] = {"promptTokenCount": total, "totalTokenCount": total}
        return JsonReply(200, answer)
    instances = field(body, "instances") or []  # :predict
    if not instances:
        return error_reply(400, "Invalid request: instances is empty.")
    dimension = _dimension(field(body, "parameters"))
    statistics = {"truncated": False, "token_count": EMBEDDING_TOKENS}
    predictions = [
        {"embeddings": {"values": embedding_values(i, dimension), "statistics": dict(statistics)}}
        for i in range(len(instances))
    ]
    metadata = {"billableCharacterCount": EMBEDDING_BILLABLE_CHARACTERS * len(instances)}
    return JsonReply(200, {"predictions": predictions, "metadata": metadata})
