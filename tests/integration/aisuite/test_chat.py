"""`client.chat.completions.create(model="provider:model", …)`: one inference span per call, the
provider from the prefix and the model without it, whether the provider SDK under AISuite is
instrumented (its span is the one span: AISuite's round trip defers to it) or not (AISuite's round
trip makes the span from its own response)."""

from __future__ import annotations

import pytest
from genai_prices import Usage, calc_price

from tests.integration.aisuite.conftest import needs_acreate, needs_anthropic_usage, needs_manual_tools
from tests.integration.spans import attrs, json_attr, one_span

USER = [{"role": "user", "content": "Say hello"}]
OPENAI_COST = float(calc_price(Usage(input_tokens=12, cache_read_tokens=4, output_tokens=7), "gpt-4o-mini", provider_id="openai").total_price)
CLAUDE = "claude-3-5-haiku-20241022"


def test_an_openai_call_alone_is_one_priced_span_read_from_the_response(aisuite_instrumentor, client, exporter, requests_made):
    response = client.chat.completions.create(model="openai:gpt-4o-mini", messages=USER, temperature=0.2, max_tokens=50, seed=3)

    assert response.choices[0].message.content == "Hello from the fake OpenAI server."
    assert len(requests_made()) == 1
    span = one_span(exporter)
    assert (span.name, span.kind.name, span.parent) == ("chat gpt-4o-mini", "CLIENT", None)
    assert attrs(span) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 50,
        "gen_ai.request.seed": 3,
        "gen_ai.input.messages": '[{"role":"user","parts":[{"type":"text","content":"Say hello"}]}]',
        "gen_ai.response.id": "chatcmpl-fake-" + response.id.rsplit("-", 1)[1],
        "gen_ai.response.model": "gpt-4o-mini",
        "gen_ai.response.finish_reasons": ["stop"],
        "gen_ai.output.messages": '[{"role":"assistant","parts":[{"type":"text","content":"Hello from the fake OpenAI server."}],"finish_reason":"stop"}]',
        "gen_ai.usage.input_tokens": 12,
        "gen_ai.usage.output_tokens": 7,
        "gen_ai.usage.cache_read.input_tokens": 4,
        "gen_ai.usage.reasoning.output_tokens": 2,
        "openai.response.service_tier": "default",
        "openai.response.system_fingerprint": "fp_fake",
        "gen_ai.usage.cost": pytest.approx(OPENAI_COST, rel=1e-9),
    }


def test_an_openai_call_with_the_openai_instrumentor_on_is_still_one_span_the_providers(
    aisuite_instrumentor, openai_instrumentor, client, exporter, requests_made, srv
):
    client.chat.completions.create(model="openai:gpt-4o-mini", messages=USER)

    assert len(requests_made()) == 1
    span = one_span(exporter)
    assert span.instrumentation_scope.name == "opik_otel.instrumentors.openai"  # the billed span is the provider's
    assert span.name == "chat gpt-4o-mini"
    got = attrs(span)
    assert {k: got[k] for k in ("gen_ai.provider.name", "gen_ai.request.model", "server.port", "gen_ai.usage.input_tokens")} == {
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "server.port": int(srv.base_url.split(":")[2].split("/")[0]),
        "gen_ai.usage.input_tokens": 12,
    }
    assert got["gen_ai.usage.cost"] == pytest.approx(OPENAI_COST, rel=1e-9)


def test_an_anthropic_call_alone_is_one_span_with_the_anthropic_provider(aisuite_instrumentor, client, exporter, anthropic_requests):
    response = client.chat.completions.create(model=f"anthropic:{CLAUDE}", messages=[{"role": "system", "content": "Be brief."}, *USER])

    assert response.choices[0].message.content == "Hello from the fake Anthropic server."
    assert len(anthropic_requests()) == 1
    span = one_span(exporter)
    assert (span.name, span.kind.name) == (f"chat {CLAUDE}", "CLIENT")
    got = attrs(span)
    assert (got["gen_ai.provider.name"], got["gen_ai.request.model"]) == ("anthropic", CLAUDE)
    assert json_attr(span, "gen_ai.output.messages")[0]["parts"] == [{"type": "text", "content": "Hello from the fake Anthropic server."}]


@needs_anthropic_usage
def test_an_anthropic_call_alone_is_priced_from_aisuites_usage(aisuite_instrumentor, client, exporter):
    client.chat.completions.create(model=f"anthropic:{CLAUDE}", messages=USER)

    got = attrs(one_span(exporter))
    # AISuite gives Anthropic's input count (10, without the 4 cache reads) as prompt tokens.
    assert {k: got.get(k) for k in ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.cache_read.input_tokens", "gen_ai.response.finish_reasons")} == {
        "gen_ai.usage.input_tokens": 14,
        "gen_ai.usage.output_tokens": 6,
        "gen_ai.usage.cache_read.input_tokens": 4,
        "gen_ai.response.finish_reasons": ["stop"],
    }
    cost = float(calc_price(Usage(input_tokens=14, cache_read_tokens=4, output_tokens=6), CLAUDE, provider_id="anthropic").total_price)
    assert got["gen_ai.usage.cost"] == pytest.approx(cost, rel=1e-9)


def test_an_anthropic_call_with_the_anthropic_instrumentor_on_is_still_one_span_the_providers(
    aisuite_instrumentor, anthropic_instrumentor, client, exporter, anthropic_requests
):
    client.chat.completions.create(model=f"anthropic:{CLAUDE}", messages=USER)

    assert len(anthropic_requests()) == 1
    span = one_span(exporter)
    assert span.instrumentation_scope.name == "opik_otel.instrumentors.anthropic"
    got = attrs(span)
    assert (span.name, got["gen_ai.provider.name"], got["gen_ai.request.model"], got["gen_ai.response.id"]) == (f"chat {CLAUDE}", "anthropic", CLAUDE, got["gen_ai.response.id"])
    assert got["gen_ai.response.id"].startswith("msg_fake_")
    assert [name for name in got if name == "gen_ai.usage.cost"] == ["gen_ai.usage.cost"]


def test_both_providers_instrumented_several_calls_one_span_each(
    aisuite_instrumentor, openai_instrumentor, anthropic_instrumentor, client, exporter, requests_made, anthropic_requests
):
    client.chat.completions.create(model="openai:gpt-4o-mini", messages=USER)
    client.chat.completions.create(model=f"anthropic:{CLAUDE}", messages=USER)
    client.chat.completions.create(model="openai:gpt-4o-mini", messages=USER)

    assert (len(requests_made()), len(anthropic_requests())) == (2, 1)
    finished = exporter.get_finished_spans()
    assert [s.name for s in finished] == ["chat gpt-4o-mini", f"chat {CLAUDE}", "chat gpt-4o-mini"]
    assert all("gen_ai.usage.cost" in s.attributes for s in finished)


@needs_acreate
async def test_acreate_is_one_span(aisuite_instrumentor, client, exporter, requests_made):
    response = await client.chat.completions.acreate(model="openai:gpt-4o-mini", messages=USER)

    assert response.choices[0].message.content == "Hello from the fake OpenAI server."
    assert len(requests_made()) == 1
    span = one_span(exporter)
    assert (span.name, span.attributes["gen_ai.provider.name"], span.attributes["gen_ai.usage.output_tokens"]) == ("chat gpt-4o-mini", "openai", 7)


@needs_acreate
async def test_acreate_with_the_openai_instrumentor_on_is_one_span(aisuite_instrumentor, openai_instrumentor, client, exporter, requests_made):
    await client.chat.completions.acreate(model="openai:gpt-4o-mini", messages=USER)

    assert len(requests_made()) == 1
    assert one_span(exporter).instrumentation_scope.name == "opik_otel.instrumentors.openai"


@needs_acreate
async def test_acreate_of_a_provider_without_native_async_is_one_span(aisuite_instrumentor, client, exporter, anthropic_requests):
    """AISuite runs the sync round trip in a thread for such a provider: still one span."""
    await client.chat.completions.acreate(model=f"anthropic:{CLAUDE}", messages=USER)

    assert len(anthropic_requests()) == 1
    assert one_span(exporter).name == f"chat {CLAUDE}"


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


@needs_manual_tools
def test_tools_without_max_turns_are_tool_definitions_and_no_tool_loop(aisuite_instrumentor, client, exporter):
    """Manual tool calling (no `max_turns`; schema dicts need aisuite's mcp extra): the model's tool
    call is returned, nothing runs, one span."""
    client.chat.completions.create(model="openai:gpt-4o-mini", messages=USER, tools=[get_weather])

    span = one_span(exporter)
    assert json_attr(span, "gen_ai.tool.definitions") == [
        {"type": "function", "name": "get_weather", "description": "The weather in a city.",
         "parameters": {"type": "object", "properties": {"city": {"type": "string", "description": ""}}, "required": ["city"]}}
    ]
    assert json_attr(span, "gen_ai.output.messages")[0]["parts"] == [{"type": "tool_call", "name": "get_weather", "id": "call_fake_1", "arguments": {"city": "Paris"}}]


def test_uninstrument_stops_tracing(provider, client, exporter):
    from opik_otel.instrumentors.aisuite import AISuiteInstrumentor

    instrumentor = AISuiteInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    instrumentor.uninstrument()
    client.chat.completions.create(model="openai:gpt-4o-mini", messages=USER)

    assert exporter.get_finished_spans() == ()


@pytest.mark.parametrize(
    ("key", "name"),
    [("openai", "openai"), ("anthropic", "anthropic"), ("aws", "aws.bedrock"), ("google", "gcp.vertex_ai"), ("azure", "azure.ai.inference"),
     ("mistral", "mistral_ai"), ("xai", "x_ai"), ("groq", "groq"), ("deepseek", "deepseek"), ("fireworks", "fireworks"), ("ollama", "ollama")],
)
def test_the_provider_prefix_maps_to_the_conventions_name(key, name):
    from opik_otel.instrumentors.aisuite.calls import provider_name

    assert provider_name(key) == name
