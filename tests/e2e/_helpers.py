"""Shared by the e2e tests: run a Python snippet (or a command) in a fresh process with a clean env.

`configure()` sets the global TracerProvider, so every scenario that calls it runs in its own
interpreter. The environment has no OPIK_*/OTEL_*/OPENAI_* variables and a HOME (and
XDG_DATA_HOME) inside the test's tmp dir, so no `~/.opik.config` or user data is read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 60

# Imported by every snippet: a client for the fake OpenAI server and a JSON reporter.
PRELUDE = '''
import json, os, sys
def report(**values):
    print("RESULT " + json.dumps(values, default=str), flush=True)
def openai_client():
    import openai
    return openai.OpenAI(base_url=os.environ["FAKE_OPENAI_BASE_URL"], api_key="sk-test-fake", max_retries=0)
def chat(client, text="hi", **kwargs):
    return client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": text}], **kwargs)
'''


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPIK_", "OTEL_", "OPENAI_"))}
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env["HOME"] = str(home)
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("PYTHONPATH", None)
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str], cwd: Path | None = None, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(args, env=env, cwd=cwd or ROOT, capture_output=True, text=True, timeout=timeout)


def run_snippet(code: str, env: dict[str, str], timeout: float = TIMEOUT) -> tuple[dict[str, Any], subprocess.CompletedProcess]:
    """Run PRELUDE + code with this interpreter; return the merged `report(...)` values and the process."""
    process = run([sys.executable, "-c", PRELUDE + textwrap.dedent(code)], env, timeout=timeout)
    assert process.returncode == 0, f"snippet failed ({process.returncode}):\n{process.stdout}\n{process.stderr}"
    return results(process.stdout), process


def results(stdout: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            merged.update(json.loads(line[len("RESULT "):]))
    return merged


def expected_chat_cost() -> float:
    """genai-prices' own price of the fake server's chat usage (gpt-4o-mini)."""
    from genai_prices import Usage, calc_price

    from tests.fakes.openai_server import CHAT_USAGE

    usage = Usage(
        input_tokens=CHAT_USAGE["prompt_tokens"],
        cache_read_tokens=CHAT_USAGE["prompt_tokens_details"]["cached_tokens"],
        output_tokens=CHAT_USAGE["completion_tokens"],
        output_reasoning_tokens=CHAT_USAGE["completion_tokens_details"]["reasoning_tokens"],
    )
    return float(calc_price(usage, "gpt-4o-mini", provider_id="openai").total_price)
