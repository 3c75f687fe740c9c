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


def test_upload_without_a_server_configured_says_how(tmp_path):
    result = opik_otel("upload", env=clean_env(tmp_path))
    assert result.returncode == 1
    assert "no Opik server configured: set OPIK_URL_OVERRIDE" in result.stderr
