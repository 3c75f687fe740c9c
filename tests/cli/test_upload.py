"""`opik-otel upload`: the local store and the spool reach the configured Opik server; an interrupted
upload resumes where it stopped and never sends a record twice."""

from __future__ import annotations

import pytest

from tests.cli._columns import assert_fits, data_home  # noqa: F401 - a fixture
from tests.cli._run import opik_otel
from tests.e2e._helpers import clean_env, run_snippet
from tests.fakes.opik_backend import FakeOpikBackend

TRACES = 400  # 3 spans each: 1600 records, 4 upload batches


def said(text: str) -> str:
    """The output's words, as one line (it is wrapped at 80 columns)."""
    return " ".join(text.split())


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
        assert "Sent 500 of 1600 record(s) from the local store and 0 spooled batch(es).\n" in first.stderr
        assert "Left to send: 1100 record(s) in the local store\n" in first.stderr
        assert "Run `opik-otel upload` again once the server answers: it resumes there." in first.stderr
        stored_first = backend.span_count + backend.trace_count
        assert stored_first == 500
        backend.reset()  # back up; the records stored before are forgotten by the fake
        second = opik_otel("upload", env=upload_env)
        assert second.returncode == 0, second.stderr
        assert "sent 1100 record(s) from the local store" in said(second.stdout)  # only what the first run did not deliver
        assert "1100/1100 records" in second.stderr  # the progress lines
        assert backend.span_count + backend.trace_count == 1100 and backend.errors == [] and backend.duplicates == 0
        again = opik_otel("upload", env=upload_env)  # nothing new: nothing sent
        assert again.returncode == 0 and "sent 0 record(s) from the local store" in said(again.stdout)
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
        assert first.returncode == 0 and "sent 120 record(s) from the local store" in said(first.stdout)
        write_traces(store, 30, max_bytes=200_000, first=60)  # appended to the newest part, then new parts
        assert len(store_files(store)) > parts
        second = opik_otel("upload", env=upload_env)
        assert second.returncode == 0 and "sent 60 record(s) from the local store" in said(second.stdout)
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
        from opik_otel.exporters.opik.spool import Spool, destination_folder
        from tests.cli._run import store_dir

        spooled = len(Spool(destination_folder(store_dir(env) / "spool", url, None), max_bytes=1 << 30).batches())
        assert spooled >= 2  # the traces, then the spans
        backend.start()
        result = opik_otel("upload", env={**env, "OPIK_URL_OVERRIDE": url, "OPIK_API_KEY": "k"})
        assert result.returncode == 0, result.stderr
        assert said(result.stdout).startswith(f"opik-otel upload: sent 0 record(s) from the local store and {spooled} spooled batch(es) to")
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
        assert result.stdout == (
            "opik-otel upload: sent 1600 record(s) from the local store and 0 spooled\n"
            "batch(es) to the Opik server (workspace default; each record to its project) at\n"
            f"  {backend.url.rstrip('/')}/\n"
            "1 record(s) of the local store refused by the server (invalid content), not sent.\n"
        )
        again = opik_otel("upload", env={**env, "OPIK_URL_OVERRIDE": backend.url})  # refused records are not retried
        assert again.returncode == 0 and "sent 0 record(s) from the local store" in said(again.stdout) and "refused" not in again.stdout


def test_upload_without_a_server_configured_says_which_variables_to_set(tmp_path):
    result = opik_otel("upload", env=clean_env(tmp_path))
    assert result.returncode == 1
    assert result.stderr == (
        "opik-otel upload: no Opik server configured. Set OPIK_URL_OVERRIDE to your\n"
        "Opik server's URL (http://localhost:5173/api/ for a local Opik), or\n"
        "OPIK_API_KEY (and OPIK_WORKSPACE) for Opik Cloud.\n"
    )


@pytest.mark.parametrize("variable, value", [("OPIK_URL_OVERRIDE", "not a url"), ("OPIK_OTEL_SPOOL_MAX_MB", "lots")])
@pytest.mark.parametrize("store", [[], ["--store", "elsewhere"]])
def test_an_invalid_setting_is_one_line_and_exit_2(tmp_path, variable, value, store):
    """Any invalid setting, even one upload does not use, is named in one line: no traceback."""
    result = opik_otel("upload", *store, env=clean_env(tmp_path, **{variable: value}))
    assert result.returncode == 2
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"opik-otel upload: invalid setting: env {variable} (")
    assert repr(value) in line or "unable to parse" in line


def spool_batches(env, url):
    """Run an app while the Opik server at `url` is down: its 3 traces (a trace and 2 spans each) are spooled."""
    run_snippet(
        f"""
        import opik_otel
        opik_otel.configure(url={url!r}, shutdown_timeout_millis=500)
        @opik_otel.track
        def step():
            return 1
        @opik_otel.track
        def work():
            return step()
        for _ in range(3):
            work()
        """,
        env,
    )


def fill_store_a_little(env):
    run_snippet(
        """
        import opik_otel
        opik_otel.configure()
        @opik_otel.track
        def work(i):
            return i
        for i in range(4):
            work(i)
        opik_otel.flush()
        """,
        env,
    )


def test_an_unreachable_server_fails_and_says_what_is_left_and_where(data_home):
    from opik_otel.exporters.opik.spool import Spool, destination_folder
    from tests.cli._run import store_dir

    with FakeOpikBackend() as gone:
        url = gone.url  # nothing listens there once the fake has stopped
    env = clean_env(data_home, XDG_DATA_HOME=str(data_home))
    fill_store_a_little(env)  # 4 traces of one span: 8 records
    spool_batches(env, url)
    spool = destination_folder(store_dir(env) / "spool", url, None)
    spooled = Spool(spool, max_bytes=1 << 30).batches()
    assert sum(batch.items for batch in spooled) == 9  # 3 traces, 6 spans, in one or more batches
    result = opik_otel("upload", env={**env, "OPIK_URL_OVERRIDE": url})
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.endswith(
        "opik-otel upload: stopped, the Opik server did not take a batch, at\n"
        f"  {url.rstrip('/')}/\n"
        "Sent 0 of 8 record(s) from the local store and 0 spooled batch(es).\n"
        "Left to send: 8 record(s) in the local store\n"
        f"  {store_dir(env)}\n"
        f"and {len(spooled)} spooled batch(es) (9 item(s)) in the spool folder\n"
        f"  {spool}\n"
        "Run `opik-otel upload` again once the server answers: it resumes there.\n"
    )
    assert_fits(result.stderr, store_dir(env))


def test_a_spool_the_server_does_not_take_fails_the_upload(data_home):
    """Nothing in the store, batches in the spool, the server down: not a success."""
    from opik_otel.exporters.opik.spool import Spool, destination_folder
    from tests.cli._run import store_dir

    with FakeOpikBackend() as gone:
        url = gone.url
    env = clean_env(data_home, XDG_DATA_HOME=str(data_home))
    spool_batches(env, url)
    spool = destination_folder(store_dir(env) / "spool", url, None)
    batches = len(Spool(spool, max_bytes=1 << 30).batches())
    result = opik_otel("upload", env={**env, "OPIK_URL_OVERRIDE": url})
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"Left to send: {batches} spooled batch(es) (9 item(s)) in the spool folder\n  {spool}\n" in result.stderr
    assert len(Spool(spool, max_bytes=1 << 30).batches()) == batches  # all still there
    assert "local store" not in result.stderr.split("Left to send:")[1]
    assert_fits(result.stderr, store_dir(env))


def test_a_record_with_a_non_utf8_byte_is_sent_not_skipped(tmp_path):
    """As `view` shows it: the damaged byte becomes U+FFFD, the record still goes to Opik."""
    from pathlib import Path

    env = clean_env(tmp_path)
    fill_store(env)
    store = next(Path(env["XDG_DATA_HOME"], "opik-otel").glob("traces-*.jsonl"))
    lines = store.read_bytes().splitlines(keepends=True)
    damaged = next(i for i, line in enumerate(lines) if b'"kind": "span"' in line and b'"name": "step"' in line)
    lines[damaged] = lines[damaged].replace(b'"name": "step"', b'"name": "st\xffep"', 1)
    store.write_bytes(b"".join(lines))
    with FakeOpikBackend() as backend:
        result = opik_otel("upload", env={**env, "OPIK_URL_OVERRIDE": backend.url})
        assert result.returncode == 0, result.stderr
        assert backend.span_count == TRACES * 3 and backend.trace_count == TRACES
        assert [span["name"] for span in backend.spans.values()].count("st\ufffdep") == 1


def test_items_refused_from_the_spool_are_not_counted_against_the_local_store(tmp_path):
    import uuid

    from opik_otel.exporters.opik.client import encode
    from opik_otel.exporters.opik.spool import Spool, destination_folder
    from tests.cli._run import store_dir

    env = clean_env(tmp_path)
    fill_store(env)  # 1,600 valid records
    with FakeOpikBackend() as backend:
        spool = Spool(destination_folder(store_dir(env) / "spool", backend.url, None), max_bytes=1 << 30)
        bad_trace = {"id": str(uuid.UUID(int=0x0AF7651916CD43DD8448EB211C80319C)), "name": "bad",  # not a UUID v7
                     "project_name": "stored", "start_time": "2026-12-04T10:00:00Z"}
        assert spool.put("traces", 1, encode("traces", [bad_trace]))
        result = opik_otel("upload", env={**env, "OPIK_URL_OVERRIDE": backend.url})
        assert result.returncode == 0, result.stderr
        assert said(result.stdout).startswith("opik-otel upload: sent 1600 record(s) from the local store and 1 spooled batch(es)")
        assert "1 spooled item(s) refused by the server (invalid content), dropped." in result.stdout
        assert "of the local store refused" not in result.stdout
        assert backend.span_count + backend.trace_count == 1600 and spool.batches() == []
