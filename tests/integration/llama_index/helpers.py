"""Readers for the LlamaIndex tests: the span tree as (name, kind, parent name) rows."""

from __future__ import annotations

from typing import Any

from opentelemetry.sdk.trace import ReadableSpan


def tree(exporter) -> list[tuple[str, str, str | None]]:
    """Every finished span as (name, kind, parent's name), in start order."""
    spans = sorted(exporter.get_finished_spans(), key=lambda s: s.start_time)
    by_id = {s.context.span_id: s for s in spans}
    rows = []
    for span in spans:
        parent = by_id.get(span.parent.span_id) if span.parent else None
        rows.append((span.name, span.kind.name, parent.name if parent else None))
    return rows


def named(exporter, name: str) -> ReadableSpan:
    found = [s for s in exporter.get_finished_spans() if s.name == name]
    assert len(found) == 1, [s.name for s in exporter.get_finished_spans()]
    return found[0]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in (span.attributes or {}).items()}
