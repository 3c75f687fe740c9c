"""A bounded on-disk spool for batches the Opik back end could not take in time.

One file per batch (the request body exactly as it would be posted, gzip'd JSON), written
atomically (a private temporary file, then `os.replace`), readable only by the user
(folder 0700, files 0600). File names sort oldest first and carry the endpoint and the
item count: `<time_ns>-<pid>-<n>.<traces|spans>.<items>.json.gz`.

Spooled batches are re-sent from one place, `send_spooled` (the exporter, its start-up
thread and `opik-otel upload` all use it), under one lock per folder in a process. Replay
claims a file by touching it, then renaming it (`….sending-<pid>`), so two processes sharing
the folder never send the same file at once. A claim is taken back when it is this process's
own (none is in flight outside the lock), or when its process is gone and the claim — not the
batch — is a few minutes old (any claim an hour old). When the folder would grow past its
bound, the oldest batches are dropped and counted. Ids are deterministic, so a batch that was
delivered and then replayed again only upserts.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from opik_otel._runtime import after_fork_in_child, instrumentation_suppressed

if TYPE_CHECKING:
    from opik_otel.exporters.opik.client import OpikRestClient

__all__ = ["Spool", "SpooledBatch", "destination_folder", "send_spooled"]

_logger = logging.getLogger(__name__)
_SUFFIX = ".json.gz"
_CLAIM = ".sending-"
_STALE_CLAIM_S = 300.0  # a claim of a process that is gone is taken back once this old
_ABANDONED_CLAIM_S = 3600.0  # … and any other process's claim once this old (its pid may be reused)
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
        self._replay_lock = _folder_lock(self.folder)
        after_fork_in_child(self._at_fork_reinit)

    def _at_fork_reinit(self) -> None:
        """In a forked child: locks of its own (the parent's may have been held at the fork)."""
        self._lock = threading.Lock()
        self._replay_lock = _folder_lock(self.folder)

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
            _logger.warning("opik-otel: a batch of %d %s is lost: it could not be written to the\nspool folder\n  %s\n(%s)",
                            items, kind, self.folder, error.strerror or type(error).__name__)
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

    def replay(self, send: Callable[[str, bytes], bool], deadline: float | None = None, wait: bool = True) -> int:
        """Send spooled batches oldest first with `send(kind, body)`; stops at the first failure
        or at `deadline` (time.monotonic()). One replay at a time per folder in this process:
        waits for another to end (until `deadline`), or with `wait=False` returns 0 at once.
        Returns how many batches were delivered."""
        lock = self._replay_lock
        if not wait:
            acquired = lock.acquire(blocking=False)
        elif deadline is None:
            acquired = lock.acquire()
        else:
            acquired = lock.acquire(timeout=max(0.0, deadline - time.monotonic()))
        if not acquired:
            return 0
        try:
            return self._replay(send, deadline)
        finally:
            lock.release()

    def _replay(self, send: Callable[[str, bytes], bool], deadline: float | None) -> int:
        self._reclaim_stale()
        delivered = 0
        for batch in self.batches():
            if deadline is not None and time.monotonic() >= deadline:
                break
            claimed = batch.path.with_name(batch.path.name + f"{_CLAIM}{os.getpid()}")
            try:
                os.utime(batch.path)  # the claim's age counts from now, not from when the batch was spooled
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
                    "opik-otel: the spool is full (%d MB): its oldest %d item(s) were dropped\n"
                    "(%d so far). Raise OPIK_OTEL_SPOOL_MAX_MB, or check that Opik answers.\nThe spool folder:\n  %s",
                    self.max_bytes // 1_000_000, dropped, self.dropped_items, self.folder,
                )

    def _reclaim_stale(self) -> None:
        """Take back the claims of a process that died mid-send (see `_is_stale`)."""
        try:
            names = os.listdir(self.folder)
        except OSError:
            return
        now = time.time()
        for name in names:
            if _CLAIM in name:
                path = self.folder / name
                try:
                    if _is_stale(name, now - path.stat().st_mtime):
                        _rename_back(path, path.with_name(name.split(_CLAIM, 1)[0]))
                except OSError:
                    continue


def send_spooled(spool: Spool, client: OpikRestClient, deadline: float | None = None, wait: bool = True) -> tuple[int, bool]:
    """The one way spooled batches are re-sent (by the exporter, its start-up thread and
    `opik-otel upload`): oldest first with `client.send_body`, under the folder's lock, with
    instrumentation suppressed. A batch the back end refuses for good leaves the spool (logged).
    Returns (batches that left the spool, whether the back end failed to take one)."""
    from opik_otel.exporters.opik.client import Outcome

    failed = False

    def send(kind: str, body: bytes) -> bool:
        nonlocal failed
        outcome = client.send_body(kind, body)
        if outcome is Outcome.UNDELIVERED:
            failed = True
            return False
        if outcome is Outcome.REJECTED:
            _logger.warning("opik-otel: Opik refused a spooled batch of %s; dropped", kind)
        return True  # delivered, or refused for good: either way it leaves the spool

    with instrumentation_suppressed():
        sent = spool.replay(send, deadline, wait)
    return sent, failed


_folder_locks: dict[str, threading.Lock] = {}
_folder_locks_guard = threading.Lock()


def _folder_lock(folder: Path) -> threading.Lock:
    """This process's replay lock for a spool folder (shared by every `Spool` of that folder)."""
    key = os.path.realpath(folder)
    with _folder_locks_guard:
        return _folder_locks.setdefault(key, threading.Lock())


def _reinit_folder_locks_after_fork() -> None:
    global _folder_locks_guard
    _folder_locks_guard = threading.Lock()
    _folder_locks.clear()  # each Spool's own hook takes a fresh one


after_fork_in_child(_reinit_folder_locks_after_fork)


def _is_stale(name: str, age: float) -> bool:
    """Whether a claim (`….sending-<pid>`, `age` seconds since it was made) was left by a sender
    that is gone: this process's own (replay resolves each claim before it lets go of the folder's
    lock), or a claim older than a few minutes whose process no longer exists (or older than an
    hour: its pid may have been reused)."""
    try:
        pid = int(name.rsplit(_CLAIM, 1)[1])
    except ValueError:
        return age > _STALE_CLAIM_S
    if pid == os.getpid():
        return True
    if age <= _STALE_CLAIM_S:
        return False
    return age > _ABANDONED_CLAIM_S or not _pid_alive(pid)


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill would end the process there
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: it exists (another user's)
        return True
    return True


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
