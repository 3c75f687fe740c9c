"""Readers for the integration tests' in-memory exporter: the finished spans, the span tree as
(name, kind, parent name) rows, one span by name, attributes as plain data, JSON attributes."""

from __future__ import annotations

import json
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan

CONTENT_ATTRIBUTES = (
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
    "gen_ai.tool.definitions",
    "input.value",
)


def spans(exporter) -> list[ReadableSpan]:
    return list(exporter.get_finished_spans())


def one_span(exporter) -> ReadableSpan:
    """The only finished span (fails listing the names when there are more or none)."""
    finished = spans(exporter)
    assert len(finished) == 1, [s.name for s in finished]
    return finished[0]


def tree(exporter) -> list[tuple[str, str, str | None]]:
    """Every finished span as (name, kind, parent's name), in start order."""
    ordered = sorted(exporter.get_finished_spans(), key=lambda s: s.start_time)
    by_id = {s.context.span_id: s for s in ordered}
    rows = []
    for span in ordered:
        parent = by_id.get(span.parent.span_id) if span.parent else None
        rows.append((span.name, span.kind.name, parent.name if parent else None))
    return rows


def named(exporter, name: str) -> ReadableSpan:
    """The only finished span called `name` (fails listing the names when there are more or none)."""
    found = [s for s in exporter.get_finished_spans() if s.name == name]
    assert len(found) == 1, [s.name for s in exporter.get_finished_spans()]
    return found[0]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    """The span's attributes with the SDK's tuples turned back into lists."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in (span.attributes or {}).items()}


def every_span_has(exporter, expected: dict[str, Any]) -> None:
    """Every finished span carries `expected`'s attributes with those values (fails naming the span)."""
    for span in exporter.get_finished_spans():
        got = attrs(span)
        assert {name: got.get(name) for name in expected} == expected, span.name


def json_attr(span: ReadableSpan, name: str) -> Any:
    return json.loads(span.attributes[name])


def exception_events(span: ReadableSpan) -> list:
    return [e for e in span.events if e.name == "exception"]
