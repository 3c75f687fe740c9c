"""Run `opik-otel` in a subprocess with a clean environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e._helpers import ROOT


COMMAND = Path(sys.executable).with_name("opik-otel")  # the console script installed with the package, beside the interpreter


def opik_otel(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the installed `opik-otel` command, as a user does."""
    assert COMMAND.is_file(), f"opik-otel is not installed beside {sys.executable}: pip install -e ."
    return subprocess.run([str(COMMAND), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def store_dir(env: dict[str, str]) -> Path:
    return Path(env["XDG_DATA_HOME"]) / "opik-otel"
