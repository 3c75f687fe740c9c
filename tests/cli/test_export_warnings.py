"""The warnings of an export that could not be delivered fit 80 columns, say where the batches
are kept (the spool folder, on a line of its own) and that `opik-otel upload` sends them."""

from __future__ import annotations

import logging

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from opik_otel.exporters.opik import OpikSpanExporter
from opik_otel.exporters.opik.spool import Spool, destination_folder
from tests.cli._columns import assert_fits, data_home  # noqa: F401 - a fixture
from tests.e2e._helpers import clean_env, run_snippet
from tests.fakes.opik_backend import FakeOpikBackend


def warnings(caplog) -> str:
    """The warnings' messages, as they are shown (Python's last-resort handler prints the message alone)."""
    return "\n".join(record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING)


def test_an_app_whose_server_is_down_is_told_where_its_batches_wait(data_home):
    with FakeOpikBackend() as gone:
        url = gone.url  # nothing listens there once the fake has stopped
    env = clean_env(data_home, XDG_DATA_HOME=str(data_home))
    _, process = run_snippet(
        f"""
        import opik_otel
        opik_otel.configure(url={url!r}, shutdown_timeout_millis=3000)
        opik_otel.track(lambda: 1)()
        """,
        env,
    )
    spool = destination_folder(data_home / "opik-otel" / "spool", url, None)
    assert [batch.kind for batch in Spool(spool, 1 << 30).batches()] == ["traces", "spans"]
    attempts, rest = process.stderr.removeprefix("opik-otel: Opik export failed after ").split(" ", 1)
    assert attempts in ("3", "4")  # as many as the 3 s the app gives its exporter at exit allow
    assert rest == (
        "attempt(s), at\n"
        f"  {url}v1/private/traces/batch\n"
        "(URLError: <urlopen error [Errno 111] Connection refused>)\n"
        "The batch is kept in the spool folder\n"
        f"  {spool}\n"
        "and sent when Opik answers again; `opik-otel upload` sends it too.\n"
    )
    assert_fits(process.stderr, spool)


def test_rejected_credentials_say_where_the_batches_wait(data_home, caplog):
    with FakeOpikBackend() as backend:
        url = backend.url
        backend.fail_next(401, times=2)
        exporter = OpikSpanExporter(url=backend.url, api_key="wrong-key", spool_dir=str(data_home / "spool"))
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        with caplog.at_level(logging.WARNING, logger="opik_otel"):
            provider.get_tracer("t").start_span("kept").end()
        provider.shutdown()
    text = warnings(caplog)
    assert text.startswith(f"opik-otel: Opik rejected the credentials, at\n  {url}v1/private/traces/batch\n(HTTP 401 ")
    assert text.endswith(
        '(HTTP 401 {"code": 401, "message": "injected failure"})\n'
        "Check the API key (OPIK_API_KEY or api_key=) and the workspace\n(OPIK_WORKSPACE or workspace=).\n"
        f"Meanwhile the batches are kept in the spool folder\n  {exporter.spool.folder}\n"
        "and sent once the key is fixed; `opik-otel upload` sends them too."
    )
    assert "wrong-key" not in text
    assert_fits(text, exporter.spool.folder)


def test_a_full_spool_says_so_in_80_columns(data_home, caplog):
    spool = Spool(data_home / "spool" / "127.0.0.1-0123456789ab", max_bytes=250)
    with caplog.at_level(logging.WARNING):
        for index in range(3):
            spool.put("spans", 10, bytes([index]) * 100)
    assert warnings(caplog) == (
        "opik-otel: the spool is full (0 MB): its oldest 10 item(s) were dropped\n"
        "(10 so far). Raise OPIK_OTEL_SPOOL_MAX_MB, or check that Opik answers.\n"
        f"The spool folder:\n  {spool.folder}"
    )
    assert_fits(warnings(caplog), spool.folder)


def test_a_batch_the_spool_cannot_keep_says_so_in_80_columns(data_home, caplog):
    blocker = data_home / "file"
    blocker.write_text("")
    spool = Spool(blocker / "127.0.0.1-0123456789ab", max_bytes=1000)
    with caplog.at_level(logging.WARNING):
        assert spool.put("traces", 2, b"x") is False
    assert warnings(caplog) == (
        "opik-otel: a batch of 2 traces is lost: it could not be written to the\n"
        f"spool folder\n  {spool.folder}\n(Not a directory)"
    )
    assert_fits(warnings(caplog), spool.folder)
