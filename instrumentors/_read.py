"""Small readers shared by provider adapters: field access on dicts or objects, typed picks."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from opik_otel import semconv as sc
from opik_otel.semconv.providers import provider_of_host



def field(obj: Any, name: str, default: Any = None) -> Any:
    """`obj[name]` for mappings, `obj.name` otherwise; `default` when absent."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def number(value: Any) -> int | float | None:
    """The value if it is a real int/float (not bool, not a library's NOT_GIVEN sentinel)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    return None


def integer(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def strings(value: Any) -> list[str] | None:
    """A string or a list of strings, as a list; anything else None."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        return list(value)
    return None


def put(attributes: dict[str, Any], key: str, value: Any) -> None:
    """Set `key` only when `value` is present."""
    if value is not None:
        attributes[key] = value


def maybe_json(value: Any) -> Any:
    """Parse a JSON string (tool arguments), keeping the string when it is not JSON."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def as_plain(value: Any) -> Any:
    """Pydantic models and other objects to plain JSON-able data (best effort)."""
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json", exclude_none=True)
        except Exception:
            return str(value)
    return value


@lru_cache(maxsize=256)
def _endpoint(url: str, provider: str) -> tuple[tuple[str, Any], ...]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return (
        (sc.GEN_AI_PROVIDER_NAME, provider_of_host(host) or provider),
        (sc.SERVER_ADDRESS, host),
        (sc.SERVER_PORT, parts.port or (80 if parts.scheme == "http" else 443)),
    )


def endpoint(url: str, provider: str) -> dict[str, Any]:
    """`gen_ai.provider.name`, `server.address` and `server.port` of a client's base URL: a host
    the provider table knows (`api.deepseek.com`) names its provider, any other host `provider`."""
    return dict(_endpoint(url, provider))
