"""The local default: with nothing configured, spans go to one file per day in the user data
folder, the app is told once where they went, and several processes can write at once."""

from __future__ import annotations

import subprocess
import sys

from opik_otel.exporters.local import load_traces as load
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


def test_nothing_configured_stores_locally_and_says_where_once(tmp_path):
    env = clean_env(tmp_path)
    processes = [subprocess.Popen([sys.executable, "-c", APP], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
    outputs = [process.communicate(timeout=120) for process in processes]
    assert all(process.returncode == 0 for process in processes), outputs
    for _, stderr in outputs:
        assert stderr.count("traces are stored locally in") == 1
        assert "OPIK_URL_OVERRIDE" in stderr
    files = list(store_dir(env).glob("traces-*.jsonl"))
    assert len(files) == 1  # one file per day
    lines = files[0].read_text().splitlines()
    assert len(lines) == 3 * 200 * (1 + 1 + 3)  # per root: its trace, its span, 3 children; none torn or interleaved
    traces = load(store_dir(env))
    assert len(traces) == 600 and all(len(entry["spans"]) == 4 and entry["trace"] for entry in traces.values())
