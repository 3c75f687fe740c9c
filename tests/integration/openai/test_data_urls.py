"""Images given as data URLs: Chat Completions and Responses read them with the one data-URL
splitter the Opik payload limits also use (a base64 data URL is a blob of its media type,
parameters left out; any other data URL is a URI)."""

from __future__ import annotations

import pytest

from tests.integration.openai.helpers import json_attr, one_span, requires

PNG = "iVBORw0KGgo="
WITH_PARAMETER = f"data:image/png;name=cat.png;base64,{PNG}"
NOT_BASE64 = "data:text/plain,hello%20world"
EXPECTED_PARTS = [
    {"type": "blob", "modality": "image", "mime_type": "image/png", "content": PNG},
    {"type": "uri", "modality": "image", "uri": NOT_BASE64},
]


def test_chat_image_data_urls(client, exporter):
    content = [{"type": "image_url", "image_url": {"url": url}} for url in (WITH_PARAMETER, NOT_BASE64)]
    client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": content}])

    assert json_attr(one_span(exporter), "gen_ai.input.messages") == [{"role": "user", "parts": EXPECTED_PARTS}]


@requires("responses")
def test_responses_image_data_urls(client, exporter):
    content = [{"type": "input_image", "image_url": url, "detail": "auto"} for url in (WITH_PARAMETER, NOT_BASE64)]
    client.responses.create(model="gpt-4o", input=[{"role": "user", "content": content}])

    assert json_attr(one_span(exporter), "gen_ai.input.messages") == [{"role": "user", "parts": EXPECTED_PARTS}]
