"""Small readers shared by provider adapters: field access on dicts or objects, typed picks."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Callable, Mapping
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


def _itself(value: Any) -> Any:
    return value


def document_row(doc_id: Any, score: Any, content: Any) -> dict[str, Any]:
    """A retrieved document as a `{"id", "score", "content"}` row: the id as text when there is
    one, the score when it is a number."""
    row: dict[str, Any] = {}
    if doc_id is not None:
        row["id"] = str(doc_id)
    if number(score) is not None:
        row["score"] = score
    row["content"] = content
    return row


#: A leaf reader's answer for a value it has no rule for (`plain_data` then tries `model_dump`).
UNREAD: Any = object()


def plain_data(
    value: Any,
    leaf: Callable[[Any, int], Any],
    depth: int = 0,
    max_depth: int = 8,
    otherwise: Callable[[Any], Any] = _itself,
) -> Any:
    """`value` as plain JSON data (a framework's run input or output): None and scalars as they
    are (and anything past `max_depth`), mappings and lists/tuples item by item, any other value
    as `leaf(value, depth)` reads it (the framework's own rules; it recurses at `depth + 1`), else,
    when `leaf` answers `UNREAD`, a pydantic model's `model_dump`, else `otherwise(value)`."""
    if value is None or isinstance(value, (str, int, float, bool)) or depth > max_depth:
        return value
    if isinstance(value, Mapping):
        return {str(key): plain_data(item, leaf, depth + 1, max_depth, otherwise) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_data(item, leaf, depth + 1, max_depth, otherwise) for item in value]
    read = leaf(value, depth)
    if read is not UNREAD:
        return read
    dump = getattr(value, "model_dump", None)
    if callable(dump):
        try:
            return dump(mode="json", exclude_none=True)
        except Exception:
            return otherwise(value)
    return otherwise(value)


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
