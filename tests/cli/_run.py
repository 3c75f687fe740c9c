"""Run `opik-otel` in a subprocess with a clean environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e._helpers import ROOT


def opik_otel(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "opik_otel.cli", *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def store_dir(env: dict[str, str]) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "opik-otel"
