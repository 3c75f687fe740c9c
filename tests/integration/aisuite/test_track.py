"""`track_aisuite(client, project_name=…)`: that client's calls are traced (with the project on
every span, the provider SDK's span included), other clients are not."""

from __future__ import annotations

from opik_otel.instrumentors.aisuite import track_aisuite
from tests.integration.aisuite.conftest import make_client, needs_acreate, needs_tool_loop
from tests.integration.spans import every_span_has, one_span, tree

USER = [{"role": "user", "content": "Say hello"}]


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


def test_a_tracked_client_is_traced_with_its_project_and_others_are_not(global_provider, srv, anthropic_srv, exporter):
    tracked = track_aisuite(make_client(srv, anthropic_srv), project_name="aisuite-project")
    other = make_client(srv, anthropic_srv)

    assert track_aisuite(tracked) is tracked  # tracking twice changes nothing
    other.chat.completions.create(model="openai:gpt-4o-mini", messages=USER)
    tracked.chat.completions.create(model="openai:gpt-4o-mini", messages=USER)

    span = one_span(exporter)
    assert (span.name, span.attributes["opik.project_name"], span.attributes["gen_ai.usage.output_tokens"]) == ("chat gpt-4o-mini", "aisuite-project", 7)


@needs_tool_loop
def test_a_tracked_tool_loop_carries_the_project_on_every_span(global_provider, srv, anthropic_srv, exporter):
    tracked = track_aisuite(make_client(srv, anthropic_srv), project_name="aisuite-project")
    tracked.chat.completions.create(model="openai:gpt-4o-mini", messages=USER, tools=[get_weather], max_turns=3)

    assert [row[0] for row in tree(exporter)] == ["invoke_agent gpt-4o-mini", "chat gpt-4o-mini", "execute_tool get_weather", "chat gpt-4o-mini"]
    every_span_has(exporter, {"opik.project_name": "aisuite-project"})


def test_the_project_reaches_the_provider_sdks_span(global_provider, openai_instrumentor, srv, anthropic_srv, exporter, requests_made):
    tracked = track_aisuite(make_client(srv, anthropic_srv), project_name="aisuite-project")
    tracked.chat.completions.create(model="openai:gpt-4o-mini", messages=USER)

    assert len(requests_made()) == 1
    span = one_span(exporter)
    assert (span.instrumentation_scope.name, span.attributes["opik.project_name"]) == ("opik_otel.instrumentors.openai", "aisuite-project")


@needs_acreate
async def test_a_tracked_clients_acreate(global_provider, srv, anthropic_srv, exporter):
    tracked = track_aisuite(make_client(srv, anthropic_srv), project_name="aisuite-project")
    await tracked.chat.completions.acreate(model="anthropic:claude-3-5-haiku-20241022", messages=USER)

    span = one_span(exporter)
    assert (span.name, span.attributes["gen_ai.provider.name"], span.attributes["opik.project_name"]) == (
        "chat claude-3-5-haiku-20241022", "anthropic", "aisuite-project"
    )


def test_the_instrumentor_and_track_together_make_one_span(aisuite_instrumentor, global_provider, srv, anthropic_srv, exporter):
    tracked = track_aisuite(make_client(srv, anthropic_srv), project_name="aisuite-project")
    tracked.chat.completions.create(model="openai:gpt-4o-mini", messages=USER)

    assert one_span(exporter).attributes["opik.project_name"] == "aisuite-project"
