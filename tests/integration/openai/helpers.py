"""Small helpers for the OpenAI tests: messages, costs, version checks; the span readers (the one
finished span, its attributes as plain data, JSON attributes) are tests/integration/spans.py's."""

from __future__ import annotations

from typing import Any

import openai
import pytest
from genai_prices import Usage, calc_price

from tests.integration.spans import CONTENT_ATTRIBUTES, attrs, exception_events, json_attr, one_span, spans  # noqa: F401 (the tests' readers)

API_KEY = "sk-test-fake"

# What the fake's CHAT_USAGE costs on gpt-4o-mini (its reasoning tokens are part of output).
GPT_4O_MINI_COST = float(
    calc_price(Usage(input_tokens=12, cache_read_tokens=4, output_tokens=7), "gpt-4o-mini", provider_id="openai").total_price
)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


def text_message(role: str, content: str) -> dict[str, Any]:
    """A convention message with one text part."""
    return {"role": role, "parts": [{"type": "text", "content": content}]}


def output_text(content: str, finish_reason: str = "stop") -> dict[str, Any]:
    return {"role": "assistant", "parts": [{"type": "text", "content": content}], "finish_reason": finish_reason}


def resolve(obj: Any, path: str) -> Any:
    """`resolve(client, "chat.completions.parse")`, or None when this openai version lacks it."""
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


_PROBE = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key=API_KEY)


def requires(path: str) -> pytest.MarkDecorator:
    """Skip (with the reason) when this openai version's client has no `path`, e.g. "responses.stream"."""
    return pytest.mark.skipif(
        resolve(_PROBE, path) is None, reason=f"openai {openai.__version__} has no client.{path}"
    )


def assert_span_ends_at_with_exit(open_stream, exporter) -> None:
    """Break out of a stream helper's `with` block: the span must end at exit, not at GC."""
    import gc

    with open_stream() as stream:
        for _ in stream:
            break
        assert spans(exporter) == []

    ended_at_exit = len(spans(exporter))
    del stream
    gc.collect()
    assert ended_at_exit == 1, "the span must end when the `with` block exits, not when `stream` is garbage collected"
