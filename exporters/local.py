"""The offline default: Opik-shaped trace and span records in local JSON-lines files.

One file per day (`traces-YYYY-MM-DD.jsonl`) in a user data folder, rotated within the day
into parts (`traces-YYYY-MM-DD.1.jsonl`, `.2.jsonl` …) of at most a tenth of `max_bytes`
each. Each record is one line written with a single `write()` on a file opened in append
mode, so several processes can write at once without interleaving (each writes to the
newest part). The folder is bounded in size: past `max_bytes`, the oldest parts are removed,
so it keeps the newest records, at least nine tenths of the bound's worth.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import weakref
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Sequence

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from opik_otel._ids import OpikIdMapper
from opik_otel._runtime import after_fork_in_child
from opik_otel.exporters.opik.mapping import span_to_opik

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 200 * 1_000_000  # the setting `local_store_max_mb`
PARTS = 10  # a day's file is rotated at a tenth of the bound: removing the oldest part gives up at most that
NOTICE_MARKER = ".notice-shown"  # in the store folder: the notice of where traces go was shown
_FILE_NAME = re.compile(r"traces-(\d{4}-\d{2}-\d{2})(?:\.([1-9]\d*))?\.jsonl")


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
        _instances.add(self)  # its lock is renewed in a forked child
        self._announce()  # before any output of the app

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
        encoded = data.encode("utf-8")
        with self._lock:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            files = store_files(self.directory)
            path = self._part_for(files, len(encoded))
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, encoded)
            finally:
                os.close(fd)
            self._enforce_bound(files if path in files else [*files, path])

    def _part_for(self, files: list[Path], size: int) -> Path:
        """Today's newest part, or the next one when `size` more bytes would take it past its share."""
        day = f"{datetime.now(timezone.utc):%Y-%m-%d}"
        today = [(key, path) for path in files if (key := _file_key(path)) is not None and key[0] == day]
        if not today:
            return self.directory / f"traces-{day}.jsonl"
        (_, number), path = today[-1]
        used = _size(path)
        if used and used + size > max(1, self.max_bytes // PARTS):
            return self.directory / f"traces-{day}.{number + 1}.jsonl"
        return path

    def _announce(self) -> None:
        """Say where traces go, once per store folder: the process that creates the folder's
        `NOTICE_MARKER` says it; any later one (or one starting at the same time) does not."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError:
            pass  # said below; writing will fail and say so too
        try:
            os.close(os.open(self.directory / NOTICE_MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            return
        except OSError:
            pass  # cannot remember having said it: say it anyway
        print(
            "opik-otel: no Opik server or OTLP endpoint is configured, so traces are\n"
            "stored locally (`opik-otel view` shows them), in\n"
            f"  {self.directory}\n"
            "To send them to Opik, set OPIK_URL_OVERRIDE (and OPIK_API_KEY for Opik\n"
            "Cloud), then run `opik-otel upload`. This notice is shown once per folder.",
            file=sys.stderr,
        )

    def _enforce_bound(self, files: list[Path]) -> None:
        """Remove the oldest files (never the newest) while the store is over `max_bytes`."""
        sizes = [_size(path) for path in files]
        total = sum(sizes)
        for path, size in zip(files[:-1], sizes):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


_instances: weakref.WeakSet[LocalStoreExporter] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    """A forked child gets new locks: one held by another thread of the parent is never released there."""
    for exporter in list(_instances):
        exporter._lock = threading.Lock()


after_fork_in_child(_after_fork_in_child)


def _file_key(path: Path) -> tuple[str, int] | None:
    """(day, part number) of a store file's name (the day's first file is part 0); None for another file."""
    match = _FILE_NAME.fullmatch(path.name)
    return (match[1], int(match[2] or 0)) if match else None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:  # removed meanwhile by another process
        return 0


def store_files(directory: Path) -> list[Path]:
    """The store's files, oldest first: each day's `traces-YYYY-MM-DD.jsonl`, then its parts `….1.jsonl`, `….2.jsonl` …"""
    keyed = [(key, path) for path in Path(directory).glob("traces-*.jsonl") if (key := _file_key(path)) is not None]
    return [path for _, path in sorted(keyed)]


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
    """Every record in the store, oldest file first (lines that are not records are skipped; a
    byte that is not UTF-8 is read as U+FFFD)."""
    for path in store_files(directory):
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
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
