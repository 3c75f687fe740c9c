"""`UsageCostSpanProcessor`: normalise token usage and add `gen_ai.usage.cost` to ended spans."""

from __future__ import annotations

import logging
import threading
from typing import Any, Mapping

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor

from opik_otel import semconv as sc
from opik_otel._span_attributes import span_attributes
from opik_otel._runtime import after_fork_in_child
from opik_otel._pricing import PriceBook, TokenUsage, prices_ready, wait_ready, when_ready
from opik_otel.semconv.providers import known_provider
from opik_otel.semconv.usage import (
    INPUT_TOKENS,
    MODEL_KEYS,
    OUTPUT_TOKENS,
    PROVIDER_KEYS,
    first_count,
    first_text,
    token_counts,
)

logger = logging.getLogger(__name__)

# Bedrock bills the model id as sent (a global profile costs less than a regional one); its
# reply names only the model, which prices the call when the id as sent cannot (an application profile).
_MODEL_AS_SENT_FIRST = (sc.GEN_AI_REQUEST_MODEL, sc.GEN_AI_RESPONSE_MODEL, sc.LLM_MODEL_NAME)
_PRICED_AS_SENT = frozenset({sc.GenAiProvider.AWS_BEDROCK})
# Our name of each count (in `TokenCounts` order), added where a span has it under another name only.
_NORMALISED = (
    sc.GEN_AI_USAGE_INPUT_TOKENS,
    sc.GEN_AI_USAGE_OUTPUT_TOKENS,
    sc.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS,
    sc.GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS,
    sc.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS,
)

# Spans that aggregate their children's usage are never priced: cost stays on the billed call.
_NOT_BILLED_OPERATIONS = frozenset(
    {"invoke_agent", "create_agent", "invoke_workflow", "execute_tool", "retrieval"}
)
_OPENINFERENCE_KIND = "openinference.span.kind"
_OPENINFERENCE_BILLED = frozenset({"LLM", "EMBEDDING"})


_MAX_WAITING = 10_000


def _needs_price(attributes: Mapping[str, Any]) -> bool:
    """A span this processor would price (it has token counts and no cost yet)."""
    return sc.GEN_AI_USAGE_COST not in attributes and (
        first_count(attributes, INPUT_TOKENS) is not None or first_count(attributes, OUTPUT_TOKENS) is not None
    )


def _is_billed_call(attributes: Mapping[str, Any]) -> bool:
    if attributes.get(sc.GEN_AI_OPERATION_NAME) in _NOT_BILLED_OPERATIONS:
        return False
    kind = attributes.get(_OPENINFERENCE_KIND)
    return kind is None or kind in _OPENINFERENCE_BILLED


def usage_and_cost(attributes: Mapping[str, Any], prices: PriceBook) -> dict[str, Any]:
    """The attributes to add to a span: normalised `gen_ai.usage.*` and, when priced, the cost."""
    if sc.GEN_AI_USAGE_COST in attributes:
        return {}  # priced already (by us upstream, or by the instrumentation itself)
    counts = token_counts(attributes)
    if counts.input is None and counts.output is None:
        return {}
    usage = TokenUsage(*(count or 0 for count in counts))  # the same five counts, in the same order
    added: dict[str, Any] = {}
    normalised = (counts.input, counts.output, usage.cache_read or None, usage.cache_write or None, usage.reasoning or None)
    for name, value in zip(_NORMALISED, normalised):
        if value is not None and name not in attributes:
            added[name] = value
    if _is_billed_call(attributes):
        cost = _cost(attributes, prices, usage)
        if cost is not None:
            added[sc.GEN_AI_USAGE_COST] = cost
    return added


def _cost(attributes: Mapping[str, Any], prices: PriceBook, usage: TokenUsage) -> float | None:
    """The call's price by the response's model, else the request's; Bedrock's by the id as sent, else by the model its reply names."""
    provider = first_text(attributes, PROVIDER_KEYS)
    known = known_provider(provider)
    if known is None or known.name not in _PRICED_AS_SENT:
        model = first_text(attributes, MODEL_KEYS)
        return prices.cost(provider, model, usage) if model else None
    for name in _MODEL_AS_SENT_FIRST:
        model = attributes.get(name)
        if isinstance(model, str) and model:
            cost = prices.cost(provider, model, usage)
            if cost is not None:
                return cost
    return None


def with_attributes(span: ReadableSpan, extra: Mapping[str, Any]) -> ReadableSpan:
    """A copy of an ended span with `extra` attributes added.

    A copy, never the span itself: other processors of the provider got the same ended span
    and their exporters may be reading its attributes on another thread right now."""
    attributes = {**span_attributes(span), **extra}
    return ReadableSpan(
        name=span.name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes,
        events=span.events,
        links=span.links,
        kind=span.kind,
        status=span.status,
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )


def add_usage_and_cost(span: ReadableSpan, prices: PriceBook) -> ReadableSpan:
    """The span with usage normalised and its cost added (the span itself when nothing is to add).

    Never raises. `configure()`'s batch processor calls it on its worker thread, just before
    export, so pricing costs the app's thread nothing."""
    try:
        extra = usage_and_cost(span_attributes(span), prices)
        if extra:
            return with_attributes(span, extra)
    except Exception:
        logger.debug("opik-otel: could not add usage/cost to span %r", getattr(span, "name", None), exc_info=True)
    return span


class UsageCostSpanProcessor(SpanProcessor):
    """Wraps the next processor; hands it each ended span with usage normalised and cost added.

    Reads our attributes and other instrumentations' (OpenLLMetry, OpenInference), prices
    offline with `genai-prices` (or `price_overrides`, USD per million tokens), never raises,
    never prices a span twice. The next processor gets a copy of the span with the added
    attributes (the span itself when there is nothing to add).
    """

    def __init__(self, next_processor: SpanProcessor, prices: PriceBook | None = None) -> None:
        self.next_processor = next_processor
        self.prices = prices or PriceBook()
        self._after_fork_in_child()
        after_fork_in_child(self._after_fork_in_child)

    def _after_fork_in_child(self) -> None:
        """Fresh locks and an empty hold: spans the parent held for their price are the parent's."""
        self._waiting: list[ReadableSpan] = []  # ended before the price data was loaded
        self._waiting_lock = threading.Lock()
        self._release_lock = threading.Lock()

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        self.next_processor.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        try:
            if not prices_ready() and _needs_price(span_attributes(span)) and self._wait_for_prices(span):
                return  # handed on, priced, by the loading thread: the app's thread never waits
        except Exception:
            logger.debug("opik-otel: could not hold span %r for its price", span.name, exc_info=True)
        self.next_processor.on_end(add_usage_and_cost(span, self.prices))

    def _wait_for_prices(self, span: ReadableSpan) -> bool:
        with self._waiting_lock:
            if len(self._waiting) >= _MAX_WAITING:
                return False  # priced on this thread after all, rather than held without bound
            first = not self._waiting
            self._waiting.append(span)
        if first:
            when_ready(self._release)
        return True

    def _release(self) -> None:
        with self._release_lock:  # a flush waits for a release under way on the loading thread
            with self._waiting_lock:
                waiting, self._waiting = self._waiting, []
            for span in waiting:
                self.next_processor.on_end(add_usage_and_cost(span, self.prices))

    def _flush_waiting(self, timeout_millis: int) -> None:
        if self._waiting or self._release_lock.locked():
            wait_ready(timeout_millis / 2000)
            self._release()

    def shutdown(self) -> None:
        self._flush_waiting(5000)
        self.next_processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        self._flush_waiting(timeout_millis)
        return self.next_processor.force_flush(timeout_millis)
