"""Content off: no question, answer, prompt, tool argument or tool result on any span; the spans
otherwise complete (usage, cost, response id)."""

from __future__ import annotations

import dspy
import pytest

from tests.integration.dspy.conftest import chat_adapter_text, output_fields
from tests.integration.spans import attrs, named, tree

CONTENT = {"input.value", "output.value", "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions"}


@pytest.fixture
def capture_content():
    return False


def secret_answer(body: dict) -> str:
    return chat_adapter_text({name: f"SECRET-{name}" for name in output_fields(body)})


def lookup(city: str) -> str:
    """Looks a city up."""
    return f"SECRET-RESULT for {city}"


@pytest.mark.parametrize("litellm_on", [False, True], ids=["dspy-span", "litellm-span"])
def test_no_text_anywhere(request, dspy_instrumentor, exporter, srv, lm, litellm_lm, litellm_on):
    if litellm_on:
        request.getfixturevalue("litellm_instrumentor")
    srv.reply_with(secret_answer)
    with dspy.context(lm=litellm_lm if litellm_on else lm):
        prediction = dspy.ChainOfThought("question -> answer")(question="SECRET-QUESTION")
    tool = dspy.Tool(lookup) if hasattr(dspy, "Tool") else dspy.predict.react.Tool(lookup)
    tool(city="SECRET-CITY")

    assert prediction.answer == "SECRET-answer"
    assert [row[0] for row in tree(exporter)] == ["ChainOfThought", "Predict", "chat openai/gpt-4o-mini", "execute_tool lookup"]
    values = repr([dict(s.attributes) for s in exporter.get_finished_spans()])
    assert "SECRET" not in values
    for span in exporter.get_finished_spans():
        assert not CONTENT & set(span.attributes), span.name
        assert span.events == () or [e.name for e in span.events] == [], span.name
    chat = attrs(named(exporter, "chat openai/gpt-4o-mini"))
    assert (chat["gen_ai.usage.input_tokens"], chat["gen_ai.usage.cost"], chat["gen_ai.response.finish_reasons"]) == (12, 5.7e-06, ["stop"])
    assert chat["gen_ai.response.id"].startswith("chatcmpl-fake-")
    assert attrs(named(exporter, "ChainOfThought")) == {}
    assert attrs(named(exporter, "execute_tool lookup")) == {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup"}
