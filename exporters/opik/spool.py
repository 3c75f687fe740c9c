"""A bounded on-disk spool for batches the Opik back end could not take in time.

One file per batch (the request body exactly as it would be posted, gzip'd JSON), written
atomically (a private temporary file, then `os.replace`), readable only by the user
(folder 0700, files 0600). File names sort oldest first and carry the endpoint and the
item count: `<time_ns>-<pid>-<n>.<traces|spans>.<items>.json.gz`.

Replay claims a file by renaming it (`….sending-<pid>`), so two processes sharing the folder
never send the same file at once; a claim left by a dead process is taken back after a
while. When the folder would grow past its bound, the oldest batches are dropped and counted.
Ids are deterministic, so a batch that was delivered and then replayed again only upserts.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Spool", "SpooledBatch", "destination_folder"]

_logger = logging.getLogger(__name__)
_SUFFIX = ".json.gz"
_CLAIM = ".sending-"
_STALE_CLAIM_S = 300.0
_WARN_INTERVAL_S = 60.0


def destination_folder(spool_dir: str | os.PathLike[str], url: str, workspace: str | None) -> Path:
    """The spool's subfolder for one back end and workspace: batches are only ever replayed to
    the destination they were meant for (`<host>-<hash of URL and workspace>`)."""
    import hashlib
    from urllib.parse import urlsplit

    digest = hashlib.sha256(f"{url}\n{workspace or ''}".encode()).hexdigest()[:12]
    host = "".join(c if c.isalnum() or c in ".-" else "_" for c in (urlsplit(url).hostname or "opik"))
    return Path(spool_dir) / f"{host}-{digest}"


@dataclass(frozen=True)
class SpooledBatch:
    """One spooled request: its file, endpoint kind, item count and body."""

    path: Path
    kind: str  # "traces" or "spans"
    items: int


class Spool:
    """The spool folder: `put` a batch, `replay` batches oldest first, drop the oldest past `max_bytes`."""

    def __init__(self, folder: str | os.PathLike[str], max_bytes: int) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.dropped_items = 0  # dropped from this process's spool because it was full
        self._lock = threading.Lock()
        self._counter = 0
        self._last_warning = 0.0

    def put(self, kind: str, items: int, body: bytes) -> bool:
        """Write one batch; False (logged) when it cannot be written."""
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            with self._lock:
                self._counter += 1
                name = f"{time.time_ns():020d}-{os.getpid()}-{self._counter}.{kind}.{items}{_SUFFIX}"
            final = self.folder / name
            temporary = self.folder / f".{name}.tmp"
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(body)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, final)
        except OSError as error:
            _logger.warning("opik-otel: could not spool a batch of %d %s to %s: %s", items, kind, self.folder, error)
            return False
        self._enforce_bound()
        return True

    def batches(self) -> list[SpooledBatch]:
        """The spooled batches, oldest first (claimed ones left out)."""
        found = []
        for path in self._files():
            parsed = _parse(path)
            if parsed is not None:
                found.append(parsed)
        return found

    def pending(self) -> int:
        return len(self.batches())

    def replay(self, send: Callable[[str, bytes], bool], deadline: float | None = None) -> int:
        """Send spooled batches oldest first with `send(kind, body)`; stops at the first failure
        or at `deadline` (time.monotonic()). Returns how many batches were delivered."""
        self._reclaim_stale()
        delivered = 0
        for batch in self.batches():
            if deadline is not None and time.monotonic() >= deadline:
                break
            claimed = batch.path.with_name(batch.path.name + f"{_CLAIM}{os.getpid()}")
            try:
                os.rename(batch.path, claimed)
            except OSError:
                continue  # another process took it
            try:
                body = claimed.read_bytes()
                ok = send(batch.kind, body)
            except Exception:  # noqa: BLE001 - put it back, try later
                ok = False
            if ok:
                _unlink(claimed)
                delivered += 1
            else:
                _rename_back(claimed, batch.path)
                break
        return delivered

    def _files(self) -> Iterator[Path]:
        try:
            names = sorted(os.listdir(self.folder))
        except OSError:
            return iter(())
        return (self.folder / name for name in names if name.endswith(_SUFFIX) and not name.startswith("."))

    def _enforce_bound(self) -> None:
        files = []
        total = 0
        for path in self._files():
            try:
                size = path.stat().st_size
            except OSError:
                continue
            files.append((path, size))
            total += size
        dropped = 0
        for path, size in files:  # oldest first
            if total <= self.max_bytes:
                break
            parsed = _parse(path)
            if _unlink(path):
                total -= size
                dropped += parsed.items if parsed else 0
        if dropped:
            with self._lock:
                self.dropped_items += dropped
                now = time.monotonic()
                warn = now - self._last_warning >= _WARN_INTERVAL_S
                if warn:
                    self._last_warning = now
            if warn:
                _logger.warning(
                    "opik-otel: the spool %s is full (%d MB); dropped the oldest %d item(s), %d so far "
                    "(raise OPIK_OTEL_SPOOL_MAX_MB or check the Opik back end)",
                    self.folder, self.max_bytes // 1_000_000, dropped, self.dropped_items,
                )

    def _reclaim_stale(self) -> None:
        """Claims older than a few minutes belong to a process that died mid-send: take them back."""
        try:
            names = os.listdir(self.folder)
        except OSError:
            return
        now = time.time()
        for name in names:
            if _CLAIM in name:
                path = self.folder / name
                try:
                    if now - path.stat().st_mtime > _STALE_CLAIM_S:
                        _rename_back(path, path.with_name(name.split(_CLAIM, 1)[0]))
                except OSError:
                    continue


def _parse(path: Path) -> SpooledBatch | None:
    parts = path.name[: -len(_SUFFIX)].split(".")
    if len(parts) != 3 or parts[1] not in ("traces", "spans") or not parts[2].isdigit():
        return None
    return SpooledBatch(path, parts[1], int(parts[2]))


def _unlink(path: Path) -> bool:
    try:
        path.unlink()
        return True
    except OSError:
        return False


def _rename_back(claimed: Path, original: Path) -> None:
    try:
        os.rename(claimed, original)
    except OSError:
        _logger.debug("opik-otel: could not return %s to the spool", claimed, exc_info=True)
