"""`capture_content=False`: metadata and usage only; no prompt, reply, function argument or
result text on any span (round trips, streams, embeddings, automatic function calling)."""

# No `from __future__ import annotations`: google-genai < 1.x.y reads the functions' annotations as objects.
import base64

import pytest
from google.genai import types

from tests.fakes.gemini_server import TEXT, THOUGHT_TEXT, TOOL_RESULT_TEXT
from tests.integration.genai.conftest import MODEL
from tests.integration.spans import CONTENT_ATTRIBUTES, one_span

SECRET = "PROMPT-SECRET-7f3a"
FORBIDDEN = (SECRET, TEXT, THOUGHT_TEXT, TOOL_RESULT_TEXT, "Paris", "Hello", "sunny", base64.b64encode(SECRET.encode()).decode())
CONTENT_AND_TOOL_ATTRIBUTES = (*CONTENT_ATTRIBUTES, "gen_ai.tool.call.arguments", "gen_ai.tool.call.result")


@pytest.fixture
def capture_content():
    return False


def lookup(city: str) -> str:
    """Weather lookup."""
    return f"sunny {SECRET}"


CONTENTS = [
    types.Content(role="user", parts=[types.Part.from_text(text=f"user {SECRET}"), types.Part.from_bytes(data=SECRET.encode(), mime_type="image/png")]),
]
CONFIG = types.GenerateContentConfig(
    system_instruction=f"system {SECRET}",
    thinking_config=types.ThinkingConfig(include_thoughts=True),
    tools=[types.Tool(function_declarations=[types.FunctionDeclaration(name="lookup", description=f"tool {SECRET}")])],
)


def assert_no_content(span, usage: bool = True) -> None:
    attributes = dict(span.attributes)
    assert [name for name in CONTENT_AND_TOOL_ATTRIBUTES if name in attributes] == []
    for name, value in attributes.items():
        assert not any(text in str(value) for text in FORBIDDEN), f"{name} leaks content: {value!r}"
    assert span.events == ()
    if usage:
        assert attributes["gen_ai.usage.input_tokens"] > 0  # the span is still complete otherwise


def test_generate_content(client, exporter):
    client.models.generate_content(model=MODEL, contents=CONTENTS, config=CONFIG)

    assert_no_content(one_span(exporter))


async def test_stream(client, exporter):
    stream = await client.aio.models.generate_content_stream(model=MODEL, contents=f"user {SECRET}", config=CONFIG)
    async for _ in stream:
        pass

    assert_no_content(one_span(exporter))


def test_embeddings(vertex, exporter):
    vertex.models.embed_content(model="gemini-embedding-001", contents=f"user {SECRET}")

    assert_no_content(one_span(exporter))


def test_automatic_function_calling(client, exporter):
    client.models.generate_content(model=MODEL, contents=f"user {SECRET}", config={"tools": [lookup], "system_instruction": SECRET})

    spans = exporter.get_finished_spans()
    assert sorted(s.name for s in spans) == ["execute_tool lookup", f"generate_content {MODEL}", f"generate_content {MODEL}", f"invoke_agent {MODEL}"]
    for span in spans:
        assert_no_content(span, usage=span.name.startswith("generate_content"))
