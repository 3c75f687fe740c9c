"""Offline prices from `genai-prices`, evaluated fast enough for the app's thread.

`genai-prices` computes a price in ~150 µs (Decimal arithmetic over its whole unit registry).
Nearly every model's price is linear in the token counts we know, so for each
(provider, model) we ask genai-prices once for the coefficients (finite differences of its
own `calc_price`) and then price a span with five multiplications. Models with tiered
prices (the price changes past an input-size threshold) are priced by genai-prices
itself on every call. Coefficients are re-derived hourly, so dated price changes apply.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Mapping, NamedTuple

from opik_otel.semconv.attributes import GenAiProvider
from opik_otel.semconv.providers import bedrock_base_model, prices_id

logger = logging.getLogger(__name__)

# Each provider's genai-prices id comes from the one provider table (`semconv.providers`).
_AWS = prices_id(GenAiProvider.AWS_BEDROCK)
_ANTHROPIC = prices_id(GenAiProvider.ANTHROPIC)


_MTOK = 1_000_000
_TTL_SECONDS = 3600.0
_CACHE_SIZE = 512


class TokenUsage(NamedTuple):
    """Normalised token counts. `input` includes cached tokens; `output` includes reasoning."""

    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0


@dataclass(frozen=True)
class ModelPrices:
    """A price override, in USD per million tokens (what `price_overrides` accepts)."""

    input: float
    output: float
    cache_read: float | None = None  # defaults to the input price
    cache_write: float | None = None  # defaults to the input price

    def cost(self, usage: TokenUsage) -> float:
        cache_read = self.input if self.cache_read is None else self.cache_read
        cache_write = self.input if self.cache_write is None else self.cache_write
        uncached = max(usage.input - usage.cache_read - usage.cache_write, 0)
        return (
            uncached * self.input + usage.cache_read * cache_read + usage.cache_write * cache_write + usage.output * self.output
        ) / _MTOK


def parse_overrides(raw: Mapping[str, Any]) -> dict[str, ModelPrices]:
    """`{"model": {"input": 1.0, "output": 2.0, ...}}` → validated `ModelPrices`; raises ValueError."""
    if not isinstance(raw, Mapping):
        raise ValueError("price_overrides must be a JSON object {model: {input, output, cache_read?, cache_write?}}")
    overrides = {}
    for model, prices in raw.items():
        if isinstance(prices, ModelPrices):
            overrides[model] = prices
            continue
        if not isinstance(prices, Mapping) or "input" not in prices or "output" not in prices:
            raise ValueError(f"price override for {model!r} needs 'input' and 'output' (USD per million tokens)")
        values = {k: prices.get(k) for k in ("input", "output", "cache_read", "cache_write")}
        for key, value in values.items():
            if value is not None and (not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0):
                raise ValueError(f"price override {model!r}.{key} must be a number ≥ 0, got {value!r}")
        unknown = set(prices) - set(values)
        if unknown:
            raise ValueError(f"price override for {model!r} has unknown keys {sorted(unknown)}")
        overrides[model] = ModelPrices(**{k: v for k, v in values.items() if v is not None})
    return overrides


def _genai_usage(usage: TokenUsage) -> Any:
    from genai_prices import Usage

    counts = {
        "input_tokens": usage.input,
        "output_tokens": usage.output,
        "cache_read_tokens": usage.cache_read,
        "cache_write_tokens": usage.cache_write,
    }
    try:
        return Usage(**counts, output_reasoning_tokens=usage.reasoning)
    except TypeError:  # genai-prices < 0.1 has no reasoning count (reasoning is priced as output)
        return Usage(**counts)


def _total(calculation: Any) -> float:
    """`calc_price`'s total: a dict in current genai-prices, an object in older ones."""
    total = calculation["total_price"] if isinstance(calculation, dict) else calculation.total_price
    return float(total)


class _Linear:
    """cost = constant + Σ coefficient × count, derived from genai-prices once."""

    __slots__ = ("constant", "input", "output", "cache_read", "cache_write", "reasoning")

    def __init__(self, price: Callable[[TokenUsage], float]) -> None:
        base = TokenUsage(input=2 * _MTOK, output=2 * _MTOK)
        at_base = price(base)

        def slope(**extra: int) -> float:
            moved = base._replace(**{k: getattr(base, k) + v for k, v in extra.items()})
            return (price(moved) - at_base) / _MTOK

        self.input = slope(input=_MTOK)
        self.output = slope(output=_MTOK)
        self.cache_read = slope(cache_read=_MTOK)
        self.cache_write = slope(cache_write=_MTOK)
        self.reasoning = slope(reasoning=_MTOK, output=_MTOK) - self.output
        self.constant = at_base - 2 * _MTOK * (self.input + self.output)

    def cost(self, usage: TokenUsage) -> float:
        return max(
            self.constant
            + usage.input * self.input
            + usage.output * self.output
            + usage.cache_read * self.cache_read
            + usage.cache_write * self.cache_write
            + usage.reasoning * self.reasoning,
            0.0,
        )


#: Modules that read `httpx2` from `sys.modules` without importing it (openai 2.x, on every
#: request). The price loader imports genai-prices, which imports httpx2 on the loading thread:
#: such a module could meet httpx2 half-initialised and raise in the app's call. So httpx2 is
#: imported right after them, by the thread importing them, before any of their requests.
_HTTPX2_READERS = ("openai._httpx2",)


class _Httpx2Guard:
    registered = False


def _import_httpx2(module: Any = None) -> None:
    try:
        import httpx2  # noqa: F401
    except Exception:  # pragma: no cover - not installed, or broken: the reader then never sees it either
        logger.debug("opik-otel: could not import httpx2", exc_info=True)


def load_httpx2_with_its_readers() -> None:
    """Once: import httpx2 on the thread that imports a module reading it unimported (see `_HTTPX2_READERS`)."""
    if _Httpx2Guard.registered:
        return
    _Httpx2Guard.registered = True
    import importlib.util

    # only readers that are installed, and only with httpx2 installed (else wrapt stays unimported)
    readers = [name for name in _HTTPX2_READERS if importlib.util.find_spec(name.partition(".")[0]) is not None]
    if not readers or importlib.util.find_spec("httpx2") is None:
        return
    import wrapt

    for name in readers:
        wrapt.register_post_import_hook(_import_httpx2, name)  # runs now if it is imported already


class PriceBook:
    """Prices a model's usage in USD: overrides first, then genai-prices; None when unknown."""

    def __init__(self, overrides: Mapping[str, ModelPrices] | None = None) -> None:
        load_httpx2_with_its_readers()
        self.overrides = dict(overrides or {})
        # (provider, model) → (derived at, pricer); bounded, oldest derivation evicted first
        self._cache: OrderedDict[tuple[str | None, str], tuple[float, Callable[[TokenUsage], float] | None]] = OrderedDict()
        self._lock = threading.Lock()
        from opik_otel._runtime import after_fork_in_child

        after_fork_in_child(self._at_fork_reinit)

    def _at_fork_reinit(self) -> None:
        self._lock = threading.Lock()  # the parent's may have been held at the fork

    def cost(self, provider: str | None, model: str, usage: TokenUsage) -> float | None:
        override = self.overrides.get(model)
        if override is not None:
            return override.cost(usage)
        provider_id = prices_id(provider)
        pricer = self._pricer(provider_id, model)
        if pricer is None and provider_id == _AWS:
            pricer = self._bedrock_pricer(model)
        if pricer is None:
            return None
        try:
            return round(pricer(usage), 12)
        except Exception:
            logger.debug("opik-otel: pricing %s failed", model, exc_info=True)
            return None

    def _bedrock_pricer(self, model: str) -> Callable[[TokenUsage], float] | None:
        """A Bedrock id genai-prices does not know as sent: the ARN's resource id, then the bare
        model id; an Anthropic model Bedrock's table lacks (Claude 2) at Anthropic's list price,
        which Bedrock's on-demand price for it equals."""
        resource = model.rsplit("/", 1)[-1] if model.startswith("arn:") else model
        base = bedrock_base_model(model)
        for candidate in dict.fromkeys((resource, base)):
            if candidate != model:
                pricer = self._pricer(_AWS, candidate)
                if pricer is not None:
                    return pricer
        if base.startswith(("anthropic.", "claude-")):
            return self._pricer(_ANTHROPIC, base.removeprefix("anthropic."))
        return None

    def _pricer(self, provider_id: str | None, model: str) -> Callable[[TokenUsage], float] | None:
        key = (provider_id, model)
        now = time.monotonic()
        entry = self._cache.get(key)  # a plain read is safe under the GIL; only writes lock
        if entry is not None and now - entry[0] < _TTL_SECONDS:
            return entry[1]
        pricer = _build_pricer(provider_id, model)
        with self._lock:
            self._cache.pop(key, None)
            self._cache[key] = (now, pricer)
            if len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return pricer


def _build_pricer(provider_id: str | None, model: str) -> Callable[[TokenUsage], float] | None:
    """A fast pricer for this model, or None when genai-prices does not know it."""
    try:
        from datetime import datetime, timezone

        from genai_prices.types import TieredPrices

        snapshot = _snapshot()
        provider, info = snapshot.find_provider_model(model, None, provider_id, None)
        model_price = info.get_prices(datetime.now(tz=timezone.utc))
    except LookupError:
        return None
    except Exception:
        logger.debug("opik-otel: no price for %s/%s", provider_id, model, exc_info=True)
        return None

    def exact(usage: TokenUsage) -> float:
        return _total(model_price.calc_price(_genai_usage(usage)))

    if any(isinstance(value, TieredPrices) for value in vars(model_price).values()):
        return exact
    try:
        return _Linear(exact).cost
    except Exception:
        logger.debug("opik-otel: could not derive linear prices for %s; using exact pricing", model, exc_info=True)
        return exact


_LOAD_WAIT_S = 30.0  # how long pricing waits for the loading thread before loading on its own
_FORK_WAIT_S = 5.0  # how long a fork waits for a load under way to end


def _snapshot() -> Any:
    """genai-prices' snapshot. It is loaded on the loading thread (`warm_up`), also when pricing
    needs it first, so that a fork knows a load is under way and waits for it to end."""
    from genai_prices import data_snapshot

    if not _Snapshot.ready.is_set():
        wait_ready(_LOAD_WAIT_S)
    return data_snapshot.get_snapshot()


class _Snapshot:
    """Loading genai-prices' snapshot takes ~0.2-0.4 s: done once, on a background thread."""

    ready = threading.Event()
    lock = threading.Lock()
    started = False
    callbacks: list[Callable[[], None]] = []


def warm_up() -> None:
    """Start loading the price snapshot in the background (once); the app's thread never waits for it.
    Started by the first span that needs a price, not at start-up (the load takes a few hundred ms of CPU)."""
    with _Snapshot.lock:
        if _Snapshot.started:
            return
        _Snapshot.started = True

    def load() -> None:
        try:
            from genai_prices import data_snapshot

            data_snapshot.get_snapshot()
        except Exception:  # pragma: no cover
            logger.debug("opik-otel: price snapshot did not load", exc_info=True)
        with _Snapshot.lock:
            _Snapshot.ready.set()
            callbacks, _Snapshot.callbacks = _Snapshot.callbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # pragma: no cover
                logger.debug("opik-otel: a price-ready callback failed", exc_info=True)

    threading.Thread(target=load, name="opik-otel-prices", daemon=True).start()


def _snapshot_before_fork() -> None:
    """A fork waits (at most `_FORK_WAIT_S`) for a load under way to end: a child forked in the
    middle of importing the price data could never finish that import (the module's import
    lock belongs to the parent's loading thread, which does not exist in the child)."""
    if _Snapshot.started and not _Snapshot.ready.is_set():
        _Snapshot.ready.wait(_FORK_WAIT_S)


def _snapshot_after_fork_in_child() -> None:
    """A child forked while the snapshot was still loading (past the wait) loads it itself: the
    parent's loading thread does not exist in the child, and would never set `ready` nor run
    the callbacks."""
    _Snapshot.lock = threading.Lock()
    if _Snapshot.started and not _Snapshot.ready.is_set():
        _Snapshot.ready = threading.Event()
        _Snapshot.started = False
        warm_up()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_snapshot_before_fork, after_in_child=_snapshot_after_fork_in_child)


def prices_ready() -> bool:
    return _Snapshot.ready.is_set()


def when_ready(callback: Callable[[], None]) -> None:
    """Run `callback` once the snapshot is loaded: now if it is, else on the loading thread."""
    with _Snapshot.lock:
        if not _Snapshot.ready.is_set():
            _Snapshot.callbacks.append(callback)
            callback = None  # type: ignore[assignment]
    if callback is not None:
        callback()
    warm_up()


def wait_ready(timeout: float) -> bool:
    warm_up()
    return _Snapshot.ready.wait(timeout)
