"""What a span says about its call, read the same way by the usage/cost processor and the Opik
mapping: token counts, model and provider, under our names (the conventions'), then the older
`gen_ai.*` names other instrumentations (OpenLLMetry, the anthropic SDK) write, then
OpenInference's `llm.*`. Also the one cache-inclusive input count providers that report
cached tokens apart need.
"""

from __future__ import annotations

from typing import Any, Mapping, NamedTuple

from opik_otel.semconv import attributes as a

# Where each count may be found, in order of preference.
INPUT_TOKENS = (a.GEN_AI_USAGE_INPUT_TOKENS, a.GEN_AI_USAGE_PROMPT_TOKENS, a.LLM_TOKEN_COUNT_PROMPT)
OUTPUT_TOKENS = (a.GEN_AI_USAGE_OUTPUT_TOKENS, a.GEN_AI_USAGE_COMPLETION_TOKENS, a.LLM_TOKEN_COUNT_COMPLETION)
CACHE_READ_TOKENS = (
    a.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    a.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS_OPENLLMETRY,
    a.LLM_TOKEN_COUNT_PROMPT_CACHE_READ,
)
CACHE_WRITE_TOKENS = (
    a.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    a.GEN_AI_USAGE_CACHE_WRITE_INPUT_TOKENS,
    a.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS_OPENLLMETRY,
    a.LLM_TOKEN_COUNT_PROMPT_CACHE_WRITE,
)
REASONING_TOKENS = (a.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS, a.LLM_TOKEN_COUNT_COMPLETION_REASONING)
TOTAL_TOKENS = (a.LLM_USAGE_TOTAL_TOKENS, a.LLM_TOKEN_COUNT_TOTAL)
MODEL_KEYS = (a.GEN_AI_RESPONSE_MODEL, a.GEN_AI_REQUEST_MODEL, a.LLM_MODEL_NAME)
PROVIDER_KEYS = (a.GEN_AI_PROVIDER_NAME, a.GEN_AI_SYSTEM, a.LLM_PROVIDER, a.LLM_SYSTEM)


class TokenCounts(NamedTuple):
    """A span's token counts, each None when the span has none. `input` includes cached tokens;
    `output` includes reasoning (the conventions' counts)."""

    input: int | None = None
    output: int | None = None
    cache_read: int | None = None
    cache_write: int | None = None
    reasoning: int | None = None


# The attributes each count is read from, in `TokenCounts` order.
TOKEN_SOURCES = (INPUT_TOKENS, OUTPUT_TOKENS, CACHE_READ_TOKENS, CACHE_WRITE_TOKENS, REASONING_TOKENS)
TOKEN_KEYS: frozenset[str] = frozenset(key for keys in (*TOKEN_SOURCES, TOTAL_TOKENS) for key in keys)

_MAX_TOKENS = 2**53  # anything larger (or negative) is not a token count: treated as absent


def first_count(attributes: Mapping[str, Any], keys: tuple[str, ...]) -> int | None:
    """The first value among `keys` that is a token count (an int from 0 to 2**53, bools excluded)."""
    for key in keys:
        value = attributes.get(key)
        is_count = type(value) is int or (isinstance(value, int) and not isinstance(value, bool))  # fast path first
        if is_count and 0 <= value < _MAX_TOKENS:
            return value
    return None


def first_text(attributes: Mapping[str, Any], keys: tuple[str, ...]) -> str | None:
    """The first value among `keys` that is a non-empty string."""
    for key in keys:
        value = attributes.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def token_counts(attributes: Mapping[str, Any]) -> TokenCounts:
    """Every token count a span's attributes give, under whichever instrumentation's names."""
    if TOKEN_KEYS.isdisjoint(attributes):  # most spans of a framework trace: one pass in C
        return _NO_COUNTS
    return TokenCounts(*(first_count(attributes, keys) for keys in TOKEN_SOURCES))


_NO_COUNTS = TokenCounts()


def cache_inclusive_usage(uncached_input: int | None, output: int | None, cache_read: int | None, cache_write: int | None) -> dict[str, int]:
    """Token attributes of a provider that counts cached input apart (Anthropic, Bedrock):
    `gen_ai.usage.input_tokens` is uncached + cache reads + cache writes, as the conventions want."""
    cache_read, cache_write = cache_read or 0, cache_write or 0
    attributes = {a.GEN_AI_USAGE_INPUT_TOKENS: (uncached_input or 0) + cache_read + cache_write}
    if output is not None:
        attributes[a.GEN_AI_USAGE_OUTPUT_TOKENS] = output
    if cache_read:
        attributes[a.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cache_read
    if cache_write:
        attributes[a.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS] = cache_write
    return attributes
