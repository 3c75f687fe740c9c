"""Opik exporter: span → Opik mapping (pure functions), REST client, `OpikSpanExporter`.

Names load on first use: the local store needs only the mapping, and start-up should not pay
for the HTTP client's imports it will never use.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "OPIK_TRACE_STATE_KEY": "opik_otel.exporters.opik.mapping",
    "OpikIdMapper": "opik_otel._ids",
    "OpikRestClient": "opik_otel.exporters.opik.client",
    "OpikSpanExporter": "opik_otel.exporters.opik.exporter",
    "UuidV7IdGenerator": "opik_otel._ids",
    "is_root": "opik_otel.exporters.opik.mapping",
    "opik_provider": "opik_otel.exporters.opik.mapping",
    "otel_to_opik_id": "opik_otel._ids",
    "span_to_opik": "opik_otel.exporters.opik.mapping",
    "span_type": "opik_otel.exporters.opik.mapping",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
