"""One vocabulary: a provider name, a token count or a model is read the same way by the
processor (usage and cost) and the Opik mapping (provider, usage), whatever instrumentation
wrote it. Each span goes through the real processor, then the real mapping."""

from __future__ import annotations

import pytest
from genai_prices import Usage, calc_price
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from opik_otel import UsageCostSpanProcessor
from opik_otel._ids import OpikIdMapper
from opik_otel.exporters.opik.mapping import span_to_opik
from opik_otel.semconv.attributes import GenAiProvider

BEDROCK_LLAMA = "meta.llama3-1-8b-instruct-v1:0"  # priced under aws alone, in every supported genai-prices


@pytest.fixture
def pipeline():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(UsageCostSpanProcessor(SimpleSpanProcessor(exporter)))
    tracer = provider.get_tracer("test")

    def run(attributes: dict) -> tuple[dict, dict]:
        """(the exported span's attributes, its Opik span dict)."""
        tracer.start_span("call", attributes=attributes).end()
        (span,) = exporter.get_finished_spans()
        exporter.clear()
        return dict(span.attributes), span_to_opik(span, OpikIdMapper(), "Default Project")[0]

    yield run
    provider.shutdown()


def genai_prices_cost(model: str, provider_id: str, input_tokens: int, output_tokens: int) -> float:
    return float(calc_price(Usage(input_tokens=input_tokens, output_tokens=output_tokens), model, provider_id=provider_id).total_price)


# The provider values instrumentations write (ours, the conventions' older names, OpenLLMetry's
# capitalised gen_ai.system, OpenInference's llm.provider): each is priced by the provider's
# genai-prices id and named by Opik's provider name.
@pytest.mark.parametrize(
    ("written", "model", "prices_id", "opik_name"),
    [
        ("openai", "gpt-4o-mini", "openai", "openai"),
        ("OpenAI", "gpt-4o-mini", "openai", "openai"),
        ("azure.ai.openai", "gpt-4o-mini", "azure", "azure"),
        ("az.ai.openai", "gpt-4o-mini", "azure", "azure"),
        ("azure.ai.inference", "gpt-4o-mini", "azure", "azure"),
        ("anthropic", "claude-3-5-haiku", "anthropic", "anthropic"),
        ("Anthropic", "claude-3-5-haiku", "anthropic", "anthropic"),
        ("aws.bedrock", BEDROCK_LLAMA, "aws", "bedrock"),
        ("aws", BEDROCK_LLAMA, "aws", "bedrock"),
        ("AWS", BEDROCK_LLAMA, "aws", "bedrock"),
        ("aws_bedrock", BEDROCK_LLAMA, "aws", "bedrock"),
        ("bedrock", BEDROCK_LLAMA, "aws", "bedrock"),
        ("gcp.gemini", "gemini-2.5-flash", "google", "google_ai"),
        ("gemini", "gemini-2.5-flash", "google", "google_ai"),
        ("gcp.vertex_ai", "gemini-2.5-flash", "google", "google_vertexai"),
        ("vertexai", "gemini-2.5-flash", "google", "google_vertexai"),
        ("mistral_ai", "mistral-large-latest", "mistral", "mistral"),
        ("MistralAI", "mistral-large-latest", "mistral", "mistral"),
        ("mistral", "mistral-large-latest", "mistral", "mistral"),
        ("x_ai", "grok-3", "x-ai", "xai"),
        ("deepseek", "deepseek-chat", "deepseek", "deepseek"),
        ("groq", "llama-3.3-70b-versatile", "groq", "groq"),
        ("cohere", "command-r", "cohere", "cohere"),
        ("fireworks", "accounts/fireworks/models/llama-v3p1-8b-instruct", "fireworks", "fireworks_ai"),
    ],
)
def test_every_provider_name_is_priced_and_named_alike(pipeline, written, model, prices_id, opik_name):
    attributes, opik_span = pipeline(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": written,
            "gen_ai.request.model": model,
            "gen_ai.usage.input_tokens": 1000,
            "gen_ai.usage.output_tokens": 100,
        }
    )
    expected = genai_prices_cost(model, prices_id, 1000, 100)
    assert (opik_span["provider"], opik_span["model"]) == (opik_name, model)
    assert attributes["gen_ai.usage.cost"] == pytest.approx(expected, rel=1e-9)
    assert opik_span["total_estimated_cost"] == pytest.approx(expected, rel=1e-9)


def test_the_one_provider_table_covers_every_name_we_write_and_genai_prices_knows_its_ids():
    from genai_prices import data_snapshot

    from opik_otel.semconv.providers import PROVIDERS, known_provider, provider_of_host

    genai_prices_ids = {provider.id for provider in data_snapshot.get_snapshot().providers}
    assert {p.prices_id for p in PROVIDERS} <= genai_prices_ids
    conventions = {v for k, v in vars(GenAiProvider).items() if k.isupper()} - {GenAiProvider.IBM_WATSONX_AI}  # not priced
    assert {name for name in conventions if known_provider(name) is None} == set()
    hosts = [f"res{host}" if host.startswith(".") else host for p in PROVIDERS for host in p.hosts]
    assert [known_provider(provider_of_host(host)).name for host in hosts] == [p.name for p in PROVIDERS for _ in p.hosts]
    names = [name.lower() for p in PROVIDERS for name in (p.name, *p.aliases)]
    assert len(names) == len(set(names)), "a name belongs to one provider"


def test_a_google_name_that_says_no_back_end_is_resolved_by_the_host(pipeline):
    _, vertex = pipeline({"gen_ai.provider.name": "gcp.gen_ai", "gen_ai.request.model": "gemini-2.5-flash",
                          "server.address": "us-central1-aiplatform.googleapis.com"})
    _, studio = pipeline({"gen_ai.provider.name": "gcp.gen_ai", "gen_ai.request.model": "gemini-2.5-flash",
                          "server.address": "generativelanguage.googleapis.com"})
    assert (vertex["provider"], studio["provider"]) == ("google_vertexai", "google_ai")


def test_the_anthropic_sdks_cache_write_count_is_usage_not_metadata(pipeline):
    """anthropic >= 2 names cache writes `gen_ai.usage.cache_write.input_tokens`: the processor
    prices it, and the mapping reads it as usage like every other token name it knows."""
    attributes, opik_span = pipeline(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "anthropic",
            "gen_ai.request.model": "claude-3-5-haiku",
            "gen_ai.usage.input_tokens": 3000,
            "gen_ai.usage.output_tokens": 100,
            "gen_ai.usage.cache_write.input_tokens": 2000,
        }
    )
    assert attributes["gen_ai.usage.cache_creation.input_tokens"] == 2000
    assert opik_span["usage"] == {
        "prompt_tokens": 3000,
        "completion_tokens": 100,
        "cache_creation_input_tokens": 2000,
        "total_tokens": 3100,
    }
    assert "gen_ai.usage.cache_write.input_tokens" not in opik_span["metadata"]


def test_a_count_too_large_to_be_a_token_count_is_read_by_neither(pipeline):
    attributes, opik_span = pipeline(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o-mini",
            "gen_ai.usage.prompt_tokens": 2**60,
            "gen_ai.usage.output_tokens": 100,
        }
    )
    assert "gen_ai.usage.input_tokens" not in attributes
    assert attributes["gen_ai.usage.cost"] == pytest.approx(genai_prices_cost("gpt-4o-mini", "openai", 0, 100), rel=1e-9)
    assert opik_span["usage"] == {"completion_tokens": 100, "total_tokens": 100}


# --- the one endpoint helper: every provider's client is read the same way ------------------


def test_an_anthropic_client_on_an_openai_compatible_host_names_that_provider():
    """The host table is the instrumentors' one: DeepSeek also serves the Anthropic API."""
    anthropic = pytest.importorskip("anthropic")
    from opik_otel.instrumentors.anthropic.instrumentor import endpoint_attributes

    with anthropic.Anthropic(base_url="https://api.deepseek.com/anthropic", api_key="k") as client:
        assert endpoint_attributes(client.messages) == {
            "gen_ai.provider.name": "deepseek", "server.address": "api.deepseek.com", "server.port": 443,
        }


def test_a_bedrock_client_on_plain_http_has_port_80():
    boto3 = pytest.importorskip("boto3")
    from opik_otel.instrumentors.bedrock.converse import endpoint_attributes

    client = boto3.client("bedrock-runtime", region_name="us-east-1", endpoint_url="http://bedrock.internal",
                          aws_access_key_id="k", aws_secret_access_key="s")
    assert endpoint_attributes(client) == {
        "gen_ai.provider.name": "aws.bedrock", "server.address": "bedrock.internal", "server.port": 80,
    }
