"""The on-disk spool: atomic private files, oldest first, bounded, claimed once across processes."""

from __future__ import annotations

import logging
import os
import select
import stat
import subprocess
import sys
import threading
import time

import pytest

from opik_otel.exporters.opik.spool import Spool


def test_batches_are_private_files_replayed_oldest_first(tmp_path):
    spool = Spool(tmp_path / "spool", max_bytes=10_000)
    assert spool.put("traces", 1, b"first") and spool.put("spans", 3, b"second")
    folder = tmp_path / "spool"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(path.stat().st_mode) == 0o600 for path in folder.iterdir())
    assert [(b.kind, b.items) for b in spool.batches()] == [("traces", 1), ("spans", 3)]
    sent = []
    assert spool.replay(lambda kind, body: sent.append((kind, body)) or True) == 2
    assert sent == [("traces", b"first"), ("spans", b"second")]
    assert list(folder.iterdir()) == []


def test_replay_stops_at_the_first_failure_and_keeps_the_rest(tmp_path):
    spool = Spool(tmp_path, max_bytes=10_000)
    for body in (b"a", b"b", b"c"):
        spool.put("spans", 1, body)
    answers = iter([True, False])
    assert spool.replay(lambda kind, body: next(answers)) == 1
    assert [path.read_bytes() for path in (b.path for b in spool.batches())] == [b"b", b"c"]


def test_a_full_spool_drops_the_oldest_and_counts_them(tmp_path, caplog):
    spool = Spool(tmp_path, max_bytes=250)
    with caplog.at_level(logging.WARNING):
        for index in range(5):
            spool.put("spans", 10, bytes([index]) * 100)
    assert [b.path.read_bytes()[0] for b in spool.batches()] == [3, 4]
    assert spool.dropped_items == 30
    assert len([r for r in caplog.records if "spool" in r.getMessage()]) == 1  # at most one warning a minute


def test_a_claimed_file_is_not_sent_twice(tmp_path):
    spool = Spool(tmp_path, max_bytes=10_000)
    spool.put("spans", 1, b"x")
    (batch,) = spool.batches()
    os.rename(batch.path, batch.path.with_name(batch.path.name + ".sending-99999"))  # another process is sending it
    assert spool.replay(lambda kind, body: True) == 0


def test_an_unwritable_folder_loses_the_batch_with_a_warning(tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with caplog.at_level(logging.WARNING):
        assert Spool(blocker / "spool", 1000).put("spans", 2, b"x") is False
    assert "a batch of 2 spans is lost: it could not be written to the\nspool folder\n" in caplog.text


def test_a_spool_is_only_replayed_to_its_own_back_end_and_workspace(tmp_path):
    pytest.importorskip("opik")  # the fake back end validates with the opik package's models
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from opik_otel.exporters.opik import OpikSpanExporter
    from tests.fakes.opik_backend import FakeOpikBackend

    with FakeOpikBackend() as first, FakeOpikBackend() as second:
        first.stop()  # down: the span is spooled for `first`
        stuck = OpikSpanExporter(url=f"http://127.0.0.1:{first.port}/api/", workspace="a", spool_dir=str(tmp_path))
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(stuck))
        provider.get_tracer("t").start_span("kept").end()
        assert stuck.spool.pending() == 2
        other = OpikSpanExporter(url=second.url, workspace="a", spool_dir=str(tmp_path))  # another back end
        other_workspace = OpikSpanExporter(url=f"http://127.0.0.1:{first.port}/api/", workspace="b", spool_dir=str(tmp_path))
        other._replay(), other_workspace._replay()
        assert second.span_count == 0 and stuck.spool.pending() == 2
        first.start()
        OpikSpanExporter(url=f"http://127.0.0.1:{first.port}/api/", workspace="a", spool_dir=str(tmp_path))  # replays at start
        assert first.wait_for(lambda b: b.span_count == 1 and b.trace_count == 1, 10)
        assert second.span_count == 0


def spooled_long_ago(spool, body=b"old"):
    """A batch spooled 10 minutes ago (older than the stale-claim age)."""
    spool.put("spans", 1, body)
    (batch,) = spool.batches()
    past = time.time() - 600
    os.utime(batch.path, (past, past))
    return batch


def test_an_old_batch_being_sent_is_not_sent_again_by_another_process(tmp_path):
    spool = Spool(tmp_path, max_bytes=10_000)
    spooled_long_ago(spool)
    sent_by_other = []

    def send(kind, body):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # another process sharing the folder replays while this one is sending
            count = -1
            try:
                count = Spool(tmp_path, max_bytes=10_000).replay(lambda kind, body: True, time.monotonic() + 2)
            finally:
                os.write(write_end, str(count).encode())
                os._exit(0)
        os.close(write_end)
        assert select.select([read_end], [], [], 10)[0], "the other process hung"
        sent_by_other.append(int(os.read(read_end, 100)))
        os.close(read_end)
        os.waitpid(pid, 0)
        return True

    assert spool.replay(send) == 1
    assert sent_by_other == [0]
    assert spool.batches() == [] and os.listdir(tmp_path) == []


def test_two_spools_of_one_folder_in_a_process_never_send_a_batch_twice(tmp_path):
    first, second = Spool(tmp_path, max_bytes=10_000), Spool(tmp_path, max_bytes=10_000)  # e.g. an exporter and upload
    spooled_long_ago(first)
    second_sent = []
    other = threading.Thread(target=lambda: second.replay(lambda kind, body: second_sent.append(body) or True))

    def send(kind, body):
        other.start()
        other.join(0.3)  # the other replay runs meanwhile (or waits for this one)
        return True

    assert first.replay(send) == 1
    other.join(5)
    assert second_sent == []
    assert os.listdir(tmp_path) == []


def test_a_claim_is_taken_back_only_when_its_sender_is_gone(tmp_path):
    spool = Spool(tmp_path, max_bytes=10_000)
    ended = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid, live_pid = int(ended.stdout), os.getppid()
    claims = {"dead-old": (dead_pid, 600), "dead-recent": (dead_pid, 60), "live-old": (live_pid, 600),
              "live-abandoned": (live_pid, 7200), "own": (os.getpid(), 0)}
    for index, (name, (pid, age)) in enumerate(claims.items()):
        path = tmp_path / f"{index:020d}-1-{index}.spans.1.json.gz.sending-{pid}"
        path.write_bytes(name.encode())
        past = time.time() - age
        os.utime(path, (past, past))
    sent = []
    spool.replay(lambda kind, body: sent.append(body.decode()) or True)
    assert sorted(sent) == ["dead-old", "live-abandoned", "own"]
    assert sorted(p.read_bytes().decode() for p in tmp_path.iterdir()) == ["dead-recent", "live-old"]
