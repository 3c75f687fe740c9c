"""Records one LangGraph agent turn as opik-otel emits it, for `span_cost.py`.

    python benchmarks/capture_agent_turn.py   # in an environment with langgraph, langchain-openai

A prebuilt ReAct agent (a system prompt of ≈ 1.5 KB, one tool call, two chat calls) runs
against the fake OpenAI server with the LangChain and OpenAI instrumentors on, content on;
its finished spans (name, kind, parent, attributes, events, status) are written, in end order,
to benchmarks/data/langgraph-agent-turn.json (content on) and
langgraph-agent-turn-content-off.json. Not a test.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "benchmarks" / "data"
SYSTEM_PROMPT = (
    "You are a travel assistant for a booking service. Answer in two or three sentences, "
    "cite the tool you used, never invent prices, and ask for the travel dates when the user "
    "did not give them. " * 6
)


def main() -> None:
    sys.path.insert(0, str(ROOT))
    for content, name in ((True, "langgraph-agent-turn.json"), (False, "langgraph-agent-turn-content-off.json")):
        capture(content, DATA / name)


def capture(content: bool, out: Path) -> None:
    from langchain_core.tools import tool
    from langchain_openai import ChatOpenAI
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from opik_otel.instrumentors.langchain import LangChainInstrumentor
    from opik_otel.instrumentors.openai import OpenAIInstrumentor
    from tests.fakes.openai_server import FakeOpenAIServer

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    LangChainInstrumentor().instrument(tracer_provider=provider, capture_content=content)
    OpenAIInstrumentor().instrument(tracer_provider=provider, capture_content=content)

    @tool
    def get_weather(city: str) -> str:
        """The current weather and the three-day forecast of a city."""
        return f"{city}: sunny, 21 °C; tomorrow light rain, 17 °C; then cloudy, 19 °C."

    with FakeOpenAIServer() as srv, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from langgraph.prebuilt import create_react_agent

        model = ChatOpenAI(model="gpt-4o-mini", temperature=0.2, base_url=srv.base_url, api_key="sk-fake", max_retries=0)
        agent = create_react_agent(model, [get_weather], prompt=SYSTEM_PROMPT)
        agent.invoke({"messages": [("user", "I fly to Paris on Friday for three days: what weather should I pack for?")]})
    LangChainInstrumentor().uninstrument()
    OpenAIInstrumentor().uninstrument()
    spans = memory.get_finished_spans()
    index = {span.context.span_id: i for i, span in enumerate(spans)}
    records = [
        {
            "name": span.name,
            "kind": span.kind.name,
            "parent": index.get(span.parent.span_id) if span.parent else None,
            "attributes": {key: list(value) if isinstance(value, tuple) else value for key, value in span.attributes.items()},
            "events": [{"name": e.name, "attributes": dict(e.attributes or {})} for e in span.events],
            "status": span.status.status_code.name,
            "duration_ns": span.end_time - span.start_time,
        }
        for span in spans
    ]
    out.write_text(json.dumps(records, indent=1, ensure_ascii=False) + "\n")
    print(f"{len(records)} spans -> {out.relative_to(ROOT)}")
    for record in records:
        print(f"  {record['name']:<28} {record['kind']:<8} parent={record['parent']} attrs={len(record['attributes'])}")


if __name__ == "__main__":
    main()
