"""What the frameworks' zero-code tests share: the app run under `opentelemetry-instrument` (the e2e
runner, `run_app`, with the test project `PROJECT`) and the Opik spans it delivered as rows."""

from __future__ import annotations

from typing import Any, Iterable

from tests.e2e.test_zero_code import PROJECT, run_app

__all__ = ["PROJECT", "run_app", "rows_in_order", "span_rows"]

Row = tuple[str, str, str | None]


def rows_in_order(rows: Iterable[Row]) -> list[Row]:
    """(name, type, parent's name) rows in one order, whatever the order they came in (a root's parent, None, first)."""
    return sorted(rows, key=lambda row: (row[0], row[1], row[2] is not None, row[2] or ""))


def span_rows(backend: Any, names: Iterable[str] | None = None) -> list[Row]:
    """The spans the fake Opik back end received as (name, type, parent's name) rows, in
    `rows_in_order`'s order; only those called one of `names` when given."""
    by_id = backend.spans
    return rows_in_order(
        (s["name"], s["type"], by_id[s["parent_span_id"]]["name"] if "parent_span_id" in s else None)
        for s in by_id.values()
        if names is None or s["name"] in names
    )
