"""`OpikConnector` added to a pipeline: that pipeline's runs traced, named by the connector, routed
to its project, the Opik trace id in its output; with `HaystackInstrumentor` on as well, no duplicate."""

from __future__ import annotations

from haystack import Pipeline
from haystack.dataclasses import ChatMessage

from opik_otel._distributed import opik_ids
from opik_otel.instrumentors.haystack import OpikConnector
from tests.fakes.openai_server import CHAT_TEXT
from tests.integration.spans import attrs, named, tree

EXPECTED = sorted([
    ("invoke_workflow qa-app", "INTERNAL", None),
    ("tracer", "INTERNAL", "invoke_workflow qa-app"),
    ("chat gpt-4o-mini", "CLIENT", "invoke_workflow qa-app"),
])


def with_connector(chat_generator) -> Pipeline:
    pipeline = Pipeline()
    pipeline.add_component("tracer", OpikConnector("qa-app", project_name="hs-project"))
    pipeline.add_component("llm", chat_generator)
    return pipeline


def run(pipeline: Pipeline) -> dict:
    return pipeline.run({"llm": {"messages": [ChatMessage.from_user("hi")]}})


def check(result: dict, exporter) -> None:
    assert result["llm"]["replies"][0].text == CHAT_TEXT
    assert sorted(tree(exporter)) == EXPECTED
    root = named(exporter, "invoke_workflow qa-app")
    assert attrs(root)["opik.project_name"] == "hs-project"
    assert result["tracer"] == {"name": "qa-app", "trace_id": opik_ids(root)[0]}
    assert len({s.context.trace_id for s in exporter.get_finished_spans()}) == 1


def test_the_connector_alone_traces_its_pipeline_only(global_provider, chat_generator, srv, secret, exporter, requests_made):
    from haystack.components.generators.chat import OpenAIChatGenerator

    check(run(with_connector(chat_generator)), exporter)
    assert len(requests_made()) == 1

    exporter.clear()
    other = Pipeline()
    other.add_component("llm", OpenAIChatGenerator(model="gpt-4o-mini", api_base_url=srv.base_url, api_key=secret, max_retries=0))
    run(other)
    assert exporter.get_finished_spans() == ()  # a pipeline without a connector: not traced


def test_the_connector_with_the_instrumentor_on_gives_no_duplicate(global_provider, haystack_instrumentor, chat_generator, exporter):
    check(run(with_connector(chat_generator)), exporter)


def test_the_instrumentor_enabled_after_the_connector_still_routes_its_pipeline(global_provider, provider, chat_generator, exporter):
    from opik_otel.instrumentors.haystack import HaystackInstrumentor

    pipeline = with_connector(chat_generator)
    instrumentor = HaystackInstrumentor()
    instrumentor.instrument(tracer_provider=provider)
    try:
        check(run(pipeline), exporter)
    finally:
        instrumentor.uninstrument()


def test_outside_a_pipeline_the_connector_outputs_no_trace_id(global_provider):
    assert OpikConnector("alone").run() == {"name": "alone", "trace_id": ""}
