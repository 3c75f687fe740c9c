"""The fake Gemini server driven by the real, uninstrumented ``google-genai`` SDK.

Covers the Gemini Developer API and Vertex AI clients, sync and ``client.aio``. The tests
of the older ``google-generativeai`` SDK (its REST transport) are skipped where it is not
installed: it pins protobuf < 6, so it does not share the ``latest`` environment. The whole
module is skipped without ``google-genai``.
"""

from __future__ import annotations

import base64
import http.client
import importlib
import json
import re
import time
import warnings
from typing import List

import pytest

genai = pytest.importorskip("google.genai")

import google.oauth2.credentials  # noqa: E402
from google.genai import errors, types  # noqa: E402
from pydantic import BaseModel  # noqa: E402

from tests.fakes.gemini_server import (  # noqa: E402
    COUNT_TOKENS,
    FUNCTION_ARGS,
    MID_STREAM_ERROR_MESSAGE,
    OVERLOADED_MESSAGE,
    STREAM_USAGE,
    TEXT,
    THOUGHT_TEXT,
    TOOL_RESULT_TEXT,
    USAGE,
    VERTEX_BILLABLE_CHARACTERS,
    FakeGeminiServer,
)
from tests.unit.fake_server_checks import started_then_stopped  # noqa: E402

API_KEY = "fake-key"
MODEL = "gemini-2.5-flash"
PROJECT, LOCATION = "p", "us-central1"
VERTEX_PREFIX = f"/v1beta1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models"
WORDS = ["Hello ", "from ", "the ", "fake ", "Gemini ", "server."]  # TEXT per word
WEATHER = types.FunctionDeclaration(
    name="get_weather",
    description="Weather for a city",
    parameters_json_schema={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
TIME = types.FunctionDeclaration(name="get_time", description="The time")
NO_AFC = types.AutomaticFunctionCallingConfig(disable=True)
EXPECTED_USAGE = {
    "prompt_token_count": 10,
    "candidates_token_count": 6,
    "total_token_count": 18,
    "cached_content_token_count": 4,
    "thoughts_token_count": 2,
}
ERROR_CASES = [
    ("missing-model", errors.ClientError, 404, "NOT_FOUND"),
    ("overloaded-model", errors.ServerError, 503, "UNAVAILABLE"),
    ("error-400", errors.ClientError, 400, "INVALID_ARGUMENT"),
    ("error-403", errors.ClientError, 403, "PERMISSION_DENIED"),
    ("error-429", errors.ClientError, 429, "RESOURCE_EXHAUSTED"),
    ("error-500", errors.ServerError, 500, "INTERNAL"),
]


class City(BaseModel):
    name: str
    population: int
    tags: List[str]


def _usage(usage: types.GenerateContentResponseUsageMetadata) -> dict[str, object]:
    return {name: getattr(usage, name) for name in EXPECTED_USAGE}


def _config(**fields: object) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(**fields)


def _headers(**headers: str) -> types.HttpOptions:
    """Per-request HTTP options that add these headers (names with "_" as "-")."""
    return types.HttpOptions(headers={name.replace("_", "-"): value for name, value in headers.items()})


def _transport_errors() -> tuple[type[BaseException], ...]:
    """What a dropped stream or a timeout raises: the SDK lets the transport's errors escape."""
    found: list[type[BaseException]] = [TimeoutError]
    for module, name in (("httpx", "TransportError"), ("httpx2", "TransportError"), ("aiohttp", "ClientError")):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except ImportError:
            pass
    return tuple(found)


@pytest.fixture
def srv():
    with FakeGeminiServer() as server:
        yield server


@pytest.fixture
def client(srv):
    return genai.Client(api_key=API_KEY, http_options=types.HttpOptions(base_url=srv.url))


@pytest.fixture
def vertex(srv):
    credentials = google.oauth2.credentials.Credentials(token="fake-token")
    return genai.Client(
        vertexai=True,
        project=PROJECT,
        location=LOCATION,
        credentials=credentials,
        http_options=types.HttpOptions(base_url=srv.url),
    )


# --- server lifecycle and the recorded requests -------------------------------------------


def test_start_stop():
    with started_then_stopped(FakeGeminiServer):
        pass


def test_requests_are_recorded(srv, client):
    client.models.generate_content(model=MODEL, contents="Say hello", config=_config(system_instruction="Be brief."))
    [request] = srv.requests
    assert request["method"] == "POST"
    # google-genai 3.x defaults to the v1 API, older versions to v1beta.
    assert re.fullmatch(rf"/v1(beta)?/models/{MODEL}:generateContent", request["path"])
    assert request["headers"]["x-goog-api-key"] == API_KEY
    assert request["headers"]["content-type"] == "application/json"
    assert all(name == name.lower() for name in request["headers"])
    assert request["body"]["contents"] == [{"role": "user", "parts": [{"text": "Say hello"}]}]
    assert request["body"]["systemInstruction"] == {"role": "user", "parts": [{"text": "Be brief."}]}


@pytest.mark.parametrize("api_version", ["v1beta", "v1alpha", "v1"])
def test_api_versions(srv, api_version):
    client = genai.Client(api_key=API_KEY, http_options=types.HttpOptions(base_url=srv.url, api_version=api_version))
    assert client.models.generate_content(model=MODEL, contents="Say hello").text == TEXT
    assert srv.requests[-1]["path"] == f"/{api_version}/models/{MODEL}:generateContent"


def test_base_url_from_the_environment(srv, monkeypatch):
    """How a client that another library builds (e.g. Google ADK's) reaches the fake."""
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", srv.url)
    monkeypatch.setenv("GOOGLE_API_KEY", API_KEY)
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_GENAI_USE_VERTEXAI", raising=False)
    assert genai.Client().models.generate_content(model=MODEL, contents="Say hello").text == TEXT
    assert srv.requests[-1]["headers"]["x-goog-api-key"] == API_KEY


def test_unknown_route_and_method_are_404(srv):
    connection = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        for method, path in (("POST", f"/v1beta/models/{MODEL}:computeTokens"), ("GET", f"/v1beta/models/{MODEL}")):
            connection.request(method, path, "{}", {"Content-Type": "application/json"})
            response = connection.getresponse()
            assert response.status == 404
            assert json.loads(response.read()) == {
                "error": {"code": 404, "message": "Method not found.", "status": "NOT_FOUND"}
            }
    finally:
        connection.close()


# --- generate_content ---------------------------------------------------------------------------


def test_generate_content_values(client):
    response = client.models.generate_content(model=MODEL, contents="Say hello")
    assert response.text == TEXT
    [candidate] = response.candidates
    assert candidate.content.role == "model"
    assert [(part.text, part.thought) for part in candidate.content.parts] == [(TEXT, None)]
    assert (candidate.finish_reason, candidate.index) == (types.FinishReason.STOP, 0)
    assert _usage(response.usage_metadata) == EXPECTED_USAGE
    assert [(d.modality, d.token_count) for d in response.usage_metadata.prompt_tokens_details] == [
        (types.MediaModality.TEXT, 10)
    ]
    assert (response.response_id, response.model_version) == ("resp-fake-1", MODEL)
    assert response.create_time is None  # Vertex only
    assert client.models.generate_content(model=MODEL, contents="Again").response_id == "resp-fake-2"


def test_request_id_header(client):
    response = client.models.generate_content(model=MODEL, contents="Say hello")
    assert re.fullmatch(r"req_fake_\d+", response.sdk_http_response.headers["x-request-id"])


def test_one_token_limit_stops_with_max_tokens(srv, client):
    response = client.models.generate_content(model=MODEL, contents="Say hello", config=_config(max_output_tokens=1))
    assert response.candidates[0].finish_reason == types.FinishReason.MAX_TOKENS
    assert response.text == TEXT
    assert srv.requests[-1]["body"]["generationConfig"] == {"maxOutputTokens": 1}


def test_candidate_count(client):
    response = client.models.generate_content(model=MODEL, contents="Say hello", config=_config(candidate_count=2))
    assert [(c.index, c.content.parts[0].text, c.finish_reason) for c in response.candidates] == [
        (0, TEXT, types.FinishReason.STOP),
        (1, TEXT, types.FinishReason.STOP),
    ]


def test_thought_part_first_when_thoughts_are_included(client):
    thinking = types.ThinkingConfig(include_thoughts=True, thinking_budget=1024)
    config = _config(thinking_config=thinking)
    response = client.models.generate_content(model=MODEL, contents="Say hello", config=config)
    assert [(part.text, part.thought) for part in response.candidates[0].content.parts] == [
        (THOUGHT_TEXT, True),
        (TEXT, None),
    ]
    assert response.text == TEXT  # the SDK leaves thoughts out of .text
    hidden = types.ThinkingConfig(thinking_budget=1024)
    response = client.models.generate_content(model=MODEL, contents="Say hello", config=_config(thinking_config=hidden))
    assert [part.text for part in response.candidates[0].content.parts] == [TEXT]
    assert response.usage_metadata.thoughts_token_count == 2


@pytest.mark.parametrize("spelling", ["camel", "snake"])
def test_request_fields_in_either_spelling(srv, spelling):
    """Google's JSON parser takes lowerCamelCase and snake_case field names; so does the fake."""
    config = {"thinkingConfig": {"includeThoughts": True}, "maxOutputTokens": 1}
    if spelling == "snake":
        config = {"thinking_config": {"include_thoughts": True}, "max_output_tokens": 1}
    body = {"contents": [{"role": "user", "parts": [{"text": "x"}]}], "generationConfig": config}
    connection = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        connection.request("POST", f"/v1beta/models/{MODEL}:generateContent", json.dumps(body))
        [candidate] = json.loads(connection.getresponse().read())["candidates"]
    finally:
        connection.close()
    assert candidate["content"]["parts"] == [{"text": THOUGHT_TEXT, "thought": True}, {"text": TEXT}]
    assert candidate["finishReason"] == "MAX_TOKENS"


def test_inline_and_file_data_parts_are_accepted(srv, client):
    image = types.Part.from_bytes(data=b"\x89PNG fake", mime_type="image/png")
    document = types.Part.from_uri(file_uri="gs://bucket/doc.pdf", mime_type="application/pdf")
    response = client.models.generate_content(model=MODEL, contents=[image, document, "Describe these."])
    assert response.text == TEXT
    [content] = srv.requests[-1]["body"]["contents"]
    image_part, document_part, text_part = content["parts"]
    # google-genai sends these nested fields snake_case; the fake reads both spellings.
    assert image_part == {"inlineData": {"mime_type": "image/png", "data": base64.b64encode(b"\x89PNG fake").decode()}}
    assert document_part == {"fileData": {"mime_type": "application/pdf", "file_uri": "gs://bucket/doc.pdf"}}
    assert text_part == {"text": "Describe these."}


def test_bad_requests_are_400(srv):
    """No contents, or inline data without a mime type or with data that is not base64 (the SDK
    itself refuses empty contents, so these go over plain HTTP)."""
    path = f"/v1beta/models/{MODEL}:generateContent"
    bad_bodies = [
        ({}, "contents is not specified"),
        ({"contents": []}, "contents is not specified"),
        ({"contents": [{"role": "user", "parts": [{"inlineData": {"data": "AAAA"}}]}]}, "mime_type"),
        (
            {"contents": [{"role": "user", "parts": [{"inlineData": {"mimeType": "image/png", "data": "no!"}}]}]},
            "Base64 decoding failed",
        ),
    ]
    connection = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        for body, message in bad_bodies:
            connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
            response = connection.getresponse()
            error = json.loads(response.read())["error"]
            assert (response.status, error["code"], error["status"]) == (400, 400, "INVALID_ARGUMENT")
            assert message in error["message"]
        connection.request("POST", path, "not json", {"Content-Type": "application/json"})
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())["error"]["status"]) == (400, "INVALID_ARGUMENT")
    finally:
        connection.close()


def test_json_mode_answers_a_sample_of_the_schema(srv, client):
    config = _config(response_mime_type="application/json", response_schema=City)
    response = client.models.generate_content(model=MODEL, contents="A city", config=config)
    assert response.parsed == City(name="x", population=1, tags=[])
    assert json.loads(response.text) == {"name": "x", "population": 1, "tags": []}
    google_schema = {
        "type": "OBJECT",
        "properties": {"city": {"type": "STRING"}, "temperature": {"type": "NUMBER"}},
    }
    config = _config(response_mime_type="application/json", response_schema=google_schema)
    assert json.loads(client.models.generate_content(model=MODEL, contents="x", config=config).text) == {
        "city": "x",
        "temperature": 1.5,
    }
    config = _config(response_mime_type="application/json")
    assert client.models.generate_content(model=MODEL, contents="x", config=config).text == "{}"


async def test_async_generate_content(client):
    response = await client.aio.models.generate_content(model=MODEL, contents="Say hello")
    assert (response.text, response.response_id) == (TEXT, "resp-fake-1")
    assert _usage(response.usage_metadata) == EXPECTED_USAGE


# --- streaming ----------------------------------------------------------------------------------


def test_stream_chunks(srv, client):
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="Say hello"))
    assert re.fullmatch(rf"/v1(beta)?/models/{MODEL}:streamGenerateContent\?alt=sse", srv.requests[-1]["path"])
    assert [chunk.text for chunk in chunks] == WORDS
    assert [chunk.candidates[0].finish_reason for chunk in chunks] == [None] * 5 + [types.FinishReason.STOP]
    assert {chunk.response_id for chunk in chunks} == {"resp-fake-1"}
    assert {chunk.model_version for chunk in chunks} == {MODEL}
    for chunk in chunks[:-1]:
        assert chunk.usage_metadata.prompt_token_count == STREAM_USAGE["promptTokenCount"]
        assert chunk.usage_metadata.total_token_count == STREAM_USAGE["totalTokenCount"]
        assert chunk.usage_metadata.candidates_token_count is None
    assert _usage(chunks[-1].usage_metadata) == EXPECTED_USAGE


def test_stream_forced_chunk_count(srv, client):
    config = _config(http_options=_headers(x_fake_chunks="3"))
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="Say hello", config=config))
    assert [chunk.text for chunk in chunks] == ["tok0 ", "tok1 ", "tok2 "]
    assert srv.requests[-1]["headers"]["x-fake-chunks"] == "3"
    config = _config(http_options=_headers(x_fake_chunks="0"))
    [chunk] = list(client.models.generate_content_stream(model=MODEL, contents="Say hello", config=config))
    assert chunk.candidates[0].content.parts[0].text == ""
    assert chunk.candidates[0].finish_reason == types.FinishReason.STOP
    assert _usage(chunk.usage_metadata) == EXPECTED_USAGE


def test_stream_thoughts_and_function_call(client):
    thinking = types.ThinkingConfig(include_thoughts=True)
    config = _config(thinking_config=thinking)
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="x", config=config))
    parts = [chunk.candidates[0].content.parts[0] for chunk in chunks]
    assert [(part.text, part.thought) for part in parts] == [
        ("Let ", True),
        ("me ", True),
        ("think.", True),
        *[(word, None) for word in WORDS],
    ]
    tools = [types.Tool(function_declarations=[WEATHER])]
    config = _config(tools=tools, automatic_function_calling=NO_AFC)
    [chunk] = list(client.models.generate_content_stream(model=MODEL, contents="x", config=config))
    assert (chunk.function_calls[0].name, chunk.function_calls[0].args) == ("get_weather", FUNCTION_ARGS)
    assert chunk.candidates[0].finish_reason == types.FinishReason.STOP


async def test_async_stream(client):
    stream = await client.aio.models.generate_content_stream(model=MODEL, contents="Say hello")
    chunks = [chunk async for chunk in stream]
    assert [chunk.text for chunk in chunks] == WORDS
    assert _usage(chunks[-1].usage_metadata) == EXPECTED_USAGE


# --- scripted parts (x-fake-parts) -------------------------------------------------------------------


SCRIPTED_PARTS = [
    {"text": "Hmm, ok.", "thought": True},
    {"executableCode": {"language": "PYTHON", "code": "print(1)"}},
    {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "1"}},
    {"inlineData": {"mimeType": "image/png", "data": base64.b64encode(b"img").decode()}},
    {"text": "Done here."},
]


def test_scripted_parts(client):
    config = _config(http_options=_headers(x_fake_parts=json.dumps(SCRIPTED_PARTS)))
    response = client.models.generate_content(model=MODEL, contents="x", config=config)
    parts = response.candidates[0].content.parts
    assert parts[0].thought is True and parts[0].text == "Hmm, ok."
    assert parts[1].executable_code.code == "print(1)"
    assert parts[2].code_execution_result.output == "1"
    assert (parts[3].inline_data.mime_type, parts[3].inline_data.data) == ("image/png", b"img")
    assert parts[4].text == "Done here."
    chunks = list(client.models.generate_content_stream(model=MODEL, contents="x", config=config))
    streamed = [chunk.candidates[0].content.parts[0] for chunk in chunks]
    assert [part.text for part in streamed] == ["Hmm, ", "ok.", None, None, None, "Done ", "here."]
    assert streamed[4].inline_data.data == b"img"


# --- function calling ---------------------------------------------------------------------------


def test_function_call(srv, client):
    config = _config(tools=[types.Tool(function_declarations=[WEATHER, TIME])], automatic_function_calling=NO_AFC)
    response = client.models.generate_content(model=MODEL, contents="Weather in Paris?", config=config)
    [call] = response.function_calls
    assert (call.name, call.args) == ("get_weather", FUNCTION_ARGS)
    assert response.candidates[0].finish_reason == types.FinishReason.STOP
    assert response.text is None
    declarations = srv.requests[-1]["body"]["tools"][0]["functionDeclarations"]
    assert [declaration["name"] for declaration in declarations] == ["get_weather", "get_time"]


def test_answer_after_function_response(client):
    config = _config(tools=[types.Tool(function_declarations=[WEATHER])], automatic_function_calling=NO_AFC)
    contents = [
        types.Content(role="user", parts=[types.Part.from_text(text="Weather in Paris?")]),
        types.Content(role="model", parts=[types.Part.from_function_call(name="get_weather", args=FUNCTION_ARGS)]),
        types.Content(
            role="user", parts=[types.Part.from_function_response(name="get_weather", response={"result": "sunny"})]
        ),
    ]
    response = client.models.generate_content(model=MODEL, contents=contents, config=config)
    assert response.text == TOOL_RESULT_TEXT
    assert response.function_calls is None


def test_function_calling_modes(client):
    tools = [types.Tool(function_declarations=[WEATHER, TIME])]
    forced = types.ToolConfig(
        function_calling_config=types.FunctionCallingConfig(mode="ANY", allowed_function_names=["get_time"])
    )
    config = _config(tools=tools, tool_config=forced, automatic_function_calling=NO_AFC)
    assert client.models.generate_content(model=MODEL, contents="x", config=config).function_calls[0].name == "get_time"
    none = types.ToolConfig(function_calling_config=types.FunctionCallingConfig(mode="NONE"))
    config = _config(tools=tools, tool_config=none, automatic_function_calling=NO_AFC)
    assert client.models.generate_content(model=MODEL, contents="x", config=config).text == TEXT


def test_automatic_function_calling(srv, client):
    calls = []

    def get_weather(city: str) -> str:
        """Weather for a city."""
        calls.append(city)
        return "sunny"

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the SDK recommends AFC through chats
        response = client.models.generate_content(
            model=MODEL, contents="Weather in Paris?", config=_config(tools=[get_weather])
        )
    assert calls == ["Paris"]
    assert response.text == TOOL_RESULT_TEXT
    assert len(srv.requests) == 2
    last_contents = srv.requests[-1]["body"]["contents"]
    assert last_contents[1] == {
        "role": "model",
        "parts": [{"functionCall": {"name": "get_weather", "args": FUNCTION_ARGS}}],
    }
    assert last_contents[2] == {
        "role": "user",
        "parts": [{"functionResponse": {"name": "get_weather", "response": {"result": "sunny"}}}],
    }
    assert len(response.automatic_function_calling_history) == 3


async def test_async_automatic_function_calling_in_a_chat(srv, client):
    async def get_weather(city: str) -> str:
        """Weather for a city."""
        return f"sunny in {city}"

    chat = client.aio.chats.create(model=MODEL, config=_config(tools=[get_weather]))
    response = await chat.send_message("Weather in Paris?")
    assert response.text == TOOL_RESULT_TEXT
    assert len(srv.requests) == 2
    assert srv.requests[-1]["body"]["contents"][-1]["parts"][0]["functionResponse"]["response"] == {
        "result": "sunny in Paris"
    }


# --- chats --------------------------------------------------------------------------------------


def test_chat_send_message_and_stream(srv, client):
    chat = client.chats.create(model=MODEL)
    assert chat.send_message("Hi").text == TEXT
    assert [chunk.text for chunk in chat.send_message_stream("Again")] == WORDS
    assert srv.requests[-1]["body"]["contents"] == [
        {"role": "user", "parts": [{"text": "Hi"}]},
        {"role": "model", "parts": [{"text": TEXT}]},
        {"role": "user", "parts": [{"text": "Again"}]},
    ]
    # The SDK keeps each streamed chunk's content as its own history entry.
    history = [(content.role, content.parts[0].text) for content in chat.get_history()]
    assert history == [("user", "Hi"), ("model", TEXT), ("user", "Again"), *[("model", word) for word in WORDS]]


async def test_async_chat(client):
    chat = client.aio.chats.create(model=MODEL)
    assert (await chat.send_message("Hi")).text == TEXT
    assert [chunk.text async for chunk in await chat.send_message_stream("Again")] == WORDS


# --- embeddings and count_tokens ------------------------------------------------------------------


def test_embed_content(srv, client):
    response = client.models.embed_content(model="gemini-embedding-001", contents=["one", "two"])
    assert re.fullmatch(r"/v1(beta)?/models/gemini-embedding-001:batchEmbedContents", srv.requests[-1]["path"])
    assert [embedding.values for embedding in response.embeddings] == [
        [j / 8 for j in range(8)],
        [1 + j / 8 for j in range(8)],
    ]
    config = types.EmbedContentConfig(output_dimensionality=3, task_type="RETRIEVAL_DOCUMENT")
    response = client.models.embed_content(model="gemini-embedding-001", contents="one", config=config)
    assert [embedding.values for embedding in response.embeddings] == [[0.0, 0.125, 0.25]]
    [request] = srv.requests[-1]["body"]["requests"]
    assert (request["outputDimensionality"], request["taskType"]) == (3, "RETRIEVAL_DOCUMENT")


async def test_async_embed_content(client):
    response = await client.aio.models.embed_content(model="gemini-embedding-001", contents="one")
    assert response.embeddings[0].values == [j / 8 for j in range(8)]


def test_count_tokens(srv, client):
    response = client.models.count_tokens(model=MODEL, contents="Say hello")
    assert response.total_tokens == COUNT_TOKENS["totalTokens"]
    assert re.fullmatch(rf"/v1(beta)?/models/{MODEL}:countTokens", srv.requests[-1]["path"])
    assert srv.requests[-1]["body"]["contents"] == [{"role": "user", "parts": [{"text": "Say hello"}]}]


# --- errors, slowness, broken streams ------------------------------------------------------------


@pytest.mark.parametrize(("model", "error_class", "code", "status"), ERROR_CASES)
def test_error_models(srv, client, model, error_class, code, status):
    with pytest.raises(error_class) as caught:
        client.models.generate_content(model=model, contents="x")
    error = caught.value
    assert (error.code, error.status) == (code, status)
    if model == "missing-model":
        assert error.message == (
            f"models/missing-model is not found for API version {srv.requests[-1]['path'].split('/')[1]}, or is"
            " not supported for generateContent. Call ListModels to see the list of available models and"
            " their supported methods."
        )
    elif model == "overloaded-model":
        assert error.message == OVERLOADED_MESSAGE
    else:
        assert error.message == f"fake error {code}"
    assert error.details == {"error": {"code": code, "message": error.message, "status": status}}


def test_error_models_on_every_method(client):
    with pytest.raises(errors.ClientError) as caught:
        list(client.models.generate_content_stream(model="missing-model", contents="x"))
    assert caught.value.code == 404
    with pytest.raises(errors.ServerError):
        client.models.embed_content(model="overloaded-model", contents="x")
    with pytest.raises(errors.ClientError):
        client.models.count_tokens(model="error-400", contents="x")


async def test_async_error_model(client):
    with pytest.raises(errors.ClientError) as caught:
        await client.aio.models.generate_content(model="error-429", contents="x")
    assert (caught.value.code, caught.value.status) == (429, "RESOURCE_EXHAUSTED")


def test_slow_model_answers_normally(client):
    started = time.monotonic()
    response = client.models.generate_content(model="slow-100", contents="x")
    assert time.monotonic() - started >= 0.1
    assert (response.model_version, response.text) == ("slow-100", TEXT)


def test_timeout(client):
    config = _config(http_options=types.HttpOptions(timeout=200))  # milliseconds
    with pytest.raises(_transport_errors()):
        client.models.generate_content(model="slow-2000", contents="x", config=config)
    assert client.models.generate_content(model=MODEL, contents="x").text == TEXT  # the pool recovers


def test_stream_error_raises_mid_iteration(client):
    received = []
    with pytest.raises(errors.ServerError) as caught:
        for chunk in client.models.generate_content_stream(model="stream-error", contents="x"):
            received.append(chunk.text)
    assert received == WORDS[:2]
    error = caught.value
    assert (error.code, error.status, error.message) == (503, "UNAVAILABLE", MID_STREAM_ERROR_MESSAGE)


async def test_async_stream_error(client):
    received = []
    with pytest.raises(errors.ServerError, match=MID_STREAM_ERROR_MESSAGE):
        async for chunk in await client.aio.models.generate_content_stream(model="stream-error", contents="x"):
            received.append(chunk.text)
    assert received == WORDS[:2]


def test_stream_drop_raises_a_transport_error(client):
    received = []
    with pytest.raises(_transport_errors()):
        for chunk in client.models.generate_content_stream(model="stream-drop", contents="x"):
            received.append(chunk.text)
    assert received == WORDS[:2]
    assert client.models.generate_content(model=MODEL, contents="x").text == TEXT


async def test_async_stream_drop(client):
    received = []
    with pytest.raises(_transport_errors()):
        async for chunk in await client.aio.models.generate_content_stream(model="stream-drop", contents="x"):
            received.append(chunk.text)
    assert received == WORDS[:2]


# --- Vertex AI ----------------------------------------------------------------------------------


def test_vertex_generate_content(srv, vertex):
    response = vertex.models.generate_content(model=MODEL, contents="Say hello")
    request = srv.requests[-1]
    assert request["path"] == f"{VERTEX_PREFIX}/{MODEL}:generateContent"
    assert request["headers"]["authorization"] == "Bearer fake-token"
    assert "x-goog-api-key" not in request["headers"]
    assert (response.text, response.response_id, response.model_version) == (TEXT, "resp-fake-1", MODEL)
    assert _usage(response.usage_metadata) == EXPECTED_USAGE
    assert response.usage_metadata.traffic_type == types.TrafficType.ON_DEMAND
    assert response.create_time.isoformat() == "2023-11-14T22:13:20+00:00"


def test_vertex_stream_and_chat(srv, vertex):
    chunks = list(vertex.models.generate_content_stream(model=MODEL, contents="Say hello"))
    assert srv.requests[-1]["path"] == f"{VERTEX_PREFIX}/{MODEL}:streamGenerateContent?alt=sse"
    assert [chunk.text for chunk in chunks] == WORDS
    assert _usage(chunks[-1].usage_metadata) == EXPECTED_USAGE
    assert vertex.chats.create(model=MODEL).send_message("Hi").text == TEXT


async def test_vertex_async(vertex):
    response = await vertex.aio.models.generate_content(model=MODEL, contents="Say hello")
    assert response.text == TEXT
    stream = await vertex.aio.models.generate_content_stream(model=MODEL, contents="Say hello")
    assert [chunk.text async for chunk in stream] == WORDS


def test_vertex_embeddings_by_model(srv, vertex):
    """Vertex embeds with :predict, except Gemini models: :embedContent, or :batchEmbedContents for several."""
    response = vertex.models.embed_content(
        model="text-embedding-005", contents=["one", "two"], config=types.EmbedContentConfig(output_dimensionality=2)
    )
    assert srv.requests[-1]["path"] == f"{VERTEX_PREFIX}/text-embedding-005:predict"
    assert srv.requests[-1]["body"] == {
        "instances": [{"content": "one"}, {"content": "two"}],
        "parameters": {"outputDimensionality": 2},
    }
    assert [embedding.values for embedding in response.embeddings] == [[0.0, 0.125], [1.0, 1.125]]
    assert [embedding.statistics.token_count for embedding in response.embeddings] == [5, 5]
    assert response.metadata.billable_character_count == 40

    response = vertex.models.embed_content(model="gemini-embedding-001", contents="one")
    assert srv.requests[-1]["path"] == f"{VERTEX_PREFIX}/gemini-embedding-001:embedContent"
    assert response.embeddings[0].values == [j / 8 for j in range(8)]
    assert response.usage_metadata.prompt_token_count == 5

    response = vertex.models.embed_content(model="gemini-embedding-001", contents=["one", "two"])
    assert srv.requests[-1]["path"] == f"{VERTEX_PREFIX}/gemini-embedding-001:batchEmbedContents"
    assert [embedding.values[0] for embedding in response.embeddings] == [0.0, 1.0]


def test_vertex_count_tokens_and_errors(srv, vertex):
    response = vertex.models.count_tokens(model=MODEL, contents="Say hello")
    assert srv.requests[-1]["path"] == f"{VERTEX_PREFIX}/{MODEL}:countTokens"
    assert response.total_tokens == COUNT_TOKENS["totalTokens"]
    assert srv.requests[-1]["body"]["contents"] == [{"role": "user", "parts": [{"text": "Say hello"}]}]
    with pytest.raises(errors.ClientError) as caught:
        vertex.models.generate_content(model="missing-model", contents="x")
    assert "not found for API version v1beta1" in caught.value.message


# --- the wire format, read with a plain HTTP/1.1 client ----------------------------------------


def _post(connection: http.client.HTTPConnection, path: str, body: dict) -> http.client.HTTPResponse:
    connection.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
    return connection.getresponse()


def test_wire_format_over_one_keep_alive_connection(srv):
    request = {"contents": [{"role": "user", "parts": [{"text": "Say hello"}]}]}
    connection = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        response = _post(connection, f"/v1beta/models/{MODEL}:generateContent", request)
        payload = response.read()
        assert response.status == 200
        assert response.getheader("Content-Type") == "application/json"
        assert int(response.getheader("Content-Length")) == len(payload)
        assert json.loads(payload) == {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": TEXT}]}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": USAGE,
            "modelVersion": MODEL,
            "responseId": "resp-fake-1",
        }

        response = _post(connection, f"/v1beta/models/{MODEL}:streamGenerateContent?alt=sse", request)
        raw = response.read().decode()
        assert response.getheader("Content-Type") == "text/event-stream"
        assert response.getheader("Transfer-Encoding") == "chunked"
        assert raw.endswith("\r\n\r\n")
        events = raw[: -len("\r\n\r\n")].split("\r\n\r\n")
        assert all(event.startswith("data: {") for event in events)
        chunks = [json.loads(event[len("data: ") :]) for event in events]
        assert [chunk["candidates"][0]["content"]["parts"][0]["text"] for chunk in chunks] == WORDS
        assert [chunk["usageMetadata"] for chunk in chunks] == [STREAM_USAGE] * 5 + [USAGE]
        assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
        assert "finishReason" not in chunks[0]["candidates"][0]

        # Without alt=sse: the JSON array form.
        response = _post(connection, f"/v1beta/models/{MODEL}:streamGenerateContent", request)
        raw = response.read().decode()
        assert response.getheader("Content-Type") == "application/json; charset=UTF-8"
        assert raw.startswith("[{") and raw.endswith("}]") and raw.count(",\r\n{") == 5
        assert [chunk["candidates"][0]["content"]["parts"][0]["text"] for chunk in json.loads(raw)] == WORDS

        response = _post(connection, "/v1beta/models/stream-error:streamGenerateContent", request)
        chunks = json.loads(response.read())
        assert len(chunks) == 3
        assert chunks[-1] == {"error": {"code": 503, "message": MID_STREAM_ERROR_MESSAGE, "status": "UNAVAILABLE"}}

        response = _post(connection, f"{VERTEX_PREFIX}/{MODEL}:generateContent", request)
        answer = json.loads(response.read())
        assert answer["createTime"] == "2023-11-14T22:13:20.000000Z"
        assert answer["usageMetadata"] == {**USAGE, "trafficType": "ON_DEMAND"}

        response = _post(connection, f"{VERTEX_PREFIX}/{MODEL}:countTokens", request)
        assert json.loads(response.read()) == {**COUNT_TOKENS, "totalBillableCharacters": VERTEX_BILLABLE_CHARACTERS}
    finally:
        connection.close()
    assert len(srv.requests) == 6


# --- google-generativeai (the older SDK), REST transport --------------------------------------------


@pytest.fixture
def legacy(srv):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "support for google.generativeai has ended"
        module = pytest.importorskip("google.generativeai")
    module.configure(api_key=API_KEY, transport="rest", client_options={"api_endpoint": srv.url})
    return module


def test_legacy_generate_content_and_stream(srv, legacy):
    model = legacy.GenerativeModel("gemini-1.5-flash")
    response = model.generate_content("Say hello")
    assert response.text == TEXT
    usage = response.usage_metadata
    assert (usage.prompt_token_count, usage.candidates_token_count, usage.total_token_count) == (10, 6, 18)
    request = srv.requests[-1]
    assert request["path"].startswith("/v1beta/models/gemini-1.5-flash:generateContent?")
    assert request["headers"]["x-goog-api-key"] == API_KEY
    stream = model.generate_content("Say hello", stream=True)
    assert [chunk.text for chunk in stream] == WORDS
    assert stream.usage_metadata.total_token_count == 18
    assert "alt=sse" not in srv.requests[-1]["path"]  # the JSON array form
    assert srv.requests[-1]["path"].startswith("/v1beta/models/gemini-1.5-flash:streamGenerateContent?")


def test_legacy_chat_embed_count_and_errors(srv, legacy):
    model = legacy.GenerativeModel("gemini-1.5-flash")
    chat = model.start_chat()
    assert chat.send_message("Hi").text == TEXT
    assert chat.send_message("Again").text == TEXT
    assert len(srv.requests[-1]["body"]["contents"]) == 3
    assert legacy.embed_content(model="models/text-embedding-004", content="hi")["embedding"] == [
        j / 8 for j in range(8)
    ]
    assert srv.requests[-1]["path"].startswith("/v1beta/models/text-embedding-004:embedContent?")
    assert model.count_tokens("hi").total_tokens == 10
    google_exceptions = importlib.import_module("google.api_core.exceptions")
    with pytest.raises(google_exceptions.NotFound, match="missing-model is not found"):
        legacy.GenerativeModel("missing-model").generate_content("x")
    with pytest.raises(google_exceptions.ServiceUnavailable):
        legacy.GenerativeModel("overloaded-model").generate_content("x", request_options={"retry": None})
