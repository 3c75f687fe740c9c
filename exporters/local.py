"""The offline default: Opik-shaped trace and span records in local JSON-lines files.

One file per day (`traces-YYYY-MM-DD.jsonl`) in a user data folder. Each record is one
line written with a single `write()` on a file opened in append mode, so several
processes can write at once without interleaving. The folder is bounded in size: past
`max_bytes`, the oldest day files are removed.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from opik_otel._ids import OpikIdMapper
from opik_otel.exporters.opik.mapping import span_to_opik

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 200 * 1024 * 1024


class LocalStoreExporter(SpanExporter):
    """Writes each span (and each trace, from its root span) as a JSON line; no network."""

    def __init__(self, directory: Path, project_name: str = "Default Project", max_bytes: int = DEFAULT_MAX_BYTES,
                 max_field_bytes: int | None = 20_000_000) -> None:
        self.directory = Path(directory)
        self.max_field_bytes = max_field_bytes
        self.project_name = project_name
        self.max_bytes = max_bytes
        self._ids = OpikIdMapper()
        self._lock = threading.Lock()
        self._announced = False
        self._announce(self.directory / f"traces-{datetime.now(timezone.utc):%Y-%m-%d}.jsonl")  # once, before any output of the app

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for span in spans:
            try:
                span_record, trace_record = span_to_opik(span, self._ids, self.project_name, self.max_field_bytes)
            except Exception:
                logger.debug("opik-otel: could not map span %r", span.name, exc_info=True)
                continue
            if trace_record is not None:
                lines.append(json.dumps({"kind": "trace", "record": trace_record}, default=str))
            lines.append(json.dumps({"kind": "span", "record": span_record}, default=str))
        if not lines:
            return SpanExportResult.SUCCESS
        try:
            self._write("".join(line + "\n" for line in lines))
        except OSError:
            logger.warning("opik-otel: could not write to the local store %s", self.directory, exc_info=True)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def _write(self, data: str) -> None:
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            path = self.directory / f"traces-{datetime.now(timezone.utc):%Y-%m-%d}.jsonl"
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, data.encode("utf-8"))
            finally:
                os.close(fd)
            self._announce(path)
            self._enforce_bound()

    def _announce(self, path: Path) -> None:
        if not self._announced:
            self._announced = True
            print(
                f"opik-otel: no Opik server or OTLP endpoint configured; traces are stored locally in {path}\n"
                "opik-otel: set OPIK_URL_OVERRIDE (and OPIK_API_KEY) to send them to Opik instead.",
                file=sys.stderr,
            )

    def _enforce_bound(self) -> None:
        files = sorted(self.directory.glob("traces-*.jsonl"))
        total = sum(f.stat().st_size for f in files)
        while total > self.max_bytes and len(files) > 1:
            oldest = files.pop(0)
            total -= oldest.stat().st_size
            oldest.unlink(missing_ok=True)

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def store_files(directory: Path) -> list[Path]:
    """The store's day files, oldest first."""
    return sorted(Path(directory).glob("traces-*.jsonl"))


def parse_line(line: str | bytes) -> tuple[str, dict] | None:
    """One stored line as ("trace" | "span", Opik-shaped dict); None for a line that is not a
    complete record (a write in progress, a damaged line)."""
    try:
        entry = json.loads(line)
    except ValueError:
        return None
    if isinstance(entry, dict) and entry.get("kind") in ("trace", "span") and isinstance(entry.get("record"), dict):
        return entry["kind"], entry["record"]
    return None


def read_store(directory: Path) -> Iterator[tuple[str, dict]]:
    """Every record in the store, oldest file first (lines that are not records are skipped)."""
    for path in store_files(directory):
        try:
            with open(path, encoding="utf-8") as handle:
                for line in handle:
                    record = parse_line(line)
                    if record is not None:
                        yield record
        except OSError:
            continue


def load_traces(directory: Path) -> dict[str, dict]:
    """Traces by id, each `{"trace": TraceWrite dict or None, "spans": [SpanWrite dicts]}`, in the order
    their first record was stored; a record stored twice (same id) keeps its latest version."""
    traces: dict[str, dict] = {}
    for kind, record in read_store(directory):
        trace_id = record.get("id") if kind == "trace" else record.get("trace_id")
        if not isinstance(trace_id, str):
            continue
        entry = traces.setdefault(trace_id, {"trace": None, "spans": {}})
        if kind == "trace":
            entry["trace"] = record
        else:
            entry["spans"][record.get("id")] = record
    return {trace_id: {"trace": entry["trace"], "spans": list(entry["spans"].values())} for trace_id, entry in traces.items()}
