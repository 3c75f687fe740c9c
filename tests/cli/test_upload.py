"""`opik-otel upload`: the local store and the spool reach the configured Opik server; an interrupted
upload resumes where it stopped and never sends a record twice."""

from __future__ import annotations

from tests.cli._run import opik_otel
from tests.e2e._helpers import clean_env, run_snippet
from tests.fakes.opik_backend import FakeOpikBackend

TRACES = 400  # 3 spans each: 1600 records, 4 upload batches


def fill_store(env):
    run_snippet(
        f"""
        import opik_otel
        opik_otel.configure(project_name="stored")
        @opik_otel.track
        def step(i):
            return i
        @opik_otel.track
        def root(i):
            return step(i) + step(i)
        for i in range({TRACES}):
            root(i)
        opik_otel.flush()
        """,
        env,
    )


def test_upload_interrupted_then_resumed_sends_each_record_once(tmp_path):
    env = clean_env(tmp_path)
    fill_store(env)  # 4 batches of at most 500 records: (traces, spans) requests each
    with FakeOpikBackend() as backend:
        upload_env = {**env, "OPIK_URL_OVERRIDE": backend.url, "OPIK_API_KEY": "upload-key"}
        backend.fail_next(503, times=100, after=2)  # the server goes down after the first batch
        first = opik_otel("upload", env=upload_env)
        assert first.returncode == 1
        assert "stopped after 500 of 1600 record(s)" in first.stderr
        assert "run `opik-otel upload` again to resume" in first.stderr
        stored_first = backend.span_count + backend.trace_count
        assert stored_first == 500
        backend.reset()  # back up; the records stored before are forgotten by the fake
        second = opik_otel("upload", env=upload_env)
        assert second.returncode == 0, second.stderr
        assert "1100 record(s) from the local store" in second.stdout  # only what the first run did not deliver
        assert "1100/1100 records" in second.stderr  # the progress lines
        assert backend.span_count + backend.trace_count == 1100 and backend.errors == [] and backend.duplicates == 0
        again = opik_otel("upload", env=upload_env)  # nothing new: nothing sent
        assert again.returncode == 0 and "0 record(s) from the local store" in again.stdout
        assert backend.span_count + backend.trace_count == 1100 and backend.duplicates == 0


def test_records_written_after_an_upload_go_with_the_next_one(tmp_path):
    env = clean_env(tmp_path)
    fill_store(env)
    with FakeOpikBackend() as backend:
        upload_env = {**env, "OPIK_URL_OVERRIDE": backend.url}
        assert opik_otel("upload", env=upload_env).returncode == 0
        assert backend.span_count == TRACES * 3
        fill_store(env)  # the app ran again: new records appended to the day file
        assert opik_otel("upload", env=upload_env).returncode == 0
        assert backend.span_count == 2 * TRACES * 3 and backend.trace_count == 2 * TRACES and backend.duplicates == 0


def test_upload_reads_every_part_of_a_rotated_store_and_resumes_in_each(tmp_path):
    from opik_otel.exporters.local import store_files
    from tests.cli._run import store_dir
    from tests.cli.test_local_store import write_traces

    env = clean_env(tmp_path)
    store = store_dir(env)
    write_traces(store, 60, max_bytes=200_000)  # about 100 kB in parts of 20 kB: none removed
    parts = len(store_files(store))
    assert parts >= 5
    with FakeOpikBackend() as backend:
        upload_env = {**env, "OPIK_URL_OVERRIDE": backend.url}
        first = opik_otel("upload", env=upload_env)
        assert first.returncode == 0 and "120 record(s) from the local store" in first.stdout
        write_traces(store, 30, max_bytes=200_000, first=60)  # appended to the newest part, then new parts
        assert len(store_files(store)) > parts
        second = opik_otel("upload", env=upload_env)
        assert second.returncode == 0 and "60 record(s) from the local store" in second.stdout
        assert backend.trace_count == 90 and backend.span_count == 90 and backend.duplicates == 0


def test_upload_sends_the_spool_too(tmp_path):
    env = clean_env(tmp_path)
    with FakeOpikBackend() as backend:
        url = backend.url
        backend.stop()  # down while the app runs: its batches are spooled
        run_snippet(
            f"""
            import opik_otel
            opik_otel.configure(url={url!r}, api_key="k", shutdown_timeout_millis=1000)
            @opik_otel.track
            def work():
                return 1
            for _ in range(5):
                work()
            """,
            env,
        )
        backend.start()
        result = opik_otel("upload", env={**env, "OPIK_URL_OVERRIDE": url, "OPIK_API_KEY": "k"})
        assert result.returncode == 0, result.stderr
        assert "spooled batch(es)" in result.stdout
        assert backend.span_count == 5 and backend.trace_count == 5


def test_an_invalid_record_is_refused_alone_and_counted(tmp_path):
    import json
    import uuid

    from tests.cli._run import store_dir

    env = clean_env(tmp_path)
    fill_store(env)
    (day_file,) = store_dir(env).glob("traces-*.jsonl")
    lines = day_file.read_text().splitlines()
    kind, record = next((entry["kind"], entry["record"]) for entry in map(json.loads, lines) if entry["kind"] == "span")
    bad = {**record, "id": str(uuid.UUID(int=0x0AF7651916CD43DD8448EB211C80319C))}  # not a UUID v7
    lines.insert(len(lines) - 10, json.dumps({"kind": kind, "record": bad}))  # in the last batch, among valid spans
    day_file.write_text("\n".join(lines) + "\n")
    with FakeOpikBackend() as backend:
        result = opik_otel("upload", env={**env, "OPIK_URL_OVERRIDE": backend.url})
        assert result.returncode == 0, result.stderr
        assert backend.span_count == TRACES * 3 and backend.trace_count == TRACES and backend.duplicates == 0
        assert bad["id"] not in backend.stored_span_ids()
        assert "1600 record(s) from the local store and 0 spooled batch(es) sent to" in result.stdout
        assert "1 record(s) refused by the server (invalid content), not sent" in result.stdout
        again = opik_otel("upload", env={**env, "OPIK_URL_OVERRIDE": backend.url})  # refused records are not retried
        assert again.returncode == 0 and "0 record(s) from the local store" in again.stdout and "refused" not in again.stdout


def test_upload_without_a_server_configured_says_how(tmp_path):
    result = opik_otel("upload", env=clean_env(tmp_path))
    assert result.returncode == 1
    assert "no Opik server configured: set OPIK_URL_OVERRIDE" in result.stderr
