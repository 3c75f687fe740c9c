"""`opik-otel upload`: send the local store (and the spool) to the configured Opik server.

Resumable: for each day file of the store, the byte offset up to which its records were
delivered is kept in `upload-state.json` beside it (written atomically after every
delivered batch), so a second run starts where the first stopped and never sends a record
twice. The store is append-only, so records written after an upload are picked up by the
next one. The spool's files are deleted as they are delivered.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from opik_otel.exporters.local import parse_line, store_files

if TYPE_CHECKING:
    from opik_otel._settings import Settings
    from opik_otel.exporters.opik.spool import Spool

STATE_FILE = "upload-state.json"
BATCH_RECORDS = 500


def run(directory: Path, settings: Settings | None = None, include_spool: bool = True, progress: bool = True) -> int:
    """Upload to the server of `settings` (default: the resolved ones); 0 when everything was
    delivered, 1 otherwise (on stderr: why, what is left and where). Instrumentation is
    suppressed meanwhile: the upload's own requests are never traced."""
    from opik_otel._runtime import instrumentation_suppressed
    from opik_otel._settings import resolve_settings

    with instrumentation_suppressed():
        return _run(Path(directory), settings or resolve_settings(), include_spool, progress)


def _run(directory: Path, settings: Settings, include_spool: bool, progress: bool) -> int:
    if not (settings.url or settings.api_key):
        print(NO_SERVER, file=sys.stderr)
        return 1
    from opik_otel.exporters.opik.client import OpikRestClient

    client = OpikRestClient(settings.opik_url, settings.api_key.get_secret_value() if settings.api_key else None,
                            settings.opik_workspace, check_tls=settings.check_tls_certificate)
    state = _load_state(directory)
    pending = _pending(directory, state)
    total = sum(len(lines) for _, _, lines in pending)
    bar = _Progress(total, sys.stderr if progress else None)
    sent = 0
    stopped = False
    for path, start, lines in pending:
        for chunk_start in range(0, len(lines), BATCH_RECORDS):
            chunk = lines[chunk_start:chunk_start + BATCH_RECORDS]
            if not _deliver(client, [record for record, _ in chunk]):
                stopped = True
                break
            state[path.name] = chunk[-1][1]
            _save_state(directory, state)
            sent += len(chunk)
            bar.update(sent)
        if stopped:
            break
    bar.done()
    refused_stored = client.refused_items  # records of the store the server refused for good
    spool = _spool(settings) if include_spool else None
    replayed = 0
    if spool is not None and not stopped:
        replayed, stopped = _replay_spool(client, spool)
    if stopped:
        print(_left_to_send(client.url, directory, sent, total, spool, replayed), file=sys.stderr)
        return 1
    spooled = f" and {replayed} spooled batch(es)" if spool is not None else ""
    print(_fill(f"opik-otel upload: sent {sent - refused_stored} record(s) from the local store{spooled} to the "
                f"Opik server (workspace {settings.opik_workspace or 'default'}; each record to its project) at"))
    print(f"  {client.url}")
    if refused_stored:
        print(f"{refused_stored} record(s) of the local store refused by the server (invalid content), not sent.")
    if client.refused_items > refused_stored:
        print(f"{client.refused_items - refused_stored} spooled item(s) refused by the server (invalid content), dropped.")
    return 0


def _fill(text: str) -> str:
    """A sentence wrapped at 80 columns (a long word, such as a name, is kept whole)."""
    return textwrap.fill(text, 80, break_long_words=False, break_on_hyphens=False)


NO_SERVER = (
    "opik-otel upload: no Opik server configured. Set OPIK_URL_OVERRIDE to your\n"
    "Opik server's URL (http://localhost:5173/api/ for a local Opik), or\n"
    "OPIK_API_KEY (and OPIK_WORKSPACE) for Opik Cloud."
)


def _left_to_send(url: str, directory: Path, sent: int, total: int, spool: Spool | None, replayed: int) -> str:
    """What an upload the server stopped leaves behind, and where (paths and URLs on lines of their own)."""
    lines = ["opik-otel upload: stopped, the Opik server did not take a batch, at", f"  {url}",
             f"Sent {sent} of {total} record(s) from the local store"
             + (f" and {replayed} spooled batch(es)." if spool is not None else ".")]
    left = []
    if total > sent:
        left.append((f"{total - sent} record(s) in the local store", directory))
    batches = spool.batches() if spool is not None else []
    if batches:
        items = sum(batch.items for batch in batches)
        left.append((f"{len(batches)} spooled batch(es) ({items} item(s)) in the spool folder", spool.folder))
    for index, (what, where) in enumerate(left):
        lines += [("Left to send: " if index == 0 else "and ") + what, f"  {where}"]
    lines.append("Run `opik-otel upload` again once the server answers: it resumes there.")
    return "\n".join(lines)


def _deliver(client: Any, records: list[tuple[str, dict]]) -> bool:
    """True when the server took the records (or refused some for good: the client counts those, not retried)."""
    from opik_otel.exporters.opik.client import Outcome

    for kind in ("traces", "spans"):
        items = [record for record_kind, record in records if record_kind + "s" == kind]
        for _, _, outcome in client.send(kind, items) if items else ():
            if outcome is Outcome.UNDELIVERED:
                return False
    return True


def _pending(directory: Path, state: dict[str, int]) -> list[tuple[Path, int, list[tuple[tuple[str, dict], int]]]]:
    """Per day file: (path, offset already sent, [((kind, record), offset after that line)]) for
    the complete lines not sent yet."""
    pending = []
    for path in store_files(directory):
        start = int(state.get(path.name, 0))
        try:
            with open(path, "rb") as handle:
                handle.seek(start)
                data = handle.read()
        except OSError:
            continue
        lines, offset = [], start
        for raw in data.splitlines(keepends=True):
            if not raw.endswith(b"\n"):
                break  # a line still being written: next time
            offset += len(raw)
            record = parse_line(raw.decode("utf-8", "replace"))  # a damaged byte loses itself, not the record
            if record is not None:
                lines.append((record, offset))
        if lines:
            pending.append((path, start, lines))
    return pending


def _spool(settings: Settings) -> Spool:
    """The spool folder of this server and workspace (the batches meant for others are left alone)."""
    from opik_otel.exporters.opik.spool import Spool, destination_folder

    return Spool(destination_folder(settings.spool_dir, settings.opik_url, settings.opik_workspace), max_bytes=1 << 62)


def _replay_spool(client: Any, spool: Spool) -> tuple[int, bool]:
    """(spooled batches that left the spool, whether the server failed to take one)."""
    from opik_otel.exporters.opik.spool import send_spooled

    return send_spooled(spool, client)


def _load_state(directory: Path) -> dict[str, int]:
    try:
        state = json.loads((Path(directory) / STATE_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): int(v) for k, v in state.items() if isinstance(v, int)} if isinstance(state, dict) else {}


def _save_state(directory: Path, state: dict[str, int]) -> None:
    path = Path(directory) / STATE_FILE
    temporary = path.with_name(f".{STATE_FILE}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(state))
    os.replace(temporary, path)


class _Progress:
    """A progress bar redrawn in place on a terminal; a line per batch elsewhere (logs, CI)."""

    def __init__(self, total: int, stream: TextIO | None) -> None:
        self.total, self.stream = total, stream
        self.tty = bool(stream is not None and stream.isatty())
        self.last = 0.0

    def update(self, done: int) -> None:
        if self.stream is None or self.total == 0:
            return
        filled = 30 * done // self.total
        line = f"  [{'█' * filled}{'·' * (30 - filled)}] {done}/{self.total} records"
        if not self.tty:
            self.stream.write(line + "\n")
            return
        now = time.monotonic()
        if now - self.last < 0.1 and done < self.total:
            return
        self.last = now
        self.stream.write("\r" + line)
        self.stream.flush()

    def done(self) -> None:
        if self.tty and self.stream is not None:
            self.stream.write("\n")
