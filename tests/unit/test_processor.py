"""`UsageCostSpanProcessor` on hand-built spans: a real TracerProvider, the processor in front of
a `SimpleSpanProcessor` and an `InMemorySpanExporter`, prices checked against genai-prices itself."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from genai_prices import Usage, calc_price
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opik_otel import UsageCostSpanProcessor
from opik_otel._pricing import PriceBook, TokenUsage, parse_overrides

COST = "gen_ai.usage.cost"
INPUT = "gen_ai.usage.input_tokens"
OUTPUT = "gen_ai.usage.output_tokens"
CACHE_READ = "gen_ai.usage.cache_read.input_tokens"
CACHE_WRITE = "gen_ai.usage.cache_creation.input_tokens"
REASONING = "gen_ai.usage.reasoning.output_tokens"


def exact_price(model: str, provider_id: str, **counts: int) -> float:
    """genai-prices' own answer for these counts (the reference every cost is checked against).

    genai-prices < 0.1 has no reasoning count: there reasoning is simply part of output.
    """
    try:
        usage = Usage(**counts)
    except TypeError:
        counts.pop("output_reasoning_tokens", None)
        usage = Usage(**counts)
    return float(calc_price(usage, model, provider_id=provider_id).total_price)


class Spy(SpanProcessor):
    """Records the ended span it is handed, then hands it on (to see what the processor received)."""

    def __init__(self, next_processor: SpanProcessor) -> None:
        self.next_processor = next_processor
        self.ended: list[ReadableSpan] = []

    def on_start(self, span, parent_context=None) -> None:
        self.next_processor.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        self.ended.append(span)
        self.next_processor.on_end(span)

    def shutdown(self) -> None:
        self.next_processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.next_processor.force_flush(timeout_millis)


class Pipeline:
    """A TracerProvider whose only processor is `UsageCostSpanProcessor` → in-memory exporter
    (with a spy in front, since the SDK hands processors a snapshot rather than the live span)."""

    def __init__(self, prices: PriceBook | None = None) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.spy = Spy(UsageCostSpanProcessor(SimpleSpanProcessor(self.exporter), prices))
        self.provider.add_span_processor(self.spy)
        self.tracer = self.provider.get_tracer("test")

    def run(self, attributes: dict, name: str = "span"):
        """End one span with these attributes; return (the span the processor got, the exported span)."""
        span = self.tracer.start_span(name, attributes=attributes)
        span.end()
        finished = self.exporter.get_finished_spans()
        assert len(finished) == 1, finished
        assert len(self.spy.ended) == 1
        received = self.spy.ended.pop()
        self.exporter.clear()
        return received, finished[0]

    def exported(self, attributes: dict, name: str = "span") -> dict:
        return dict(self.run(attributes, name)[1].attributes)


@pytest.fixture
def pipeline():
    pipeline = Pipeline()
    yield pipeline
    pipeline.provider.shutdown()


def ours(model: str, provider: str, **usage: int) -> dict:
    attributes = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
    }
    names = {"input": INPUT, "output": OUTPUT, "cache_read": CACHE_READ, "cache_write": CACHE_WRITE, "reasoning": REASONING}
    attributes.update({names[key]: value for key, value in usage.items()})
    return attributes


# --- the three attribute dialects ------------------------------------------------------


def test_our_attributes_are_priced_like_genai_prices(pipeline):
    attributes = pipeline.exported(ours("gpt-4o-mini", "openai", input=1000, cache_read=400, output=500, reasoning=100))

    expected = exact_price(
        "gpt-4o-mini", "openai", input_tokens=1000, cache_read_tokens=400, output_tokens=500, output_reasoning_tokens=100
    )
    assert expected > 0
    assert attributes[COST] == pytest.approx(expected, rel=1e-9)
    assert isinstance(attributes[COST], float)
    # the counts themselves are left as they were
    assert attributes[INPUT] == 1000
    assert attributes[OUTPUT] == 500
    assert attributes[CACHE_READ] == 400
    assert attributes[REASONING] == 100


def test_cached_tokens_are_cheaper_than_uncached(pipeline):
    cached = pipeline.exported(ours("gpt-4o-mini", "openai", input=1000, cache_read=400, output=500))[COST]
    uncached = pipeline.exported(ours("gpt-4o-mini", "openai", input=1000, output=500))[COST]
    assert 0 < cached < uncached


def test_openllmetry_attributes_are_normalised_and_priced(pipeline):
    span, exported = pipeline.run(
        {
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.prompt_tokens": 1200,
            "gen_ai.usage.completion_tokens": 300,
        },
        name="openai.chat",
    )
    attributes = dict(exported.attributes)

    assert attributes[INPUT] == 1200
    assert attributes[OUTPUT] == 300
    assert attributes["gen_ai.usage.prompt_tokens"] == 1200  # the original names are kept
    assert attributes["gen_ai.usage.completion_tokens"] == 300
    assert attributes[COST] == pytest.approx(exact_price("gpt-4o-mini", "openai", input_tokens=1200, output_tokens=300), rel=1e-9)
    # a copy: the span the processor received, which other processors' exporters may be
    # reading on their own threads, is left as it was
    assert exported is not span and COST not in span.attributes and INPUT not in span.attributes
    assert exported.name == "openai.chat"
    assert exported.context == span.context
    assert exported.start_time == span.start_time and exported.end_time == span.end_time
    assert exported.kind == span.kind


def test_openinference_attributes_with_a_claude_model(pipeline):
    attributes = pipeline.exported(
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "claude-sonnet-4-5",
            "llm.provider": "anthropic",
            "llm.token_count.prompt": 2000,
            "llm.token_count.completion": 400,
            "llm.token_count.prompt_details.cache_read": 1500,
        },
        name="ChatAnthropic",
    )

    assert attributes[INPUT] == 2000
    assert attributes[OUTPUT] == 400
    assert attributes[CACHE_READ] == 1500
    expected = exact_price("claude-sonnet-4-5", "anthropic", input_tokens=2000, cache_read_tokens=1500, output_tokens=400)
    assert attributes[COST] == pytest.approx(expected, rel=1e-9)


def test_anthropic_cache_write_is_priced(pipeline):
    with_write = pipeline.exported(ours("claude-3-5-haiku", "anthropic", input=3000, cache_write=2000, output=100))
    without = pipeline.exported(ours("claude-3-5-haiku", "anthropic", input=3000, output=100))

    expected = exact_price("claude-3-5-haiku", "anthropic", input_tokens=3000, cache_write_tokens=2000, output_tokens=100)
    assert with_write[COST] == pytest.approx(expected, rel=1e-9)
    assert with_write[COST] > without[COST]  # Anthropic charges a premium to write the cache
    assert with_write[CACHE_WRITE] == 2000


def test_anthropic_cache_write_from_openllmetry_name(pipeline):
    attributes = pipeline.exported(
        {
            "gen_ai.system": "anthropic",
            "gen_ai.request.model": "claude-3-5-haiku",
            "gen_ai.usage.prompt_tokens": 3000,
            "gen_ai.usage.completion_tokens": 100,
            "gen_ai.usage.cache_creation_input_tokens": 2000,
        }
    )
    assert attributes[CACHE_WRITE] == 2000
    expected = exact_price("claude-3-5-haiku", "anthropic", input_tokens=3000, cache_write_tokens=2000, output_tokens=100)
    assert attributes[COST] == pytest.approx(expected, rel=1e-9)


# --- what is not priced ------------------------------------------------------------------


def test_unknown_model_keeps_usage_but_has_no_cost(pipeline):
    attributes = pipeline.exported(
        {
            "gen_ai.system": "openai",
            "gen_ai.request.model": "no-such-model-xyz-123",
            "gen_ai.usage.prompt_tokens": 10,
            "gen_ai.usage.completion_tokens": 5,
        }
    )
    assert COST not in attributes  # unknown ⇒ no cost attribute, not 0
    assert attributes[INPUT] == 10
    assert attributes[OUTPUT] == 5


def test_span_without_a_model_has_no_cost(pipeline):
    attributes = pipeline.exported({"gen_ai.usage.prompt_tokens": 10, "gen_ai.usage.completion_tokens": 5})
    assert COST not in attributes
    assert attributes[INPUT] == 10


def test_span_already_priced_is_passed_through_untouched(pipeline):
    span, exported = pipeline.run({**ours("gpt-4o-mini", "openai", input=1000, output=500), COST: 0.123})
    assert exported is span
    assert exported.attributes[COST] == 0.123


def test_span_priced_upstream_with_older_names_is_not_priced_twice(pipeline):
    span, exported = pipeline.run(
        {
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.prompt_tokens": 1000,
            "gen_ai.usage.completion_tokens": 500,
            COST: 0.5,
        }
    )
    assert exported is span
    assert exported.attributes[COST] == 0.5


def test_two_processors_in_a_row_price_once():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(UsageCostSpanProcessor(UsageCostSpanProcessor(SimpleSpanProcessor(exporter))))
    span = provider.get_tracer("t").start_span("s", attributes=ours("gpt-4o-mini", "openai", input=1000, output=500))
    span.end()
    (exported,) = exporter.get_finished_spans()
    assert exported.attributes[COST] == pytest.approx(
        exact_price("gpt-4o-mini", "openai", input_tokens=1000, output_tokens=500), rel=1e-9
    )


def test_invoke_agent_span_gets_usage_normalised_but_no_cost(pipeline):
    attributes = pipeline.exported(
        {
            "gen_ai.operation.name": "invoke_agent",
            "gen_ai.system": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.prompt_tokens": 1000,
            "gen_ai.usage.completion_tokens": 500,
        },
        name="invoke_agent helper",
    )
    assert attributes[INPUT] == 1000
    assert attributes[OUTPUT] == 500
    assert COST not in attributes


@pytest.mark.parametrize("operation", ["invoke_agent", "create_agent", "invoke_workflow", "execute_tool", "retrieval"])
def test_aggregating_operations_are_never_priced(pipeline, operation):
    attributes = pipeline.exported({**ours("gpt-4o-mini", "openai", input=1000, output=500), "gen_ai.operation.name": operation})
    assert COST not in attributes


def test_openinference_chain_span_has_no_cost(pipeline):
    attributes = pipeline.exported(
        {
            "openinference.span.kind": "CHAIN",
            "llm.model_name": "gpt-4o-mini",
            "llm.provider": "openai",
            "llm.token_count.prompt": 1000,
            "llm.token_count.completion": 500,
        }
    )
    assert COST not in attributes
    assert attributes[INPUT] == 1000  # usage is still normalised


def test_openinference_embedding_span_is_priced(pipeline):
    attributes = pipeline.exported(
        {
            "openinference.span.kind": "EMBEDDING",
            "llm.model_name": "text-embedding-3-small",
            "llm.provider": "openai",
            "llm.token_count.prompt": 1000,
        }
    )
    expected = exact_price("text-embedding-3-small", "openai", input_tokens=1000, output_tokens=0)
    assert attributes[COST] == pytest.approx(expected, rel=1e-9)


def test_span_without_usage_is_the_same_object(pipeline):
    span, exported = pipeline.run({"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o-mini"})
    assert exported is span
    span, exported = pipeline.run({})
    assert exported is span


GPT_4O_MINI_1000_500 = dict(input_tokens=1000, output_tokens=500)


@pytest.mark.parametrize(
    ("attributes", "priced_as"),
    [
        ({"gen_ai.request.model": "gpt-4o-mini", INPUT: "1000", OUTPUT: "500"}, None),
        ({"gen_ai.request.model": "gpt-4o-mini", INPUT: -1000, OUTPUT: -500}, None),
        # the bad cache and reasoning counts are dropped; the rest is priced
        ({"gen_ai.request.model": "gpt-4o-mini", INPUT: 1000, OUTPUT: 500, CACHE_READ: -4000, REASONING: "many"}, GPT_4O_MINI_1000_500),
        ({"gen_ai.request.model": "gpt-4o-mini", INPUT: 1.5, OUTPUT: True}, None),
        ({"gen_ai.request.model": "gpt-4o-mini", INPUT: [1, 2], OUTPUT: 10**30}, None),
        ({"gen_ai.request.model": "", INPUT: 10, OUTPUT: 5}, None),
        ({"gen_ai.request.model": "x" * 10_000, INPUT: 10, OUTPUT: 5}, None),
        ({"gen_ai.request.model": 123, "gen_ai.provider.name": 5, INPUT: 10, OUTPUT: 5}, None),
        # an unknown provider name: the model alone finds the price
        ({"gen_ai.request.model": "gpt-4o-mini", "gen_ai.provider.name": "not-a-provider", INPUT: 10, OUTPUT: 5}, dict(input_tokens=10, output_tokens=5)),
        ({"llm.model_name": "gpt-4o-mini", "llm.token_count.prompt": "ten", "openinference.span.kind": 7}, None),
    ],
)
def test_garbage_values_never_raise(pipeline, attributes, priced_as):
    span, exported = pipeline.run(attributes)  # the span is exported whatever happens
    assert exported.context == span.context
    if priced_as is None:
        assert COST not in exported.attributes
    else:
        assert exported.attributes[COST] == pytest.approx(exact_price("gpt-4o-mini", "openai", **priced_as), rel=1e-9)


def test_negative_counts_are_not_priced(pipeline):
    """A negative count is garbage: it must not yield an invented price (0.0, or a cache_read
    of -4000 making the call dearer than the same call without it)."""
    negative_input = pipeline.exported({"gen_ai.request.model": "gpt-4o-mini", INPUT: -1000, OUTPUT: -500})
    assert COST not in negative_input  # unknown ⇒ no cost attribute, not 0

    plain = pipeline.exported({"gen_ai.request.model": "gpt-4o-mini", INPUT: 1000, OUTPUT: 500})[COST]
    negative_cache = pipeline.exported({"gen_ai.request.model": "gpt-4o-mini", INPUT: 1000, OUTPUT: 500, CACHE_READ: -4000})
    assert plain == pytest.approx(exact_price("gpt-4o-mini", "openai", **GPT_4O_MINI_1000_500), rel=1e-9)
    assert negative_cache[COST] == pytest.approx(plain, rel=1e-9)  # the bad cache count is dropped, not priced


def test_string_token_counts_are_not_taken_as_usage(pipeline):
    span, exported = pipeline.run({"gen_ai.request.model": "gpt-4o-mini", INPUT: "1000", OUTPUT: "500"})
    assert exported is span
    assert COST not in exported.attributes


def test_processor_forwards_flush_and_shutdown():
    calls = []

    class Next(SimpleSpanProcessor):
        def force_flush(self, timeout_millis=30000):
            calls.append(("flush", timeout_millis))
            return True

        def shutdown(self):
            calls.append(("shutdown",))

    processor = UsageCostSpanProcessor(Next(InMemorySpanExporter()))
    assert processor.force_flush(1234) is True
    processor.shutdown()
    assert calls == [("flush", 1234), ("shutdown",)]


# --- overrides and the price book ------------------------------------------------------------


def test_price_overrides_give_an_exact_cost():
    pipeline = Pipeline(PriceBook(parse_overrides({"my-ft-model": {"input": 1.0, "output": 2.0, "cache_read": 0.5}})))
    try:
        attributes = pipeline.exported(ours("my-ft-model", "openai", input=1_000_000, cache_read=400_000, output=250_000))
    finally:
        pipeline.provider.shutdown()
    # 600k uncached × $1 + 400k cached × $0.5 + 250k × $2, per million
    assert attributes[COST] == pytest.approx(0.6 + 0.2 + 0.5, rel=1e-12)


def test_price_override_wins_over_genai_prices():
    book = PriceBook(parse_overrides({"gpt-4o-mini": {"input": 10.0, "output": 20.0}}))
    assert book.cost("openai", "gpt-4o-mini", TokenUsage(input=1_000_000, output=1_000_000)) == pytest.approx(30.0)


@pytest.mark.parametrize(
    "raw",
    [
        {"m": {"input": 1.0}},
        {"m": {"input": -1.0, "output": 1.0}},
        {"m": {"input": "1", "output": 1.0}},
        {"m": {"input": 1.0, "output": 1.0, "bogus": 1.0}},
        {"m": 3},
    ],
)
def test_invalid_overrides_are_rejected(raw):
    with pytest.raises(ValueError):
        parse_overrides(raw)


TIERED = ("google", "gemini-2.5-pro")  # tiered (dearer past 200k input tokens) in every supported genai-prices


def _tiered_models() -> list[tuple[str, str]]:
    from genai_prices import data_snapshot
    from genai_prices.types import TieredPrices

    now = datetime.now(tz=timezone.utc)
    found = []
    for provider in data_snapshot.get_snapshot().providers:
        if provider.id != "google":
            continue
        for model in provider.models:
            try:
                price = model.get_prices(now)
            except Exception:
                continue
            if model.id.startswith("gemini-") and "pro" in model.id and any(
                isinstance(value, TieredPrices) for value in vars(price).values()
            ):
                found.append((provider.id, model.id))
    return found


@pytest.mark.parametrize(
    "counts",
    [
        dict(input_tokens=1000, output_tokens=500),
        dict(input_tokens=150_000, cache_read_tokens=50_000, output_tokens=2000),
        dict(input_tokens=300_000, output_tokens=4000),  # past the 200k tier
        dict(input_tokens=250_000, cache_read_tokens=100_000, output_tokens=1000),
    ],
)
def test_tiered_model_is_priced_exactly(counts):
    provider_id, model = TIERED
    assert TIERED in _tiered_models()
    pipeline = Pipeline()
    names = {"input_tokens": INPUT, "output_tokens": OUTPUT, "cache_read_tokens": CACHE_READ}
    try:
        attributes = pipeline.exported(
            {"gen_ai.provider.name": "gcp.gemini", "gen_ai.request.model": model, **{names[k]: v for k, v in counts.items()}}
        )
    finally:
        pipeline.provider.shutdown()
    assert attributes[COST] == pytest.approx(exact_price(model, provider_id, **counts), rel=1e-9)


def test_tiered_model_costs_more_per_token_past_the_tier():
    assert TIERED in _tiered_models()
    book = PriceBook()
    small = book.cost("gcp.gemini", "gemini-2.5-pro", TokenUsage(input=100_000, output=0))
    large = book.cost("gcp.gemini", "gemini-2.5-pro", TokenUsage(input=300_000, output=0))
    assert large / 300_000 > small / 100_000  # a linear fit would miss this


USAGE_VECTORS = [
    TokenUsage(input=1, output=1),
    TokenUsage(input=1000, output=500),
    TokenUsage(input=1000, output=500, cache_read=400, reasoning=100),
    TokenUsage(input=12, output=7, cache_read=4, reasoning=2),
    TokenUsage(input=50_000, output=0),
    TokenUsage(input=0, output=8000, reasoning=6000),
    TokenUsage(input=250_000, output=30_000, cache_read=200_000),
    TokenUsage(input=5000, output=200, cache_read=1000, cache_write=2000),
]


@pytest.mark.parametrize(
    "provider, provider_id, model",
    [
        ("openai", "openai", "gpt-4o"),
        ("openai", "openai", "gpt-4o-mini"),
        ("anthropic", "anthropic", "claude-3-5-haiku"),
        ("openai", "openai", "o3-mini"),
    ],
)
@pytest.mark.parametrize("usage", USAGE_VECTORS, ids=lambda u: "-".join(map(str, u)))
def test_linear_fast_path_equals_genai_prices(provider, provider_id, model, usage):
    if usage.cache_write and provider_id == "openai":
        usage = usage._replace(cache_write=0)  # OpenAI has no cache-write price
    cost = PriceBook().cost(provider, model, usage)
    expected = exact_price(
        model,
        provider_id,
        input_tokens=usage.input,
        output_tokens=usage.output,
        cache_read_tokens=usage.cache_read,
        cache_write_tokens=usage.cache_write,
        output_reasoning_tokens=usage.reasoning,
    )
    assert cost == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_reasoning_tokens_are_part_of_output_for_o3_mini(pipeline):
    with_reasoning = pipeline.exported(ours("o3-mini", "openai", input=100, output=5000, reasoning=4000))[COST]
    without = pipeline.exported(ours("o3-mini", "openai", input=100, output=5000))[COST]
    # reasoning is a subset of output and priced as output: not charged twice
    assert with_reasoning == pytest.approx(without, rel=1e-9)
    assert with_reasoning == pytest.approx(
        exact_price("o3-mini", "openai", input_tokens=100, output_tokens=5000, output_reasoning_tokens=4000), rel=1e-9
    )


def test_unknown_model_price_is_none_and_cached():
    book = PriceBook()
    assert book.cost("openai", "definitely-not-a-model", TokenUsage(input=1, output=1)) is None
    assert book.cost("openai", "definitely-not-a-model", TokenUsage(input=1, output=1)) is None


def test_a_span_at_its_attribute_limit_is_enriched_on_a_copy():
    from opentelemetry.sdk.trace import SpanLimits

    exporter = InMemorySpanExporter()
    provider = TracerProvider(span_limits=SpanLimits(max_span_attributes=4))
    provider.add_span_processor(UsageCostSpanProcessor(SimpleSpanProcessor(exporter)))
    span = provider.get_tracer("t").start_span("chat", attributes=ours("gpt-4o-mini", "openai", input=100, output=10) | {"x": 1})
    span.end()
    (exported,) = exporter.get_finished_spans()
    assert exported.attributes[COST] == pytest.approx(exact_price("gpt-4o-mini", "openai", input_tokens=100, output_tokens=10), rel=1e-9)
    assert COST not in span.attributes  # the ended span itself is untouched: it had no room


def test_the_first_span_never_waits_for_the_price_data():
    """In a fresh process the price data is not loaded yet: the span is handed on once it is,
    priced, and the app's thread does not wait (the load takes a few hundred ms)."""
    import subprocess
    import sys

    code = """
import time
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opik_otel import UsageCostSpanProcessor
exporter = InMemorySpanExporter()
provider = TracerProvider()
provider.add_span_processor(UsageCostSpanProcessor(SimpleSpanProcessor(exporter)))
span = provider.get_tracer("t").start_span("chat", attributes={"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "gpt-4o-mini", "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 100})
started = time.perf_counter()
span.end()
ended_in = time.perf_counter() - started
before = len(exporter.get_finished_spans())
provider.force_flush()
(done,) = exporter.get_finished_spans()
print(ended_in, before, done.attributes["gen_ai.usage.cost"])
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    ended_in, before, cost = result.stdout.split()
    assert float(ended_in) < 0.05  # not the ~0.3 s load
    assert before == "0"  # held until the prices were there
    assert float(cost) == pytest.approx(exact_price("gpt-4o-mini", "openai", input_tokens=1000, output_tokens=100), rel=1e-9)
