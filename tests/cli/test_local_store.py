"""The local default: with nothing configured, spans go to one file per day in the user data
folder, the app is told once where they went, and several processes can write at once."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone

from opik_otel.exporters.local import load_traces as load
from tests.cli._columns import assert_fits, data_home  # noqa: F401 - a fixture
from tests.cli._run import store_dir
from tests.e2e._helpers import PRELUDE, clean_env

APP = PRELUDE + """
import opik_otel
opik_otel.configure()
@opik_otel.track
def child(i):
    return "x" * 2000
@opik_otel.track
def root(i):
    return [child(i) for _ in range(3)]
for i in range(200):
    root(i)
opik_otel.flush()
"""


def notice(store) -> str:
    return (
        "opik-otel: no Opik server or OTLP endpoint is configured, so traces are\n"
        "stored locally (`opik-otel view` shows them), in\n"
        f"  {store}\n"
        "To send them to Opik, set OPIK_URL_OVERRIDE (and OPIK_API_KEY for Opik\n"
        "Cloud), then run `opik-otel upload`. This notice is shown once per folder.\n"
    )


def test_nothing_configured_stores_locally_and_says_where_once(tmp_path):
    env = clean_env(tmp_path)
    processes = [subprocess.Popen([sys.executable, "-c", APP], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    assert sorted(stderr for _, stderr in outputs) == ["", "", notice(store_dir(env))]  # one of the three says it
    files = list(store_dir(env).glob("traces-*.jsonl"))
    assert len(files) == 1  # one file per day
    lines = files[0].read_text().splitlines()
    assert len(lines) == 3 * 200 * (1 + 1 + 3)  # per root: its trace, its span, 3 children; none torn or interleaved
    traces = load(store_dir(env))
    assert len(traces) == 600 and all(len(entry["spans"]) == 4 and entry["trace"] for entry in traces.values())


def test_the_notice_is_shown_once_per_store_folder(data_home):
    """A second process with the same store says nothing; a process with another store says where that one is."""
    env = clean_env(data_home, XDG_DATA_HOME=str(data_home))
    app = "import opik_otel\nopik_otel.configure()\nopik_otel.track(lambda: 1)()\nopik_otel.shutdown()\n"
    first, second = (subprocess.run([sys.executable, "-c", app], env=env, capture_output=True, text=True, timeout=60) for _ in range(2))
    assert first.stderr == notice(store_dir(env))
    assert_fits(first.stderr, store_dir(env))
    assert second.returncode == 0 and second.stderr == ""
    assert [line["kind"] for path in store_dir(env).glob("traces-*.jsonl") for line in map(json.loads, path.read_text().splitlines())] == ["trace", "span"] * 2
    other = data_home / "other store"
    third = subprocess.run([sys.executable, "-c", app], env={**env, "OPIK_OTEL_LOCAL_STORE_DIR": str(other)}, capture_output=True, text=True, timeout=60)
    assert third.stderr == notice(other)


# -- the bound -----------------------------------------------------------------------------


def write_traces(directory, count: int, max_bytes: int, first: int = 0):
    """`count` one-span traces of about 1.3 kB of records each, through a LocalStoreExporter."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from opik_otel import semconv as sc
    from opik_otel._ids import UuidV7IdGenerator
    from opik_otel.exporters.local import LocalStoreExporter

    exporter = LocalStoreExporter(directory, max_bytes=max_bytes)
    provider = TracerProvider(id_generator=UuidV7IdGenerator())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("store-test")
    for index in range(first, first + count):
        with tracer.start_as_current_span(f"root {index}", attributes={sc.INPUT_VALUE: "x" * 500}):
            pass
    provider.shutdown()
    return exporter


def root_names(directory) -> list[str]:
    return [entry["trace"]["name"] for entry in load(directory).values()]


def test_the_store_stays_within_its_bound_within_one_day(tmp_path):
    from opik_otel.exporters.local import store_files

    write_traces(tmp_path, 400, max_bytes=50_000)  # about 530 kB of records, all on one day

    files = store_files(tmp_path)
    sizes = [path.stat().st_size for path in files]
    assert 45_000 <= sum(sizes) <= 50_000  # the oldest parts went; at most a tenth of the bound is given up
    assert all(size <= 5_000 for size in sizes)  # parts of at most a tenth of the bound
    day = f"{datetime.now(timezone.utc):%Y-%m-%d}"
    last = int(files[-1].name.split(".")[1])
    assert [path.name for path in files] == [f"traces-{day}.{number}.jsonl" for number in range(last - len(files) + 1, last + 1)]
    names = root_names(tmp_path)
    assert names == [f"root {index}" for index in range(400 - len(names), 400)]  # the newest traces, in order
    assert len(names) >= 26  # 1.7 kB a trace: a bound's worth


def test_store_files_are_the_parts_of_each_day_oldest_first(tmp_path):
    from opik_otel.exporters.local import store_files

    names = ["traces-2024-01-01.jsonl", "traces-2024-01-01.1.jsonl", "traces-2024-01-01.2.jsonl",
             "traces-2024-01-01.10.jsonl", "traces-2024-01-02.jsonl", "traces-2024-01-02.1.jsonl"]
    for name in reversed(names):
        (tmp_path / name).write_text("")
    (tmp_path / "upload-state.json").write_text("{}")
    (tmp_path / "traces-notes.jsonl").write_text("")  # not a part of the store

    assert [path.name for path in store_files(tmp_path)] == names


def test_the_bound_is_a_setting_passed_to_the_store(tmp_path, monkeypatch):
    from opik_otel._configure import build_exporter
    from opik_otel._settings import resolve_settings
    from opik_otel.exporters.local import DEFAULT_MAX_BYTES

    monkeypatch.delenv("OPIK_OTEL_LOCAL_STORE_MAX_MB", raising=False)
    assert build_exporter(resolve_settings(exporter="local", local_store_dir=str(tmp_path))).max_bytes == DEFAULT_MAX_BYTES == 200_000_000
    monkeypatch.setenv("OPIK_OTEL_LOCAL_STORE_MAX_MB", "0.05")
    settings = resolve_settings(exporter="local", local_store_dir=str(tmp_path))
    assert settings.local_store_max_mb == 0.05 and settings.sources["local_store_max_mb"] == "env OPIK_OTEL_LOCAL_STORE_MAX_MB"
    assert build_exporter(settings).max_bytes == 50_000
    assert build_exporter(resolve_settings(exporter="local", local_store_dir=str(tmp_path), local_store_max_mb=1)).max_bytes == 1_000_000
