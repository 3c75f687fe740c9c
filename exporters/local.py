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
from typing import Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from opik_otel._ids import OpikIdMapper
from opik_otel.exporters.opik.mapping import span_to_opik

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 200 * 1024 * 1024


class LocalStoreExporter(SpanExporter):
    """Writes each span (and each trace, from its root span) as a JSON line; no network."""

    def __init__(self, directory: Path, project_name: str = "Default Project", max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.directory = Path(directory)
        self.project_name = project_name
        self.max_bytes = max_bytes
        self._ids = OpikIdMapper()
        self._lock = threading.Lock()
        self._announced = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for span in spans:
            try:
                span_record, trace_record = span_to_opik(span, self._ids, self.project_name)
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
                f"opik-otel: no Opik server or OTLP endpoint configured; traces are stored locally in {path}.\n"
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
