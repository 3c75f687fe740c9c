"""The real `ReActAgent` against the fake OpenAI server answering in ReAct format (one tool call,
then the answer): `invoke_agent {name}` over one priced inference span per model round trip and
`execute_tool add` with its arguments and result; the agent's input and answer; content off.

llama-index-core 0.12.0 has the `AgentRunner` ReActAgent (`llama_index.core.agent.ReActAgent`:
chat, achat, stream_chat, astream_chat); newer versions the workflow ReActAgent
(`llama_index.core.agent.workflow.ReActAgent`: async `run`, streamed or not, with
`handler.stream_events()`). Each test skips where its class does not exist."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.integration.llama_index.conftest import open_runs
from tests.integration.llama_index.test_stream_chat_output import no_run_left_open
from tests.integration.spans import attrs, named, tree

QUESTION = "What is 1 + 2?"
ACTION = 'Thought: I need to use a tool to help me answer the question.\nAction: add\nAction Input: {"a": 1, "b": 2}'
ANSWER = "Thought: I can answer without using any more tools.\nAnswer: 3"
#: the fake's chat usage and gpt-4o-mini's price for it
USAGE = {"gen_ai.usage.input_tokens": 12, "gen_ai.usage.output_tokens": 7, "gen_ai.usage.cost": 5.7e-06}


def add(a: int, b: int) -> int:
    """Adds two numbers."""
    return a + b


def react_reply(body: dict) -> str:
    """The model's ReAct text: the action first, the answer once the last message is the tool's observation."""
    return ANSWER if str(body["messages"][-1].get("content")).startswith("Observation:") else ACTION


@pytest.fixture
def react_server(srv):
    """The fake OpenAI server answering in ReAct format (its usual answers again after the test)."""
    srv.reply_with(react_reply)
    yield srv
    srv.reply_with(None)


@pytest.fixture
def usage_llm(srv):
    """The fake's LLM asking for usage in streams too (LlamaIndex's OpenAI does not by default)."""
    from llama_index.llms.openai import OpenAI

    return OpenAI(
        model="gpt-4o-mini", api_base=srv.base_url, api_key="sk-test-fake", max_retries=0,
        additional_kwargs={"stream_options": {"include_usage": True}},
    )


def workflow_react_agent(llm, streaming: bool):
    module = pytest.importorskip("llama_index.core.agent.workflow", reason="llama-index-core before workflow agents")
    if not hasattr(module, "ReActAgent"):
        pytest.skip("this llama-index-core has no workflow ReActAgent")
    return module.ReActAgent(name="calculator", description="Adds numbers.", tools=[add], llm=llm, streaming=streaming)


def legacy_react_agent(llm):
    agent_module = pytest.importorskip("llama_index.core.agent")
    if not hasattr(agent_module, "ReActAgentWorker"):
        pytest.skip("this llama-index-core has the workflow ReActAgent only (no AgentRunner ReActAgent)")
    from llama_index.core.tools import FunctionTool

    return agent_module.ReActAgent.from_tools([FunctionTool.from_defaults(add)], llm=llm)


def chat_spans(exporter) -> list[dict]:
    """The inference spans' attributes, in start order."""
    return [attrs(s) for s in sorted(exporter.get_finished_spans(), key=lambda s: s.start_time) if s.name == "chat gpt-4o-mini"]


def assert_priced_react_round_trips(exporter, requests_made, streamed: bool) -> None:
    """Two inference spans, one per request to the fake: the openai spans (claimed), priced, with the ReAct text."""
    chats = chat_spans(exporter)
    assert len(chats) == 2 == len(requests_made())
    for chat, text in zip(chats, (ACTION, ANSWER)):
        assert {k: chat.get(k) for k in USAGE} == USAGE
        assert chat["openai.api.type"] == "chat_completions"
        assert chat["opik.metadata.llama_index.class"] == "OpenAI"
        assert chat.get("gen_ai.request.stream", False) is streamed
        assert chat["gen_ai.response.finish_reasons"] == ["stop"]
        assert json.loads(chat["gen_ai.output.messages"]) == [
            {"role": "assistant", "parts": [{"type": "text", "content": text}], "finish_reason": "stop"}
        ]
    assert json.loads(chats[0]["gen_ai.input.messages"])[-1] == {"role": "user", "parts": [{"type": "text", "content": QUESTION}]}
    assert json.loads(chats[1]["gen_ai.input.messages"])[-1] == {"role": "user", "parts": [{"type": "text", "content": "Observation: 3"}]}


# -- the workflow ReActAgent (llama-index-core after 0.12.0) --


async def run_workflow_agent(agent, streaming: bool):
    """The agent's run; streamed: the events read through `handler.stream_events()` first."""
    handler = agent.run(QUESTION)
    deltas = []
    if streaming:
        async for event in handler.stream_events():
            if type(event).__name__ == "AgentStream":
                deltas.append(event.delta)
    return await handler, "".join(deltas)


@pytest.mark.parametrize("streaming", [False, True], ids=["not-streamed", "streamed"])
def test_a_workflow_react_agent_with_one_tool_call(react_server, usage_llm, llama_index_instrumentor, openai_instrumentor, exporter, requests_made, streaming):
    agent = workflow_react_agent(usage_llm, streaming)

    result, streamed_text = asyncio.run(run_workflow_agent(agent, streaming))

    assert str(result) == "3"
    assert streamed_text == (ACTION + ANSWER if streaming else "")  # the app's stream is not eaten
    rows = tree(exporter)
    assert rows[0] == ("invoke_agent calculator", "INTERNAL", None)
    assert [r for r in rows if r[0] in ("run_agent_step", "chat gpt-4o-mini", "execute_tool add")] == [
        ("run_agent_step", "INTERNAL", "invoke_agent calculator"),
        ("chat gpt-4o-mini", "CLIENT", "run_agent_step"),
        ("execute_tool add", "INTERNAL", "invoke_agent calculator"),
        ("run_agent_step", "INTERNAL", "invoke_agent calculator"),
        ("chat gpt-4o-mini", "CLIENT", "run_agent_step"),
    ]
    assert {r[2] for r in rows[1:] if r[1] == "INTERNAL"} == {"invoke_agent calculator"}  # every step under the agent
    assert attrs(named(exporter, "invoke_agent calculator")) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "calculator",
        "input.value": json.dumps(QUESTION),
        "output.value": '"3"',
    }
    (tool_call,) = result.tool_calls
    assert attrs(named(exporter, "execute_tool add")) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "add",
        "gen_ai.tool.call.id": tool_call.tool_id,
        "input.value": '{"a":1,"b":2}',
        "output.value": '"3"',
    }
    assert_priced_react_round_trips(exporter, requests_made, streamed=streaming)
    assert open_runs() == 0


# -- the AgentRunner ReActAgent (llama-index-core 0.12.0) --

LEGACY_TREE = [
    ("invoke_agent ReActAgent", "INTERNAL", None),
    ("chat gpt-4o-mini", "CLIENT", "invoke_agent ReActAgent"),
    ("execute_tool add", "INTERNAL", "invoke_agent ReActAgent"),
    ("chat gpt-4o-mini", "CLIENT", "invoke_agent ReActAgent"),
]
LEGACY_TOOL = {
    "gen_ai.operation.name": "execute_tool",
    "gen_ai.tool.name": "add",
    "input.value": '{"a":1,"b":2}',
    "output.value": '"3"',
}


@pytest.mark.parametrize("asynchronous", [False, True], ids=["chat", "achat"])
def test_a_legacy_react_agent_with_one_tool_call(react_server, llm, llama_index_instrumentor, openai_instrumentor, exporter, requests_made, asynchronous):
    agent = legacy_react_agent(llm)

    response = asyncio.run(agent.achat(QUESTION)) if asynchronous else agent.chat(QUESTION)

    assert str(response) == "3"
    assert tree(exporter) == LEGACY_TREE
    assert attrs(named(exporter, "invoke_agent ReActAgent")) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "ReActAgent",
        "input.value": json.dumps(QUESTION),
        "output.value": '"3"',
    }
    assert attrs(named(exporter, "execute_tool add")) == LEGACY_TOOL
    assert_priced_react_round_trips(exporter, requests_made, streamed=False)
    assert open_runs() == 0


@pytest.mark.parametrize("asynchronous", [False, True], ids=["stream_chat", "astream_chat"])
def test_a_streamed_legacy_react_agent_with_one_tool_call(react_server, usage_llm, llama_index_instrumentor, openai_instrumentor, exporter, requests_made, asynchronous):
    agent = legacy_react_agent(usage_llm)

    if asynchronous:
        async def main():
            response = await agent.astream_chat(QUESTION)
            return "".join([token async for token in response.async_response_gen()])

        text = asyncio.run(main())
    else:
        text = "".join(agent.stream_chat(QUESTION).response_gen)

    assert text == "3"
    assert tree(exporter) == LEGACY_TREE
    assert attrs(named(exporter, "invoke_agent ReActAgent")) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "ReActAgent",
        "input.value": json.dumps(QUESTION),
        "output.value": '"3"',  # the streamed answer, once the app has read it
    }
    assert attrs(named(exporter, "execute_tool add")) == LEGACY_TOOL
    assert_priced_react_round_trips(exporter, requests_made, streamed=True)
    assert no_run_left_open()


# -- content off --

CONTENT_KEYS = {"input.value", "output.value", "gen_ai.input.messages", "gen_ai.output.messages", "gen_ai.system_instructions", "gen_ai.tool.call.arguments", "gen_ai.tool.call.result"}


def assert_no_content(exporter) -> None:
    """No content attribute on any span, and no question, ReAct text, tool argument or answer anywhere."""
    finished = exporter.get_finished_spans()
    for span in finished:
        assert not CONTENT_KEYS & set(span.attributes), span.name
    values = repr([dict(s.attributes) for s in finished] + [[dict(e.attributes or {}) for e in s.events] for s in finished])
    for text in (QUESTION, "Thought", "Action Input", '"a"', "Observation"):
        assert text not in values, text


@pytest.mark.parametrize("capture_content", [False])
@pytest.mark.parametrize("streaming", [False, True], ids=["not-streamed", "streamed"])
def test_a_workflow_react_agent_with_content_off(react_server, usage_llm, llama_index_instrumentor, openai_instrumentor, exporter, requests_made, streaming, capture_content):
    agent = workflow_react_agent(usage_llm, streaming)

    result, _ = asyncio.run(run_workflow_agent(agent, streaming))

    assert str(result) == "3"
    names = [row[0] for row in tree(exporter)]
    assert (names[0], names.count("chat gpt-4o-mini"), names.count("execute_tool add")) == ("invoke_agent calculator", 2, 1)
    assert [{k: c.get(k) for k in USAGE} for c in chat_spans(exporter)] == [USAGE, USAGE] and len(requests_made()) == 2
    assert attrs(named(exporter, "execute_tool add"))["gen_ai.tool.name"] == "add"
    assert_no_content(exporter)
    assert open_runs() == 0


@pytest.mark.parametrize("capture_content", [False])
@pytest.mark.parametrize("streamed", [False, True], ids=["chat", "stream_chat"])
def test_a_legacy_react_agent_with_content_off(react_server, usage_llm, llama_index_instrumentor, openai_instrumentor, exporter, requests_made, streamed, capture_content):
    agent = legacy_react_agent(usage_llm)

    answer = "".join(agent.stream_chat(QUESTION).response_gen) if streamed else str(agent.chat(QUESTION))

    assert answer == "3"
    assert tree(exporter) == LEGACY_TREE
    assert [{k: c.get(k) for k in USAGE} for c in chat_spans(exporter)] == [USAGE, USAGE] and len(requests_made()) == 2
    assert attrs(named(exporter, "invoke_agent ReActAgent")) == {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "ReActAgent"}
    assert attrs(named(exporter, "execute_tool add")) == {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "add"}
    assert_no_content(exporter)
    assert no_run_left_open()
