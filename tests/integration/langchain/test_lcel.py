"""An LCEL `prompt | model | parser` run: exact span tree, one inference span per billed call
(with the openai instrumentor on and off), priced once; sync, async and streamed."""

from __future__ import annotations

import pytest
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from importlib.metadata import version

from packaging.version import Version

from tests.fakes.openai_server import CHAT_TEXT
from tests.integration.spans import attrs, named, tree

#: langchain-openai reports the response id in `response_metadata` from 0.3 on (0.2.12 does not).
REPORTS_RESPONSE_ID = Version(version("langchain-openai")) >= Version("0.3")
COST = 5.7e-06  # the fake's usage (12 in, 4 of them cached, 7 out) on gpt-4o-mini
TREE = [
    ("RunnableSequence", "INTERNAL", None),
    ("ChatPromptTemplate", "INTERNAL", "RunnableSequence"),
    ("chat gpt-4o-mini", "CLIENT", "RunnableSequence"),
    ("StrOutputParser", "INTERNAL", "RunnableSequence"),
]


@pytest.fixture
def chain(model):
    prompt = ChatPromptTemplate.from_messages([("system", "be brief"), ("user", "{q}")])
    return prompt | model.with_config(tags=["mine"]) | StrOutputParser()


def priced(exporter) -> list[str]:
    return [s.name for s in exporter.get_finished_spans() if "gen_ai.usage.cost" in (s.attributes or {})]


def test_with_the_provider_instrumented_the_provider_span_is_the_inference_span(
    langchain_instrumentor, openai_instrumentor, chain, exporter, requests_made
):
    assert chain.invoke({"q": "hi"}) == CHAT_TEXT

    assert tree(exporter) == TREE
    assert len(requests_made()) == 1
    assert priced(exporter) == ["chat gpt-4o-mini"]
    llm = attrs(named(exporter, "chat gpt-4o-mini"))
    assert llm["gen_ai.usage.cost"] == pytest.approx(COST)
    # the provider SDK's data …
    assert llm["openai.api.type"] == "chat_completions"
    assert llm["gen_ai.response.id"].startswith("chatcmpl-fake-")
    assert llm["gen_ai.usage.input_tokens"] == 12
    assert llm["gen_ai.usage.cache_read.input_tokens"] == 4
    assert llm["gen_ai.usage.reasoning.output_tokens"] == 2
    # … with LangChain's run name and the user's tags (not LangChain's step tags); invocation
    # parameters the span already says (model, temperature, stream) are not repeated as metadata
    assert llm["opik.metadata.langchain.run_name"] == "ChatOpenAI"
    assert llm["opik.tags"] == ["mine"]
    assert llm["gen_ai.request.temperature"] == 0.2
    assert not {"opik.metadata.model", "opik.metadata.model_name", "opik.metadata.stream", "opik.metadata.temperature"} & set(llm)
    chain_span = attrs(named(exporter, "RunnableSequence"))
    assert chain_span["input.value"] == '{"q":"hi"}'
    assert chain_span["output.value"] == f'"{CHAT_TEXT}"'


def test_without_the_provider_instrumented_langchain_makes_the_inference_span(
    langchain_instrumentor, chain, exporter, requests_made
):
    assert chain.invoke({"q": "hi"}) == CHAT_TEXT

    assert tree(exporter) == TREE
    assert len(requests_made()) == 1
    assert priced(exporter) == ["chat gpt-4o-mini"]
    llm = named(exporter, "chat gpt-4o-mini")
    sequence = named(exporter, "RunnableSequence")
    assert sequence.start_time < llm.start_time < llm.end_time < sequence.end_time
    got = attrs(llm)
    if REPORTS_RESPONSE_ID:
        assert got.pop("gen_ai.response.id").startswith("chatcmpl-fake-")
    else:
        assert "gen_ai.response.id" not in got
        assert got.pop("opik.metadata.n") == 1  # 0.2 sends its default n
    assert got == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.system_instructions": '[{"type":"text","content":"be brief"}]',
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"hi"}]}]',
        "opik.metadata.langchain.run_name": "ChatOpenAI",
        "opik.tags": ["mine"],
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.output.messages": f'[{{"role":"assistant","parts":[{{"type":"text","content":"{CHAT_TEXT}"}}],"finish_reason":"stop"}}]',
        "gen_ai.response.model": "gpt-4o-mini",
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 7,
        "gen_ai.usage.cache_read.input_tokens": 4,
        "gen_ai.usage.reasoning.output_tokens": 2,
        "gen_ai.usage.cost": pytest.approx(COST),
    }


def test_async(run_async, langchain_instrumentor, openai_instrumentor, chain, exporter, requests_made):
    assert run_async(chain.ainvoke({"q": "hi"})) == CHAT_TEXT

    assert tree(exporter) == TREE
    assert len(requests_made()) == 1
    assert priced(exporter) == ["chat gpt-4o-mini"]


@pytest.mark.parametrize("provider_instrumented", [True, False])
def test_stream(langchain_instrumentor, provider, capture_content, chain, exporter, requests_made, provider_instrumented, request):
    if provider_instrumented:
        request.getfixturevalue("openai_instrumentor")

    assert "".join(chain.stream({"q": "hi"})) == CHAT_TEXT

    assert tree(exporter) == TREE
    assert len(requests_made()) == 1
    llm = attrs(named(exporter, "chat gpt-4o-mini"))
    assert llm["gen_ai.response.finish_reasons"] == ["stop"]
    assert json_text(llm["gen_ai.output.messages"]) == CHAT_TEXT
    assert llm["gen_ai.request.stream"] is True
    assert 0 < llm["gen_ai.response.time_to_first_chunk"] < 60


def test_astream(run_async, langchain_instrumentor, openai_instrumentor, chain, exporter, requests_made):
    async def run() -> str:
        return "".join([piece async for piece in chain.astream({"q": "hi"})])

    assert run_async(run()) == CHAT_TEXT

    assert tree(exporter) == TREE
    assert len(requests_made()) == 1


def json_text(output_messages: str) -> str:
    import json

    return "".join(part["content"] for message in json.loads(output_messages) for part in message["parts"])


@pytest.mark.parametrize("provider_instrumented", [True, False])
def test_a_failing_model_call_is_one_failed_inference_span(langchain_instrumentor, srv, exporter, requests_made, provider_instrumented, request):
    import openai
    from langchain_openai import ChatOpenAI

    if provider_instrumented:
        request.getfixturevalue("openai_instrumentor")
    model = ChatOpenAI(model="error-500", base_url=srv.base_url, api_key="sk-test-fake", max_retries=0)
    chain = ChatPromptTemplate.from_messages([("user", "{q}")]) | model

    with pytest.raises(openai.InternalServerError) as raised:
        chain.invoke({"q": "hi"})
    # what reaches the app (langchain-openai >= 1 re-raises the SDK's error as its own subclass)
    app_error = type(raised.value).__qualname__

    assert len(requests_made()) == 1
    assert tree(exporter) == [
        ("RunnableSequence", "INTERNAL", None),
        ("ChatPromptTemplate", "INTERNAL", "RunnableSequence"),
        ("chat error-500", "CLIENT", "RunnableSequence"),
    ]
    # the provider span records the SDK's own error; LangChain's runs, what LangChain saw
    expected = {"chat error-500": "InternalServerError" if provider_instrumented else app_error, "RunnableSequence": app_error}
    for name, error_type in expected.items():
        span = named(exporter, name)
        assert span.status.status_code.name == "ERROR", name
        assert span.attributes["error.type"] == error_type, name


def test_opik_instrumentor_traces_langchain_with_every_provider_instrumentor_on(provider, chain, exporter, requests_made):
    from opik_otel import OpikInstrumentor

    instrumentor = OpikInstrumentor()
    instrumentor.instrument(tracer_provider=provider, capture_content=True)
    try:
        assert "LangChainInstrumentor" in instrumentor.instrumented_libraries
        assert chain.invoke({"q": "hi"}) == CHAT_TEXT
    finally:
        instrumentor.uninstrument()

    assert tree(exporter) == TREE
    assert len(requests_made()) == 1
    assert priced(exporter) == ["chat gpt-4o-mini"]
    assert attrs(named(exporter, "chat gpt-4o-mini"))["openai.api.type"] == "chat_completions"


def test_a_prompt_value_is_recorded_as_its_messages(langchain_instrumentor, chain, exporter):
    """LangChain objects (prompt values, messages) are recorded as their data, not their repr."""
    import json

    chain.invoke({"q": "hi"})

    output = json.loads(attrs(named(exporter, "ChatPromptTemplate"))["output.value"])
    assert [(message["type"], message["content"]) for message in output] == [("system", "be brief"), ("human", "hi")]


def test_bound_tools_are_metadata_with_content_on(langchain_instrumentor, model, exporter):
    from langchain_core.tools import tool

    @tool
    def lookup(city: str) -> str:
        """Looks a city up."""
        return city

    model.bind_tools([lookup]).invoke("hi")

    llm = attrs(exporter.get_finished_spans()[0])
    assert "Looks a city up." in llm["opik.metadata.tools"]
    assert llm["gen_ai.request.model"] == "gpt-4o-mini"
