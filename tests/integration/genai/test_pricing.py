"""Gemini prices through the provider table: `gcp.gemini` and `gcp.vertex_ai` are genai-prices'
`google`, including the long-context tier (Gemini 2.5 Pro above 200k input tokens)."""

import pytest
from genai_prices import Usage, calc_price

from opik_otel._pricing import PriceBook, TokenUsage


@pytest.mark.parametrize("provider", ["gcp.gemini", "gcp.vertex_ai"])
@pytest.mark.parametrize("input_tokens", [100_000, 300_000], ids=["short", "long context"])
def test_gemini_prices_with_their_long_context_tier(provider, input_tokens):
    expected = float(calc_price(Usage(input_tokens=input_tokens, output_tokens=1_000), "gemini-2.5-pro", provider_id="google").total_price)

    assert PriceBook().cost(provider, "gemini-2.5-pro", TokenUsage(input=input_tokens, output=1_000)) == pytest.approx(expected, rel=1e-9)


def test_the_long_context_tier_costs_more_per_token():
    book = PriceBook()
    short = book.cost("gcp.gemini", "gemini-2.5-pro", TokenUsage(input=100_000, output=1_000))
    long = book.cost("gcp.gemini", "gemini-2.5-pro", TokenUsage(input=300_000, output=1_000))
    assert long / 300_000 > short / 100_000
